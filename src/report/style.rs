//! One colour per strategy across every chart, and the canonical order of strategies.

use plotters::style::RGBColor;

use crate::strategy::PRESETS;

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Presets first in their fixed order, then other strategies alphabetically.
pub fn order(strategies: &mut Vec<String>) {
    strategies.sort_by_key(|s| {
        (
            PRESETS.iter().position(|p| p == s).unwrap_or(PRESETS.len()),
            s.clone(),
        )
    });
    strategies.dedup();
}

/// The colour of a strategy: presets keep theirs whatever else is in the grid.
pub fn colour(strategy: &str, all: &[String]) -> RGBColor {
    let i = match PRESETS.iter().position(|p| *p == strategy) {
        Some(i) => i,
        None => {
            let customs: Vec<&String> = all
                .iter()
                .filter(|s| !PRESETS.contains(&s.as_str()))
                .collect();
            PRESETS.len() + customs.iter().position(|s| *s == strategy).unwrap_or(0)
        }
    };
    PALETTE[i % PALETTE.len()]
}
