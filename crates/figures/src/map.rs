//! The embedding map: every drawing as a point at its 2-D position, coloured by cluster (noise
//! grey), with small thumbnails of a spread-out sample of drawings at their positions.

use std::collections::BTreeMap;

use drawing::Stroke3;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cell::{self, group, Rect};
use crate::error::RenderResult;
use crate::font::FONT_FAMILY;
use crate::{cluster_colour, pick_thumbnails, Figure, FigureError, Rgb, Style};

const NAME: &str = "embedding map";

/// One drawing's position on the map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapPoint {
    pub x: f32,
    pub y: f32,
    /// `None` for noise.
    pub cluster: Option<u32>,
}

/// A drawing to show at the position of point `index`.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    pub index: usize,
    pub drawing: Stroke3,
}

/// Size and look of the [`EmbeddingMap`].
#[derive(Debug, Clone, PartialEq)]
pub struct MapOptions {
    pub style: Style,
    pub width: u32,
    pub height: u32,
    /// Radius of a point in pixels.
    pub point_radius: u32,
    /// Thumbnails shown at most.
    pub thumbnails: usize,
    /// Side of a thumbnail in pixels.
    pub thumbnail_size: u32,
    pub title: String,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            style: Style::default(),
            width: 1400,
            height: 1100,
            point_radius: 2,
            thumbnails: 80,
            thumbnail_size: 52,
            title: "Embedding map".to_string(),
        }
    }
}

const MARGIN: u32 = 16;
const CAPTION_H: u32 = 44;
const X_LABEL_H: u32 = 40;
const Y_LABEL_W: u32 = 56;

impl MapOptions {
    /// Size in pixels of the plotting area inside the axes (approximately: plotters places
    /// the axes itself).
    fn plot_px(&self) -> (f64, f64) {
        (
            self.width.saturating_sub(2 * MARGIN + Y_LABEL_W) as f64,
            self.height
                .saturating_sub(2 * MARGIN + CAPTION_H + X_LABEL_H) as f64,
        )
    }

    /// Indices of the points whose drawings should be thumbnails: at most one per area of a
    /// thumbnail's size, so they hardly overlap, and at most [`MapOptions::thumbnails`].
    /// Deterministic (see [`pick_thumbnails`]).
    pub fn pick_thumbnails(&self, points: &[MapPoint]) -> Vec<usize> {
        let Some((xr, yr)) = ranges(points) else {
            return Vec::new();
        };
        let (pw, ph) = self.plot_px();
        let side = self.thumbnail_size.max(1) as f64 * 1.15;
        let cols = (pw / side).floor().max(1.0) as u32;
        let rows = (ph / side).floor().max(1.0) as u32;
        let xy: Vec<(f32, f32)> = points.iter().map(|p| (p.x, p.y)).collect();
        pick_thumbnails(&xy, xr, yr, (cols, rows), self.thumbnails)
    }
}

/// Data ranges with a margin; `None` when there are no finite points.
type Ranges = ((f64, f64), (f64, f64));

fn ranges(points: &[MapPoint]) -> Option<Ranges> {
    let fin = points.iter().filter(|p| p.x.is_finite() && p.y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for p in fin {
        x0 = x0.min(p.x as f64);
        x1 = x1.max(p.x as f64);
        y0 = y0.min(p.y as f64);
        y1 = y1.max(p.y as f64);
    }
    if x0 > x1 {
        return None;
    }
    let pad = |a: f64, b: f64| {
        let d = if b > a { (b - a) * 0.06 } else { 1.0 };
        (a - d, b + d)
    };
    Some((pad(x0, x1), pad(y0, y1)))
}

/// The map.
#[derive(Debug, Clone)]
pub struct EmbeddingMap<'a> {
    points: &'a [MapPoint],
    thumbs: &'a [Thumbnail],
    x: (f64, f64),
    y: (f64, f64),
    opts: MapOptions,
}

