//! Loss curves: loss against training step, one line per series (train, valid…), log-scale y.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::RenderResult;
use crate::font::FONT_FAMILY;
use crate::{cluster_colour, Figure, FigureError, Rgb};

const NAME: &str = "loss curves";

/// One named series of `(step, loss)` points. Non-finite points are skipped (and counted in
/// the caption): a loss that blew up is worth seeing up to where it did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LossSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Size and title of [`LossCurves`].
#[derive(Debug, Clone, PartialEq)]
pub struct LossOptions {
    pub width: u32,
    pub height: u32,
    pub title: String,
    /// Longer series are averaged in this many buckets of consecutive steps.
    pub max_points: usize,
}

impl Default for LossOptions {
    fn default() -> Self {
        LossOptions {
            width: 1000,
            height: 600,
            title: "Training loss".to_string(),
            max_points: 2000,
        }
    }
}

/// A series as drawn: name, sorted finite points, whether to mark each point.
type Series = (String, Vec<(f64, f64)>, bool);

/// The chart. The y axis is logarithmic unless some loss is zero or negative (a mixture
/// density loss can be), in which case it is linear and the caption says so.
#[derive(Debug, Clone)]
pub struct LossCurves {
    series: Vec<Series>,
    log_y: bool,
    skipped: usize,
    averaged: bool,
    x: (f64, f64),
    y: (f64, f64),
    opts: LossOptions,
}

impl LossCurves {
    pub fn new(series: &[LossSeries], opts: &LossOptions) -> Result<Self, FigureError> {
        if opts.width < 200 || opts.height < 150 {
            return Err(FigureError::invalid(
                NAME,
                "the chart must be at least 200×150 px",
            ));
        }
        let mut skipped = 0;
        let mut averaged = false;
        let mut kept = Vec::new();
        for s in series {
            let mut pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            skipped += s.points.len() - pts.len();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            if opts.max_points > 0 && pts.len() > opts.max_points {
                pts = bucket_means(&pts, opts.max_points);
                averaged = true;
            }
            if !pts.is_empty() {
                // few points (a validation loss) are easier to read with markers
                let marks = pts.len() <= 60;
                kept.push((s.name.clone(), pts, marks));
            }
        }
        if kept.is_empty() {
            return Err(FigureError::empty(
                NAME,
                if skipped > 0 {
                    format!("all {skipped} loss values are NaN or infinite")
                } else {
                    "no loss values were given".to_string()
                },
            ));
        }
        let all = || kept.iter().flat_map(|(_, p, _)| p.iter());
        let (mut x0, mut x1) = min_max(all().map(|p| p.0));
        let (mut y0, mut y1) = min_max(all().map(|p| p.1));
        let log_y = y0 > 0.0;
        if x1 <= x0 {
            (x0, x1) = (x0 - 1.0, x1 + 1.0);
        }
        if log_y {
            let pad = if y1 > y0 { (y1 / y0).powf(0.05) } else { 2.0 };
            (y0, y1) = (y0 / pad, y1 * pad);
        } else {
            let pad = if y1 > y0 { (y1 - y0) * 0.05 } else { 1.0 };
            (y0, y1) = (y0 - pad, y1 + pad);
        }
        Ok(LossCurves {
            series: kept,
            log_y,
            skipped,
            averaged,
            x: (x0, x1),
            y: (y0, y1),
            opts: opts.clone(),
        })
    }

    /// Whether the y axis is logarithmic.
    pub fn log_y(&self) -> bool {
        self.log_y
    }

    fn caption(&self) -> String {
        let mut notes = Vec::new();
        if !self.log_y {
            notes.push("linear y: some losses are ≤ 0".to_string());
        }
        if self.averaged {
            notes.push(format!(
                "long series averaged into {} buckets",
                self.opts.max_points
            ));
        }
        if self.skipped > 0 {
            notes.push(format!("{} non-finite values not drawn", self.skipped));
        }
        if notes.is_empty() {
            self.opts.title.clone()
        } else {
            format!("{} ({})", self.opts.title, notes.join("; "))
        }
    }

    fn draw<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64> + ValueFormatter<f64>>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    ) -> Result<(), FigureError> {
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(if self.log_y {
                "loss (log scale)"
            } else {
                "loss"
            })
            .label_style((FONT_FAMILY, 14))
            .axis_desc_style((FONT_FAMILY, 16))
            .light_line_style(Rgb(0xee, 0xee, 0xee).plot())
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()
            .render(NAME)?;
        for (i, (name, pts, marks)) in self.series.iter().enumerate() {
            let colour = cluster_colour(Some(i as u32)).plot();
            let line = ShapeStyle {
                color: colour.to_rgba(),
                filled: false,
                stroke_width: 2,
            };
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), line))
                .render(NAME)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line));
            if *marks {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                    .render(NAME)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(Rgb(0xaa, 0xaa, 0xaa).plot())
            .label_font((FONT_FAMILY, 15))
            .draw()
            .render(NAME)
    }
}

/// Ticks of a log axis over `[lo, hi]`: 1, 2, 5 × 10^k when the range spans few decades,
/// powers of ten only when it spans many; light lines at every integer × 10^k.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mantissas: &[f64] = if k1 - k0 <= 3 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let (mut bold, mut light) = (Vec::new(), Vec::new());
    for k in k0..=k1 {
        let p = 10f64.powi(k);
        for m in 1..10 {
            let v = m as f64 * p;
            if v >= lo && v <= hi {
                light.push(v);
                if mantissas.contains(&(m as f64)) {
                    bold.push(v);
                }
            }
        }
    }
    (bold, light)
}

/// A tick value without float noise: 0.05, 2, 1e-5.
fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.0e}")
    } else {
        // round to 4 significant digits, then let Display drop trailing zeros
        let digits = 3 - a.log10().floor().max(-10.0) as i32;
        let scale = 10f64.powi(digits.clamp(0, 12));
        format!("{}", (v * scale).round() / scale)
    }
}

fn min_max(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    })
}

/// Averages sorted points in `n` buckets of (nearly) equal counts.
fn bucket_means(pts: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .filter_map(|b| {
            let (lo, hi) = (b * pts.len() / n, (b + 1) * pts.len() / n);
            let chunk = &pts[lo..hi];
            (!chunk.is_empty()).then(|| {
                let k = chunk.len() as f64;
                (
                    chunk.iter().map(|p| p.0).sum::<f64>() / k,
                    chunk.iter().map(|p| p.1).sum::<f64>() / k,
                )
            })
        })
        .collect()
}

impl Figure for LossCurves {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> (u32, u32) {
        (self.opts.width, self.opts.height)
    }

    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        root.fill(&WHITE).render(NAME)?;
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(self.caption(), (FONT_FAMILY, 20))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(84);
        let xr = self.x.0..self.x.1;
        if self.log_y {
            let (bold, light) = log_ticks(self.y.0, self.y.1);
            let y = (self.y.0..self.y.1)
                .log_scale()
                .with_key_points(bold)
                .with_light_points(light);
            let mut chart = builder.build_cartesian_2d(xr, y).render(NAME)?;
            self.draw(&mut chart)
        } else {
            let mut chart = builder
                .build_cartesian_2d(xr, self.y.0..self.y.1)
                .render(NAME)?;
            self.draw(&mut chart)
        }
    }
}
