//! Claim 7, "partial fine-tuning adds no inference latency, unlike LoRA": the latency rows of
//! `ablate bench --latency`, each variant's time over the base model's in the same repeat.

use std::collections::BTreeMap;

use super::claim::{Claim, claim};
use crate::report::data::Results;
use crate::report::rules;
use crate::report::stats::{Interval, t_interval};

/// The measure the rule reads.
pub const RULE_MEASURE: &str = "forward_1x128";

/// Latency sessions, oldest first (ids begin with their UTC time).
fn sessions(data: &Results) -> Vec<&str> {
    let mut v: Vec<&str> = data
        .evidence
        .latency
        .iter()
        .map(|r| r.latency_id.as_str())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Per repeat of `session`, `variant`'s seconds over the base model's on `measure`.
fn ratios_in(data: &Results, session: &str, variant: &str, measure: &str) -> Vec<f64> {
    let mut by: BTreeMap<u64, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for r in data
        .evidence
        .latency
        .iter()
        .filter(|r| r.measure == measure && r.latency_id == session)
    {
        let e = by.entry(r.repeat).or_default();
        if r.variant == "base" {
            e.0 = Some(r.seconds);
        } else if r.variant == variant {
            e.1 = Some(r.seconds);
        }
    }
    by.values()
        .filter_map(|(b, v)| Some(v.as_ref()? / b.as_ref()?))
        .collect()
}

/// The host and threads of `session`.
fn host(data: &Results, session: &str) -> String {
    data.evidence
        .latency
        .iter()
        .find(|r| r.latency_id == session)
        .map_or(String::new(), |r| {
            format!("{}, {} threads", r.cpu_model, r.threads)
        })
}

fn show(i: Option<&Interval>, v: &[f64]) -> String {
    match i {
        Some(i) => i.show(3, "", "interleaved repeats"),
        None => format!("{} repeat(s): no interval", v.len()),
    }
}

pub(super) fn latency(data: &Results) -> Claim {
    let c = "7. Partial fine-tuning adds no inference latency, unlike LoRA (unmerged).";
    // The rule reads the latest session: sessions on other hosts or thread counts are not pooled.
    let all = sessions(data);
    let Some((&latest, earlier)) = all.split_last() else {
        return claim(
            c,
            rules::LATENCY_RULE,
            "no latency rows (`ablate bench --latency --results DIR`)".into(),
            rules::Verdict::CannotBeJudged,
        );
    };
    let read = |session: &str, variant: &str, measure: &str| {
        let v = ratios_in(data, session, variant, measure);
        (t_interval(&v), v)
    };
    let shown = |session: &str, variant: &str, measure: &str| {
        let (i, v) = read(session, variant, measure);
        show(i.as_ref(), &v)
    };
    let partial_and_lora = |session: &str, measure: &str| {
        format!(
            "partial {}, LoRA unmerged {}",
            shown(session, "partial", measure),
            shown(session, "lora", measure)
        )
    };
    let (partial, pv) = read(latest, "partial", RULE_MEASURE);
    let (lora, lv) = read(latest, "lora", RULE_MEASURE);
    // Earlier sessions stay visible beside the verdict (hosts differ), neither pooled nor judged.
    let earlier: Vec<String> = earlier
        .iter()
        .map(|s| {
            format!(
                "session {s} ({}): {}",
                host(data, s),
                partial_and_lora(s, RULE_MEASURE)
            )
        })
        .collect();
    let earlier = if earlier.is_empty() {
        String::new()
    } else {
        format!(
            ". Earlier sessions, not pooled or judged: {}",
            earlier.join("; ")
        )
    };
    let measured = format!(
        "latency over the base model's, batch-1 forward of 128 tokens: partial {}; LoRA unmerged {}; LoRA merged {}. Beside it, one generated token after 128 (generation recomputes the prefix: no KV cache): {}; 4 x 128 forward: {} (session {latest}, {}){earlier}",
        show(partial.as_ref(), &pv),
        show(lora.as_ref(), &lv),
        shown(latest, "lora_merged", RULE_MEASURE),
        partial_and_lora(latest, "token_1x128"),
        partial_and_lora(latest, "forward_4x128"),
        host(data, latest),
    );
    claim(
        c,
        rules::LATENCY_RULE,
        measured,
        rules::latency(partial.as_ref(), lora.as_ref()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::rules::Verdict;
    use crate::results::schema::LatencyRow;

    fn row(variant: &str, repeat: u64, seconds: f64) -> LatencyRow {
        LatencyRow {
            latency_id: "l".into(),
            variant: variant.into(),
            measure: RULE_MEASURE.into(),
            repeat,
            seconds,
            ..Default::default()
        }
    }

    /// Ratios pair each variant with the base model of the same repeat; the claim reads them.
    #[test]
    fn latency_rows_pair_by_repeat_and_give_the_verdict() {
        let mut data = Results::default();
        for (rep, drift) in [(0, 1.0), (1, 1.3), (2, 0.8), (3, 1.1), (4, 0.9)] {
            data.evidence.latency.extend([
                row("base", rep, 0.100 * drift),
                row("partial", rep, 0.1002 * drift),
                row("lora", rep, 0.108 * drift),
                row("lora_merged", rep, 0.0999 * drift),
            ]);
        }
        let r = ratios_in(&data, "l", "lora", RULE_MEASURE);
        assert_eq!(r.len(), 5);
        assert!(
            r.iter().all(|x| (x - 1.08).abs() < 1e-9),
            "drift cancels: {r:?}"
        );
        let c = latency(&data);
        assert_eq!(c.verdict, Verdict::Supported, "{}", c.measured);
        assert!(c.measured.contains("LoRA merged 0.999"), "{}", c.measured);
        // LoRA no slower than the base model: only the partial half holds.
        for r in data
            .evidence
            .latency
            .iter_mut()
            .filter(|r| r.variant == "lora")
        {
            r.seconds *= 1.0 / 1.08;
        }
        assert_eq!(latency(&data).verdict, Verdict::Partly);
        data.evidence.latency.retain(|r| r.repeat < 2);
        assert_eq!(
            latency(&data).verdict,
            Verdict::CannotBeJudged,
            "two repeats"
        );
    }

    /// The rule reads the latest session only; an earlier one (another host) is shown beside
    /// the verdict and moves nothing.
    #[test]
    fn earlier_sessions_are_shown_but_not_pooled() {
        let mut data = Results::default();
        for rep in 0..5 {
            let d = 1.0 + 0.01 * rep as f64;
            data.evidence.latency.extend([
                row("base", rep, 0.100 * d),
                row("partial", rep, 0.1001 * d),
                row("lora", rep, 0.107 * d),
            ]);
            for (v, secs) in [("base", 0.2), ("partial", 0.3), ("lora", 0.3)] {
                data.evidence.latency.push(LatencyRow {
                    latency_id: "k".into(),
                    ..row(v, rep, secs * d)
                });
            }
        }
        let c = latency(&data);
        assert_eq!(c.verdict, Verdict::Supported, "{}", c.measured);
        assert!(c.measured.contains("session l,"), "{}", c.measured);
        assert!(
            c.measured
                .contains("Earlier sessions, not pooled or judged: session k ("),
            "{}",
            c.measured
        );
        assert!(
            c.measured.contains("partial 1.500 [1.500, 1.500]"),
            "{}",
            c.measured
        );
        // Alone, the earlier session's 1.5 would fail the partial half.
        data.evidence.latency.retain(|r| r.latency_id == "k");
        assert_eq!(latency(&data).verdict, Verdict::Partly);
    }
}