impl<'a> EmbeddingMap<'a> {
    /// Errors on no points, a non-finite coordinate (naming the point), a thumbnail index out
    /// of range and empty or non-finite thumbnail drawings.
    pub fn new(
        points: &'a [MapPoint],
        thumbs: &'a [Thumbnail],
        opts: &MapOptions,
    ) -> Result<Self, FigureError> {
        if points.is_empty() {
            return Err(FigureError::empty(NAME, "no points were given"));
        }
        if opts.width < 300 || opts.height < 300 || opts.thumbnail_size > 400 {
            return Err(FigureError::invalid(
                NAME,
                "the map must be at least 300×300 px and thumbnails at most 400 px",
            ));
        }
        for (i, p) in points.iter().enumerate() {
            for (axis, v) in [("x", p.x), ("y", p.y)] {
                if !v.is_finite() {
                    return Err(FigureError::NonFinite {
                        figure: NAME,
                        what: format!("{axis} of point {i}"),
                        value: v as f64,
                    });
                }
            }
        }
        for t in thumbs {
            if t.index >= points.len() {
                return Err(FigureError::invalid(
                    NAME,
                    format!(
                        "thumbnail for point {} but there are only {} points",
                        t.index,
                        points.len()
                    ),
                ));
            }
            cell::check(
                NAME,
                &format!("thumbnail of point {}", t.index),
                &t.drawing,
                false,
            )?;
        }
        let (x, y) = ranges(points).expect("points are finite and not empty");
        Ok(EmbeddingMap {
            points,
            thumbs,
            x,
            y,
            opts: opts.clone(),
        })
    }
}

impl Figure for EmbeddingMap<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> (u32, u32) {
        (self.opts.width, self.opts.height)
    }

    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        let st = &self.opts.style;
        root.fill(&st.background.plot()).render(NAME)?;
        // per cluster: the points, for the colour order and the label position
        let mut by: BTreeMap<Option<u32>, Vec<(f64, f64)>> = BTreeMap::new();
        for p in self.points {
            by.entry(p.cluster)
                .or_default()
                .push((p.x as f64, p.y as f64));
        }
        let n_clusters = by.keys().filter(|k| k.is_some()).count();
        let n_noise = by.get(&None).map_or(0, Vec::len);
        let caption = format!(
            "{}: {} drawings, {} clusters{}, {} thumbnails",
            self.opts.title,
            group(self.points.len()),
            n_clusters,
            if n_noise > 0 {
                format!(", {} noise (grey)", group(n_noise))
            } else {
                String::new()
            },
            self.thumbs.len()
        );
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT_FAMILY, 20))
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_H)
            .y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)
            .render(NAME)?;
        chart
            .configure_mesh()
            .label_style((FONT_FAMILY, 12))
            .light_line_style(Rgb(0xf2, 0xf2, 0xf2).plot())
            .bold_line_style(Rgb(0xe0, 0xe0, 0xe0).plot())
            .draw()
            .render(NAME)?;
        let r = self.opts.point_radius;
        // BTreeMap puts None (noise) first: it goes under the clusters
        for (cluster, pts) in &by {
            let colour = cluster_colour(*cluster).plot();
            let alpha = if cluster.is_some() { 0.75 } else { 0.45 };
            chart
                .draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, r, colour.mix(alpha).filled())),
                )
                .render(NAME)?;
        }
        // thumbnails: white card, cluster-coloured frame, the drawing in ink
        let ts = self.opts.thumbnail_size as i32;
        let (px, py) = chart.plotting_area().get_pixel_range();
        for t in self.thumbs {
            let p = self.points[t.index];
            let (cx, cy) = chart.backend_coord(&(p.x as f64, p.y as f64));
            let x = (cx - ts / 2).clamp(px.start, (px.end - ts).max(px.start));
            let y = (cy - ts / 2).clamp(py.start, (py.end - ts).max(py.start));
            let card = Rect::new(x, y, ts, ts);
            // a slightly see-through card keeps the points under it visible
            root.draw(&Rectangle::new(
                [(card.x, card.y), (card.x + card.w, card.y + card.h)],
                WHITE.mix(0.82).filled(),
            ))
            .render(NAME)?;
            cell::frame(root, NAME, card, cluster_colour(p.cluster), 2)?;
            cell::draw_drawing(root, NAME, card.inset(3), &t.drawing, st.ink, 1)?;
        }
        // cluster ids at the median of their points, on a small card so they stay legible
        for (cluster, pts) in &by {
            let Some(id) = cluster else { continue };
            let (mx, my) = (
                median(pts.iter().map(|p| p.0)),
                median(pts.iter().map(|p| p.1)),
            );
            let (cx, cy) = chart.backend_coord(&(mx, my));
            let label = id.to_string();
            let w = cell::text_width(root, &label, 14) + 8;
            let card = Rect::new(cx - w / 2, cy - 10, w, 20);
            cell::fill(root, NAME, card, Rgb(255, 255, 255))?;
            cell::frame(root, NAME, card, cluster_colour(*cluster), 2)?;
            cell::text(root, NAME, &label, (cx, cy), 14, st.text, cell::centre())?;
        }
        Ok(())
    }
}

fn median(v: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = v.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
