use super::*;

fn faces(seed: u64, n: u64) -> Vec<SynthFace> {
    generate(seed, n).collect()
}

fn level_index(face: &SynthFace, f: usize) -> usize {
    let l = face.label(FACTORS[f]).expect("every factor labelled");
    LEVELS[f]
        .iter()
        .position(|x| *x == l)
        .expect("a known level")
}

fn percentile(sorted: &[usize], p: f64) -> usize {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn same_seed_and_index_give_the_same_face() {
    assert_eq!(face(7, 3), face(7, 3));
    assert_ne!(face(7, 3).strokes, face(7, 4).strokes);
    assert_ne!(face(7, 3).strokes, face(8, 3).strokes);
    // a face does not depend on how many were generated before it
    let all = faces(7, 10);
    assert_eq!(all[9], face(7, 9));
    let mut a = Vec::new();
    let mut b = Vec::new();
    write_ndjson(&mut a, 7, 50).unwrap();
    write_ndjson(&mut b, 7, 50).unwrap();
    assert_eq!(a, b);
}

#[test]
fn key_ids_are_unique_and_disjoint_between_seeds() {
    let mut seen = std::collections::HashSet::new();
    for seed in [1, 11, 2, 12, 111] {
        for i in 0..300 {
            assert!(
                seen.insert(face(seed, i).key_id),
                "duplicate key_id {seed} {i}"
            );
        }
    }
    assert_eq!(face(3, 5).key_id, key_id(3, 5));
}

#[test]
fn coordinates_are_integers_in_range_top_left_aligned_longest_side_255() {
    for f in faces(3, 1500) {
        let mut b = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        assert!(!f.strokes.is_empty());
        for s in &f.strokes {
            assert!(!s.is_empty(), "{}: empty stroke", f.key_id);
            assert_eq!(s.x.len(), s.y.len());
            for (x, y) in s.points() {
                assert!(
                    x.fract() == 0.0 && y.fract() == 0.0,
                    "{}: non-integer",
                    f.key_id
                );
                assert!((0.0..=255.0).contains(&x) && (0.0..=255.0).contains(&y));
                b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            }
        }
        assert_eq!((b.0, b.1), (0.0, 0.0), "{}: not top-left aligned", f.key_id);
        assert_eq!(
            (b.2 - b.0).max(b.3 - b.1),
            255.0,
            "{}: longest side",
            f.key_id
        );
    }
}

#[test]
fn strokes_are_rdp_simplified() {
    // simplifying again at epsilon 2 (after rounding) removes almost nothing
    let (mut before, mut after) = (0, 0);
    for f in faces(4, 300) {
        for s in &f.strokes {
            before += s.len();
            after += drawing::rdp(&s.x, &s.y, 2.0).len();
        }
    }
    assert!(
        after as f64 > 0.95 * before as f64,
        "{after} of {before} points survive"
    );
}

#[test]
fn every_level_appears_roughly_uniformly() {
    let all = faces(5, 4000);
    for (f, levels) in LEVELS.iter().enumerate() {
        let mut counts = vec![0usize; levels.len()];
        for face in &all {
            counts[level_index(face, f)] += 1;
        }
        let expected = all.len() as f64 / levels.len() as f64;
        for (l, &c) in counts.iter().enumerate() {
            assert!(
                (c as f64 - expected).abs() < 0.15 * expected,
                "{}={} appears {c} times, expected about {expected}",
                FACTORS[f],
                levels[l]
            );
        }
    }
}

#[test]
fn factors_are_independent() {
    // chi-square test of independence for every pair of factors
    let all = faces(6, 4000);
    let n = all.len() as f64;
    for a in 0..FACTORS.len() {
        for b in a + 1..FACTORS.len() {
            let (ka, kb) = (LEVELS[a].len(), LEVELS[b].len());
            let mut table = vec![vec![0f64; kb]; ka];
            for face in &all {
                table[level_index(face, a)][level_index(face, b)] += 1.0;
            }
            let rows: Vec<f64> = table.iter().map(|r| r.iter().sum()).collect();
            let cols: Vec<f64> = (0..kb).map(|j| table.iter().map(|r| r[j]).sum()).collect();
            let mut chi2 = 0.0;
            for i in 0..ka {
                for j in 0..kb {
                    let e = rows[i] * cols[j] / n;
                    chi2 += (table[i][j] - e).powi(2) / e;
                }
            }
            // 4x4 tables: 9 degrees of freedom, p = 0.001 at 27.9
            assert!(
                chi2 < 27.9,
                "{} and {} look dependent: chi2 = {chi2:.1}",
                FACTORS[a],
                FACTORS[b]
            );
        }
    }
}

#[test]
fn point_and_stroke_counts_resemble_real_faces() {
    let all = faces(8, 3000);
    let mut pts: Vec<usize> = all.iter().map(SynthFace::n_points).collect();
    let mut strokes: Vec<usize> = all.iter().map(|f| f.strokes.len()).collect();
    pts.sort_unstable();
    strokes.sort_unstable();
    let (med, p99, max) = (
        percentile(&pts, 0.5),
        percentile(&pts, 0.99),
        *pts.last().unwrap(),
    );
    let smed = percentile(&strokes, 0.5);
    assert!((45..=72).contains(&med), "median points {med}");
    assert!(p99 < 160 && max < 200, "99% {p99}, max {max} points");
    assert!((4..=8).contains(&smed), "median strokes {smed}");
    assert!(pts[0] >= 10, "fewest points {}", pts[0]);
}

#[test]
fn stroke_order_and_direction_vary() {
    // among faces without hair or nose, the outline is the longest stroke: it should come
    // first most of the time but not always, and run both ways round
    let (mut first, mut total, mut clockwise) = (0, 0, 0);
    for f in faces(9, 3000) {
        if f.label("hair_ears") != Some("none") {
            continue;
        }
        let (k, outline) = f
            .strokes
            .iter()
            .enumerate()
            .max_by_key(|(_, s)| s.len())
            .unwrap();
        total += 1;
        first += usize::from(k == 0);
        // shoelace sign: positive is clockwise on screen (y down)
        let area: f32 = (0..outline.len())
            .map(|i| {
                let j = (i + 1) % outline.len();
                outline.x[i] * outline.y[j] - outline.x[j] * outline.y[i]
            })
            .sum();
        clockwise += usize::from(area > 0.0);
    }
    let (first, clockwise) = (first as f64 / total as f64, clockwise as f64 / total as f64);
    assert!((0.7..0.97).contains(&first), "outline first in {first:.2}");
    assert!(
        (0.25..0.75).contains(&clockwise),
        "clockwise in {clockwise:.2}"
    );
}

#[test]
fn levels_change_the_drawing_the_way_they_should() {
    // strokes per face by level: crosses need two strokes an eye, none adds nothing
    let all = faces(10, 3000);
    let mean = |f: &str, l: &str| {
        let v: Vec<usize> = all
            .iter()
            .filter(|x| x.label(f) == Some(l))
            .map(|x| x.strokes.len())
            .collect();
        v.iter().sum::<usize>() as f64 / v.len() as f64
    };
    assert!(mean("eyes", "crosses") > mean("eyes", "dots") + 1.5);
    assert!(mean("nose", "triangle") > mean("nose", "none") + 0.8);
    assert!(mean("hair_ears", "ears") > mean("hair_ears", "none") + 1.8);
    // an oval head is taller than wide; a round one about as tall as wide
    let aspect = |l: &str| {
        let v: Vec<f32> = all
            .iter()
            .filter(|x| x.label("outline") == Some(l) && x.label("hair_ears") == Some("none"))
            .map(|x| {
                let ymax = x
                    .strokes
                    .iter()
                    .flat_map(|s| s.y.iter())
                    .fold(0f32, |a, &b| a.max(b));
                let xmax = x
                    .strokes
                    .iter()
                    .flat_map(|s| s.x.iter())
                    .fold(0f32, |a, &b| a.max(b));
                ymax / xmax
            })
            .collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    assert!(aspect("oval") > 1.2, "oval aspect {}", aspect("oval"));
    assert!(
        (0.85..1.15).contains(&aspect("round")),
        "round aspect {}",
        aspect("round")
    );
}

#[test]
fn ndjson_lines_parse_and_match_the_faces() {
    let mut out = Vec::new();
    write_ndjson(&mut out, 12, 40).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 40);
    assert!(text.ends_with('\n'));
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let f = face(12, i as u64);
        assert_eq!(v["word"], "face");
        assert_eq!(v["countrycode"], "ZZ");
        assert_eq!(v["recognized"], true);
        assert_eq!(v["key_id"], f.key_id.as_str());
        assert_eq!(v["timestamp"], timestamp(12, i as u64).as_str());
        let drawing = v["drawing"].as_array().unwrap();
        assert_eq!(drawing.len(), f.strokes.len());
        for (s, d) in f.strokes.iter().zip(drawing) {
            let xs: Vec<f32> = d[0]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap() as f32)
                .collect();
            let ys: Vec<f32> = d[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap() as f32)
                .collect();
            assert_eq!((&xs, &ys), (&s.x, &s.y));
        }
        let labels = v["labels"].as_object().unwrap();
        assert_eq!(labels.len(), FACTORS.len());
        for (k, l) in &f.labels {
            assert_eq!(labels[*k], l.as_str());
        }
        assert_eq!(*line, ndjson_line(12, i as u64).trim_end());
    }
}

