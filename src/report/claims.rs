//! The reference experiment's claims, each judged from the rows: the measured value and a
//! verdict computed by a stated rule, never written by hand.

use super::data::Results;

pub const FROZEN: &str = "attn_embed_frozen";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    Partly,
    NotSupported,
    Untestable,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Partly => "partly supported",
            Verdict::NotSupported => "not supported",
            Verdict::Untestable => "cannot be judged from these runs",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Claim {
    pub claim: &'static str,
    pub measured: String,
    pub verdict: Verdict,
    /// The rule that produced the verdict.
    pub rule: &'static str,
}

fn missing(claim: &'static str, rule: &'static str, what: &str) -> Claim {
    Claim {
        claim,
        measured: format!("missing: {what}"),
        verdict: Verdict::Untestable,
        rule,
    }
}

fn change(data: &Results, metric: &str) -> Option<(f64, f64, f64)> {
    let f = data.across_datasets("full", metric)?.mean;
    let s = data.across_datasets(FROZEN, metric)?.mean;
    Some((f, s, 100.0 * (s / f - 1.0)))
}

pub fn judge(data: &Results) -> Vec<Claim> {
    vec![
        trainable(data),
        memory(data),
        speed(data),
        loss_falls(data),
        forgetting(data),
        style(data),
    ]
}

fn trainable(data: &Results) -> Claim {
    let claim = "1. Freezing attention and embeddings leaves about half of the parameters trainable (~65M of ~125M, \"~48% fewer\").";
    let rule = "supported if 40-60% of the parameters train";
    let (Some(r), Some(t)) = (
        data.across_datasets(FROZEN, "trainable_ratio"),
        data.across_datasets(FROZEN, "params_trainable"),
    ) else {
        return missing(claim, rule, "no attn_embed_frozen run");
    };
    let total = data
        .runs
        .iter()
        .find(|x| x.strategy == FROZEN)
        .map_or(f64::NAN, |x| x.params_total);
    Claim {
        claim,
        measured: format!(
            "{:.2}M of {:.2}M trainable ({:.1}%, {:.1}% fewer)",
            t.mean / 1e6,
            total / 1e6,
            100.0 * r.mean,
            100.0 * (1.0 - r.mean)
        ),
        verdict: if (0.4..=0.6).contains(&r.mean) {
            Verdict::Supported
        } else {
            Verdict::NotSupported
        },
        rule,
    }
}

fn memory(data: &Results) -> Claim {
    let claim = "2. Peak (GPU) memory falls by 25-30% against full fine-tuning.";
    let rule = "supported if the peak heap falls by 20-35% (the claim +-5 points); partly if it falls by another amount; not supported if it does not fall";
    let Some((f, s, c)) = change(data, "peak_mem_bytes") else {
        return missing(claim, rule, "full or attn_embed_frozen runs");
    };
    let rss = change(data, "peak_rss_bytes").map_or(String::new(), |(f, s, c)| {
        format!("; peak RSS {:.2} -> {:.2} GB ({c:+.1}%)", f / 1e9, s / 1e9)
    });
    Claim {
        claim,
        measured: format!(
            "peak live heap {:.2} -> {:.2} GB ({c:+.1}%){rss}",
            f / 1e9,
            s / 1e9
        ),
        verdict: if (-35.0..=-20.0).contains(&c) {
            Verdict::Supported
        } else if c < 0.0 {
            Verdict::Partly
        } else {
            Verdict::NotSupported
        },
        rule,
    }
}

fn speed(data: &Results) -> Claim {
    let claim = "3. Training gets slightly faster.";
    let rule = "supported if training tokens/s exceed full fine-tuning's";
    let Some((f, s, c)) = change(data, "tokens_per_s") else {
        return missing(claim, rule, "full or attn_embed_frozen runs");
    };
    Claim {
        claim,
        measured: format!("{f:.1} -> {s:.1} training tokens/s ({c:+.1}%)"),
        verdict: if c > 0.0 {
            Verdict::Supported
        } else {
            Verdict::NotSupported
        },
        rule,
    }
}

