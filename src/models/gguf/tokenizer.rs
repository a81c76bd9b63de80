//! Tokenizers rebuilt from a GGUF's `tokenizer.ggml.*` metadata, as transformers' GGUF loader
//! builds them (`integrations/gguf/gguf_tokenizer_mapping.py`), so that token ids match:
//! byte-level BPE with merges (`gpt2`: SmolLM2) and Gemma's SentencePiece-style BPE (`llama`
//! vocabulary in a `gemma*` file: scores, byte fallback, no merges stored).

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};
use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use super::meta::Meta;

/// llama.cpp's token types.
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;

fn token_types(meta: &Meta, n: usize) -> Result<Vec<i64>> {
    let int = |v: &Value| {
        v.to_i32()
            .map(i64::from)
            .or_else(|_| v.to_u32().map(i64::from))
            .ok()
    };
    let types = meta
        .numbers("tokenizer.ggml.token_type", int)?
        .unwrap_or_else(|| vec![1; n]);
    if types.len() != n {
        bail!(
            "{}: GGUF metadata `tokenizer.ggml.token_type` has {} entries for {n} tokens",
            meta.file.display(),
            types.len()
        )
    }
    Ok(types)
}

/// The tokenizer `tokenizer.ggml.model` names, for a file of architecture `arch`.
pub(crate) fn build(meta: &Meta, arch: &str) -> Result<Tokenizer> {
    let kind = meta.string("tokenizer.ggml.model")?;
    let mut tok = match (kind.as_str(), arch) {
        ("gpt2", _) => byte_level(meta)?,
        ("llama", "gemma3") => gemma(meta)?,
        _ => bail!(
            "{}: GGUF metadata `tokenizer.ggml.model` is \"{kind}\" in a \"{arch}\" file; ablate builds byte-level BPE (\"gpt2\") and Gemma's SentencePiece vocabulary (\"llama\" in a gemma3 file)",
            meta.file.display()
        ),
    };
    // transformers adds BOS where the file says so, and for a SentencePiece ("llama") vocabulary
    // that says nothing (llama.cpp's default); the data layer then starts every block with it.
    let add_bos = match meta.md.get("tokenizer.ggml.add_bos_token") {
        Some(v) => v.to_bool().map_err(|e| {
            anyhow!(
                "{}: GGUF metadata `tokenizer.ggml.add_bos_token`: {e}",
                meta.file.display()
            )
        })?,
        None => kind == "llama",
    };
    if add_bos {
        let id = meta.usize("tokenizer.ggml.bos_token_id")? as u32;
        let token = tok.id_to_token(id).ok_or_else(|| {
            anyhow!(
                "{}: GGUF metadata `tokenizer.ggml.bos_token_id` ({id}) is not a token",
                meta.file.display()
            )
        })?;
        let template = TemplateProcessing::builder()
            .try_single(format!("{token} $A"))
            .map_err(|e| anyhow!("{}: BOS template: {e}", meta.file.display()))?
            .special_tokens(vec![(token, id)])
            .build()
            .map_err(|e| anyhow!("{}: BOS template: {e}", meta.file.display()))?;
        tok.with_post_processor(Some(template));
    }
    Ok(tok)
}

/// Byte-level BPE with the file's merges.
fn byte_level(meta: &Meta) -> Result<Tokenizer> {
    let tokens = meta.strings("tokenizer.ggml.tokens")?;
    let merges: Vec<(String, String)> = meta
        .strings("tokenizer.ggml.merges")?
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| anyhow!("{}: malformed merge `{m}`", meta.file.display()))
        })
        .collect::<Result<_>>()?;
    let types = token_types(meta, tokens.len())?;
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| anyhow!("{}: cannot build BPE tokenizer: {e}", meta.file.display()))?;
    let pre = meta
        .string("tokenizer.ggml.pre")
        .unwrap_or_else(|_| "default".into());
    let byte_level = ByteLevel::new(false, true, true);
    let pre_tokenizer: PreTokenizerWrapper = match pre.as_str() {
        // llama.cpp's "smollm": digits split one by one, then the GPT-2 regex.
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        "gpt2" | "gpt-2" | "default" => byte_level.into(),
        other => bail!(
            "{}: GGUF pre-tokenizer \"{other}\" is not supported (known: smollm, gpt2)",
            meta.file.display()
        ),
    };
    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(pre_tokenizer));
    tok.with_decoder(Some(ByteLevel::default()));
    // Control tokens are matched whole, never split by the BPE.
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, t)| **t == CONTROL)
        .map(|(s, _)| AddedToken::from(s.clone(), true))
        .collect();
    tok.add_special_tokens(special)
        .map_err(|e| anyhow!("{}: cannot add special tokens: {e}", meta.file.display()))?;
    Ok(tok)
}

