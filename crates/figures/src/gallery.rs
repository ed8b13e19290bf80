//! Cluster galleries: one row of sample drawings per cluster, headed by its id and size, on
//! as many pages as needed; noise in a panel of its own at the end.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cell::{self, group, Rect};
use crate::error::RenderResult;
use crate::{cluster_colour, save, Figure, FigureError, Labelled, Rgb, Style, Written, NOISE_GREY};

const NAME: &str = "gallery";

/// One cluster (or the noise) with the drawings chosen to show it, in the order to show them
/// (see [`crate::pick_samples`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GalleryCluster {
    /// `None` for noise.
    pub cluster: Option<u32>,
    /// Number of drawings in the cluster (not only the samples).
    pub size: usize,
    pub samples: Vec<Labelled>,
}

/// Layout of the [`Gallery`].
#[derive(Debug, Clone, PartialEq)]
pub struct GalleryOptions {
    pub style: Style,
    /// Drawings per cluster row.
    pub samples: usize,
    /// Cluster rows per page (the noise panel comes on top of these on the last page).
    pub clusters_per_page: usize,
    /// Clusters shown at most, the largest first; the rest are counted in a note.
    pub max_clusters: usize,
}

impl Default for GalleryOptions {
    fn default() -> Self {
        GalleryOptions {
            style: Style {
                cell: 96,
                ..Style::default()
            },
            samples: 10,
            clusters_per_page: 20,
            max_clusters: 60,
        }
    }
}

/// All pages of the gallery.
#[derive(Debug, Clone)]
pub struct Gallery<'a> {
    pages: Vec<GalleryPage<'a>>,
}

/// One page of the gallery: a [`Figure`].
#[derive(Debug, Clone)]
pub struct GalleryPage<'a> {
    rows: Vec<&'a GalleryCluster>,
    noise: Option<&'a GalleryCluster>,
    page: usize,
    pages: usize,
    subtitle: String,
    note: Option<String>,
    total: usize,
    opts: GalleryOptions,
}

const MARGIN: i32 = 16;
const TITLE_H: i32 = 78;
const HEADER_W: i32 = 150;
const ROW_GAP: i32 = 6;
const NOISE_GAP: i32 = 30;

