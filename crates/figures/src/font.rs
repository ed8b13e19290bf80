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

#[cfg(test)]
mod tests {
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
