//! What a judged claim is: its text, what was measured, the verdict and the rule behind it; and
//! the strategy every verdict compares with full fine-tuning.

use crate::report::rules::Verdict;

/// The strategy the claims are about: attention and embeddings frozen.
pub const FROZEN: &str = "attn_embed_frozen";

#[derive(Clone, Debug)]
pub struct Claim {
    pub claim: &'static str,
    pub measured: String,
    pub verdict: Verdict,
    /// The rule that produced the verdict.
    pub rule: &'static str,
}

pub(super) fn claim(
    claim: &'static str,
    rule: &'static str,
    measured: String,
    verdict: Verdict,
) -> Claim {
    Claim {
        claim,
        measured,
        verdict,
        rule,
    }
}