impl<'a> Gallery<'a> {
    /// Checks the input and lays out the pages. Errors on zero clusters, a cluster id given
    /// twice, more than one noise entry, and empty or non-finite sample drawings.
    pub fn new(clusters: &'a [GalleryCluster], opts: &GalleryOptions) -> Result<Self, FigureError> {
        if clusters.is_empty() {
            return Err(FigureError::empty(NAME, "zero clusters were given"));
        }
        if opts.samples == 0 || opts.clusters_per_page == 0 || opts.max_clusters == 0 {
            return Err(FigureError::invalid(
                NAME,
                "samples, clusters_per_page and max_clusters must be at least 1",
            ));
        }
        if opts.style.cell < 16 {
            return Err(FigureError::invalid(
                NAME,
                "the cell must be at least 16 px",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for c in clusters {
            if !seen.insert(c.cluster) {
                return Err(FigureError::invalid(
                    NAME,
                    match c.cluster {
                        Some(id) => format!("cluster {id} is given twice"),
                        None => "noise is given twice".to_string(),
                    },
                ));
            }
            for s in c.samples.iter().take(opts.samples) {
                cell::check(NAME, &s.label, &s.drawing, false)?;
            }
        }
        let mut real: Vec<&GalleryCluster> =
            clusters.iter().filter(|c| c.cluster.is_some()).collect();
        let noise = clusters.iter().find(|c| c.cluster.is_none());
        // largest first; the id breaks ties so the order never depends on the input order
        real.sort_by_key(|c| (std::cmp::Reverse(c.size), c.cluster));
        let n_real = real.len();
        let total: usize = clusters.iter().map(|c| c.size).sum();
        let note = (n_real > opts.max_clusters).then(|| {
            let hidden = &real[opts.max_clusters..];
            format!(
                "Showing the {} largest of {} clusters; {} smaller ones ({} drawings) are not shown.",
                opts.max_clusters,
                n_real,
                hidden.len(),
                group(hidden.iter().map(|c| c.size).sum())
            )
        });
        real.truncate(opts.max_clusters);
        let chunks: Vec<Vec<&GalleryCluster>> = if real.is_empty() {
            vec![Vec::new()]
        } else {
            real.chunks(opts.clusters_per_page)
                .map(<[_]>::to_vec)
                .collect()
        };
        let pages = chunks.len();
        let subtitle = format!(
            "{} clusters{}, {} drawings in all; up to {} samples per cluster, largest cluster first",
            n_real,
            if noise.is_some() { " and noise" } else { "" },
            group(total),
            opts.samples
        );
        let pages = chunks
            .into_iter()
            .enumerate()
            .map(|(i, rows)| GalleryPage {
                rows,
                noise: if i + 1 == pages { noise } else { None },
                page: i + 1,
                pages,
                subtitle: subtitle.clone(),
                note: note.clone(),
                total,
                opts: opts.clone(),
            })
            .collect();
        Ok(Gallery { pages })
    }

    pub fn pages(&self) -> &[GalleryPage<'a>] {
        &self.pages
    }

    /// Writes every page as `<dir>/<prefix>_NN.png` and `.svg` (NN from 01).
    pub fn save_all(&self, dir: &Path, prefix: &str) -> Result<Vec<Written>, FigureError> {
        self.pages
            .iter()
            .map(|p| save(p, &dir.join(format!("{prefix}_{:02}", p.page))))
            .collect()
    }
}

impl GalleryPage<'_> {
    /// 1-based page number.
    pub fn page(&self) -> usize {
        self.page
    }
    /// Cluster ids on this page, in order (noise as `None`, last).
    pub fn clusters(&self) -> Vec<Option<u32>> {
        self.rows
            .iter()
            .map(|c| c.cluster)
            .chain(self.noise.map(|_| None))
            .collect()
    }

    fn row_h(&self) -> i32 {
        self.opts.style.cell as i32 + ROW_GAP
    }
    fn note_h(&self) -> i32 {
        if self.note.is_some() {
            22
        } else {
            0
        }
    }

    fn draw_row<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        c: &GalleryCluster,
        y: i32,
        shade: bool,
    ) -> Result<(), FigureError> {
        let st = &self.opts.style;
        let cs = st.cell as i32;
        let colour = cluster_colour(c.cluster);
        let (w, _) = self.size();
        let row = Rect::new(MARGIN, y, w as i32 - 2 * MARGIN, cs);
        let bg = match (c.cluster, shade) {
            (None, _) => NOISE_GREY.tint(0.8),
            (Some(_), true) => Rgb(0xf4, 0xf4, 0xf4),
            (Some(_), false) => st.background,
        };
        cell::fill(root, NAME, row, bg)?;
        cell::fill(root, NAME, Rect::new(MARGIN, y, 8, cs), colour)?;
        let name = match c.cluster {
            Some(id) => format!("cluster {id}"),
            None => "noise".to_string(),
        };
        let hx = MARGIN + 16;
        let name = cell::fit(root, &name, 18, HEADER_W - 20);
        cell::text(
            root,
            NAME,
            &name,
            (hx, y + 10),
            18,
            st.text,
            cell::top_left(),
        )?;
        let size = format!("{} drawings", group(c.size));
        cell::text(
            root,
            NAME,
            &size,
            (hx, y + 36),
            14,
            st.text,
            cell::top_left(),
        )?;
        if self.total > 0 {
            let share = format!("{:.1} % of all", 100.0 * c.size as f64 / self.total as f64);
            cell::text(
                root,
                NAME,
                &share,
                (hx, y + 56),
                13,
                Rgb(0x66, 0x66, 0x66),
                cell::top_left(),
            )?;
        }
        let ink = if c.cluster.is_some() {
            st.ink
        } else {
            Rgb(0x44, 0x44, 0x44)
        };
        let width = cell::ink_width(cs);
        let shown = &c.samples[..c.samples.len().min(self.opts.samples)];
        if shown.is_empty() {
            cell::text(
                root,
                NAME,
                "no samples given",
                (MARGIN + HEADER_W + 8, y + cs / 2 - 8),
                14,
                Rgb(0x88, 0x88, 0x88),
                cell::top_left(),
            )?;
        }
        for (k, s) in shown.iter().enumerate() {
            let r = Rect::new(MARGIN + HEADER_W + k as i32 * cs, y, cs, cs);
            cell::draw_drawing(root, NAME, r.inset(4), &s.drawing, ink, width)?;
        }
        Ok(())
    }
}

impl Figure for GalleryPage<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> (u32, u32) {
        let cs = self.opts.style.cell as i32;
        let w = 2 * MARGIN + HEADER_W + self.opts.samples as i32 * cs;
        let mut h = TITLE_H + self.note_h() + self.rows.len() as i32 * self.row_h();
        if self.noise.is_some() {
            h += NOISE_GAP + self.row_h();
        }
        ((w.max(640)) as u32, (h + MARGIN) as u32)
    }

    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        let st = &self.opts.style;
        root.fill(&st.background.plot()).render(NAME)?;
        let title = if self.pages > 1 {
            format!("Cluster gallery, page {} of {}", self.page, self.pages)
        } else {
            "Cluster gallery".to_string()
        };
        cell::text(
            root,
            NAME,
            &title,
            (MARGIN, 12),
            22,
            st.text,
            cell::top_left(),
        )?;
        let (w, _) = self.size();
        let sub = cell::fit(root, &self.subtitle, 14, w as i32 - 2 * MARGIN);
        cell::text(
            root,
            NAME,
            &sub,
            (MARGIN, 44),
            14,
            Rgb(0x55, 0x55, 0x55),
            cell::top_left(),
        )?;
        if let Some(note) = &self.note {
            let note = cell::fit(root, note, 14, w as i32 - 2 * MARGIN);
            cell::text(
                root,
                NAME,
                &note,
                (MARGIN, 66),
                14,
                Rgb(0xb0, 0x30, 0x20),
                cell::top_left(),
            )?;
        }
        let mut y = TITLE_H + self.note_h();
        for (i, c) in self.rows.iter().enumerate() {
            self.draw_row(root, c, y, i % 2 == 1)?;
            y += self.row_h();
        }
        if let Some(noise) = self.noise {
            if !self.rows.is_empty() {
                cell::fill(
                    root,
                    NAME,
                    Rect::new(MARGIN, y + NOISE_GAP / 2 - 2, w as i32 - 2 * MARGIN, 2),
                    Rgb(0xbb, 0xbb, 0xbb),
                )?;
            }
            y += NOISE_GAP;
            self.draw_row(root, noise, y, false)?;
        }
        Ok(())
    }
}
