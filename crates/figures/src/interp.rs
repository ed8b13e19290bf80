//! Interpolations: for each pair of drawings, the drawings decoded at evenly spaced points on
//! the line between their two embeddings, one strip per pair.

use drawing::Stroke3;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cell::{self, Rect};
use crate::error::RenderResult;
use crate::{Figure, FigureError, Rgb, Style};

const NAME: &str = "interpolations";

/// One pair: the decoded steps from A to B, with the two original drawings when known.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterpStrip {
    /// Shown above the strip, e.g. "5152…3648 → 4567…0001".
    pub label: String,
    pub from: Option<Stroke3>,
    pub to: Option<Stroke3>,
    /// Decoded drawings in order from A to B (empty ones show as "no ink").
    pub steps: Vec<Stroke3>,
}

/// Layout of [`Interpolations`].
#[derive(Debug, Clone, PartialEq)]
pub struct InterpOptions {
    pub style: Style,
    /// Strips shown at most (the first ones given).
    pub max_strips: usize,
}

impl Default for InterpOptions {
    fn default() -> Self {
        InterpOptions {
            style: Style {
                cell: 88,
                ..Style::default()
            },
            max_strips: 12,
        }
    }
}

/// The strips, one under the other: originals (when given) at both ends in the style's ink
/// on a tinted ground, the decoded steps between them in the model's ink.
#[derive(Debug, Clone)]
pub struct Interpolations<'a> {
    strips: &'a [InterpStrip],
    total: usize,
    steps: usize,
    opts: InterpOptions,
}

const MARGIN: i32 = 16;
const TITLE_H: i32 = 62;
const LABEL_H: i32 = 22;
const GAP: i32 = 12;
const STRIP_GAP: i32 = 12;

impl<'a> Interpolations<'a> {
    pub fn new(strips: &'a [InterpStrip], opts: &InterpOptions) -> Result<Self, FigureError> {
        if strips.is_empty() {
            return Err(FigureError::empty(
                NAME,
                "no interpolation strips were given",
            ));
        }
        if opts.max_strips == 0 || opts.style.cell < 16 {
            return Err(FigureError::invalid(
                NAME,
                "max_strips must be at least 1 and the cell at least 16 px",
            ));
        }
        let shown = &strips[..strips.len().min(opts.max_strips)];
        for (i, s) in shown.iter().enumerate() {
            if s.steps.is_empty() {
                return Err(FigureError::invalid(
                    NAME,
                    format!("strip {i} ({:?}) has no steps", s.label),
                ));
            }
            for (k, d) in s.steps.iter().enumerate() {
                cell::check(NAME, &format!("{} step {k}", s.label), d, true)?;
            }
            for (end, d) in [("start", &s.from), ("end", &s.to)] {
                if let Some(d) = d {
                    cell::check(NAME, &format!("{} {end}", s.label), d, false)?;
                }
            }
        }
        let steps = shown.iter().map(|s| s.steps.len()).max().unwrap_or(0);
        Ok(Interpolations {
            strips: shown,
            total: strips.len(),
            steps,
            opts: opts.clone(),
        })
    }

    fn has_ends(&self) -> bool {
        self.strips
            .iter()
            .any(|s| s.from.is_some() || s.to.is_some())
    }
}

impl Figure for Interpolations<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> (u32, u32) {
        let c = self.opts.style.cell as i32;
        let ends = if self.has_ends() { 2 * (c + GAP) } else { 0 };
        let w = 2 * MARGIN + ends + self.steps as i32 * c;
        let n = self.strips.len() as i32;
        let h = TITLE_H + n * (LABEL_H + c) + (n - 1) * STRIP_GAP + MARGIN;
        (w.max(560) as u32, h as u32)
    }

    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        let st = &self.opts.style;
        root.fill(&st.background.plot()).render(NAME)?;
        let c = st.cell as i32;
        cell::title(
            root,
            NAME,
            "Interpolations",
            self.strips.len(),
            self.total,
            "pairs",
            MARGIN,
            st.text,
        )?;
        let (w, _) = self.size();
        let sub = if self.has_ends() {
            "originals at both ends; between them, drawings decoded from evenly spaced embeddings"
        } else {
            "drawings decoded from evenly spaced embeddings between two drawings'"
        };
        let sub = cell::fit(root, sub, 14, w as i32 - 2 * MARGIN);
        cell::text(
            root,
            NAME,
            &sub,
            (MARGIN, 36),
            14,
            Rgb(0x55, 0x55, 0x55),
            cell::top_left(),
        )?;
        let width = cell::ink_width(c);
        let ends = self.has_ends();
        let steps_x = MARGIN + if ends { c + GAP } else { 0 };
        for (i, s) in self.strips.iter().enumerate() {
            let y = TITLE_H + i as i32 * (LABEL_H + c + STRIP_GAP);
            let label = cell::fit(root, &s.label, 14, w as i32 - 2 * MARGIN);
            cell::text(
                root,
                NAME,
                &label,
                (MARGIN, y + 2),
                14,
                st.text,
                cell::top_left(),
            )?;
            let y = y + LABEL_H;
            let strip = Rect::new(steps_x, y, s.steps.len() as i32 * c, c);
            cell::fill(root, NAME, strip, st.model_ink.tint(0.94))?;
            for (k, d) in s.steps.iter().enumerate() {
                let r = Rect::new(steps_x + k as i32 * c, y, c, c);
                cell::draw_drawing(root, NAME, r.inset(3), d, st.model_ink, width)?;
            }
            if ends {
                let to_x = steps_x + s.steps.len() as i32 * c + GAP;
                for (d, x) in [(&s.from, MARGIN), (&s.to, to_x)] {
                    let r = Rect::new(x, y, c, c);
                    cell::fill(root, NAME, r, st.ink.tint(0.9))?;
                    match d {
                        Some(d) => cell::draw_drawing(root, NAME, r.inset(3), d, st.ink, width)?,
                        None => cell::text(
                            root,
                            NAME,
                            "not given",
                            (x + c / 2, y + c / 2),
                            12,
                            Rgb(0x88, 0x88, 0x88),
                            cell::centre(),
                        )?,
                    }
                }
            }
        }
        Ok(())
    }
}
