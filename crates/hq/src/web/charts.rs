//! The dashboard's charts: SVG drawn on the server by small pure functions from numbers
//! to markup, so they are testable, light, need no script and work offline. Every chart
//! has a `<title>` and `<desc>`, every mark its value as text (a `<title>` tooltip and,
//! where it fits, a visible label), so nothing relies on colour alone. Colours come from
//! classes in `static/app.css` (the CSP allows no inline style). Callers pass labels
//! already translated and numbers already formatted; every text is escaped here.

use std::fmt::Write;

/// Escape text for SVG/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn open(out: &mut String, class: &str, w: u32, h: u32, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart {class}\" viewBox=\"0 0 {w} {h}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title>{}</title><desc>{}</desc>",
        esc(title),
        esc(desc)
    );
}

/// One day of a trend chart.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// Under the axis (`1 Dec`).
    pub axis_label: String,
    /// The point's values in words, for its tooltip (`1 Dec: Happy Index 75, 12 ratings`).
    pub text: String,
    pub count: u64,
    /// 0–100; `None` on a day without ratings.
    pub index: Option<f64>,
}

const TREND_W: f64 = 720.0;
const TREND_H: f64 = 220.0;
const PAD_L: f64 = 36.0;
const PAD_R: f64 = 8.0;
const PAD_T: f64 = 10.0;
const PAD_B: f64 = 26.0;

