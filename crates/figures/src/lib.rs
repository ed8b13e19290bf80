//! Every picture of the project and the run's `report.html`.
//!
//! Each figure is built from plain data (`drawing::Stroke3` values, labels, numbers; never
//! files) into a value that implements [`Figure`], then written with [`save`] as a PNG and an
//! SVG beside each other (each written to a temporary file and renamed, so a failed run leaves
//! no half-written picture). Text is drawn with the DejaVu Sans font bundled in the crate, so
//! rendering needs no system fonts and no fontconfig.
//!
//! Figures: [`Reconstructions`], [`Gallery`] (pages of cluster samples), [`EmbeddingMap`],
//! [`LossCurves`], [`Interpolations`], [`GeneratedFigure`] (generated drawings beside real
//! ones) and [`animated_svg`]; the HTML pages: [`Report`] and the map to explore,
//! [`Explorer`].

mod cell;
mod colour;
mod error;
mod explorer;
mod font;
mod gallery;
mod generated;
mod interp;
mod loss;
mod map;
mod output;
mod recon;
mod report;
mod sample;
mod sprite;

pub use colour::{cluster_colour, Rgb, NOISE_GREY};
pub use error::FigureError;
pub use explorer::{
    explorer_html, write_explorer, CategoryOrder, Colouring, Explorer, ExplorerStats, NO_CATEGORY,
};
pub use font::FONT_FAMILY;
pub use gallery::{Gallery, GalleryCluster, GalleryOptions, GalleryPage};
pub use generated::{
    animated_svg, save_animation, GeneratedFigure, GeneratedGroup, GeneratedOptions,
};
pub use interp::{InterpOptions, InterpStrip, Interpolations};
pub use loss::{LossCurves, LossOptions, LossSeries};
pub use map::{EmbeddingMap, MapOptions, MapPoint, Thumbnail};
pub use output::{render_png, render_rgb, render_svg, save, Figure, Written};
pub use recon::{ReconOptions, ReconPair, Reconstructions};
pub use report::{
    write_report, ClusterRow, ClusterTable, DataFacts, Fact, FigureLink, ModelFacts, PageLink,
    Report, ScoreTable,
};
pub use sample::{pick_samples, pick_thumbnails, short_key, stable_hash, Member};
pub use sprite::sprite_png;

/// A drawing with the label that names it in pictures and error messages (usually a key_id).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Labelled {
    pub label: String,
    pub drawing: drawing::Stroke3,
}

impl Labelled {
    pub fn new(label: impl Into<String>, drawing: drawing::Stroke3) -> Self {
        Labelled {
            label: label.into(),
            drawing,
        }
    }
}

/// Colours and sizes shared by the drawing figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    /// Side of one drawing's cell, in pixels.
    pub cell: u32,
    /// Page background.
    pub background: Rgb,
    /// Ink of original drawings.
    pub ink: Rgb,
    /// Ink of drawings the model made (reconstructions, interpolations).
    pub model_ink: Rgb,
    /// Colour of labels and titles.
    pub text: Rgb,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            cell: 112,
            background: Rgb(255, 255, 255),
            ink: Rgb(0x1f, 0x3b, 0x73),
            model_ink: Rgb(0xd9, 0x48, 0x0f),
            text: Rgb(0x22, 0x22, 0x22),
        }
    }
}
