//! A sprite sheet: drawings as thumbnails in a square grid, row after row, on white (the image
//! TensorBoard's Embedding Projector shows beside each point).

use drawing::Stroke3;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cell::{self, Rect};
use crate::error::RenderResult;
use crate::output::{render_png, Figure};
use crate::{FigureError, Rgb};

const NAME: &str = "sprite";

struct Sprite<'a> {
    drawings: &'a [&'a Stroke3],
    cell: u32,
    cols: u32,
    ink: Rgb,
}

impl Figure for Sprite<'_> {
    fn name(&self) -> &'static str {
        NAME
    }
    fn size(&self) -> (u32, u32) {
        let rows = (self.drawings.len() as u32).div_ceil(self.cols).max(1);
        (self.cols * self.cell, rows * self.cell)
    }
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        root.fill(&WHITE).render(NAME)?;
        let c = self.cell as i32;
        let width = cell::ink_width(c);
        for (i, d) in self.drawings.iter().enumerate() {
            let (col, row) = (i as i32 % self.cols as i32, i as i32 / self.cols as i32);
            let label = format!("drawing {i}");
            // a drawing that cannot be drawn is left blank rather than failing the sheet
            if cell::check(NAME, &label, d, true).is_ok() {
                cell::draw_drawing(
                    root,
                    NAME,
                    Rect::new(col * c, row * c, c, c),
                    d,
                    self.ink,
                    width,
                )?;
            }
        }
        Ok(())
    }
}

/// The drawings as a PNG sprite sheet of `cell`-pixel thumbnails, `ceil(sqrt(n))` a row.
pub fn sprite_png(drawings: &[&Stroke3], cell: u32, ink: Rgb) -> Result<Vec<u8>, FigureError> {
    if drawings.is_empty() || cell == 0 {
        return Err(FigureError::invalid(
            NAME,
            "no drawings, or a cell of 0 pixels",
        ));
    }
    let cols = (drawings.len() as f64).sqrt().ceil() as u32;
    render_png(&Sprite {
        drawings,
        cell,
        cols,
        ink,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_grid_of_thumbnails() {
        let d = Stroke3 {
            dx: vec![0.0, 10.0, 0.0],
            dy: vec![0.0, 0.0, 10.0],
            pen: vec![0, 0, 1],
        };
        let ds: Vec<&Stroke3> = vec![&d; 5];
        let png = sprite_png(&ds, 32, Rgb(0, 0, 0)).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (96, 64), "3 a row, 2 rows");
        assert!(sprite_png(&[], 32, Rgb(0, 0, 0)).is_err());
    }
}