#[test]
fn timestamps_look_like_the_real_ones() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(17_226), (2017, 3, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    let t = timestamp(1, 2);
    assert_eq!(t, timestamp(1, 2));
    assert_ne!(t, timestamp(1, 3));
    // "2017-03-08 21:12:07.266040 UTC"
    assert_eq!(t.len(), 30, "{t}");
    assert!(t.starts_with("2017-0") && t.ends_with(" UTC"), "{t}");
}

#[test]
fn levels_lookup() {
    assert_eq!(levels("mouth"), Some(LEVELS[2]));
    assert_eq!(levels("beard"), None);
    assert_eq!(FACTORS.len(), LEVELS.len());
    assert!(LEVELS.iter().all(|l| (3..=5).contains(&l.len())));
}

#[test]
fn wave_rotation_matches_the_sine() {
    let mut w = Wave::new(2.0, 0.3, 0.01);
    for k in 0..2000 {
        let want = 2.0 * (0.3 + 0.01 * k as f64).sin();
        assert!(
            (w.value() - want).abs() < 1e-9,
            "step {k}: {} vs {want}",
            w.value()
        );
        w.advance();
    }
}

#[test]
fn scalp_path_is_walked_at_even_lengths_on_flat_heads_too() {
    // a squarish head: by angle the points crowd at the corners, by length they must not
    let head = Head {
        kind: 2,
        rx: 1.0,
        ry: 1.1,
        k: 8.0,
    };
    let mut path = ArcPath::new(&head, PI + 0.3, TAU - 0.3);
    for pass in 0..2 {
        let pts: Vec<P> = (0..=20).map(|i| path.at(i as f64 / 20.0)).collect();
        let d: Vec<f64> = pts
            .windows(2)
            .map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt())
            .collect();
        let (lo, hi) = d
            .iter()
            .fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(hi / lo < 1.3, "pass {pass}: steps from {lo} to {hi}");
        assert_eq!(pts[0], path.at(0.0));
        path.reverse();
    }
}
