//! Every figure is written, is a PNG of its stated size that is not blank, has an SVG that
//! parses, and bad input gives an error rather than a panic.

use std::path::Path;

use drawing::{Stroke, Stroke3};
use figures::*;

/// A synthetic face: outline, two eyes (one a dot), a mouth curving by `smile`.
fn face(seed: u32, smile: f32) -> Stroke3 {
    let r = 60.0 + (seed % 7) as f32 * 5.0;
    let outline: (Vec<f32>, Vec<f32>) = (0..=24)
        .map(|k| {
            let a = k as f32 / 24.0 * std::f32::consts::TAU;
            (128.0 + r * a.cos(), 128.0 + r * 1.1 * a.sin())
        })
        .unzip();
    let mouth: (Vec<f32>, Vec<f32>) = (0..=8)
        .map(|k| {
            let t = k as f32 / 8.0 * 2.0 - 1.0;
            (128.0 + 30.0 * t, 160.0 + smile * 15.0 * (1.0 - t * t))
        })
        .unzip();
    Stroke3::from_strokes(&[
        Stroke::new(outline.0, outline.1),
        Stroke::new(vec![105.0], vec![110.0]),
        Stroke::new(vec![145.0, 155.0], vec![110.0, 110.0]),
        Stroke::new(mouth.0, mouth.1),
    ])
}

/// A fresh folder for one test's figures, removed when the test ends.
fn out_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("figures-test-{name}-"))
        .tempdir()
        .unwrap()
}

/// Decodes a PNG, checks its size and returns the share of pixels that differ from the
/// top-left pixel (the background).
fn check_png(path: &Path, w: u32, h: u32) -> f64 {
    let file = std::fs::File::open(path).unwrap();
    let mut dec = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; dec.output_buffer_size().unwrap()];
    let info = dec.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h), "{}", path.display());
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    let bg = px[0];
    px.iter().filter(|p| *p != &bg).count() as f64 / px.len() as f64
}

fn check_svg(path: &Path, w: u32, h: u32) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some(w.to_string().as_str()));
    assert_eq!(root.attribute("height"), Some(h.to_string().as_str()));
    assert!(
        doc.descendants().any(|n| n.has_tag_name("text")),
        "no text in {}",
        path.display()
    );
    assert!(doc.descendants().count() > 20);
}

fn check_written(w: &Written, min_ink: f64) {
    let ink = check_png(&w.png, w.width, w.height);
    assert!(ink > min_ink, "{} is nearly blank: {ink}", w.png.display());
    assert!(ink < 0.95, "{} is nearly all ink: {ink}", w.png.display());
    check_svg(&w.svg, w.width, w.height);
    // nothing left behind by the atomic write
    let dir = w.png.parent().unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name();
        assert!(
            !name.to_string_lossy().ends_with(".tmp"),
            "{name:?} left over"
        );
    }
}

fn pairs(n: usize) -> Vec<ReconPair> {
    (0..n)
        .map(|i| ReconPair {
            key_id: format!("{:016}", 5152530285723648u64 + i as u64),
            original: face(i as u32, 1.0),
            reconstruction: face(i as u32 + 1, 0.5),
        })
        .collect()
}

#[test]
fn reconstructions_are_drawn() {
    let tmp = out_dir("recon");
    let dir = tmp.path();
    let p = pairs(18);
    let fig = Reconstructions::new(&p, &ReconOptions::default()).unwrap();
    let w = save(&fig, &dir.join("reconstructions")).unwrap();
    assert_eq!((w.width, w.height), fig.size());
    check_written(&w, 0.02);
    // the original ink and the reconstruction ink are both present
    let (_, _, rgb) = render_rgb(&fig).unwrap();
    let st = Style::default();
    for ink in [st.ink, st.model_ink] {
        let n = rgb
            .chunks(3)
            .filter(|p| p == &[ink.0, ink.1, ink.2])
            .count();
        assert!(n > 500, "colour {ink} drawn on only {n} pixels");
    }
}

#[test]
fn rendering_is_deterministic() {
    let p = pairs(4);
    let fig = Reconstructions::new(&p, &ReconOptions::default()).unwrap();
    assert_eq!(render_png(&fig).unwrap(), render_png(&fig).unwrap());
    assert_eq!(render_svg(&fig).unwrap(), render_svg(&fig).unwrap());
}

