//! Rendering a figure to pixels or SVG text, and writing both files atomically.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::RenderResult;
use crate::font::ensure_font;
use crate::FigureError;

/// A picture that can be drawn on any plotters backend (the PNG and the SVG come from the
/// same code).
pub trait Figure {
    /// Short name used in error messages and as the default file stem.
    fn name(&self) -> &'static str;
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the whole picture on `root`, which has exactly [`Figure::size`].
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), FigureError>;
}

/// The files [`save`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub png: PathBuf,
    pub svg: PathBuf,
    pub width: u32,
    pub height: u32,
}

/// Largest side accepted, so that a mistaken size cannot ask for gigabytes of pixels.
const MAX_SIDE: u32 = 16_384;

fn checked_size<F: Figure>(fig: &F) -> Result<(u32, u32), FigureError> {
    let (w, h) = fig.size();
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(FigureError::invalid(
            fig.name(),
            format!("image size {w}×{h} is outside 1…{MAX_SIDE} pixels per side"),
        ));
    }
    Ok((w, h))
}

/// Draws the figure into an RGB buffer (row-major, 3 bytes per pixel).
pub fn render_rgb<F: Figure>(fig: &F) -> Result<(u32, u32, Vec<u8>), FigureError> {
    ensure_font()?;
    let (w, h) = checked_size(fig)?;
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        fig.paint(&root)?;
        root.present().render(fig.name())?;
    }
    Ok((w, h, buf))
}

/// Draws the figure and encodes it as PNG bytes.
pub fn render_png<F: Figure>(fig: &F) -> Result<Vec<u8>, FigureError> {
    let (w, h, rgb) = render_rgb(fig)?;
    encode_png(fig.name(), w, h, &rgb)
}

/// Draws the figure as an SVG document.
pub fn render_svg<F: Figure>(fig: &F) -> Result<String, FigureError> {
    ensure_font()?;
    let size = checked_size(fig)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        fig.paint(&root)?;
        root.present().render(fig.name())?;
    }
    Ok(svg)
}

fn encode_png(name: &'static str, w: u32, h: u32, rgb: &[u8]) -> Result<Vec<u8>, FigureError> {
    let err = |e: png::EncodingError| FigureError::Encode {
        figure: name,
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // figures are flat colours and lines: the adaptive filter keeps the files small
    enc.set_filter(png::Filter::Adaptive);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// Writes `<stem>.png` and `<stem>.svg` (each through a temporary file renamed into place)
/// and returns their paths. The folder must exist.
pub fn save<F: Figure>(fig: &F, stem: &Path) -> Result<Written, FigureError> {
    let (width, height) = checked_size(fig)?;
    let png = render_png(fig)?;
    let svg = render_svg(fig)?;
    let png_path = with_suffix(stem, "png");
    let svg_path = with_suffix(stem, "svg");
    write_atomic(&png_path, &png)?;
    write_atomic(&svg_path, svg.as_bytes())?;
    Ok(Written {
        png: png_path,
        svg: svg_path,
        width,
        height,
    })
}

/// `stem` + `.ext`, keeping any dots already in the stem (`gallery.page1` → `gallery.page1.png`).
fn with_suffix(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over `path` (the
/// `durable` crate's writer), so readers never see a half-written file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FigureError> {
    durable::write_bytes(path, bytes).map_err(|source| FigureError::Io {
        path: path.to_path_buf(),
        source,
    })
}
