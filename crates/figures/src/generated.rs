//! Drawings the model generated beside the real drawings they were made like: for each cluster
//! asked for, its members (in ink) and the drawings generated like it (in the model's ink); for
//! variations of one drawing, the drawing and its variations. And one drawing drawn stroke by
//! stroke as an animated SVG ([`animated_svg`]), for the report.

use std::fmt::Write as _;
use std::path::Path;

use drawing::Stroke3;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cell::{self, Rect};
use crate::error::RenderResult;
use crate::output::write_atomic;
use crate::{Figure, FigureError, Labelled, Rgb, Style};

const NAME: &str = "generated";

/// One row of the figure: real drawings, then drawings generated like them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeneratedGroup {
    /// E.g. "cluster 3" or "like 4521…".
    pub title: String,
    pub real: Vec<Labelled>,
    pub generated: Vec<Labelled>,
}

/// Layout of [`GeneratedFigure`].
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedOptions {
    pub style: Style,
    /// Figure title.
    pub title: String,
    /// Drawings of each kind shown per row, at most.
    pub per_side: usize,
    /// Rows shown at most (the first ones given).
    pub max_groups: usize,
}

impl Default for GeneratedOptions {
    fn default() -> Self {
        GeneratedOptions {
            style: Style::default(),
            title: "Generated drawings".into(),
            per_side: 8,
            max_groups: 16,
        }
    }
}

/// Rows of real drawings (left, ink) beside generated ones (right, model ink).
#[derive(Debug, Clone)]
pub struct GeneratedFigure<'a> {
    groups: &'a [GeneratedGroup],
    total: usize,
    opts: GeneratedOptions,
    real_cols: usize,
    gen_cols: usize,
}

const MARGIN: i32 = 16;
const TITLE_H: i32 = 60;
const ROW_TITLE_H: i32 = 22;
const GAP: i32 = 12;
const SPLIT: i32 = 28;

impl<'a> GeneratedFigure<'a> {
    pub fn new(groups: &'a [GeneratedGroup], opts: &GeneratedOptions) -> Result<Self, FigureError> {
        if groups.is_empty() {
            return Err(FigureError::empty(NAME, "no groups of drawings were given"));
        }
        if opts.per_side == 0 || opts.max_groups == 0 || opts.style.cell < 16 {
            return Err(FigureError::invalid(
                NAME,
                "per_side and max_groups must be at least 1 and the cell at least 16 px",
            ));
        }
        let shown = &groups[..groups.len().min(opts.max_groups)];
        for g in shown {
            if g.generated.is_empty() {
                return Err(FigureError::empty(
                    NAME,
                    format!("group {:?} has no generated drawing", g.title),
                ));
            }
            for d in g.real.iter().chain(&g.generated).take(2 * opts.per_side) {
                cell::check(NAME, &d.label, &d.drawing, false)?;
            }
        }
        let cols = |f: fn(&GeneratedGroup) -> usize| {
            shown.iter().map(f).max().unwrap_or(0).min(opts.per_side)
        };
        Ok(GeneratedFigure {
            groups: shown,
            total: groups.len(),
            opts: opts.clone(),
            real_cols: cols(|g| g.real.len()),
            gen_cols: cols(|g| g.generated.len()),
        })
    }

    fn row_h(&self) -> i32 {
        ROW_TITLE_H + self.opts.style.cell as i32
    }
    fn split_x(&self) -> i32 {
        let c = self.opts.style.cell as i32;
        MARGIN + self.real_cols as i32 * c + if self.real_cols > 0 { SPLIT } else { 0 }
    }
}

