//! Inline SVG charts for the HTML report: plain markup generated here, so the page needs no
//! scripts, fonts or libraries and prints as vectors. Every chart is `<svg class="chart"
//! role="img">` with a `<title>` (screen readers, hover) and its numbers written on it: an auditor
//! reading a printout cannot hover.
//!
//! Coordinates are formatted with one decimal so the same data always gives the same bytes.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

use super::html::esc;

const FONT: &str = "font-family=\"Helvetica Neue, Arial, Liberation Sans, sans-serif\"";
const AXIS: &str = "#6b7785";
const GRID: &str = "#e3e7ec";
const INK: &str = "#1f2933";

/// One stacked layer of a bar chart.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<f64>,
}

/// Colours for series without a meaning of their own (accounts): muted and distinguishable in
/// greyscale print as well.
pub const PALETTE: [&str; 6] = [
    "#2f5d8a", "#8fb3cf", "#9c6b30", "#5e8c61", "#b07aa1", "#7f7f7f",
];

/// `5,994`: counts are read, not parsed.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn open(width: f64, height: f64, label: &str, title: &str) -> String {
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{label}\" xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" {FONT} \
         font-size=\"11\"><title>{title}</title>",
        label = esc(label),
        title = esc(title),
    )
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, content: &str) {
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"{INK}\"{extra}>{}</text>",
        esc(content)
    );
}

fn rect(out: &mut String, x: f64, y: f64, w: f64, h: f64, fill: &str) {
    let _ = write!(
        out,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\"/>"
    );
}

fn line(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str) {
    let _ = write!(
        out,
        "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\"/>"
    );
}

/// A legend row of coloured squares and names, from `x` at baseline `y`.
fn legend(out: &mut String, x: f64, y: f64, items: &[(&str, &str)]) {
    let mut at = x;
    for (name, color) in items {
        let _ = write!(
            out,
            "<rect x=\"{at:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\" stroke=\"#9aa5b1\" stroke-width=\"0.5\"/>",
            y - 9.0
        );
        text(out, at + 14.0, y, "start", "", name);
        at += 24.0 + name.chars().count() as f64 * 6.2;
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `max`: round gridlines.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * power)
}

/// Gridlines for a [`nice_ceiling`] maximum: round values between them (1, 2 or 5 at the top).
fn grid_steps(max: f64) -> u32 {
    let leading = max / 10f64.powf(max.log10().floor());
    if (leading - 2.0).abs() < 1e-9 { 4 } else { 5 }
}

