//! `explorer.html`: the map as one page to explore, from the file system with no network.
//! Every drawing is a point; hovering one draws its drawing from its strokes (and its
//! reconstruction beside it where there is one); the points can be coloured by the clusters or
//! by any label, one category shown alone from the legend, and a `key_id` looked up.
//!
//! The data travel inside the page as one gzip-compressed binary blob in base64, which the page
//! inflates with the browser's own `DecompressionStream`: 160,000 faces come to about
//! 10 bytes per point of a drawing less than plain JSON would. Layout of the blob (every
//! section 4-byte aligned, little-endian; the page's header JSON gives offsets and lengths):
//!
//! | section | type | content |
//! | --- | --- | --- |
//! | `xy` | f32 × 2n | map position of each drawing |
//! | `keys` | UTF-8 | the `key_id`s joined by `\n` |
//! | `offsets` | u32 × (n + 1) | drawing `i`'s points are `offsets[i]..offsets[i+1]` |
//! | `coords` | u8 × 2 × points | x, y of each point, the drawing scaled into 0–255 (aspect kept), as the step from the drawing's point before modulo 256 (the first from 0, 0) |
//! | `pen` | u8 × points | 1 where the pen lifts after the point |
//! | `colour:NAME` | u16 × n | category of each drawing under colouring NAME (65535: none) |
//! | `recon_index`, `recon_offsets`, `recon_coords`, `recon_pen` | | the reconstructions, alike |
//!
//! The page's script is `explorer.js` beside this file, written here (no library).

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use drawing::Stroke3;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::output::write_atomic;
use crate::report::escape;
use crate::{cluster_colour, FigureError, Rgb};

const NAME: &str = "explorer";
const SCRIPT: &str = include_str!("explorer.js");
const STYLE: &str = include_str!("explorer.css");
/// The code of "no category" in a colouring.
pub const NO_CATEGORY: u16 = u16::MAX;

/// One way to colour the points: a category per drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Colouring {
    /// E.g. `cluster`, `word`, `label_eyes`.
    pub name: String,
    /// Category names, in legend order.
    pub categories: Vec<String>,
    /// A colour per category.
    pub colours: Vec<Rgb>,
    /// Each drawing's category index, [`NO_CATEGORY`] for none.
    pub codes: Vec<u16>,
}

impl Colouring {
    /// A colouring from each drawing's value (`None`: no category). Categories are ordered by
    /// `order` (e.g. cluster ids numerically) and coloured with the cluster palette by rank,
    /// except a category named `noise`, which is grey. At most 65,534 categories are kept (the
    /// most frequent); the rest have none.
    pub fn from_values<S: AsRef<str>>(
        name: impl Into<String>,
        values: &[Option<S>],
        order: CategoryOrder,
    ) -> Colouring {
        use std::collections::HashMap;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for v in values.iter().flatten() {
            *counts.entry(v.as_ref()).or_default() += 1;
        }
        let mut cats: Vec<(&str, usize)> = counts.into_iter().collect();
        match order {
            CategoryOrder::ByCount => cats.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0))),
            CategoryOrder::Numeric => cats.sort_by(|a, b| {
                let num = |s: &str| s.parse::<i64>().ok();
                match (num(a.0), num(b.0)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => a.0.cmp(b.0),
                }
            }),
        }
        cats.truncate(NO_CATEGORY as usize - 1);
        let index: HashMap<&str, u16> = cats
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (*c, i as u16))
            .collect();
        let mut rank = 0u32;
        let colours = cats
            .iter()
            .map(|(c, _)| {
                if *c == "noise" {
                    cluster_colour(None)
                } else {
                    rank += 1;
                    cluster_colour(Some(rank - 1))
                }
            })
            .collect();
        Colouring {
            name: name.into(),
            categories: cats.iter().map(|(c, _)| c.to_string()).collect(),
            colours,
            codes: values
                .iter()
                .map(|v| {
                    v.as_ref()
                        .and_then(|v| index.get(v.as_ref()).copied())
                        .unwrap_or(NO_CATEGORY)
                })
                .collect(),
        }
    }
}

