//! Colours: an `#rrggbb` type for configuration files, and the cluster palette shared by the
//! map, the galleries and the report so that a cluster has one colour everywhere.

use std::fmt;
use std::str::FromStr;

use plotters::style::RGBColor;

/// An opaque colour, written `#rrggbb` in configuration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Noise points and the noise panel.
pub const NOISE_GREY: Rgb = Rgb(0xa0, 0xa0, 0xa0);

impl Rgb {
    pub(crate) fn plot(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }
    /// Mixes with white: `t = 0` keeps the colour, `t = 1` gives white (for light fills).
    pub fn tint(self, t: f64) -> Rgb {
        let t = t.clamp(0.0, 1.0);
        let mix = |c: u8| (c as f64 + (255.0 - c as f64) * t).round() as u8;
        Rgb(mix(self.0), mix(self.1), mix(self.2))
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// The text could not be read as `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("colour {0:?} is not of the form #rrggbb")]
pub struct ParseRgbError(pub String);

impl FromStr for Rgb {
    type Err = ParseRgbError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseRgbError(s.to_string());
        let hex = s.trim().strip_prefix('#').ok_or_else(err)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| err());
        Ok(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }
}

/// Tableau's ten categorical colours with its grey left out (grey means noise here), then
/// nine darker companions: eighteen colours that stay distinct on white.
const PALETTE: [Rgb; 18] = [
    Rgb(0x1f, 0x77, 0xb4),
    Rgb(0xff, 0x7f, 0x0e),
    Rgb(0x2c, 0xa0, 0x2c),
    Rgb(0xd6, 0x27, 0x28),
    Rgb(0x94, 0x67, 0xbd),
    Rgb(0x8c, 0x56, 0x4b),
    Rgb(0xe3, 0x77, 0xc2),
    Rgb(0xbc, 0xbd, 0x22),
    Rgb(0x17, 0xbe, 0xcf),
    Rgb(0x39, 0x3b, 0x79),
    Rgb(0xad, 0x49, 0x4a),
    Rgb(0x63, 0x79, 0x39),
    Rgb(0x8c, 0x6d, 0x31),
    Rgb(0x7b, 0x41, 0x73),
    Rgb(0x31, 0x82, 0xbd),
    Rgb(0xe6, 0x55, 0x0d),
    Rgb(0x31, 0xa3, 0x54),
    Rgb(0x75, 0x6b, 0xb1),
];

/// The colour of a cluster (`None` = noise, grey). The first 18 ids get hand-picked
/// colours; later ids walk the hue circle by the golden angle so neighbours still differ.
pub fn cluster_colour(cluster: Option<u32>) -> Rgb {
    let Some(id) = cluster else { return NOISE_GREY };
    if let Some(&c) = PALETTE.get(id as usize) {
        return c;
    }
    let k = id as f64;
    let hue = (k * 0.618_033_988_75).fract() * 360.0;
    // alternate lightness so that two ids of similar hue still differ
    let light = if id % 2 == 0 { 0.40 } else { 0.55 };
    hsl(hue, 0.65, light)
}

fn hsl(h: f64, s: f64, l: f64) -> Rgb {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb(to(r), to(g), to(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_hex() {
        let c: Rgb = "#1f3B73".parse().unwrap();
        assert_eq!(c, Rgb(0x1f, 0x3b, 0x73));
        assert_eq!(c.to_string(), "#1f3b73");
        assert!("1f3b73".parse::<Rgb>().is_err());
        assert!("#1f3b7".parse::<Rgb>().is_err());
        assert!("#1f3b7g".parse::<Rgb>().is_err());
        assert!(
            "#ééé".parse::<Rgb>().is_err(),
            "multi-byte text must not panic"
        );
    }

    #[test]
    fn sixty_clusters_get_distinct_non_grey_colours() {
        let colours: Vec<Rgb> = (0..60).map(|i| cluster_colour(Some(i))).collect();
        for (i, a) in colours.iter().enumerate() {
            assert_ne!(*a, NOISE_GREY);
            for b in &colours[i + 1..] {
                assert_ne!(a, b, "cluster colours repeat");
            }
        }
        assert_eq!(cluster_colour(None), NOISE_GREY);
    }
}
