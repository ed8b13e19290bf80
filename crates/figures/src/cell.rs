//! Shared pieces of the drawing figures: checking a drawing, drawing it into a cell, text.

use drawing::{Stroke, Stroke3};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::RenderResult;
use crate::font::FONT_FAMILY;
use crate::{FigureError, Rgb};

/// A rectangle in pixels of the whole picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub fn new(x: i32, y: i32, w: i32, h: i32) -> Self {
        Rect { x, y, w, h }
    }
    /// The rectangle shrunk by `d` on every side.
    pub fn inset(self, d: i32) -> Rect {
        Rect::new(
            self.x + d,
            self.y + d,
            (self.w - 2 * d).max(0),
            (self.h - 2 * d).max(0),
        )
    }
    fn corners(self) -> [(i32, i32); 2] {
        [(self.x, self.y), (self.x + self.w, self.y + self.h)]
    }
}

/// Checks a drawing before it is drawn: equal column lengths (else `to_strokes` would index
/// out of range), finite offsets, and (unless `allow_empty`) at least one point.
pub(crate) fn check(
    figure: &'static str,
    label: &str,
    d: &Stroke3,
    allow_empty: bool,
) -> Result<(), FigureError> {
    if d.dx.len() != d.dy.len() || d.dx.len() != d.pen.len() {
        return Err(FigureError::Ragged {
            figure,
            label: label.to_string(),
            dx: d.dx.len(),
            dy: d.dy.len(),
            pen: d.pen.len(),
        });
    }
    if let Some(point) = (0..d.len()).find(|&i| !(d.dx[i].is_finite() && d.dy[i].is_finite())) {
        return Err(FigureError::NonFiniteDrawing {
            figure,
            label: label.to_string(),
            point,
        });
    }
    // a running sum of huge finite offsets can still overflow to infinity
    if let Some(b) = d.bbox() {
        if ![b.min_x, b.min_y, b.max_x, b.max_y]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(FigureError::NonFiniteDrawing {
                figure,
                label: label.to_string(),
                point: d.len().saturating_sub(1),
            });
        }
    }
    if d.is_empty() && !allow_empty {
        return Err(FigureError::EmptyDrawing {
            figure,
            label: label.to_string(),
        });
    }
    Ok(())
}

/// Line width for a drawing shown in a cell of side `cell` pixels.
pub(crate) fn ink_width(cell: i32) -> u32 {
    ((cell + 20) / 48).clamp(1, 4) as u32
}

/// Draws the strokes of `d` in `rect`, scaled to fit with the aspect ratio kept, centred, in
/// the data's orientation (y grows downward, as on the backend). Pen lifts separate strokes.
/// An empty drawing is drawn as the words "no ink".
pub(crate) fn draw_drawing<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &'static str,
    rect: Rect,
    d: &Stroke3,
    ink: Rgb,
    width: u32,
) -> Result<(), FigureError> {
    let strokes: Vec<Stroke> = d.to_strokes();
    let Some(b) = d.bbox() else {
        let size = (rect.h / 7).max(9);
        return text(
            area,
            figure,
            "no ink",
            (rect.x + rect.w / 2, rect.y + rect.h / 2),
            size,
            Rgb(0x99, 0x99, 0x99),
            Pos::new(HPos::Center, VPos::Center),
        );
    };
    let pad = width as f64 + 1.0;
    let (bw, bh) = (b.width() as f64, b.height() as f64);
    let (aw, ah) = (rect.w as f64 - 2.0 * pad, rect.h as f64 - 2.0 * pad);
    if aw <= 0.0 || ah <= 0.0 {
        return Ok(());
    }
    // a dot or a straight line has a zero side: scale by the other one only
    let scale = match (bw > 0.0, bh > 0.0) {
        (true, true) => (aw / bw).min(ah / bh),
        (true, false) => aw / bw,
        (false, true) => ah / bh,
        (false, false) => 1.0,
    };
    let ox = rect.x as f64 + pad + (aw - bw * scale) / 2.0;
    let oy = rect.y as f64 + pad + (ah - bh * scale) / 2.0;
    let map = |x: f32, y: f32| {
        (
            (ox + (x - b.min_x) as f64 * scale).round() as i32,
            (oy + (y - b.min_y) as f64 * scale).round() as i32,
        )
    };
    let style = ShapeStyle {
        color: ink.plot().to_rgba(),
        filled: false,
        stroke_width: width,
    };
    for s in &strokes {
        let mut pts: Vec<(i32, i32)> = s.points().map(|(x, y)| map(x, y)).collect();
        pts.dedup();
        if pts.len() > 1 {
            for run in split_at_sharp_turns(&pts, width) {
                area.draw(&PathElement::new(run, style)).render(figure)?;
            }
        } else if let Some(&p) = pts.first() {
            // a tap (one point, or points on one pixel) is a dot, which a path would not show
            area.draw(&Circle::new(p, width.max(1), ink.plot().filled()))
                .render(figure)?;
        }
    }
    Ok(())
}