/// How a colouring's categories are ordered in the legend (and so coloured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryOrder {
    /// Most frequent first.
    ByCount,
    /// By number (cluster ids), non-numbers (noise) last.
    Numeric,
}

/// Everything the page shows.
#[derive(Debug, Clone, Default)]
pub struct Explorer<'a> {
    pub title: String,
    /// A line under the title: the map's method and source.
    pub subtitle: String,
    pub keys: Vec<&'a str>,
    /// Map position of each drawing.
    pub xy: Vec<(f32, f32)>,
    /// Each drawing's strokes (`None`: not known, the point has no picture).
    pub drawings: Vec<Option<&'a Stroke3>>,
    /// The first is the colouring shown first.
    pub colourings: Vec<Colouring>,
    /// `(drawing index, its reconstruction)`.
    pub reconstructions: Vec<(usize, &'a Stroke3)>,
    /// Page colours: background, ink of real drawings, ink of model drawings.
    pub background: Rgb,
    pub ink: Rgb,
    pub model_ink: Rgb,
}

/// What [`write_explorer`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplorerStats {
    pub points: usize,
    /// Points of all the drawings packed.
    pub drawing_points: usize,
    /// The blob before and after compression, and the page.
    pub raw_bytes: usize,
    pub packed_bytes: usize,
    pub page_bytes: usize,
}

/// The binary blob being built: sections appended 4-byte aligned.
struct Blob {
    bytes: Vec<u8>,
    sections: serde_json::Map<String, serde_json::Value>,
}

impl Blob {
    fn new() -> Self {
        Blob {
            bytes: Vec::new(),
            sections: serde_json::Map::new(),
        }
    }
    fn push(&mut self, name: &str, kind: &str, data: &[u8]) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
        self.sections.insert(
            name.to_string(),
            json!({"type": kind, "offset": self.bytes.len(), "length": data.len()}),
        );
        self.bytes.extend_from_slice(data);
    }
    fn push_f32(&mut self, name: &str, v: impl Iterator<Item = f32>) {
        let b: Vec<u8> = v.flat_map(f32::to_le_bytes).collect();
        self.push(name, "f32", &b);
    }
    fn push_u32(&mut self, name: &str, v: impl Iterator<Item = u32>) {
        let b: Vec<u8> = v.flat_map(u32::to_le_bytes).collect();
        self.push(name, "u32", &b);
    }
    fn push_u16(&mut self, name: &str, v: impl Iterator<Item = u16>) {
        let b: Vec<u8> = v.flat_map(u16::to_le_bytes).collect();
        self.push(name, "u16", &b);
    }
    /// Drawings as offsets, quantised coordinates and pen lifts under `prefix`; returns the
    /// points packed.
    fn push_drawings<'d>(
        &mut self,
        prefix: &str,
        drawings: impl Iterator<Item = Option<&'d Stroke3>>,
    ) -> usize {
        let mut offsets = vec![0u32];
        let mut coords: Vec<u8> = Vec::new();
        let mut pen: Vec<u8> = Vec::new();
        for d in drawings {
            if let Some(d) = d {
                quantise(d, &mut coords, &mut pen);
            }
            offsets.push(pen.len() as u32);
        }
        self.push_u32(&format!("{prefix}offsets"), offsets.into_iter());
        self.push(&format!("{prefix}coords"), "u8", &coords);
        self.push(&format!("{prefix}pen"), "u8", &pen);
        pen.len()
    }
}

/// How far (in the 0–255 box) a point may lie from the line its neighbours draw before it is
/// kept: below half a pixel of the page's 220-pixel panel, so nothing visible is lost, and
/// dense drawings (the synthetic faces' curves) pack a third smaller.
const DISPLAY_EPSILON: f32 = 0.5;

