//! Generated drawings as Quick, Draw!'s simplified ndjson: one JSON object a line, each stroke
//! as `[[x, …], [y, …]]` of integers in `0..=255` (the drawing moved to the origin and scaled
//! so that its longer side spans 255, as Google's simplified files are), so that other tools
//! open them.

use anyhow::Result;
use serde::Serialize;
use tables::generated::GeneratedRow;

#[derive(Serialize)]
struct Line<'a> {
    key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    word: Option<&'a str>,
    drawing: Vec<[Vec<i32>; 2]>,
}

/// The drawing's strokes in simplified coordinates.
pub fn simplified(d: &drawing::Stroke3) -> Vec<[Vec<i32>; 2]> {
    let strokes = d.to_strokes();
    let Some(b) = d.bbox() else {
        return Vec::new();
    };
    let side = b.width().max(b.height());
    let scale = if side > 0.0 { 255.0 / side } else { 0.0 };
    let at = |v: f32, min: f32| ((v - min) * scale).round().clamp(0.0, 255.0) as i32;
    strokes
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            [
                s.x.iter().map(|&x| at(x, b.min_x)).collect(),
                s.y.iter().map(|&y| at(y, b.min_y)).collect(),
            ]
        })
        .collect()
}

/// Every row as one ndjson line (each ending in a newline).
pub fn lines(rows: &[GeneratedRow]) -> Result<String> {
    let mut out = String::new();
    for r in rows {
        let line = Line {
            key_id: &r.row.key_id,
            word: r.row.word.as_deref(),
            drawing: simplified(&r.row.drawing),
        };
        out.push_str(&serde_json::to_string(&line)?);
        out.push('\n');
    }
    Ok(out)
}