/// Vertical bars, one per category, stacked by series, with each bar's total written above it.
pub fn columns(
    label: &str,
    y_label: &str,
    categories: &[String],
    series: &[Series],
    value_text: &dyn Fn(usize, f64) -> String,
) -> String {
    let (left, top, plot_h, bottom) = (64.0, 34.0, 200.0, 46.0);
    // A quarter or a year of days still fits the page: bars narrow, and only bars wide enough
    // for a number get one (the gridlines give the rest).
    let slot = (860.0 / categories.len().max(1) as f64).min(80.0);
    let width = left + slot * categories.len() as f64 + 20.0;
    let totals: Vec<f64> = (0..categories.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let max = nice_ceiling(totals.iter().copied().fold(0.0, f64::max));
    let mut out = open(width.max(420.0), top + plot_h + bottom, label, label);
    let items: Vec<(&str, &str)> = series.iter().map(|s| (s.name.as_str(), s.color)).collect();
    if series.len() > 1 {
        legend(&mut out, left, 14.0, &items);
    }
    let steps = grid_steps(max);
    for step in 0..=steps {
        let value = max * f64::from(step) / f64::from(steps);
        let y = top + plot_h - plot_h * f64::from(step) / f64::from(steps);
        line(
            &mut out,
            (left, y),
            (left + slot * categories.len() as f64, y),
            GRID,
        );
        let tick = if max >= 4.0 {
            count(value.round() as u64)
        } else {
            format!("{value:.2}")
        };
        text(&mut out, left - 6.0, y + 4.0, "end", "", &tick);
    }
    let labelled_every = categories.len().div_ceil(16).max(1);
    for (i, category) in categories.iter().enumerate() {
        let x = left + slot * i as f64;
        let mut base = top + plot_h;
        for s in series {
            let h = plot_h * s.values.get(i).copied().unwrap_or(0.0) / max;
            if h > 0.0 {
                rect(&mut out, x + slot * 0.15, base - h, slot * 0.7, h, s.color);
            }
            base -= h;
        }
        let label = value_text(i, totals[i]);
        if slot >= 24.0 && !label.is_empty() {
            text(
                &mut out,
                x + slot / 2.0,
                base - 4.0,
                "middle",
                " font-size=\"10\"",
                &label,
            );
        }
        if i.is_multiple_of(labelled_every) {
            text(
                &mut out,
                x + slot / 2.0,
                top + plot_h + 14.0,
                "middle",
                " font-size=\"10\"",
                category,
            );
        }
    }
    line(
        &mut out,
        (left, top + plot_h),
        (left + slot * categories.len() as f64, top + plot_h),
        AXIS,
    );
    let y_mid = top + plot_h / 2.0;
    text(
        &mut out,
        14.0,
        y_mid,
        "middle",
        &format!(" transform=\"rotate(-90 14 {y_mid:.1})\" fill-opacity=\"0.8\""),
        y_label,
    );
    text(
        &mut out,
        left + slot * categories.len() as f64 / 2.0,
        top + plot_h + 36.0,
        "middle",
        "",
        "Day (UTC)",
    );
    out.push_str("</svg>");
    out
}

/// `...tail` of a long name, so the distinctive end of an ARN stays readable.
fn shorten(name: &str, max: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max {
        return name.to_string();
    }
    let tail: String = chars[chars.len() - (max - 1)..].iter().collect();
    format!("\u{2026}{tail}")
}

/// Horizontal bars, one per row, stacked by series; each row's `note` is written after its bar.
pub fn bars(label: &str, x_label: &str, rows: &[(String, String)], series: &[Series]) -> String {
    let (left, top, row_h) = (400.0, if series.len() > 1 { 30.0 } else { 12.0 }, 22.0);
    let plot_w = 380.0;
    let totals: Vec<f64> = (0..rows.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let max = nice_ceiling(totals.iter().copied().fold(0.0, f64::max));
    let height = top + row_h * rows.len() as f64 + 40.0;
    let mut out = open(left + plot_w + 180.0, height, label, label);
    if series.len() > 1 {
        let items: Vec<(&str, &str)> = series.iter().map(|s| (s.name.as_str(), s.color)).collect();
        legend(&mut out, left, 14.0, &items);
    }
    let plot_bottom = top + row_h * rows.len() as f64;
    let steps = grid_steps(max);
    for step in 0..=steps {
        let x = left + plot_w * f64::from(step) / f64::from(steps);
        line(&mut out, (x, top), (x, plot_bottom), GRID);
        let tick = count((max * f64::from(step) / f64::from(steps)).round() as u64);
        text(
            &mut out,
            x,
            plot_bottom + 14.0,
            "middle",
            " font-size=\"10\"",
            &tick,
        );
    }
    for (i, (name, note)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(out, "<g><title>{}</title>", esc(name));
        text(
            &mut out,
            left - 8.0,
            y + 15.0,
            "end",
            "",
            &shorten(name, 64),
        );
        let mut x = left;
        for s in series {
            let w = plot_w * s.values.get(i).copied().unwrap_or(0.0) / max;
            if w > 0.0 {
                rect(&mut out, x, y + 4.0, w, row_h - 8.0, s.color);
            }
            x += w;
        }
        text(&mut out, x + 6.0, y + 15.0, "start", "", note);
        out.push_str("</g>");
    }
    line(&mut out, (left, top), (left, plot_bottom), AXIS);
    text(
        &mut out,
        left + plot_w / 2.0,
        plot_bottom + 32.0,
        "middle",
        "",
        x_label,
    );
    out.push_str("</svg>");
    out
}

/// One delivery stream on the timeline: cells as in `integrity::TimelineEntry`.
pub struct Stream<'a> {
    pub name: String,
    pub start: DateTime<Utc>,
    pub step_secs: i64,
    pub cells: &'a str,
}

/// What a timeline cell means, its colour, and whether it is evidence of tampering.
pub fn cell_class(symbol: char) -> (&'static str, &'static str) {
    match symbol {
        '#' => ("log files delivered", "#4f7fae"),
        '.' | ' ' => ("quiet (under threshold or attested by digests)", "#e6e9ee"),
        'S' => ("explained stop (StopLogging)", "#e0a43a"),
        '?' => ("no validation (no digest to attest)", "#b9b3cf"),
        '!' => ("unattested gap (critical)", "#d4483b"),
        'X' => ("deleted logs (critical)", "#7a1010"),
        _ => ("unknown", "#999999"),
    }
}

/// Runs of equal cells: (first index, length, symbol).
fn runs(cells: &str) -> Vec<(usize, usize, char)> {
    let mut out: Vec<(usize, usize, char)> = Vec::new();
    for (i, ch) in cells.chars().enumerate() {
        let ch = if ch == ' ' { '.' } else { ch };
        match out.last_mut() {
            Some((_, len, last)) if *last == ch => *len += 1,
            _ => out.push((i, 1, ch)),
        }
    }
    out
}

/// Days between date ticks: at most ~14 labels across the period.
fn tick_days(days: i64) -> i64 {
    [1, 2, 7, 14, 30, 61, 91]
        .into_iter()
        .find(|d| days / d <= 14)
        .unwrap_or(183)
}

/// A row per stream over `[from, to)`: delivery, quiet time and gaps coloured by class.
pub fn timeline(from: DateTime<Utc>, to: DateTime<Utc>, streams: &[Stream]) -> String {
    let (left, top, row_h, plot_w) = (190.0, 52.0, 22.0, 760.0);
    let span = (to - from).num_seconds().max(1) as f64;
    let x_of =
        |t: DateTime<Utc>| left + plot_w * ((t - from).num_seconds() as f64 / span).clamp(0.0, 1.0);
    let plot_bottom = top + row_h * streams.len() as f64;
    let label = format!(
        "Delivery timeline per account and region, {} to {}",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d")
    );
    let mut out = open(left + plot_w + 20.0, plot_bottom + 40.0, &label, &label);
    let legend_items: Vec<(&str, &str)> = ['#', '.', 'S', '?', '!', 'X']
        .into_iter()
        .map(cell_class)
        .collect();
    legend(&mut out, 10.0, 16.0, &legend_items[..3]);
    legend(&mut out, 10.0, 34.0, &legend_items[3..]);
    for (row, stream) in streams.iter().enumerate() {
        let y = top + row_h * row as f64;
        let _ = write!(out, "<g><title>{}</title>", esc(&stream.name));
        text(
            &mut out,
            left - 8.0,
            y + 15.0,
            "end",
            "",
            &shorten(&stream.name, 30),
        );
        out.push_str("</g>");
        rect(&mut out, left, y + 3.0, plot_w, row_h - 6.0, "#f6f7f9");
        for (first, len, symbol) in runs(stream.cells) {
            let start = stream.start + Duration::seconds(stream.step_secs * first as i64);
            let end = start + Duration::seconds(stream.step_secs * len as i64);
            let (x0, x1) = (x_of(start), x_of(end));
            if x1 > x0 {
                let (name, color) = cell_class(symbol);
                let _ = write!(
                    out,
                    "<g><title>{}: {} to {}</title>",
                    esc(name),
                    start.format("%Y-%m-%d %H:%M"),
                    end.format("%Y-%m-%d %H:%M")
                );
                rect(&mut out, x0, y + 3.0, x1 - x0, row_h - 6.0, color);
                out.push_str("</g>");
            }
        }
    }
    let days = (to - from).num_days().max(1);
    let every = tick_days(days);
    let mut day = 0;
    while day <= days {
        let t = from + Duration::days(day);
        let x = x_of(t);
        line(&mut out, (x, top - 2.0), (x, plot_bottom + 2.0), AXIS);
        if day < days || days <= 14 {
            text(
                &mut out,
                x,
                plot_bottom + 15.0,
                "middle",
                " font-size=\"10\"",
                &t.format("%b %d").to_string(),
            );
        }
        day += every;
    }
    text(
        &mut out,
        left + plot_w / 2.0,
        plot_bottom + 32.0,
        "middle",
        "",
        "Time (UTC)",
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(5994), "5,994");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn gridlines_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(1500.0), 2000.0);
        assert_eq!(nice_ceiling(0.03), 0.05);
    }

    #[test]
    fn timeline_cells_merge_into_runs() {
        assert_eq!(
            runs("##. S?"),
            vec![(0, 2, '#'), (2, 2, '.'), (4, 1, 'S'), (5, 1, '?')]
        );
    }
}
