//! Draws every figure and a report from real Quick, Draw! faces, to look at them:
//! `cargo run -p figures --example real_faces -- <out-dir> [ndjson]`.
//!
//! The model outputs are stand-ins made here (a coarse simplification as the
//! "reconstruction", stroke count as the "cluster", bounding-box shape as the "embedding"),
//! since the point is to see how the figures look on real drawings, not to judge a model.

use std::path::PathBuf;

use drawing::{rdp, Stroke, Stroke3};
use figures::*;

fn read(path: &str) -> Vec<(String, Stroke3)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            let key = v["key_id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v["key_id"].to_string());
            let strokes: Vec<Stroke> = v["drawing"]
                .as_array()
                .expect("drawing")
                .iter()
                .map(|s| {
                    let xs = s[0]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap() as f32);
                    let ys = s[1]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|y| y.as_f64().unwrap() as f32);
                    Stroke::new(xs.collect(), ys.collect())
                })
                .collect();
            (key, Stroke3::from_strokes(&strokes))
        })
        .collect()
}

fn coarse(d: &Stroke3) -> Stroke3 {
    let s: Vec<Stroke> = d
        .to_strokes()
        .iter()
        .map(|s| rdp(&s.x, &s.y, 12.0))
        .collect();
    Stroke3::from_strokes(&s)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(
        args.get(1)
            .map(String::as_str)
            .unwrap_or("target/figures-demo"),
    );
    let src = args
        .get(2)
        .map(String::as_str)
        .unwrap_or("../shared/datasets/quickdraw/spg/face.ndjson");
    std::fs::create_dir_all(&out).unwrap();
    let faces = read(src);
    println!("{} drawings from {src}", faces.len());
    let mut written = Vec::new();

    let pairs: Vec<ReconPair> = faces
        .iter()
        .take(20)
        .map(|(k, d)| ReconPair {
            key_id: k.clone(),
            original: d.clone(),
            reconstruction: coarse(d),
        })
        .collect();
    let fig = Reconstructions::new(&pairs, &ReconOptions::default()).unwrap();
    written.push(save(&fig, &out.join("reconstructions")).unwrap());

    // stand-in clusters: stroke count (1..=12), more than 12 strokes = noise
    let cluster_of = |d: &Stroke3| {
        let n = d.n_strokes() as u32;
        (n <= 12).then_some(n)
    };
    let mut ids: Vec<Option<u32>> = faces.iter().map(|(_, d)| cluster_of(d)).collect();
    ids.sort();
    ids.dedup();
    let clusters: Vec<GalleryCluster> = ids
        .iter()
        .map(|&id| {
            let members: Vec<&(String, Stroke3)> =
                faces.iter().filter(|(_, d)| cluster_of(d) == id).collect();
            let m: Vec<Member> = members
                .iter()
                .map(|(k, _)| Member {
                    key: k,
                    score: None,
                })
                .collect();
            let samples = pick_samples(&m, 10)
                .into_iter()
                .map(|i| Labelled::new(members[i].0.clone(), members[i].1.clone()))
                .collect();
            GalleryCluster {
                cluster: id,
                size: members.len(),
                samples,
            }
        })
        .collect();
    let opts = GalleryOptions {
        clusters_per_page: 6,
        ..GalleryOptions::default()
    };
    let gallery = Gallery::new(&clusters, &opts).unwrap();
    written.extend(gallery.save_all(&out, "gallery").unwrap());

    let points: Vec<MapPoint> = faces
        .iter()
        .map(|(k, d)| {
            let b = d.bbox().unwrap();
            let j = (stable_hash(k) % 1000) as f32 / 1000.0 - 0.5;
            MapPoint {
                x: b.width() + 8.0 * j,
                y: b.height() - 8.0 * j + d.len() as f32 * 0.3,
                cluster: cluster_of(d),
            }
        })
        .collect();
    let mopts = MapOptions::default();
    let thumbs: Vec<Thumbnail> = mopts
        .pick_thumbnails(&points)
        .into_iter()
        .map(|i| Thumbnail {
            index: i,
            drawing: faces[i].1.clone(),
        })
        .collect();
    let map = EmbeddingMap::new(&points, &thumbs, &mopts).unwrap();
    written.push(save(&map, &out.join("embedding_map")).unwrap());

    let train = LossSeries {
        name: "train".into(),
        points: (0..3000)
            .map(|s| {
                (
                    s as f64,
                    2.0 * (-(s as f64) / 600.0).exp()
                        + 0.1
                        + 0.05 * ((s * 7919 % 101) as f64 / 101.0),
                )
            })
            .collect(),
    };
    let valid = LossSeries {
        name: "valid".into(),
        points: (0..=30)
            .map(|k| {
                (
                    (k * 100) as f64,
                    2.0 * (-(k as f64 * 100.0) / 600.0).exp() + 0.14,
                )
            })
            .collect(),
    };
    let loss = LossCurves::new(&[train, valid], &LossOptions::default()).unwrap();
    written.push(save(&loss, &out.join("loss")).unwrap());

    let strips: Vec<InterpStrip> = (0..4)
        .map(|i| {
            let (ka, a) = &faces[2 * i];
            let (kb, b) = &faces[2 * i + 1];
            // stand-in steps: A's coarse version fading into B's, by point count
            let steps = (0..8)
                .map(|k| if k < 4 { coarse(a) } else { coarse(b) })
                .collect();
            InterpStrip {
                label: format!("{} → {}", short_key(ka), short_key(kb)),
                from: Some(a.clone()),
                to: Some(b.clone()),
                steps,
            }
        })
        .collect();
    let interp = Interpolations::new(&strips, &InterpOptions::default()).unwrap();
    written.push(save(&interp, &out.join("interpolations")).unwrap());

    let rel = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    let report = Report {
        title: "Demo report (stand-in model outputs)".into(),
        subtitle: Some(format!("drawings from {src}")),
        data: Some(DataFacts {
            source: src.into(),
            category: Some("face".into()),
            count: faces.len() as u64,
            splits: vec![("all".into(), faces.len() as u64)],
            extra: vec![],
        }),
        model: None,
        figures: written
            .iter()
            .map(|w| FigureLink {
                title: rel(&w.png),
                src: rel(&w.png),
                caption: None,
                svg: Some(rel(&w.svg)),
            })
            .collect(),
        clusters: Some(ClusterTable {
            rows: clusters
                .iter()
                .map(|c| ClusterRow {
                    cluster: c.cluster,
                    size: c.size as u64,
                    gallery: None,
                    summary: None,
                })
                .collect(),
            note: Some("stand-in clusters: number of strokes".into()),
        }),
        cluster_metrics: None,
        evaluation: None,
        footer: Some("Drawings: Quick, Draw! dataset, Google (CC BY 4.0).".into()),
        ..Report::default()
    };
    write_report(&out.join("report.html"), &report).unwrap();
    for w in &written {
        println!("{} ({}×{})", w.png.display(), w.width, w.height);
    }
}