#[test]
fn drawings_keep_their_orientation() {
    // a stroke at the top of the drawing's box must be drawn at the top of the cell
    let top_bar = Stroke3::from_strokes(&[
        Stroke::new(vec![0.0, 100.0], vec![0.0, 0.0]),
        Stroke::new(vec![50.0], vec![100.0]),
    ]);
    let p = vec![ReconPair {
        key_id: "k".into(),
        original: top_bar.clone(),
        reconstruction: top_bar,
    }];
    let opts = ReconOptions::default();
    let fig = Reconstructions::new(&p, &opts).unwrap();
    let (w, h, rgb) = render_rgb(&fig).unwrap();
    let ink = opts.style.ink;
    let rows: Vec<u32> = (0..h)
        .filter(|&y| {
            (0..w).any(|x| {
                let i = (y * w + x) as usize * 3;
                rgb[i..i + 3] == [ink.0, ink.1, ink.2]
            })
        })
        .collect();
    let longest_row = rows
        .iter()
        .max_by_key(|&&y| {
            (0..w)
                .filter(|&x| {
                    let i = (y * w + x) as usize * 3;
                    rgb[i..i + 3] == [ink.0, ink.1, ink.2]
                })
                .count()
        })
        .unwrap();
    // the bar (many ink pixels in a row) lies above the dot
    assert!(
        *longest_row < *rows.last().unwrap() - 20,
        "bar at {longest_row}, rows {rows:?}"
    );
}

fn clusters(n: u32, with_noise: bool) -> Vec<GalleryCluster> {
    let mut v: Vec<GalleryCluster> = (0..n)
        .map(|c| GalleryCluster {
            cluster: Some(c),
            size: 10 + (c as usize * 37) % 100,
            samples: (0..12)
                .map(|k| {
                    Labelled::new(
                        format!("c{c}k{k}"),
                        face(c * 13 + k, c as f32 / n as f32 * 2.0 - 1.0),
                    )
                })
                .collect(),
        })
        .collect();
    if with_noise {
        v.push(GalleryCluster {
            cluster: None,
            size: 321,
            samples: (0..5)
                .map(|k| Labelled::new(format!("n{k}"), face(k, 0.0)))
                .collect(),
        });
    }
    v
}

#[test]
fn gallery_pages_hold_every_cluster_and_noise() {
    let tmp = out_dir("gallery");
    let dir = tmp.path();
    let c = clusters(7, true);
    let opts = GalleryOptions {
        clusters_per_page: 3,
        samples: 6,
        ..GalleryOptions::default()
    };
    let g = Gallery::new(&c, &opts).unwrap();
    assert_eq!(g.pages().len(), 3);
    let shown: Vec<Option<u32>> = g.pages().iter().flat_map(|p| p.clusters()).collect();
    assert_eq!(shown.len(), 8);
    assert_eq!(shown.last(), Some(&None), "noise comes last");
    assert_eq!(shown.iter().filter(|c| c.is_none()).count(), 1);
    // largest first
    let size = |id: Option<u32>| c.iter().find(|x| x.cluster == id).unwrap().size;
    assert!(shown[..7].windows(2).all(|w| size(w[0]) >= size(w[1])));
    let written = g.save_all(dir, "gallery").unwrap();
    assert_eq!(written.len(), 3);
    assert!(written[0].png.ends_with("gallery_01.png"));
    for w in &written {
        check_written(w, 0.02);
    }
}

#[test]
fn sixty_and_more_clusters_are_capped_and_said_so() {
    let c = clusters(83, true);
    let g = Gallery::new(&c, &GalleryOptions::default()).unwrap();
    assert_eq!(g.pages().len(), 3, "60 clusters, 20 a page");
    let shown: Vec<Option<u32>> = g.pages().iter().flat_map(|p| p.clusters()).collect();
    assert_eq!(shown.len(), 61);
    let svg = render_svg(&g.pages()[0]).unwrap();
    assert!(
        svg.contains("Showing the 60 largest of 83 clusters"),
        "cap not stated"
    );
    let (w, h) = g.pages()[0].size();
    assert!(h > 20 * 96 && w >= 640);
}

#[test]
fn gallery_of_noise_only_works() {
    let c = vec![GalleryCluster {
        cluster: None,
        size: 3,
        samples: vec![Labelled::new("a", face(1, 1.0))],
    }];
    let g = Gallery::new(&c, &GalleryOptions::default()).unwrap();
    assert_eq!(g.pages().len(), 1);
    assert_eq!(g.pages()[0].clusters(), vec![None]);
    render_png(&g.pages()[0]).unwrap();
}

fn map_points(n: usize) -> Vec<MapPoint> {
    (0..n)
        .map(|i| {
            let c = (i % 5) as u32;
            let a = i as f32 * 0.37;
            MapPoint {
                x: c as f32 * 10.0 + a.cos() * (i % 17) as f32 * 0.2,
                y: (c % 2) as f32 * 8.0 + a.sin() * (i % 13) as f32 * 0.2,
                cluster: if i % 11 == 0 { None } else { Some(c) },
            }
        })
        .collect()
}