/// Splits a path (no two neighbours equal) where it turns back by more than 120°, when drawn
/// wider than one pixel. plotters joins a wide path's segments with unlimited miters, so a
/// stroke that doubles back on itself gets a spike that can reach far outside its cell; each
/// run ends and the next begins at the turning point, so the ink stays joined.
pub(crate) fn split_at_sharp_turns(pts: &[(i32, i32)], width: u32) -> Vec<Vec<(i32, i32)>> {
    let mut runs = Vec::new();
    let mut run = vec![pts[0]];
    for i in 1..pts.len() {
        run.push(pts[i]);
        if width > 1 && i + 1 < pts.len() {
            let a = (
                (pts[i].0 - pts[i - 1].0) as f64,
                (pts[i].1 - pts[i - 1].1) as f64,
            );
            let b = (
                (pts[i + 1].0 - pts[i].0) as f64,
                (pts[i + 1].1 - pts[i].1) as f64,
            );
            let dot = a.0 * b.0 + a.1 * b.1;
            let lengths = a.0.hypot(a.1) * b.0.hypot(b.1);
            // cos of the turn below -0.5: more than 120°
            if dot < -0.5 * lengths {
                runs.push(std::mem::replace(&mut run, vec![pts[i]]));
            }
        }
    }
    runs.push(run);
    runs
}

/// Draws `s` at `pos` with the bundled font.
pub(crate) fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &'static str,
    s: &str,
    pos: (i32, i32),
    size: i32,
    colour: Rgb,
    anchor: Pos,
) -> Result<(), FigureError> {
    let colour = colour.plot();
    let style = TextStyle::from((FONT_FAMILY, size as f64).into_font())
        .color(&colour)
        .pos(anchor);
    area.draw_text(s, &style, pos).render(figure)
}

/// A figure's title at the top left, "{what}: {shown} {unit}", or "{what}: {shown} of {total}
/// {unit}" when only some are shown.
#[allow(clippy::too_many_arguments)]
pub(crate) fn title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &'static str,
    what: &str,
    shown: usize,
    total: usize,
    unit: &str,
    x: i32,
    colour: Rgb,
) -> Result<(), FigureError> {
    let s = if total > shown {
        format!("{what}: {shown} of {total} {unit}")
    } else {
        format!("{what}: {shown} {unit}")
    };
    text(area, figure, &s, (x, 10), 20, colour, top_left())
}

/// Width of `s` in pixels at `size`.
pub(crate) fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    size: i32,
) -> i32 {
    let style = TextStyle::from((FONT_FAMILY, size as f64).into_font());
    area.estimate_text_size(s, &style)
        .map(|(w, _)| w as i32)
        .unwrap_or(0)
}

/// Thousands grouped with thin spaces, as in print: 12 345.
// `is_multiple_of` is newer than the workspace's rust-version (1.85)
#[allow(clippy::manual_is_multiple_of)]
pub(crate) fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{2009}');
        }
        out.push(ch);
    }
    out
}

/// Shortens `s` with an ellipsis until it is at most `max_w` pixels wide in `size`.
pub(crate) fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    size: i32,
    max_w: i32,
) -> String {
    let style = TextStyle::from((FONT_FAMILY, size as f64).into_font());
    let width = |t: &str| {
        area.estimate_text_size(t, &style)
            .map(|(w, _)| w as i32)
            .unwrap_or(i32::MAX)
    };
    if width(s) <= max_w {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    for keep in (0..chars.len()).rev() {
        let t: String = chars[..keep].iter().collect::<String>() + "…";
        if width(&t) <= max_w {
            return t;
        }
    }
    String::new()
}

/// Fills `rect` with `colour`.
pub(crate) fn fill<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &'static str,
    rect: Rect,
    colour: Rgb,
) -> Result<(), FigureError> {
    area.draw(&Rectangle::new(rect.corners(), colour.plot().filled()))
        .render(figure)
}