/// Appends the drawing's points scaled into 0–255 (aspect kept, centred on the short side),
/// each stroke simplified by [`DISPLAY_EPSILON`]. A drawing with no finite box adds nothing.
fn quantise(d: &Stroke3, coords: &mut Vec<u8>, pen: &mut Vec<u8>) {
    if d.dx.len() != d.dy.len() || d.dx.len() != d.pen.len() {
        return;
    }
    let Some(b) = d.bbox() else { return };
    let side = b.width().max(b.height());
    if !side.is_finite() {
        return;
    }
    let scale = if side > 0.0 { 255.0 / side } else { 0.0 };
    let (ox, oy) = (
        (255.0 - b.width() * scale) / 2.0,
        (255.0 - b.height() * scale) / 2.0,
    );
    // each point as the step from the one before, modulo 256 (the first from 0, 0): lossless,
    // and small steps, most of them, compress far better than positions
    let (mut px, mut py) = (0u8, 0u8);
    for s in d.to_strokes() {
        let xs: Vec<f32> = s.x.iter().map(|v| (v - b.min_x) * scale + ox).collect();
        let ys: Vec<f32> = s.y.iter().map(|v| (v - b.min_y) * scale + oy).collect();
        let kept = drawing::rdp(&xs, &ys, DISPLAY_EPSILON);
        let q = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        for (k, (x, y)) in kept.points().enumerate() {
            let (qx, qy) = (q(x), q(y));
            coords.push(qx.wrapping_sub(px));
            coords.push(qy.wrapping_sub(py));
            (px, py) = (qx, qy);
            pen.push(u8::from(k + 1 == kept.len()));
        }
    }
}

fn hex(c: Rgb) -> String {
    c.to_string()
}

