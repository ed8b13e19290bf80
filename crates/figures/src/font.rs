//! The bundled font. plotters' `ab_glyph` text backend only knows fonts registered by name, so
//! the crate registers DejaVu Sans once, before the first figure is drawn.

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

use crate::FigureError;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `fonts/LICENSE-DejaVu.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The family name every figure uses for its text.
pub const FONT_FAMILY: &str = "sans-serif";

/// Registers the bundled font (once per process) under [`FONT_FAMILY`]. Called by every
/// rendering entry point; cheap after the first call.
pub fn ensure_font() -> Result<(), FigureError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        // plotters falls back to the normal face for the other styles
        register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(FigureError::Font)
    }
}