/// Draws the outline of `rect`.
pub(crate) fn frame<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &'static str,
    rect: Rect,
    colour: Rgb,
    width: u32,
) -> Result<(), FigureError> {
    let style = ShapeStyle {
        color: colour.plot().to_rgba(),
        filled: false,
        stroke_width: width,
    };
    area.draw(&Rectangle::new(rect.corners(), style))
        .render(figure)
}

pub(crate) fn top_left() -> Pos {
    Pos::new(HPos::Left, VPos::Top)
}
pub(crate) fn top_centre() -> Pos {
    Pos::new(HPos::Center, VPos::Top)
}
pub(crate) fn centre() -> Pos {
    Pos::new(HPos::Center, VPos::Center)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharp_turns_split_the_path_and_smooth_ones_do_not() {
        let zigzag = [(0, 0), (10, 0), (1, 1), (11, 1)];
        let runs = split_at_sharp_turns(&zigzag, 3);
        assert_eq!(
            runs,
            vec![
                vec![(0, 0), (10, 0)],
                vec![(10, 0), (1, 1)],
                vec![(1, 1), (11, 1)]
            ]
        );
        // one pixel wide: no miters, nothing to split
        assert_eq!(split_at_sharp_turns(&zigzag, 1), vec![zigzag.to_vec()]);
        let square = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)];
        assert_eq!(split_at_sharp_turns(&square, 3), vec![square.to_vec()]);
    }

    #[test]
    fn a_stroke_that_doubles_back_stays_inside_its_cell() {
        // a long stroke that turns back on itself at a very acute angle: drawn 4 pixels wide
        // as one path, its miter reached far outside the cell
        let d = Stroke3::from_strokes(&[Stroke::new(
            vec![0.0, 200.0, 0.0, 200.0],
            vec![0.0, 2.0, 4.0, 6.0],
        )]);
        let (w, h) = (200u32, 200u32);
        let cell = Rect::new(70, 70, 60, 60);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            draw_drawing(&root, "test", cell, &d, Rgb(0, 0, 0), 4).unwrap();
            root.present().unwrap();
        }
        let mut inside = 0;
        for y in 0..h as i32 {
            for x in 0..w as i32 {
                let i = ((y * w as i32 + x) * 3) as usize;
                if buf[i] < 128 {
                    let near = x >= cell.x - 3
                        && x < cell.x + cell.w + 3
                        && y >= cell.y - 3
                        && y < cell.y + cell.h + 3;
                    assert!(near, "ink at ({x}, {y}), outside the cell");
                    inside += 1;
                }
            }
        }
        assert!(inside > 100, "the stroke is drawn ({inside} pixels)");
    }
}

/// The bundled font, tested through the cell's text (font.rs itself knows nothing of cells).
#[cfg(test)]
mod font_tests {
    use plotters::coord::Shift;
    use plotters::prelude::*;

    use crate::cell::{self, Rect};
    use crate::{render_rgb, render_svg, Figure, FigureError, Rgb};

    /// A blank picture with one label on it.
    struct Label(&'static str);

    impl Figure for Label {
        fn name(&self) -> &'static str {
            "label"
        }
        fn size(&self) -> (u32, u32) {
            (240, 60)
        }
        fn paint<DB: DrawingBackend>(
            &self,
            root: &DrawingArea<DB, Shift>,
        ) -> Result<(), FigureError> {
            cell::fill(root, "label", Rect::new(0, 0, 240, 60), Rgb(255, 255, 255))?;
            cell::text(
                root,
                "label",
                self.0,
                (10, 20),
                20,
                Rgb(0, 0, 0),
                cell::top_left(),
            )
        }
    }

    /// Text must come out of the bundled font, with no system font or fontconfig involved
    /// (plotters is built without its `ttf`/font-kit feature, so there is no other source).
    #[test]
    fn text_renders_from_the_bundled_font() {
        let ink = |s| {
            let (_, _, rgb) = render_rgb(&Label(s)).unwrap();
            rgb.chunks(3).filter(|p| p != &[255, 255, 255]).count()
        };
        assert_eq!(ink(""), 0);
        let word = ink("cluster 12");
        assert!(word > 150, "only {word} pixels of text");
        assert!(
            ink("cluster 12 · 5152…3648 → ü") > word,
            "non-ASCII glyphs missing"
        );
        assert!(render_svg(&Label("x < y")).unwrap().contains("x &lt; y"));
    }
}
