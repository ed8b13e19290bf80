//! Shared by evaluate's unit tests, its CLI test and its benchmark (each includes this file with
//! `#[path]`): labelled synthetic faces written as a drawings table.

use std::path::Path;

use drawing::Stroke3;
use tables::drawings::{DrawingRow, DrawingWriter};
use tables::Split;

/// `n` synthetic faces of generator `seed` written to `path` (splits dealt round-robin); returns
/// the rows.
pub fn write_faces(path: &Path, seed: u64, n: u64) -> Vec<DrawingRow> {
    let names: Vec<String> = synth::FACTORS.iter().map(|f| f.to_string()).collect();
    let mut w = DrawingWriter::create(path, &names, &vec![]).expect("drawings writer");
    let mut rows = Vec::new();
    for (i, f) in synth::generate(seed, n).enumerate() {
        let row = DrawingRow {
            key_id: f.key_id.clone(),
            word: Some("face".into()),
            countrycode: None,
            recognized: Some(true),
            timestamp: None,
            split: Split::ALL[i % 3],
            source: "synth".into(),
            drawing: Stroke3::from_strokes(&f.strokes),
            t: None,
            labels: f.labels.iter().map(|(_, l)| Some(l.clone())).collect(),
        };
        w.push(row.clone()).expect("push");
        rows.push(row);
    }
    w.finish().expect("finish");
    rows
}