#[test]
fn embedding_map_is_drawn_with_thumbnails() {
    let tmp = out_dir("map");
    let dir = tmp.path();
    let pts = map_points(2000);
    let opts = MapOptions::default();
    let picked = opts.pick_thumbnails(&pts);
    assert!(!picked.is_empty() && picked.len() <= opts.thumbnails);
    assert_eq!(picked, opts.pick_thumbnails(&pts), "deterministic");
    let thumbs: Vec<Thumbnail> = picked
        .iter()
        .map(|&i| Thumbnail {
            index: i,
            drawing: face(i as u32, 1.0),
        })
        .collect();
    let map = EmbeddingMap::new(&pts, &thumbs, &opts).unwrap();
    let w = save(&map, &dir.join("embedding_map")).unwrap();
    check_written(&w, 0.01);
    let (_, _, rgb) = render_rgb(&map).unwrap();
    let c0 = cluster_colour(Some(0));
    let near = |p: &[u8], c: Rgb| {
        // points are drawn half transparent: look for the colour's hue, not its exact value
        let d = |a: u8, b: u8| (a as i32 - b as i32).abs();
        let t = c.tint(0.25);
        d(p[0], t.0) < 12 && d(p[1], t.1) < 12 && d(p[2], t.2) < 12
    };
    assert!(
        rgb.chunks(3).any(|p| near(p, c0)),
        "cluster 0 colour missing"
    );
    assert!(
        rgb.chunks(3).any(|p| near(p, NOISE_GREY)),
        "noise grey missing"
    );
}

#[test]
fn loss_curves_use_a_log_axis_unless_a_loss_is_not_positive() {
    let tmp = out_dir("loss");
    let dir = tmp.path();
    let train = LossSeries {
        name: "train".into(),
        points: (0..500)
            .map(|s| (s as f64, 3.0 / (1.0 + s as f64 * 0.05)))
            .collect(),
    };
    let mut valid = LossSeries {
        name: "valid".into(),
        points: (0..10)
            .map(|k| ((k * 50) as f64, 3.2 / (1.0 + k as f64 * 2.5)))
            .collect(),
    };
    valid.points.push((600.0, f64::NAN));
    let fig = LossCurves::new(&[train.clone(), valid], &LossOptions::default()).unwrap();
    assert!(fig.log_y());
    let w = save(&fig, &dir.join("loss")).unwrap();
    check_written(&w, 0.01);
    assert!(std::fs::read_to_string(&w.svg)
        .unwrap()
        .contains("1 non-finite values not drawn"));

    let neg = LossSeries {
        name: "nll".into(),
        points: vec![(0.0, 1.0), (1.0, -0.5)],
    };
    let fig = LossCurves::new(&[train, neg], &LossOptions::default()).unwrap();
    assert!(!fig.log_y());
    render_png(&fig).unwrap();
}

#[test]
fn interpolations_are_drawn() {
    let tmp = out_dir("interp");
    let dir = tmp.path();
    let strips: Vec<InterpStrip> = (0..3)
        .map(|i| InterpStrip {
            label: format!("a{i} → b{i}"),
            from: Some(face(i, -1.0)),
            to: if i == 1 { None } else { Some(face(i + 5, 1.0)) },
            steps: (0..7).map(|k| face(i, k as f32 / 3.0 - 1.0)).collect(),
        })
        .collect();
    let fig = Interpolations::new(&strips, &InterpOptions::default()).unwrap();
    let w = save(&fig, &dir.join("interpolations")).unwrap();
    check_written(&w, 0.02);
}

