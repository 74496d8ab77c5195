//! The timeline chart, drawn by hand as inline SVG: bars of neutralized keys
//! per second against the exchange's documented ceilings. A plotting crate
//! would bring fonts or a raster backend for one bar chart with two lines.

use super::figures::{LimitLine, Timeline};
use keyrevoke_core::TierScope;
use maud::{Markup, html};

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 250.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
/// Room for the legend: one row for the bars, one per ceiling (at most two).
const TOP: f64 = 62.0;
const LEGEND_ROW: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// A ceiling this many times above the fastest bucket is left off the
/// scale (and named in the legend), or the bars would be slivers.
const OFF_SCALE: f64 = 4.0;

pub const BAR: &str = "#2f6fb3";
pub const IP_LIMIT: &str = "#c62828";
pub const ACCOUNT_LIMIT: &str = "#e08a00";

/// A round step near `span / 4`: 1, 2 or 5 times a power of ten.
fn tick_step(span: f64) -> f64 {
    let raw = (span / 4.0).max(f64::MIN_POSITIVE);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

fn number(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn limit_label(l: &LimitLine) -> String {
    let scope = match l.scope {
        TierScope::Ip => "IP-wide limit",
        TierScope::Account => "limit per account",
    };
    format!("{scope}: {} keys/s", number(l.keys_per_second))
}

fn limit_colour(l: &LimitLine) -> (&'static str, &'static str) {
    match l.scope {
        TierScope::Ip => (IP_LIMIT, "8 4"),
        TierScope::Account => (ACCOUNT_LIMIT, "3 3"),
    }
}

/// One exchange's chart; `title` names it for screen readers.
pub fn timeline_chart(title: &str, timeline: &Timeline, limits: &[LimitLine]) -> Markup {
    let peak = timeline.keys_per_second.iter().copied().fold(0.0, f64::max);
    let on_scale: Vec<&LimitLine> = limits
        .iter()
        .filter(|l| peak == 0.0 || l.keys_per_second <= peak * OFF_SCALE)
        .collect();
    let top_value = on_scale
        .iter()
        .map(|l| l.keys_per_second)
        .fold(peak, f64::max)
        .max(1.0)
        * 1.1;
    let step = tick_step(top_value);
    let y_max = (top_value / step).ceil() * step;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y = |v: f64| TOP + plot_h * (1.0 - v / y_max);
    let n = timeline.keys_per_second.len().max(1);
    let bar_w = plot_w / n as f64;
    let seconds = (n as u64 * timeline.bucket_seconds) as f64;
    let x_step = tick_step(seconds);
    let x_ticks: Vec<f64> = (0..)
        .map(|i| i as f64 * x_step)
        .take_while(|s| *s <= seconds)
        .collect();
    let y_ticks: Vec<f64> = (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= y_max + step / 2.0)
        .collect();
    let bucket_note = if timeline.bucket_seconds > 1 {
        format!(" (averaged over {} s)", timeline.bucket_seconds)
    } else {
        String::new()
    };
    html! {
        svg class="chart" role="img"
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width=(WIDTH) height=(HEIGHT) {
            title { (title) ": neutralized keys per second against the documented limit" }
            // Legend, one row per series above the plot.
            rect x=(LEFT) y="6" width="12" height="12" fill=(BAR) {}
            text x=(LEFT + 18.0) y="16" class="legend" { "neutralized keys/s" (bucket_note) }
            @if limits.is_empty() {
                text x=(LEFT + 18.0) y=(16.0 + LEGEND_ROW) class="legend" {
                    "no documented rate limit for this channel"
                }
            }
            @for (i, l) in limits.iter().enumerate() {
                @let (colour, dash) = limit_colour(l);
                @let ly = 12.0 + LEGEND_ROW * (i as f64 + 1.0);
                line x1=(LEFT - 5.0) y1=(ly) x2=(LEFT + 13.0) y2=(ly) stroke=(colour)
                    stroke-width="2.5" stroke-dasharray=(dash) {}
                text x=(LEFT + 18.0) y=(ly + 4.0) class="legend" {
                    (limit_label(l))
                    @if !on_scale.contains(&l) { " (above the chart)" }
                }
            }
            // Grid and y axis.
            @for v in &y_ticks {
                line x1=(LEFT) y1=(y(*v)) x2=(WIDTH - RIGHT) y2=(y(*v)) class="grid" {}
                text x=(LEFT - 6.0) y=(y(*v) + 4.0) class="tick" text-anchor="end" { (number(*v)) }
            }
            text x="14" y=(TOP + plot_h / 2.0) class="axis" text-anchor="middle"
                transform=(format!("rotate(-90 14 {})", TOP + plot_h / 2.0)) { "keys / s" }
            // Bars.
            @for (i, v) in timeline.keys_per_second.iter().enumerate() {
                @if *v > 0.0 {
                    rect x=(LEFT + i as f64 * bar_w) y=(y(*v))
                        width=((bar_w - if bar_w > 3.0 { 1.0 } else { 0.0 }).max(0.5))
                        height=(TOP + plot_h - y(*v)) fill=(BAR) {}
                }
            }
            // Ceilings.
            @for l in &on_scale {
                @let (colour, dash) = limit_colour(l);
                line x1=(LEFT) y1=(y(l.keys_per_second)) x2=(WIDTH - RIGHT)
                    y2=(y(l.keys_per_second)) stroke=(colour) stroke-width="2.5"
                    stroke-dasharray=(dash) {}
            }
            // X axis.
            line x1=(LEFT) y1=(TOP + plot_h) x2=(WIDTH - RIGHT) y2=(TOP + plot_h) class="axisline" {}
            line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(TOP + plot_h) class="axisline" {}
            @for s in &x_ticks {
                @let tx = LEFT + plot_w * s / seconds.max(1.0);
                line x1=(tx) y1=(TOP + plot_h) x2=(tx) y2=(TOP + plot_h + 4.0) class="axisline" {}
                text x=(tx) y=(TOP + plot_h + 16.0) class="tick" text-anchor="middle" { (number(*s)) }
            }
            text x=(LEFT + plot_w / 2.0) y=(HEIGHT - 4.0) class="axis" text-anchor="middle" {
                "seconds since the job started"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(rate: f64, scope: TierScope) -> LimitLine {
        LimitLine {
            keys_per_second: rate,
            tier: "t".into(),
            scope,
        }
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(4.0), 1.0);
        assert_eq!(tick_step(9.0), 5.0);
        assert_eq!(tick_step(130.0), 50.0);
        assert_eq!(tick_step(0.4), 0.1);
    }

    #[test]
    fn the_chart_draws_a_bar_per_busy_second_and_each_ceiling_in_its_legend() {
        let t = Timeline {
            bucket_seconds: 1,
            keys_per_second: vec![4.0, 0.0, 5.0],
        };
        let svg = timeline_chart(
            "okx",
            &t,
            &[line(5.0, TierScope::Account), line(500.0, TierScope::Ip)],
        )
        .into_string();
        assert_eq!(
            svg.matches(&format!("fill=\"{BAR}\"")).count(),
            3,
            "legend swatch and two bars: {svg}"
        );
        assert!(svg.contains("limit per account: 5 keys/s"), "{svg}");
        assert!(
            svg.contains("IP-wide limit: 500 keys/s (above the chart)"),
            "a ceiling 100 times the peak is named, not drawn to scale: {svg}"
        );
        assert_eq!(
            svg.matches(&format!("stroke=\"{IP_LIMIT}\"")).count(),
            1,
            "only the legend shows the off-scale line"
        );
        assert_eq!(
            svg.matches(&format!("stroke=\"{ACCOUNT_LIMIT}\"")).count(),
            2
        );
    }
}
