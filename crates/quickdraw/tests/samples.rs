//! Reads every real sample under `../shared/datasets/quickdraw/` and checks the counts and
//! facts stated in its PROVENANCE.md. Skips (and says so) when the folder is absent.

use quickdraw::{Location, Record, Source, Split};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

fn root() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/quickdraw");
    if p.join("PROVENANCE.md").is_file() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: the Quick, Draw! samples are not at {} (they live outside the repository)",
            p.display()
        );
        None
    }
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

/// Every record of a file; any error fails the test with its message.
fn read_all(path: &Path) -> Vec<Record> {
    quickdraw::open(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn check_common(r: &Record) {
    assert!(!r.drawing.is_empty());
    assert_eq!(r.drawing.dx.len(), r.drawing.pen.len());
    assert_eq!(*r.drawing.pen.last().unwrap(), 1, "{}", r.key_id);
    assert!(r.drawing.is_finite());
}

#[test]
fn simplified_first25_eye_and_mouth() {
    let Some(root) = root() else { return };
    let paths = files(&root.join("simplified/first25"), ".ndjson");
    assert_eq!(paths.len(), 344);
    let mut total = 0;
    let mut unrecognised = 0;
    for p in &paths {
        let recs = read_all(p);
        assert_eq!(recs.len(), 25, "{}", p.display());
        for (i, r) in recs.iter().enumerate() {
            check_common(r);
            assert_eq!(r.source, Source::Simplified);
            assert_eq!(r.location, Location::Line(i as u64 + 1));
            assert!(r.word.is_some() && r.countrycode.is_some() && r.timestamp.is_some());
            let b = r.drawing.bbox().unwrap();
            assert!(b.min_x >= 0.0 && b.max_x <= 255.0 && b.min_y >= 0.0 && b.max_y <= 255.0);
            unrecognised += usize::from(r.recognized == Some(false));
        }
        total += recs.len();
    }
    assert_eq!((total, unrecognised), (8600, 680));

    for (name, count, unrec) in [("eye", 4888, 196), ("mouth", 4926, 281)] {
        let recs = read_all(&root.join(format!("simplified/{name}.ndjson")));
        assert_eq!(recs.len(), count, "{name}");
        let n = recs.iter().filter(|r| r.recognized == Some(false)).count();
        assert_eq!(n, unrec, "{name}");
        assert!(recs.iter().all(|r| r.word.as_deref() == Some(name)));
        let keys: HashSet<_> = recs.iter().map(|r| &r.key_id).collect();
        assert_eq!(keys.len(), count, "{name}: de-duplicated by key_id");
    }
}

#[test]
fn raw_first_chunk() {
    let Some(root) = root() else { return };
    let paths = files(&root.join("raw/first_chunk"), ".ndjson.gz");
    assert_eq!(paths.len(), 345);
    let mut total = 0;
    let mut backwards = 0;
    let mut unrecognised = 0;
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    let mut per_file = BTreeMap::new();
    for p in &paths {
        let recs = read_all(p);
        for r in &recs {
            check_common(r);
            assert_eq!(r.source, Source::Raw);
            let t = r.times.as_ref().unwrap();
            assert_eq!(t.len(), r.drawing.len());
            backwards += usize::from(t.windows(2).any(|w| w[1] < w[0]));
            unrecognised += usize::from(r.recognized == Some(false));
            for s in r.drawing.to_strokes() {
                for (x, y) in s.points() {
                    lo = lo.min(x.min(y));
                    hi = hi.max(x.max(y));
                }
            }
        }
        total += recs.len();
        let name = p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".ndjson.gz", "");
        per_file.insert(name, recs.len());
    }
    assert_eq!(total, 9570);
    assert_eq!(per_file["face"], 31);
    assert_eq!(per_file["line"], 114);
    assert_eq!(per_file["zigzag"], 46);
    assert_eq!(unrecognised, 700);
    // "5 of 9570 drawings have a t that decreases somewhere"
    assert_eq!(backwards, 5);
    // "range seen −1013…2755"
    assert_eq!((lo.floor(), hi.ceil()), (-1013.0, 2755.0));
}

#[test]
fn raw_faces_contain_the_simplified_first25_faces() {
    let Some(root) = root() else { return };
    let raw = read_all(&root.join("raw/first_chunk/face.ndjson.gz"));
    let simple = read_all(&root.join("simplified/first25/face.ndjson"));
    for s in &simple {
        let r = raw
            .iter()
            .find(|r| r.key_id == s.key_id)
            .expect("in the raw set");
        assert_eq!(
            (&r.word, &r.countrycode, r.recognized, r.timestamp),
            (&s.word, &s.countrycode, s.recognized, s.timestamp)
        );
        assert_eq!(r.drawing.n_strokes(), s.drawing.n_strokes(), "{}", s.key_id);
    }
}

#[test]
fn spg() {
    let Some(root) = root() else { return };
    let paths = files(&root.join("spg"), ".ndjson");
    assert_eq!(paths.len(), 20);
    for p in &paths {
        let recs = read_all(p);
        assert_eq!(recs.len(), 800, "{}", p.display());
        let word = p.file_stem().unwrap().to_string_lossy().replace('_', " ");
        for r in &recs {
            check_common(r);
            assert_eq!(r.word.as_deref(), Some(word.as_str()));
            assert_eq!(
                (r.countrycode.as_ref(), r.recognized, r.timestamp),
                (None, None, None)
            );
        }
    }
}

#[test]
fn sketchrnn_npz() {
    let Some(root) = root() else { return };
    let dir = root.join("sketchrnn");
    for name in ["face", "pig", "radio", "alarm_clock"] {
        let p = dir.join(format!("{name}_sketchrnn_test.npz"));
        let recs = read_all(&p);
        assert_eq!(recs.len(), 2500, "{name}");
        for (i, r) in recs.iter().enumerate() {
            check_common(r);
            assert_eq!(r.split, None);
            assert_eq!(r.source, Source::SketchRnn);
            assert_eq!(r.key_id, format!("{name}_sketchrnn_test:sketches:{i}"));
        }
    }
    // the first rows of the first face, read off the pickle with Python's pickletools
    let face = read_all(&dir.join("face_sketchrnn_test.npz"));
    assert_eq!(face[0].drawing.len(), 83);
    assert_eq!(
        (
            face[0].drawing.dx[0],
            face[0].drawing.dy[0],
            face[0].drawing.pen[0]
        ),
        (-11.0, -6.0, 0)
    );
    assert_eq!(face[1].drawing.len(), 64);
    let mean_points = face.iter().map(|r| r.drawing.len()).sum::<usize>() as f64 / 2500.0;
    assert!((50.0..75.0).contains(&mean_points), "{mean_points}");

    let sheep = read_all(&dir.join("aaron_sheep_NOT_QUICKDRAW.npz"));
    let count = |s| sheep.iter().filter(|r| r.split == Some(s)).count();
    assert_eq!(
        (count(Split::Train), count(Split::Valid), count(Split::Test)),
        (7400, 300, 300)
    );
    let first_test = sheep.iter().find(|r| r.split == Some(Split::Test)).unwrap();
    assert_eq!(first_test.key_id, "aaron_sheep_NOT_QUICKDRAW:test:0");
    assert_eq!(first_test.drawing.len(), 74);
    assert_eq!(
        (first_test.drawing.dx[0], first_test.drawing.dy[0]),
        (16.0, -14.0)
    );
}

#[test]
fn binary_equals_its_ndjson_source() {
    let Some(root) = root() else { return };
    let bin = read_all(&root.join("binary/face_first25.derived.bin"));
    let src = read_all(&root.join("simplified/first25/face.ndjson"));
    assert_eq!(bin.len(), 25);
    for (b, s) in bin.iter().zip(&src) {
        assert_eq!(b.source, Source::Binary);
        assert_eq!(b.key_id, s.key_id);
        assert_eq!(b.countrycode, s.countrycode);
        assert_eq!(b.recognized, s.recognized);
        // the bin keeps whole seconds
        assert_eq!(
            b.timestamp.unwrap(),
            s.timestamp.unwrap() / 1_000_000 * 1_000_000
        );
        assert_eq!(b.drawing, s.drawing);
    }
}

#[test]
fn batched_parallel_parse_equals_the_reader() {
    let Some(root) = root() else { return };
    let p = root.join("simplified/eye.ndjson");
    let seq = read_all(&p);
    let par: Vec<Record> = quickdraw::ndjson::read_lines_batched(&p, 64 * 1024)
        .unwrap()
        .flat_map(|b| b.unwrap().parse_par())
        .map(Result::unwrap)
        .collect();
    assert_eq!(seq, par);
}