/// Python's `str.isspace` (Rust's `is_whitespace` leaves out the separators U+001C..U+001F).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Merges implied by a vocabulary that stores none (transformers' `generate_merges` with
/// scores): every split of a token into two tokens, best first by `score`, then the longer left
/// piece.
pub(crate) fn implied_merges(
    vocab: &HashMap<String, u32>,
    scores: &HashMap<String, i64>,
) -> Vec<(String, String)> {
    let mut merges: Vec<(i64, usize, usize, u32, u32, String, String)> = Vec::new();
    for (token, &score) in scores {
        let cuts: Vec<usize> = token.char_indices().map(|(i, _)| i).skip(1).collect();
        for &cut in &cuts {
            let (l, r) = token.split_at(cut);
            if let (Some(&il), Some(&ir)) = (vocab.get(l), vocab.get(r)) {
                merges.push((
                    score,
                    l.chars().count(),
                    r.chars().count(),
                    il,
                    ir,
                    l.to_string(),
                    r.to_string(),
                ));
            }
        }
    }
    // Descending (score, left length, right length); one token's cuts differ in left length,
    // so the ids (transformers' stable order within a token) never decide.
    merges.sort_by(|a, b| {
        (b.0, b.1, b.2)
            .cmp(&(a.0, a.1, a.2))
            .then((a.3, a.4).cmp(&(b.3, b.4)))
    });
    merges.into_iter().map(|m| (m.5, m.6)).collect()
}

/// Gemma's tokenizer as transformers' `gemma_tokenizer` + `GemmaTokenizer` build it: a BPE with
/// byte fallback over the vocabulary, whose merges are rebuilt in the file's token order
/// (Gemma's scores do not follow its merge order); spaces become "▁" in a normalizer; control
/// tokens are special and user-defined ones (newline and tab runs, HTML tags) added whole.
fn gemma(meta: &Meta) -> Result<Tokenizer> {
    let file = meta.file.display();
    let tokens = meta.strings("tokenizer.ggml.tokens")?;
    let types = token_types(meta, tokens.len())?;
    // A token of two or more spaces is stored with real spaces; the vocabulary spells it "▁▁".
    let respelled: Vec<String> = tokens
        .iter()
        .map(|t| {
            if t.contains(' ') && t.chars().all(py_space) {
                "\u{2581}".repeat(t.chars().count())
            } else {
                t.clone()
            }
        })
        .collect();
    // As a Python dict built in order: a repeated spelling keeps its last id.
    let mut vocab: HashMap<String, u32> = HashMap::with_capacity(respelled.len());
    let mut scores: HashMap<String, i64> = HashMap::with_capacity(respelled.len());
    for (i, t) in respelled.iter().enumerate() {
        vocab.insert(t.clone(), i as u32);
        scores.insert(t.clone(), -(i as i64));
    }
    let merges = implied_merges(&vocab, &scores);
    let unk = meta
        .usize("tokenizer.ggml.unknown_token_id")
        .ok()
        .and_then(|i| tokens.get(i).cloned())
        .unwrap_or_else(|| "<unk>".into());
    let bpe = BPE::builder()
        .vocab_and_merges(
            vocab
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect::<tokenizers::models::bpe::Vocab>(),
            merges,
        )
        .unk_token(unk)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|e| anyhow!("{file}: cannot build the Gemma BPE tokenizer: {e}"))?;
    let mut tok = Tokenizer::new(bpe);
    tok.with_normalizer(Some(
        Replace::new(" ", "\u{2581}").map_err(|e| anyhow!("{file}: normalizer: {e}"))?,
    ))
    .map_err(|e| anyhow!("{file}: normalizer: {e}"))?;
    tok.with_pre_tokenizer(Some(
        Split::new(
            SplitPattern::String(" ".into()),
            SplitDelimiterBehavior::MergedWithPrevious,
            false,
        )
        .map_err(|e| anyhow!("{file}: pre-tokenizer: {e}"))?,
    ));
    tok.with_decoder(Some(DecoderSequence::new(vec![
        Replace::new("\u{2581}", " ")
            .map_err(|e| anyhow!("{file}: decoder: {e}"))?
            .into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ])));
    // Control tokens (from the original spelling), then user-defined ones the vocabulary has.
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, t)| **t == CONTROL)
        .map(|(s, _)| AddedToken::from(s.clone(), true).normalized(false))
        .collect();
    tok.add_special_tokens(special)
        .map_err(|e| anyhow!("{file}: cannot add special tokens: {e}"))?;
    let user: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(s, t)| **t == USER_DEFINED && vocab.contains_key(s.as_str()))
        .map(|(s, _)| AddedToken::from(s.clone(), false).normalized(false))
        .collect();
    tok.add_tokens(user)
        .map_err(|e| anyhow!("{file}: cannot add user-defined tokens: {e}"))?;
    Ok(tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_merges_follow_token_order_then_left_length() {
        let toks = ["a", "b", "c", "ab", "bc", "abc"];
        let vocab: HashMap<String, u32> = toks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i as u32))
            .collect();
        let scores: HashMap<String, i64> = toks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), -(i as i64)))
            .collect();
        let m = implied_merges(&vocab, &scores);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        // transformers' generate_merges gives exactly this on the same vocabulary.
        assert_eq!(
            m,
            vec![s("a", "b"), s("b", "c"), s("ab", "c"), s("a", "bc")]
        );
    }
}
