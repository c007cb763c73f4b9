//! Hand-written SVG line charts: one or more stacked panels sharing an x axis, each with
//! its own y axis and series, and a legend. No script, no external resource.

use std::fmt::Write as _;

/// One line of a panel.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// One plot area with its y axis.
#[derive(Debug, Clone)]
pub struct Panel {
    pub y_label: String,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub panels: Vec<Panel>,
}

pub const BLUE: &str = "#1f77b4";
pub const ORANGE: &str = "#ff7f0e";
pub const GREEN: &str = "#2ca02c";
pub const RED: &str = "#d62728";

const WIDTH: f64 = 760.0;
const PANEL_HEIGHT: f64 = 220.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const GAP: f64 = 50.0;
const BOTTOM: f64 = 50.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" step for about `n` ticks over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Upper bound of an axis starting at 0: the data's maximum rounded up to a tick.
fn axis_max(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let step = nice_step(max, 5.0);
    ((max / step).ceil() * step, step)
}

impl Chart {
    pub fn render(&self) -> String {
        let panels = self.panels.len().max(1) as f64;
        let height = TOP + panels * PANEL_HEIGHT + (panels - 1.0) * GAP + BOTTOM + 20.0;
        let plot_w = WIDTH - LEFT - RIGHT;
        let x_max_data = self
            .panels
            .iter()
            .flat_map(|p| p.series.iter())
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold(0.0f64, f64::max);
        let (x_max, x_step) = axis_max(x_max_data);
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(
            out,
            r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"##,
            WIDTH / 2.0,
            esc(&self.title)
        );
        for (i, panel) in self.panels.iter().enumerate() {
            let top = TOP + i as f64 * (PANEL_HEIGHT + GAP);
            let bottom = top + PANEL_HEIGHT;
            let y_max_data = panel
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(0.0f64, f64::max);
            let (y_max, y_step) = axis_max(y_max_data);
            let sx = |x: f64| LEFT + x / x_max * plot_w;
            let sy = |y: f64| bottom - y / y_max * PANEL_HEIGHT;
            // Grid and y ticks.
            let mut y = 0.0;
            while y <= y_max + y_step * 0.01 {
                let _ = write!(
                    out,
                    r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#e0e0e0"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##,
                    sy(y),
                    LEFT + plot_w,
                    LEFT - 6.0,
                    sy(y) + 4.0,
                    fmt_tick(y)
                );
                y += y_step;
            }
            // X ticks (on every panel, labelled on the last).
            let mut x = 0.0;
            while x <= x_max + x_step * 0.01 {
                let _ = write!(
                    out,
                    r##"<line x1="{0:.1}" y1="{top:.1}" x2="{0:.1}" y2="{bottom:.1}" stroke="#f0f0f0"/><text x="{0:.1}" y="{1:.1}" text-anchor="middle">{2}</text>"##,
                    sx(x),
                    bottom + 16.0,
                    fmt_tick(x)
                );
                x += x_step;
            }
            let _ = write!(
                out,
                r##"<rect x="{LEFT}" y="{top:.1}" width="{plot_w:.1}" height="{PANEL_HEIGHT}" fill="none" stroke="#888888"/><text transform="translate(16 {0:.1}) rotate(-90)" text-anchor="middle">{1}</text>"##,
                top + PANEL_HEIGHT / 2.0,
                esc(&panel.y_label)
            );
            for (k, s) in panel.series.iter().enumerate() {
                if s.points.is_empty() {
                    continue;
                }
                let pts: Vec<String> = s
                    .points
                    .iter()
                    .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                    .collect();
                if pts.len() == 1 {
                    let (x, y) = s.points[0];
                    let _ = write!(
                        out,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                        sx(x),
                        sy(y),
                        s.color
                    );
                } else {
                    let _ = write!(
                        out,
                        r#"<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"/>"#,
                        s.color,
                        pts.join(" ")
                    );
                }
                let lx = LEFT + 10.0 + k as f64 * 150.0;
                let _ = write!(
                    out,
                    r#"<rect x="{lx:.1}" y="{0:.1}" width="14" height="4" fill="{1}"/><text x="{2:.1}" y="{3:.1}">{4}</text>"#,
                    top + 10.0,
                    s.color,
                    lx + 18.0,
                    top + 15.0,
                    esc(&s.name)
                );
            }
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text></svg>"#,
            LEFT + plot_w / 2.0,
            height - 14.0,
            esc(&self.x_label)
        );
        out.push('\n');
        out
    }

    /// Writes the chart to `path` (when given).
    pub fn write(&self, path: Option<&std::path::Path>) -> anyhow::Result<()> {
        if let Some(p) = path {
            std::fs::write(p, self.render())
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_panels_series_and_escaped_text() {
        let chart = Chart {
            title: "a <b> & c".into(),
            x_label: "seconds".into(),
            panels: vec![
                Panel {
                    y_label: "ms".into(),
                    series: vec![
                        Series {
                            name: "p50".into(),
                            color: BLUE,
                            points: vec![(0.0, 1.0), (1.0, 2.5), (2.0, 2.0)],
                        },
                        Series {
                            name: "p99".into(),
                            color: RED,
                            points: vec![(0.0, 4.0)],
                        },
                    ],
                },
                Panel {
                    y_label: "req/s".into(),
                    series: vec![Series {
                        name: "ok".into(),
                        color: GREEN,
                        points: vec![],
                    }],
                },
            ],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn axes_round_up_to_nice_ticks() {
        assert_eq!(axis_max(0.0), (1.0, 0.2));
        assert_eq!(axis_max(87.0), (100.0, 20.0));
        assert_eq!(axis_max(1234.0), (1400.0, 200.0));
        assert_eq!(fmt_tick(25_000.0), "25k");
    }
}