/// A daily trend: the Happy Index as a line over 0–100 (gridlines at 0, 25, 50, 75, 100)
/// and the day's volume as pale bars scaled to the busiest day. Days without ratings
/// break the line. With no points, the axes and `empty` are drawn.
pub fn trend(title: &str, desc: &str, points: &[TrendPoint], empty: &str) -> String {
    let mut out = String::with_capacity(1024 + points.len() * 260);
    open(
        &mut out,
        "trend",
        TREND_W as u32,
        TREND_H as u32,
        title,
        desc,
    );
    let plot_w = TREND_W - PAD_L - PAD_R;
    let plot_h = TREND_H - PAD_T - PAD_B;
    let y = |v: f64| PAD_T + plot_h * (1.0 - v.clamp(0.0, 100.0) / 100.0);
    for tick in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{PAD_L}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text>",
            TREND_W - PAD_R,
            y(tick),
            y(tick),
            PAD_L - 4.0,
            y(tick) + 4.0
        );
    }
    if points.is_empty() {
        let _ = write!(
            out,
            "<text class=\"chart-empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></svg>",
            PAD_L + plot_w / 2.0,
            PAD_T + plot_h / 2.0,
            esc(empty)
        );
        return out;
    }
    let n = points.len() as f64;
    let slot = plot_w / n;
    let x = |i: usize| PAD_L + slot * (i as f64 + 0.5);
    let max_count = points.iter().map(|p| p.count).max().unwrap_or(0).max(1) as f64;
    let bar_w = (slot * 0.7).max(1.0);
    for (i, p) in points.iter().enumerate() {
        if p.count == 0 {
            continue;
        }
        let h = plot_h * 0.45 * p.count as f64 / max_count;
        let _ = write!(
            out,
            "<rect class=\"vol\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\"><title>{}</title></rect>",
            x(i) - bar_w / 2.0,
            PAD_T + plot_h - h,
            esc(&p.text)
        );
    }
    // The line, in runs of consecutive days with ratings.
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, out: &mut String| {
        if run.len() > 1 {
            let _ = write!(
                out,
                "<polyline class=\"line\" points=\"{}\"/>",
                run.join(" ")
            );
        }
        run.clear();
    };
    for (i, p) in points.iter().enumerate() {
        match p.index {
            Some(v) => run.push(format!("{:.1},{:.1}", x(i), y(v))),
            None => flush(&mut run, &mut out),
        }
    }
    flush(&mut run, &mut out);
    for (i, p) in points.iter().enumerate() {
        if let Some(v) = p.index {
            let _ = write!(
                out,
                "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\"><title>{}</title></circle>",
                x(i),
                y(v),
                esc(&p.text)
            );
        }
    }
    // At most about 8 axis labels, always the first and the last.
    let every = points.len().div_ceil(8).max(1);
    for (i, p) in points.iter().enumerate() {
        if i % every == 0 || i + 1 == points.len() {
            if i + 1 == points.len() && i % every != 0 && every > 1 && (i % every) * 2 < every {
                continue;
            }
            let _ = write!(
                out,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x(i),
                TREND_H - 8.0,
                esc(&clip(&p.axis_label, 10))
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One bar of a bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: u64,
    /// Shown at the bar's end (`12 · 40%`).
    pub value_text: String,
    /// A class from the stylesheet for the bar's colour (`bar-s1`..`bar-s5`, `bar`).
    pub class: &'static str,
}

/// Horizontal bars, one row each, scaled to the largest value; labels left (clipped to
/// 22 characters, whole in the tooltip), values as text at the right.
pub fn bars(title: &str, desc: &str, rows: &[Bar]) -> String {
    const W: f64 = 480.0;
    const ROW: f64 = 26.0;
    const LABEL_W: f64 = 150.0;
    const VALUE_W: f64 = 90.0;
    let h = (rows.len().max(1) as f64 * ROW + 4.0) as u32;
    let mut out = String::with_capacity(512 + rows.len() * 300);
    open(&mut out, "bars", W as u32, h, title, desc);
    let max = rows.iter().map(|r| r.value).max().unwrap_or(0).max(1) as f64;
    let span = W - LABEL_W - VALUE_W;
    for (i, r) in rows.iter().enumerate() {
        let top = 2.0 + i as f64 * ROW;
        let w = if r.value == 0 {
            0.0
        } else {
            (span * r.value as f64 / max).max(2.0)
        };
        let _ = write!(
            out,
            "<g><title>{label}: {value}</title>\
             <text class=\"label\" x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{short}</text>\
             <rect class=\"{class}\" x=\"{LABEL_W}\" y=\"{by:.1}\" width=\"{w:.1}\" height=\"{bh:.1}\"/>\
             <text class=\"value\" x=\"{vx:.1}\" y=\"{ty:.1}\">{value}</text></g>",
            label = esc(&r.label),
            value = esc(&r.value_text),
            short = esc(&clip(&r.label, 22)),
            lx = LABEL_W - 6.0,
            ty = top + ROW / 2.0 + 4.0,
            class = r.class,
            by = top + 4.0,
            bh = ROW - 8.0,
            vx = LABEL_W + w + 6.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// How a heatmap colours its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeatScale {
    /// 0–100, fixed buckets of 20 (`hi0` worst .. `hi4` best).
    Index,
    /// Relative to the busiest cell (`hv0` quiet .. `hv4` busiest).
    Volume,
}

/// One cell of a heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCell {
    /// `None`: no ratings in that hour.
    pub value: Option<f64>,
    /// Shown inside the cell (`75`).
    pub text: String,
    /// The tooltip (`Mon 09:00: Happy Index 75, 12 ratings`).
    pub title: String,
}

fn level(scale: HeatScale, v: f64, max: f64) -> usize {
    let share = match scale {
        HeatScale::Index => v / 100.0,
        HeatScale::Volume => {
            if max > 0.0 {
                v / max
            } else {
                0.0
            }
        }
    };
    ((share.clamp(0.0, 1.0) * 5.0) as usize).min(4)
}

/// Hour × weekday: seven rows (`row_labels`, Monday first) of 24 cells, hours 0–23 across.
pub fn heatmap(
    title: &str,
    desc: &str,
    scale: HeatScale,
    row_labels: &[String; 7],
    cells: &[[HeatCell; 24]; 7],
) -> String {
    const CELL: f64 = 30.0;
    const LEFT: f64 = 44.0;
    const TOP: f64 = 18.0;
    let w = (LEFT + 24.0 * CELL + 2.0) as u32;
    let h = (TOP + 7.0 * CELL + 2.0) as u32;
    let mut out = String::with_capacity(4096 + 7 * 24 * 180);
    open(&mut out, "heatmap", w, h, title, desc);
    let max = cells
        .iter()
        .flatten()
        .filter_map(|c| c.value)
        .fold(0.0_f64, f64::max);
    let prefix = match scale {
        HeatScale::Index => "hi",
        HeatScale::Volume => "hv",
    };
    for hour in (0..24).step_by(3) {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"12\" text-anchor=\"middle\">{hour:02}</text>",
            LEFT + CELL * (hour as f64 + 0.5)
        );
    }
    for (d, row) in cells.iter().enumerate() {
        let top = TOP + d as f64 * CELL;
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            top + CELL / 2.0 + 4.0,
            esc(&clip(&row_labels[d], 5))
        );
        for (hour, c) in row.iter().enumerate() {
            let class = match c.value {
                Some(v) => format!("{prefix}{}", level(scale, v, max)),
                None => "hnone".to_owned(),
            };
            let left = LEFT + hour as f64 * CELL;
            let _ = write!(
                out,
                "<g><title>{}</title><rect class=\"{class}\" x=\"{left:.1}\" y=\"{top:.1}\" \
                 width=\"{:.1}\" height=\"{:.1}\"/>",
                esc(&c.title),
                CELL - 2.0,
                CELL - 2.0
            );
            if c.value.is_some() {
                let _ = write!(
                    out,
                    "<text class=\"cell {class}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    left + (CELL - 2.0) / 2.0,
                    top + CELL / 2.0 + 3.0,
                    esc(&clip(&c.text, 4))
                );
            }
            out.push_str("</g>");
        }
    }
    out.push_str("</svg>");
    out
}

/// A small daily line of counts (a reason's trend), 120×24, scaled to its largest day;
/// `title` says the values in words.
pub fn sparkline(title: &str, values: &[u64]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let mut out = String::with_capacity(256 + values.len() * 12);
    let _ = write!(
        out,
        "<svg class=\"spark\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        esc(title)
    );
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if values.len() > 1 {
        (W - 4.0) / (values.len() - 1) as f64
    } else {
        0.0
    };
    let pts: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = if values.len() > 1 {
                2.0 + step * i as f64
            } else {
                W / 2.0
            };
            format!("{x:.1},{:.1}", H - 2.0 - (H - 4.0) * *v as f64 / max)
        })
        .collect();
    if pts.len() > 1 {
        let _ = write!(
            out,
            "<polyline class=\"line\" points=\"{}\"/>",
            pts.join(" ")
        );
    } else if let Some(p) = pts.first() {
        let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
        let _ = write!(out, "<circle class=\"dot\" cx=\"{x}\" cy=\"{y}\" r=\"2\"/>");
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(label: &str, count: u64, index: Option<f64>) -> TrendPoint {
        TrendPoint {
            axis_label: label.into(),
            text: format!("{label}: {count}"),
            count,
            index,
        }
    }

    fn count(hay: &str, needle: &str) -> usize {
        hay.matches(needle).count()
    }

    #[test]
    fn an_empty_trend_draws_its_axes_and_says_why() {
        let svg = trend("Trend", "Daily", &[], "No ratings yet");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title>Trend</title><desc>Daily</desc>"));
        assert_eq!(count(&svg, "class=\"grid\""), 5, "gridlines 0..100");
        for tick in ["0<", "25<", "50<", "75<", "100<"] {
            assert!(svg.contains(tick), "{tick}");
        }
        assert!(svg.contains("No ratings yet"));
        assert!(!svg.contains("<polyline"));
    }

    #[test]
    fn one_point_is_a_dot_in_the_middle_without_a_line() {
        let svg = trend("T", "D", &[point("1 Dec", 3, Some(50.0))], "");
        assert_eq!(count(&svg, "<circle"), 1);
        assert!(!svg.contains("<polyline"), "a line needs two days");
        // The middle of the plot: 36 + 676 / 2.
        assert!(svg.contains("cx=\"374.0\""), "{svg}");
        // 50 is half way down the plot: 10 + 184 / 2.
        assert!(svg.contains("cy=\"102.0\""), "{svg}");
        assert!(svg.contains("<title>1 Dec: 3</title>"));
    }

    #[test]
    fn a_day_without_ratings_breaks_the_line_and_extremes_stay_inside() {
        let pts = [
            point("a", 1, Some(0.0)),
            point("b", 2, Some(100.0)),
            point("c", 0, None),
            point("d", 1_000_000, Some(150.0)),
            point("e", 1, Some(-20.0)),
        ];
        let svg = trend("T", "D", &pts, "");
        assert_eq!(count(&svg, "<polyline"), 2, "a–b and d–e");
        assert_eq!(count(&svg, "<circle"), 4);
        assert_eq!(count(&svg, "class=\"vol\""), 4, "no bar on the empty day");
        // Clamped to the plot: y from 10 (100) to 194 (0), never beyond.
        assert!(!svg.contains("cy=\"-"), "{svg}");
        for cy in svg.split("cy=\"").skip(1) {
            let v: f64 = cy.split('"').next().unwrap_or("").parse().expect("number");
            assert!((10.0..=194.0).contains(&v), "{v}");
        }
    }

    #[test]
    fn long_trends_label_only_some_days() {
        let pts: Vec<TrendPoint> = (0..90)
            .map(|i| point(&format!("d{i}"), 1, Some(50.0)))
            .collect();
        let svg = trend("T", "D", &pts, "");
        let labels = count(&svg, "text-anchor=\"middle\">d");
        assert!((6..=10).contains(&labels), "{labels}");
        assert!(svg.contains(">d0<"));
    }

    #[test]
    fn labels_and_titles_are_escaped() {
        let hostile = "<script>alert(1)</script>\"><img onerror=x>";
        let svg = trend(hostile, hostile, &[point(hostile, 1, Some(1.0))], hostile);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<img"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("&quot;&gt;&lt;img"));
        let b = bars(
            "B",
            "D",
            &[Bar {
                label: hostile.into(),
                value: 1,
                value_text: hostile.into(),
                class: "bar",
            }],
        );
        assert!(!b.contains("<script") && !b.contains("<img"), "{b}");
    }

    #[test]
    fn bars_scale_to_the_largest_and_show_values_as_text() {
        let rows = [
            Bar {
                label: "Five".into(),
                value: 10,
                value_text: "10 · 67%".into(),
                class: "bar-s5",
            },
            Bar {
                label: "One".into(),
                value: 5,
                value_text: "5 · 33%".into(),
                class: "bar-s1",
            },
            Bar {
                label: "A very long reason label that goes on".into(),
                value: 0,
                value_text: "0".into(),
                class: "bar",
            },
        ];
        let svg = bars("Scores", "How many", &rows);
        assert!(
            svg.contains("width=\"240.0\""),
            "the largest spans the plot: {svg}"
        );
        assert!(svg.contains("width=\"120.0\""), "half of it");
        assert!(svg.contains("width=\"0.0\""), "zero is no bar");
        assert!(svg.contains(">10 · 67%<") && svg.contains(">5 · 33%<"));
        assert!(svg.contains("A very long reason la…"), "clipped label");
        assert!(
            svg.contains("<title>A very long reason label that goes on: 0</title>"),
            "whole label in the tooltip"
        );
        assert!(bars("B", "D", &[]).ends_with("</svg>"));
    }

    fn cells(f: impl Fn(usize, usize) -> Option<f64>) -> [[HeatCell; 24]; 7] {
        std::array::from_fn(|d| {
            std::array::from_fn(|h| HeatCell {
                value: f(d, h),
                text: f(d, h).map(|v| format!("{v:.0}")).unwrap_or_default(),
                title: format!("{d}/{h}"),
            })
        })
    }

    fn days() -> [String; 7] {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map(String::from)
    }

    #[test]
    fn a_sparkline_spans_its_width_and_peaks_at_the_top() {
        let svg = sparkline("fast: 1, 4, 0", &[1, 4, 0]);
        assert!(
            svg.contains("points=\"2.0,17.0 60.0,2.0 118.0,22.0\""),
            "{svg}"
        );
        assert!(svg.contains("<title>fast: 1, 4, 0</title>"));
        assert!(sparkline("one", &[3]).contains("<circle"));
        assert!(!sparkline("none", &[]).contains("<polyline"));
        assert!(!sparkline("<b>", &[]).contains("<b>"));
    }

    #[test]
    fn a_heatmap_has_168_cells_with_values_as_text() {
        let svg = heatmap(
            "Index",
            "By hour",
            HeatScale::Index,
            &days(),
            &cells(|d, h| (d == 0 && h == 9).then_some(100.0)),
        );
        assert_eq!(count(&svg, "<rect"), 168);
        assert_eq!(count(&svg, "class=\"hnone\""), 167);
        assert!(svg.contains("class=\"hi4\""), "100 is the best bucket");
        assert!(svg.contains(">100<"), "the value is written in the cell");
        assert!(svg.contains(">Mon<") && svg.contains(">Sun<"));
        assert!(svg.contains(">00<") && svg.contains(">21<"), "hour axis");
    }

    #[test]
    fn heatmap_buckets_cover_the_range_including_extremes() {
        assert_eq!(level(HeatScale::Index, 0.0, 0.0), 0);
        assert_eq!(level(HeatScale::Index, 19.9, 0.0), 0);
        assert_eq!(level(HeatScale::Index, 20.0, 0.0), 1);
        assert_eq!(level(HeatScale::Index, 100.0, 0.0), 4);
        assert_eq!(level(HeatScale::Index, 1e9, 0.0), 4);
        assert_eq!(level(HeatScale::Index, -5.0, 0.0), 0);
        assert_eq!(level(HeatScale::Volume, 5.0, 0.0), 0, "no max: no division");
        assert_eq!(level(HeatScale::Volume, 10.0, 10.0), 4);
        let svg = heatmap(
            "V",
            "D",
            HeatScale::Volume,
            &days(),
            &cells(|d, h| Some((d * 24 + h) as f64)),
        );
        assert!(svg.contains("class=\"hv0\"") && svg.contains("class=\"hv4\""));
        assert!(!svg.contains("hnone"));
    }
}
