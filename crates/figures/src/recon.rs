//! Drawings beside the model's reconstructions of them.

use drawing::Stroke3;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cell::{self, Rect};
use crate::error::RenderResult;
use crate::{short_key, Figure, FigureError, Rgb, Style};

const NAME: &str = "reconstructions";

/// One drawing and what the model made of it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReconPair {
    pub key_id: String,
    pub original: Stroke3,
    pub reconstruction: Stroke3,
}

/// Layout of [`Reconstructions`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReconOptions {
    pub style: Style,
    /// Pairs side by side in one row.
    pub pairs_per_row: u32,
    /// Pairs shown at most (the first ones given).
    pub max_pairs: usize,
}

impl Default for ReconOptions {
    fn default() -> Self {
        ReconOptions {
            style: Style::default(),
            pairs_per_row: 4,
            max_pairs: 32,
        }
    }
}

/// A grid of pairs: the original in the style's ink, the reconstruction in its model ink, the
/// shortened key_id under each pair. An empty reconstruction shows as "no ink" (the model
/// may really draw nothing); an empty original is an error.
#[derive(Debug, Clone)]
pub struct Reconstructions<'a> {
    pairs: &'a [ReconPair],
    total: usize,
    opts: ReconOptions,
}

const MARGIN: i32 = 16;
const TITLE_H: i32 = 56;
const LABEL_H: i32 = 22;
const GAP: i32 = 14;

impl<'a> Reconstructions<'a> {
    pub fn new(pairs: &'a [ReconPair], opts: &ReconOptions) -> Result<Self, FigureError> {
        if pairs.is_empty() {
            return Err(FigureError::empty(NAME, "no drawing pairs were given"));
        }
        if opts.pairs_per_row == 0 || opts.max_pairs == 0 || opts.style.cell < 16 {
            return Err(FigureError::invalid(
                NAME,
                "pairs_per_row and max_pairs must be at least 1 and the cell at least 16 px",
            ));
        }
        let shown = &pairs[..pairs.len().min(opts.max_pairs)];
        for p in shown {
            cell::check(NAME, &p.key_id, &p.original, false)?;
            cell::check(
                NAME,
                &format!("reconstruction of {}", p.key_id),
                &p.reconstruction,
                true,
            )?;
        }
        Ok(Reconstructions {
            pairs: shown,
            total: pairs.len(),
            opts: opts.clone(),
        })
    }

    fn cols(&self) -> i32 {
        (self.opts.pairs_per_row as usize).min(self.pairs.len()) as i32
    }
    fn block(&self) -> (i32, i32) {
        let c = self.opts.style.cell as i32;
        (2 * c, c + LABEL_H)
    }
}

impl Figure for Reconstructions<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> (u32, u32) {
        let cols = self.cols();
        let rows = self.pairs.len().div_ceil(cols as usize) as i32;
        let (bw, bh) = self.block();
        let w = 2 * MARGIN + cols * bw + (cols - 1) * GAP;
        let h = TITLE_H + MARGIN + rows * bh + (rows - 1) * GAP;
        // a single pair is narrower than the title: keep room for it
        (w.max(560) as u32, h as u32)
    }

    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        let st = &self.opts.style;
        root.fill(&st.background.plot()).render(NAME)?;
        let c = st.cell as i32;
        cell::title(
            root,
            NAME,
            "Reconstructions",
            self.pairs.len(),
            self.total,
            "drawings",
            MARGIN,
            st.text,
        )?;
        // legend: which colour is which
        let mut x = MARGIN;
        for (label, ink) in [("original", st.ink), ("reconstruction", st.model_ink)] {
            cell::fill(root, NAME, Rect::new(x, 38, 18, 4), ink)?;
            cell::text(
                root,
                NAME,
                label,
                (x + 24, 33),
                14,
                st.text,
                cell::top_left(),
            )?;
            x += 24 + cell::text_width(root, label, 14) + 24;
        }
        let (bw, bh) = self.block();
        let width = cell::ink_width(c);
        for (i, p) in self.pairs.iter().enumerate() {
            let (col, row) = (i as i32 % self.cols(), i as i32 / self.cols());
            let x0 = MARGIN + col * (bw + GAP);
            let y0 = TITLE_H + row * (bh + GAP);
            let left = Rect::new(x0, y0, c, c);
            let right = Rect::new(x0 + c, y0, c, c);
            cell::fill(root, NAME, left, st.ink.tint(0.93))?;
            cell::fill(root, NAME, right, st.model_ink.tint(0.93))?;
            cell::draw_drawing(root, NAME, left.inset(3), &p.original, st.ink, width)?;
            cell::draw_drawing(
                root,
                NAME,
                right.inset(3),
                &p.reconstruction,
                st.model_ink,
                width,
            )?;
            cell::frame(
                root,
                NAME,
                Rect::new(x0, y0, bw, c),
                Rgb(0xcc, 0xcc, 0xcc),
                1,
            )?;
            let label = cell::fit(root, &short_key(&p.key_id), 14, bw);
            cell::text(
                root,
                NAME,
                &label,
                (x0 + bw / 2, y0 + c + 4),
                14,
                st.text,
                cell::top_centre(),
            )?;
        }
        Ok(())
    }
}
