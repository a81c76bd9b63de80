//! Reading and cleaning plain-text books.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Read a UTF-8 text file (with or without BOM, LF or CRLF) and clean it; an empty result is an
/// error naming the file. With `unwrap`, hard-wrapped prose paragraphs become one line each.
pub fn read_clean(path: &Path, unwrap: bool) -> Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read text file {}", path.display()))?;
    let raw = String::from_utf8(bytes)
        .with_context(|| format!("text file {} is not valid UTF-8", path.display()))?;
    let text = clean(&raw);
    let text = if unwrap {
        unwrap_paragraphs(&text)
    } else {
        text
    };
    if text.trim().is_empty() {
        bail!(
            "text file {} is empty (after removing Project Gutenberg boilerplate)",
            path.display()
        )
    }
    Ok(text)
}

/// BOM and CRLF removed, Project Gutenberg header and licence stripped, whitespace normalised:
/// line breaks are kept (verse depends on them), trailing spaces dropped, runs of spaces and tabs
/// inside a line folded to one, and any run of blank lines folded to a single paragraph break.
pub fn clean(raw: &str) -> String {
    let text = raw.strip_prefix('\u{feff}').unwrap_or(raw);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let body = strip_gutenberg(&text);
    normalise_whitespace(body)
}

/// Rejoin the hard-wrapped lines of each paragraph (Project Gutenberg wraps at ~70 characters)
/// into one line, keeping paragraph breaks, so that the layout a model learns from one book is
/// not a "style" shared by every other book. A paragraph with an indented line is verse, a
/// quotation or code, and keeps its lines.
pub fn unwrap_paragraphs(text: &str) -> String {
    let paragraphs: Vec<String> = text
        .trim_end_matches('\n')
        .split("\n\n")
        .map(|p| {
            if p.lines().any(|l| l.starts_with(' ')) {
                p.to_string()
            } else {
                p.lines().collect::<Vec<_>>().join(" ")
            }
        })
        .collect();
    let mut out = paragraphs.join("\n\n");
    out.push('\n');
    out
}

fn is_start_marker(line: &str) -> bool {
    let l = line.trim().to_ascii_uppercase();
    l.starts_with("***") && l.contains("START OF") && l.contains("PROJECT GUTENBERG")
}

fn is_end_marker(line: &str) -> bool {
    let l = line.trim().to_ascii_uppercase();
    (l.starts_with("***") && l.contains("END OF") && l.contains("PROJECT GUTENBERG"))
        || l.starts_with("END OF THE PROJECT GUTENBERG")
        || l.starts_with("END OF PROJECT GUTENBERG")
}

/// The text between the `*** START OF ... ***` and `*** END OF ... ***` lines when present.
pub fn strip_gutenberg(text: &str) -> &str {
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        if is_start_marker(line) {
            start = offset;
            break;
        }
    }
    let body = &text[start..];
    let mut end = body.len();
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        if is_end_marker(line) {
            end = offset;
            break;
        }
        offset += line.len();
    }
    &body[..end]
}

fn normalise_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0usize;
    for line in text.lines() {
        let folded = fold_spaces(line);
        if folded.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&folded);
    }
    out.push('\n');
    out
}

/// Keep leading indentation (as single spaces per original space), fold inner runs.
fn fold_spaces(line: &str) -> String {
    let line = line.replace(['\t', '\u{a0}'], " ");
    let trimmed = line.trim_end();
    let body = trimmed.trim_start();
    let indent = trimmed.len() - body.len();
    let mut out = " ".repeat(indent);
    let mut prev_space = false;
    for c in body.chars() {
        if c == ' ' {
            if !prev_space {
                out.push(c);
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_bom_crlf_and_gutenberg_boilerplate() {
        let raw = "\u{feff}The Project Gutenberg EBook of X\r\n\r\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\r\n\r\nCHAPTER I.\r\nIt  was\ta dark   night.   \r\n\r\n\r\n\r\nNext  para.\r\n\r\nEnd of the Project Gutenberg EBook of X\r\n*** END OF THIS PROJECT GUTENBERG EBOOK X ***\r\nlicence text\r\n";
        assert_eq!(
            clean(raw),
            "CHAPTER I.\nIt was a dark night.\n\nNext para.\n"
        );
    }

    #[test]
    fn unwrap_joins_prose_and_keeps_indented_paragraphs() {
        let text =
            "It was a dark\nand stormy night.\n\n\u{201c}How doth\n    Improve his\n\nEnd.\n";
        assert_eq!(
            unwrap_paragraphs(text),
            "It was a dark and stormy night.\n\n\u{201c}How doth\n    Improve his\n\nEnd.\n"
        );
    }

    #[test]
    fn text_without_markers_is_kept_whole() {
        assert_eq!(
            clean("  Indented verse\nline two\n"),
            "  Indented verse\nline two\n"
        );
    }
}