impl Figure for GeneratedFigure<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> (u32, u32) {
        let c = self.opts.style.cell as i32;
        let w = self.split_x() + self.gen_cols as i32 * c + MARGIN;
        let rows = self.groups.len() as i32;
        let h = TITLE_H + rows * self.row_h() + (rows - 1) * GAP + MARGIN;
        (w.max(600) as u32, h as u32)
    }

    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        let st = &self.opts.style;
        root.fill(&st.background.plot()).render(NAME)?;
        let c = st.cell as i32;
        cell::title(
            root,
            NAME,
            &self.opts.title,
            self.groups.len(),
            self.total,
            "rows",
            MARGIN,
            st.text,
        )?;
        let mut x = MARGIN;
        for (label, ink) in [("real drawings", st.ink), ("generated", st.model_ink)] {
            cell::fill(root, NAME, Rect::new(x, 40, 18, 4), ink)?;
            cell::text(
                root,
                NAME,
                label,
                (x + 24, 35),
                14,
                st.text,
                cell::top_left(),
            )?;
            x += 24 + cell::text_width(root, label, 14) + 24;
        }
        let width = cell::ink_width(c);
        let draw_row =
            |items: &[Labelled], x0: i32, y0: i32, ink: Rgb| -> Result<(), FigureError> {
                for (i, d) in items.iter().take(self.opts.per_side).enumerate() {
                    let r = Rect::new(x0 + i as i32 * c, y0, c, c);
                    cell::fill(root, NAME, r.inset(1), ink.tint(0.93))?;
                    cell::draw_drawing(root, NAME, r.inset(4), &d.drawing, ink, width)?;
                }
                Ok(())
            };
        for (row, g) in self.groups.iter().enumerate() {
            let y0 = TITLE_H + row as i32 * (self.row_h() + GAP);
            let title = cell::fit(root, &g.title, 15, self.size().0 as i32 - 2 * MARGIN);
            cell::text(
                root,
                NAME,
                &title,
                (MARGIN, y0),
                15,
                st.text,
                cell::top_left(),
            )?;
            let y = y0 + ROW_TITLE_H;
            draw_row(&g.real, MARGIN, y, st.ink)?;
            draw_row(&g.generated, self.split_x(), y, st.model_ink)?;
            if self.real_cols > 0 {
                let sx = self.split_x() - SPLIT / 2;
                cell::fill(root, NAME, Rect::new(sx, y, 1, c), Rgb(0xbb, 0xbb, 0xbb))?;
            }
        }
        Ok(())
    }
}