/// Builds the page's HTML (exposed for tests).
pub fn explorer_html(e: &Explorer<'_>) -> Result<(String, ExplorerStats), FigureError> {
    let n = e.keys.len();
    if e.xy.len() != n || e.drawings.len() != n {
        return Err(FigureError::invalid(
            NAME,
            format!(
                "{n} keys but {} positions and {} drawings",
                e.xy.len(),
                e.drawings.len()
            ),
        ));
    }
    if let Some(c) = e.colourings.iter().find(|c| c.codes.len() != n) {
        return Err(FigureError::invalid(
            NAME,
            format!(
                "colouring {} has {} codes for {n} points",
                c.name,
                c.codes.len()
            ),
        ));
    }
    if let Some(&(i, _)) = e.reconstructions.iter().find(|(i, _)| *i >= n) {
        return Err(FigureError::invalid(
            NAME,
            format!("a reconstruction of drawing {i}, of {n}"),
        ));
    }
    if let Some(i) =
        e.xy.iter()
            .position(|p| !(p.0.is_finite() && p.1.is_finite()))
    {
        return Err(FigureError::invalid(
            NAME,
            format!("drawing {} has no finite place on the map", e.keys[i]),
        ));
    }
    let mut blob = Blob::new();
    blob.push_f32("xy", e.xy.iter().flat_map(|p| [p.0, p.1]));
    blob.push("keys", "utf8", e.keys.join("\n").as_bytes());
    let drawing_points = blob.push_drawings("", e.drawings.iter().copied());
    for c in &e.colourings {
        blob.push_u16(&format!("colour:{}", c.name), c.codes.iter().copied());
    }
    blob.push_u32(
        "recon_index",
        e.reconstructions.iter().map(|(i, _)| *i as u32),
    );
    blob.push_drawings("recon_", e.reconstructions.iter().map(|(_, d)| Some(*d)));

    let raw_bytes = blob.bytes.len();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&blob.bytes)
        .and_then(|_| gz.flush())
        .map_err(|e| FigureError::invalid(NAME, format!("compressing the data: {e}")))?;
    let packed = gz
        .finish()
        .map_err(|e| FigureError::invalid(NAME, format!("compressing the data: {e}")))?;
    let packed_bytes = packed.len();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&packed);

    let header = json!({
        "n": n,
        "sections": blob.sections,
        "colourings": e.colourings.iter().map(|c| json!({
            "name": c.name,
            "categories": c.categories,
            "colours": c.colours.iter().map(|&x| hex(x)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "background": hex(e.background),
        "ink": hex(e.ink),
        "model_ink": hex(e.model_ink),
    });
    // JSON inside <script>: "</" must not close the element
    let header = header.to_string().replace("</", "<\\/");
    let title = escape(&e.title);
    let mut h = String::with_capacity(b64.len() + SCRIPT.len() + 4096);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!(
        "<title>{title} · explorer</title>\n<style>\n{STYLE}</style>\n"
    ));
    h.push_str("</head>\n<body>\n");
    h.push_str(&format!(
        "<header><h1>{title}</h1><span id=\"subtitle\">{}</span>\
         <label>colour by <select id=\"colour-by\"></select></label>\
         <form id=\"search\"><input id=\"search-key\" placeholder=\"key_id\" \
         aria-label=\"search a key_id\"><button>find</button></form>\
         <button id=\"reset\" title=\"or double-click the map\">reset view</button>\
         <span id=\"status\">loading…</span></header>\n",
        escape(&e.subtitle)
    ));
    h.push_str(
        "<main><div id=\"map-wrap\"><canvas id=\"map\"></canvas><canvas id=\"overlay\">\
         </canvas></div>\n<aside><section id=\"hover\"><div class=\"pair\">\
         <figure><canvas id=\"drawing\" width=\"220\" height=\"220\"></canvas>\
         <figcaption>drawing</figcaption></figure>\
         <figure id=\"recon-fig\" hidden><canvas id=\"recon\" width=\"220\" height=\"220\">\
         </canvas><figcaption>reconstruction</figcaption></figure></div>\
         <div id=\"hover-text\">Hover a point to see its drawing; scroll to zoom, drag to \
         pan.</div></section>\n<section id=\"legend-wrap\"><h2 id=\"legend-title\"></h2>\
         <p class=\"hint\">Click a category to show it alone; click it again to show all.</p>\
         <ul id=\"legend\"></ul></section></aside></main>\n",
    );
    h.push_str(&format!(
        "<script type=\"application/json\" id=\"header\">{header}</script>\n"
    ));
    h.push_str("<script type=\"application/octet-stream\" id=\"data\">");
    h.push_str(&b64);
    h.push_str("</script>\n<script>\n");
    h.push_str(SCRIPT);
    h.push_str("</script>\n</body>\n</html>\n");
    let stats = ExplorerStats {
        points: n,
        drawing_points,
        raw_bytes,
        packed_bytes,
        page_bytes: h.len(),
    };
    Ok((h, stats))
}

/// Writes `explorer.html` at `path` (atomically).
pub fn write_explorer(path: &Path, e: &Explorer<'_>) -> Result<ExplorerStats, FigureError> {
    let (html, stats) = explorer_html(e)?;
    write_atomic(path, html.as_bytes())?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn square() -> Stroke3 {
        // a 10 × 20 box drawn as one stroke, then a dot
        Stroke3 {
            dx: vec![0.0, 10.0, 0.0, -10.0, 0.0, 5.0],
            dy: vec![0.0, 0.0, 20.0, 0.0, -20.0, 10.0],
            pen: vec![0, 0, 0, 0, 1, 1],
        }
    }

    fn unpack(html: &str) -> (serde_json::Value, Vec<u8>) {
        let between = |a: &str, b: &str| {
            let s = html.find(a).unwrap() + a.len();
            let e = s + html[s..].find(b).unwrap();
            html[s..e].to_string()
        };
        let header: serde_json::Value =
            serde_json::from_str(&between("id=\"header\">", "</script>")).unwrap();
        let b64 = between("id=\"data\">", "</script>");
        let gz = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        (header, raw)
    }

    fn section<'b>(h: &serde_json::Value, raw: &'b [u8], name: &str) -> &'b [u8] {
        let s = &h["sections"][name];
        let (o, l) = (
            s["offset"].as_u64().unwrap() as usize,
            s["length"].as_u64().unwrap() as usize,
        );
        assert_eq!(o % 4, 0, "{name} is aligned");
        &raw[o..o + l]
    }

    #[test]
    fn packs_what_the_page_reads() {
        let d = square();
        let clusters = Colouring::from_values(
            "cluster",
            &[Some("1"), Some("0"), Some("noise")],
            CategoryOrder::Numeric,
        );
        assert_eq!(clusters.categories, ["0", "1", "noise"]);
        assert_eq!(clusters.codes, [1, 0, 2]);
        assert_eq!(clusters.colours[2], cluster_colour(None));
        let words = Colouring::from_values(
            "word",
            &[Some("cat"), None, Some("cat")],
            CategoryOrder::ByCount,
        );
        assert_eq!(words.codes, [0, NO_CATEGORY, 0]);
        let e = Explorer {
            title: "t <b>".into(),
            subtitle: "umap".into(),
            keys: vec!["a", "b</script>", "c"],
            xy: vec![(0.0, 1.0), (2.0, 3.0), (-1.0, 0.5)],
            drawings: vec![Some(&d), None, Some(&d)],
            colourings: vec![clusters, words],
            reconstructions: vec![(2, &d)],
            background: Rgb(255, 255, 255),
            ink: Rgb(0, 0, 0),
            model_ink: Rgb(200, 0, 0),
        };
        let (html, stats) = explorer_html(&e).unwrap();
        assert!(html.contains("t &lt;b&gt;"));
        assert_eq!(
            html.matches("</script>").count(),
            3,
            "a key cannot close a script"
        );
        assert_eq!((stats.points, stats.drawing_points), (3, 12));
        let (h, raw) = unpack(&html);
        assert_eq!(raw.len(), stats.raw_bytes);
        assert_eq!(h["n"], 3);
        let xy: Vec<f32> = section(&h, &raw, "xy")
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(xy, [0.0, 1.0, 2.0, 3.0, -1.0, 0.5]);
        assert_eq!(section(&h, &raw, "keys"), b"a\nb</script>\nc");
        let offsets: Vec<u32> = section(&h, &raw, "offsets")
            .chunks(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(offsets, [0, 6, 6, 12]);
        // the box is 10 wide and 20 tall: scaled by 12.75, centred across; steps modulo 256
        let c = section(&h, &raw, "coords");
        assert_eq!(&c[..10], &[64, 0, 127, 0, 0, 255, 129, 0, 0, 1]);
        assert_eq!(&c[10..12], &[64, 128], "the dot at (5, 10): (128, 128)");
        // summed back modulo 256 (as the page does): the positions
        let (mut x, mut y) = (0u8, 0u8);
        let pos: Vec<(u8, u8)> = c[..12]
            .chunks(2)
            .map(|s| {
                (x, y) = (x.wrapping_add(s[0]), y.wrapping_add(s[1]));
                (x, y)
            })
            .collect();
        assert_eq!(
            pos,
            [
                (64, 0),
                (191, 0),
                (191, 255),
                (64, 255),
                (64, 0),
                (128, 128)
            ]
        );
        assert_eq!(
            section(&h, &raw, "pen"),
            &[0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1]
        );
        let codes = section(&h, &raw, "colour:word");
        assert_eq!(codes, &[0, 0, 0xff, 0xff, 0, 0]);
        assert_eq!(section(&h, &raw, "recon_index"), &2u32.to_le_bytes());
        assert_eq!(h["colourings"][0]["name"], "cluster");
    }

    #[test]
    fn points_on_a_line_are_packed_as_its_ends() {
        // eleven points along a line, then a bend: the line's inner points add nothing
        let mut d = Stroke3 {
            dx: vec![0.0],
            dy: vec![0.0],
            pen: vec![0],
        };
        for _ in 0..10 {
            d.dx.push(10.0);
            d.dy.push(0.0);
            d.pen.push(0);
        }
        d.dx.push(0.0);
        d.dy.push(50.0);
        d.pen.push(1);
        let (mut coords, mut pen) = (Vec::new(), Vec::new());
        quantise(&d, &mut coords, &mut pen);
        assert_eq!(pen, [0, 0, 1], "start, corner, end");
        assert_eq!(coords.len(), 6);
    }

    #[test]
    fn refuses_mismatched_inputs() {
        let e = Explorer {
            keys: vec!["a"],
            xy: vec![],
            drawings: vec![None],
            ..Explorer::default()
        };
        assert!(explorer_html(&e).is_err());
        let e = Explorer {
            keys: vec!["a"],
            xy: vec![(f32::NAN, 0.0)],
            drawings: vec![None],
            ..Explorer::default()
        };
        let err = explorer_html(&e).unwrap_err().to_string();
        assert!(err.contains("a"), "{err}");
    }
}
