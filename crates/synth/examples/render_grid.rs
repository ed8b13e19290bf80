//! Renders a grid of faces to a PNG, to look at what the generator makes (or at real faces
//! drawn the same way, for comparison).
//!
//! ```text
//! cargo run -p synth --example render_grid -- [--seed S] [--count N] [--cols C]
//!     [--by FACTOR] [--ndjson FILE] -o OUT.png
//! ```
//! `--by FACTOR` puts one level of FACTOR per row (the first `--cols` faces with it);
//! `--ndjson FILE` draws the first `--count` drawings of a simplified ndjson file instead.
//! The labels of every cell are printed, row by row.

use std::io::{BufRead, BufReader};

use drawing::Stroke;

const CELL: usize = 150;
const MARGIN: f32 = 12.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seed = 1u64;
    let mut count = 30usize;
    let mut cols = 6usize;
    let mut by: Option<String> = None;
    let mut ndjson: Option<String> = None;
    let mut out = "/tmp/synth_grid.png".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--seed" => seed = val()?.parse()?,
            "--count" => count = val()?.parse()?,
            "--cols" => cols = val()?.parse()?,
            "--by" => by = Some(val()?),
            "--ndjson" => ndjson = Some(val()?),
            "-o" => out = val()?,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }

    let mut rows: Vec<Vec<(Vec<Stroke>, String)>> = Vec::new();
    if let Some(path) = ndjson {
        let mut cells = Vec::new();
        for line in BufReader::new(std::fs::File::open(&path)?)
            .lines()
            .take(count)
        {
            let v: serde_json::Value = serde_json::from_str(&line?)?;
            let strokes = v["drawing"]
                .as_array()
                .ok_or("no drawing")?
                .iter()
                .map(|s| {
                    let xy: Vec<Vec<f32>> = (0..2)
                        .map(|k| {
                            s[k].as_array()
                                .map(|a| {
                                    a.iter().map(|n| n.as_f64().unwrap_or(0.0) as f32).collect()
                                })
                                .unwrap_or_default()
                        })
                        .collect();
                    Stroke::new(xy[0].clone(), xy[1].clone())
                })
                .collect();
            cells.push((strokes, v["key_id"].to_string()));
        }
        rows = cells.chunks(cols).map(|c| c.to_vec()).collect();
    } else if let Some(f) = by {
        let levels = synth::levels(&f).ok_or(format!("unknown factor {f}"))?;
        for level in levels {
            let row: Vec<_> = synth::generate(seed, 100_000)
                .filter(|face| face.label(&f) == Some(level))
                .take(cols)
                .map(|face| (face.strokes.clone(), describe(&face)))
                .collect();
            rows.push(row);
        }
    } else {
        let cells: Vec<_> = synth::generate(seed, count as u64)
            .map(|face| (face.strokes.clone(), describe(&face)))
            .collect();
        rows = cells.chunks(cols).map(|c| c.to_vec()).collect();
    }

    let (w, h) = (cols * CELL, rows.len() * CELL);
    let mut img = vec![255u8; w * h];
    for (r, row) in rows.iter().enumerate() {
        for (c, (strokes, text)) in row.iter().enumerate() {
            println!("row {r} col {c}: {text}");
            draw_cell(&mut img, w, c * CELL, r * CELL, strokes);
        }
    }
    // cell borders
    for y in 0..h {
        for x in 0..w {
            if x % CELL == 0 || y % CELL == 0 {
                img[y * w + x] = 200;
            }
        }
    }
    let file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    let mut enc = png::Encoder::new(file, w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(&img)?;
    eprintln!("wrote {out} ({w}x{h})");
    Ok(())
}

fn describe(face: &synth::SynthFace) -> String {
    let labels: Vec<String> = face.labels.iter().map(|(_, l)| l.clone()).collect();
    format!(
        "{} [{} pts, {} strokes] {}",
        face.key_id,
        face.n_points(),
        face.strokes.len(),
        labels.join(" ")
    )
}

/// Draws 0–255 strokes into one cell with 2-pixel lines.
fn draw_cell(img: &mut [u8], w: usize, ox: usize, oy: usize, strokes: &[Stroke]) {
    let scale = (CELL as f32 - 2.0 * MARGIN) / 255.0;
    let mut plot = |x: f32, y: f32| {
        let (px, py) = (
            ox as f32 + MARGIN + x * scale,
            oy as f32 + MARGIN + y * scale,
        );
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (ix, iy) = (px as usize + dx, py as usize + dy);
            if ix < w && iy * w + ix < img.len() {
                img[iy * w + ix] = 0;
            }
        }
    };
    for s in strokes {
        let pts: Vec<(f32, f32)> = s.points().collect();
        if pts.len() == 1 {
            plot(pts[0].0, pts[0].1);
        }
        for p in pts.windows(2) {
            let ((x0, y0), (x1, y1)) = (p[0], p[1]);
            let steps = ((x1 - x0).abs().max((y1 - y0).abs()) * scale)
                .ceil()
                .max(1.0) as usize;
            for k in 0..=steps {
                let t = k as f32 / steps as f32;
                plot(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            }
        }
    }
}