/// One drawing as an SVG that draws it stroke by stroke, in the order it was drawn, and
/// starts again after a pause: each stroke is a path whose dash offset runs from its length to
/// 0 over a time proportional to its length (SMIL, so it plays in an `<img>` too). `side` is
/// the picture's side in pixels, `seconds` the time the drawing takes.
pub fn animated_svg(
    d: &Stroke3,
    label: &str,
    side: u32,
    seconds: f32,
    style: &Style,
) -> Result<String, FigureError> {
    cell::check(NAME, label, d, false)?;
    if side < 16 || !(seconds.is_finite() && seconds > 0.0) {
        return Err(FigureError::invalid(
            NAME,
            "the animation needs a side of at least 16 px and a positive duration",
        ));
    }
    let b = d.bbox().expect("checked non-empty");
    let pad = 8.0f32;
    let avail = side as f32 - 2.0 * pad;
    let span = b.width().max(b.height());
    let scale = if span > 0.0 { avail / span } else { 1.0 };
    let (ox, oy) = (
        pad + (avail - b.width() * scale) / 2.0,
        pad + (avail - b.height() * scale) / 2.0,
    );
    let strokes: Vec<Vec<(f32, f32)>> = d
        .to_strokes()
        .iter()
        .map(|s| {
            s.points()
                .map(|(x, y)| ((x - b.min_x) * scale + ox, (y - b.min_y) * scale + oy))
                .collect()
        })
        .collect();
    let lengths: Vec<f32> = strokes
        .iter()
        .map(|s| {
            s.windows(2)
                .map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt())
                .sum::<f32>()
                .max(1.0)
        })
        .collect();
    let total: f32 = lengths.iter().sum();
    // the drawing takes `seconds`, then stays a second before starting again
    let cycle = seconds + 1.0;
    let ink = style.model_ink.to_string();
    let width = (side as f32 / 80.0).clamp(1.5, 4.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" viewBox="0 0 {side} {side}">"#
    );
    let _ = writeln!(
        out,
        r#"<title>{} drawn stroke by stroke</title><rect width="100%" height="100%" fill="{}"/>"#,
        crate::report::escape(label),
        style.background
    );
    let mut start = 0.0f32;
    for (s, &len) in strokes.iter().zip(&lengths) {
        let end = start + len / total * seconds;
        let (t0, t1) = (start / cycle, end / cycle);
        let mut path = String::new();
        for (i, (x, y)) in s.iter().enumerate() {
            let _ = write!(path, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { " L" });
        }
        if s.len() == 1 {
            // a dot: a zero-length segment with round caps
            let _ = write!(path, " l0.01 0");
        }
        let _ = writeln!(
            out,
            r#"<path d="{path}" fill="none" stroke="{ink}" stroke-width="{width:.1}" stroke-linecap="round" stroke-linejoin="round" stroke-dasharray="{len:.1}" stroke-dashoffset="{len:.1}"><animate attributeName="stroke-dashoffset" values="{len:.1};{len:.1};0;0" keyTimes="0;{t0:.4};{t1:.4};1" dur="{cycle:.2}s" repeatCount="indefinite"/></path>"#
        );
        start = end;
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// Writes [`animated_svg`] to `path` atomically.
pub fn save_animation(
    path: &Path,
    d: &Stroke3,
    label: &str,
    side: u32,
    seconds: f32,
    style: &Style,
) -> Result<(), FigureError> {
    let svg = animated_svg(d, label, side, seconds, style)?;
    write_atomic(path, svg.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{render_rgb, render_svg};

    fn square(o: f32) -> Stroke3 {
        Stroke3::from_strokes(&[
            drawing::Stroke::new(
                vec![0.0, 40.0, 40.0, 0.0, 0.0],
                vec![0.0, 0.0, 40.0, 40.0, 0.0],
            ),
            drawing::Stroke::new(vec![10.0 + o, 30.0], vec![25.0, 25.0 + o]),
        ])
    }

    fn groups() -> Vec<GeneratedGroup> {
        (0..3)
            .map(|g| GeneratedGroup {
                title: format!("cluster {g}"),
                real: (0..g + 2)
                    .map(|i| Labelled::new(format!("r{g}{i}"), square(i as f32)))
                    .collect(),
                generated: (0..4)
                    .map(|i| Labelled::new(format!("g{g}{i}"), square(2.0 * i as f32)))
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn draws_both_inks_in_every_row() {
        let gs = groups();
        let opts = GeneratedOptions {
            style: Style {
                cell: 48,
                ..Style::default()
            },
            ..GeneratedOptions::default()
        };
        let fig = GeneratedFigure::new(&gs, &opts).unwrap();
        let (w, h, px) = render_rgb(&fig).unwrap();
        assert_eq!((w, h), fig.size());
        let count = |c: Rgb| {
            px.chunks_exact(3)
                .filter(|p| (p[0], p[1], p[2]) == (c.0, c.1, c.2))
                .count()
        };
        assert!(count(opts.style.ink) > 100, "real drawings in ink");
        assert!(
            count(opts.style.model_ink) > 100,
            "generated ones in the model's ink"
        );
        assert!(render_svg(&fig).unwrap().contains("cluster 2"));
    }

    #[test]
    fn refuses_nothing_to_draw_and_bad_drawings() {
        assert!(GeneratedFigure::new(&[], &GeneratedOptions::default()).is_err());
        let mut gs = groups();
        gs[1].generated.clear();
        assert!(GeneratedFigure::new(&gs, &GeneratedOptions::default()).is_err());
        let mut gs = groups();
        gs[0].real[0].drawing.dx[1] = f32::NAN;
        assert!(GeneratedFigure::new(&gs, &GeneratedOptions::default()).is_err());
    }

    #[test]
    fn the_animation_has_one_timed_path_per_stroke_in_order() {
        let svg = animated_svg(&square(0.0), "k1", 200, 3.0, &Style::default()).unwrap();
        assert_eq!(svg.matches("<path ").count(), 2);
        assert_eq!(svg.matches("<animate ").count(), 2);
        // the second stroke starts where the first ends: the outline is 160 long, the inner
        // stroke 20, so the first ends at 160/180 of 3 s, of a 4 s cycle
        assert!(svg.contains("keyTimes=\"0;0.0000;0.6667;1\""), "{svg}");
        assert!(svg.contains("keyTimes=\"0;0.6667;0.7500;1\""), "{svg}");
        assert!(animated_svg(&Stroke3::default(), "e", 200, 3.0, &Style::default()).is_err());
    }
}