#[test]
fn bad_input_gives_errors_not_panics() {
    let ro = ReconOptions::default();
    let msg = |e: FigureError| e.to_string();
    assert!(msg(Reconstructions::new(&[], &ro).unwrap_err()).contains("no drawing pairs"));

    let mut p = pairs(2);
    p[1].original = Stroke3::default();
    let e = msg(Reconstructions::new(&p, &ro).unwrap_err());
    assert!(e.contains("no points") && e.contains(&p[1].key_id), "{e}");

    let mut p = pairs(2);
    p[0].reconstruction.dy[3] = f32::NAN;
    let e = msg(Reconstructions::new(&p, &ro).unwrap_err());
    assert!(e.contains("non-finite") && e.contains("point 3"), "{e}");

    let mut p = pairs(1);
    p[0].original.pen.pop();
    assert!(msg(Reconstructions::new(&p, &ro).unwrap_err()).contains("must be equal"));

    // huge finite offsets whose running sum overflows
    let mut p = pairs(1);
    p[0].original.dx[0] = f32::MAX;
    p[0].original.dx[1] = f32::MAX;
    assert!(Reconstructions::new(&p, &ro).is_err());

    // an empty reconstruction is a result, shown as "no ink"
    let mut p = pairs(1);
    p[0].reconstruction = Stroke3::default();
    let fig = Reconstructions::new(&p, &ro).unwrap();
    assert!(render_svg(&fig).unwrap().contains("no ink"));

    let go = GalleryOptions::default();
    assert!(msg(Gallery::new(&[], &go).unwrap_err()).contains("zero clusters"));
    let mut c = clusters(2, false);
    c[1].cluster = Some(0);
    assert!(msg(Gallery::new(&c, &go).unwrap_err()).contains("given twice"));
    let mut c = clusters(2, false);
    c[0].samples[2].drawing.dx[0] = f32::INFINITY;
    assert!(msg(Gallery::new(&c, &go).unwrap_err()).contains("c0k2"));
    let zero = GalleryOptions {
        samples: 0,
        ..go.clone()
    };
    assert!(Gallery::new(&clusters(1, false), &zero).is_err());

    let mo = MapOptions::default();
    assert!(EmbeddingMap::new(&[], &[], &mo).is_err());
    let mut pts = map_points(10);
    pts[4].y = f32::NAN;
    assert!(msg(EmbeddingMap::new(&pts, &[], &mo).unwrap_err()).contains("y of point 4"));
    let pts = map_points(10);
    let t = [Thumbnail {
        index: 10,
        drawing: face(0, 0.0),
    }];
    assert!(msg(EmbeddingMap::new(&pts, &t, &mo).unwrap_err()).contains("only 10 points"));
    // a single point (zero extent) still draws
    let one = [MapPoint {
        x: 1.0,
        y: 1.0,
        cluster: Some(0),
    }];
    render_png(&EmbeddingMap::new(&one, &[], &mo).unwrap()).unwrap();

    let lo = LossOptions::default();
    assert!(LossCurves::new(&[], &lo).is_err());
    let nan = LossSeries {
        name: "x".into(),
        points: vec![(0.0, f64::NAN)],
    };
    assert!(msg(LossCurves::new(&[nan], &lo).unwrap_err()).contains("NaN"));
    let single = LossSeries {
        name: "x".into(),
        points: vec![(5.0, 0.3)],
    };
    render_png(&LossCurves::new(&[single], &lo).unwrap()).unwrap();

    let io = InterpOptions::default();
    assert!(Interpolations::new(&[], &io).is_err());
    let s = [InterpStrip {
        label: "x".into(),
        ..InterpStrip::default()
    }];
    assert!(msg(Interpolations::new(&s, &io).unwrap_err()).contains("no steps"));

    // an absurd size is refused before any allocation
    let huge = LossOptions {
        width: 100_000,
        ..lo
    };
    let one = LossSeries {
        name: "x".into(),
        points: vec![(0.0, 1.0)],
    };
    assert!(render_png(&LossCurves::new(&[one], &huge).unwrap()).is_err());
}

#[test]
fn labels_with_markup_characters_stay_valid_svg() {
    let mut p = pairs(1);
    p[0].key_id = "<a&b>\"'".into();
    let fig = Reconstructions::new(&p, &ReconOptions::default()).unwrap();
    let svg = render_svg(&fig).unwrap();
    roxmltree::Document::parse(&svg).expect("escaped");
}

/// Real drawings, when the shared data set is present.
#[test]
fn real_faces_render() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets/quickdraw/simplified/first25/face.ndjson");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: {} not found", path.display());
        return;
    };
    let faces: Vec<Labelled> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let strokes: Vec<Stroke> = v["drawing"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let f = |a: &serde_json::Value| {
                        a.as_array()
                            .unwrap()
                            .iter()
                            .map(|x| x.as_f64().unwrap() as f32)
                            .collect()
                    };
                    Stroke::new(f(&s[0]), f(&s[1]))
                })
                .collect();
            Labelled::new(
                v["key_id"].as_str().unwrap(),
                Stroke3::from_strokes(&strokes),
            )
        })
        .collect();
    assert_eq!(faces.len(), 25);
    let c = vec![GalleryCluster {
        cluster: Some(0),
        size: 25,
        samples: faces,
    }];
    let g = Gallery::new(&c, &GalleryOptions::default()).unwrap();
    let tmp = out_dir("real");
    let dir = tmp.path();
    let w = g.save_all(dir, "gallery").unwrap();
    check_written(&w[0], 0.02);
}