fn loss_falls(data: &Results) -> Claim {
    let claim = "4. The training loss still falls steadily.";
    let rule = "supported if, in every attn_embed_frozen run, the mean loss of the last fifth of the steps is at least 2% below that of the first fifth";
    let mut parts = Vec::new();
    let mut all = true;
    let mut any = false;
    for d in &data.datasets {
        for r in data.ok_runs(d, FROZEN) {
            let Some(c) = data.curves.get(&r.id).filter(|c| c.len() >= 5) else {
                continue;
            };
            let k = (c.len() / 5).max(1);
            let first = c[..k].iter().map(|p| p.1).sum::<f64>() / k as f64;
            let last = c[c.len() - k..].iter().map(|p| p.1).sum::<f64>() / k as f64;
            any = true;
            all &= last < first * 0.98;
            parts.push(format!("{d} seed {}: {first:.3} -> {last:.3}", r.seed));
        }
    }
    if !any {
        return missing(
            claim,
            rule,
            "attn_embed_frozen loss curves of at least 5 steps",
        );
    }
    Claim {
        claim,
        measured: format!("first-fifth -> last-fifth mean loss: {}", parts.join("; ")),
        verdict: if all {
            Verdict::Supported
        } else {
            Verdict::NotSupported
        },
        rule,
    }
}

fn forgetting(data: &Results) -> Claim {
    let claim = "5. Catastrophic forgetting is reduced compared with full fine-tuning.";
    let rule = "per held-out corpus kind (general, other style): supported if full fine-tuning raised its perplexity and attn_embed_frozen raised it less; cannot be judged if neither raised it; overall supported if both kinds support it, partly if one does";
    let mut verdicts = Vec::new();
    let mut parts = Vec::new();
    for (metric, what) in [("d_general_pct", "general"), ("d_cross_pct", "other style")] {
        let (Some(f), Some(a)) = (
            data.across_datasets("full", metric),
            data.across_datasets(FROZEN, metric),
        ) else {
            continue;
        };
        let (f, a) = (f.mean, a.mean);
        parts.push(format!("{what}: full {f:+.1}%, attn_embed_frozen {a:+.1}%"));
        verdicts.push(if f <= 0.0 && a <= 0.0 {
            Verdict::Untestable
        } else if f > 0.0 && a < f {
            Verdict::Supported
        } else {
            Verdict::NotSupported
        });
    }
    if verdicts.is_empty() {
        return missing(
            claim,
            rule,
            "perplexity on held-out corpora for full and attn_embed_frozen",
        );
    }
    let supported = verdicts
        .iter()
        .filter(|v| **v == Verdict::Supported)
        .count();
    let verdict = if supported == verdicts.len() {
        Verdict::Supported
    } else if supported > 0 {
        Verdict::Partly
    } else if verdicts.iter().all(|v| *v == Verdict::Untestable) {
        Verdict::Untestable
    } else {
        Verdict::NotSupported
    };
    Claim {
        claim,
        measured: format!(
            "perplexity change on corpora not trained on: {}",
            parts.join("; ")
        ),
        verdict,
        rule,
    }
}

fn style(data: &Results) -> Claim {
    let claim = "6. The fine-tuned model takes on the style (read the samples below).";
    let rule = "supported if attn_embed_frozen lowers the eval perplexity of the trained style by at least 5% on every dataset";
    let mut parts = Vec::new();
    let mut all = true;
    for d in &data.datasets {
        if let Some(c) = data.stat(d, FROZEN, "d_own_pct") {
            all &= c.mean <= -5.0;
            parts.push(format!("{d} {:+.1}%", c.mean));
        }
    }
    if parts.is_empty() {
        return missing(claim, rule, "attn_embed_frozen runs");
    }
    Claim {
        claim,
        measured: format!("own-style perplexity change: {}", parts.join(", ")),
        verdict: if all {
            Verdict::Supported
        } else {
            Verdict::NotSupported
        },
        rule,
    }
}
