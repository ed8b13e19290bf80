use super::*;
use std::io::Write;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

const GOOD: &str = r#"{"word":"face","countrycode":"DE","timestamp":"2017-03-08 21:12:07.26604 UTC","recognized":true,"key_id":"1","drawing":[[[0,10,20],[0,5,0]],[[5],[9]]]}
{"word":"cat","countrycode":"US","timestamp":"2017-03-08 21:12:07.26604 UTC","recognized":false,"key_id":"2","drawing":[[[1,2],[3,4]]]}
{"word":"face","countrycode":"US","timestamp":"2017-03-08 21:12:07.26604 UTC","recognized":true,"key_id":"3","drawing":[[[1,2,3,4,5],[3,4,5,6,7]]]}
"#;

#[test]
fn ingests_filters_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.ndjson", GOOD);
    // the same drawings again: by default both copies are written, with drop_duplicates the
    // second is dropped by key_id
    let b = write(dir.path(), "b.ndjson", GOOD);
    let out = dir.path().join("d.parquet");
    let r = ingest(&[a.clone(), b.clone()], &out, &IngestConfig::default(), &()).unwrap();
    assert_eq!((r.read, r.written, r.skipped_duplicate), (6, 6, 0));
    let dedup = IngestConfig {
        drop_duplicates: true,
        ..Default::default()
    };
    let r = ingest(&[a.clone(), b], &out, &dedup, &()).unwrap();
    assert_eq!((r.read, r.written, r.skipped_duplicate), (6, 3, 3));
    let t = tables::drawings::read(&out).unwrap();
    assert_eq!(t.rows.len(), 3);
    let first = &t.rows[0];
    assert_eq!(first.drawing.dx, vec![0.0, 10.0, 10.0, -15.0]);
    assert_eq!(first.drawing.dy, vec![0.0, 5.0, -5.0, 9.0]);
    assert_eq!(first.drawing.pen, vec![0, 0, 1, 1]);
    assert_eq!(first.source, "a.ndjson");
    assert!(first.timestamp.is_some());

    let cfg = IngestConfig {
        word: vec!["face".into()],
        recognized_only: true,
        max_points: 4,
        ..Default::default()
    };
    let r = ingest(std::slice::from_ref(&a), &out, &cfg, &()).unwrap();
    assert_eq!(
        (r.written, r.skipped_word, r.skipped_too_long),
        (1, 1, 1),
        "{r:?}"
    );
    let cfg = IngestConfig {
        limit: 2,
        ..Default::default()
    };
    assert_eq!(ingest(&[a], &out, &cfg, &()).unwrap().written, 2);
}

#[test]
fn a_bad_line_stops_with_its_place_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GOOD.replace(r#"[[[1,2],[3,4]]]"#, r#"[[[1,2],[3]]]"#);
    let a = write(dir.path(), "bad.ndjson", &bad);
    let out = dir.path().join("d.parquet");
    let e = format!(
        "{:#}",
        ingest(
            std::slice::from_ref(&a),
            &out,
            &IngestConfig::default(),
            &()
        )
        .unwrap_err()
    );
    assert!(e.contains("bad.ndjson") && e.contains("line 2"), "{e}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );

    let cfg = IngestConfig {
        on_error: OnError::Skip,
        ..Default::default()
    };
    let r = ingest(&[a], &out, &cfg, &()).unwrap();
    assert_eq!((r.written, r.skipped_bad), (2, 1));
    assert!(r.first_bad.unwrap().contains("line 2"));
}

#[test]
fn missing_and_misnamed_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.parquet");
    let e = format!(
        "{:#}",
        ingest(
            &[dir.path().join("nope.ndjson")],
            &out,
            &IngestConfig::default(),
            &()
        )
        .unwrap_err()
    );
    assert!(e.contains("nope.ndjson"), "{e}");
    let txt = write(dir.path(), "faces.txt", GOOD);
    let e = format!(
        "{:#}",
        ingest(&[txt], &out, &IngestConfig::default(), &()).unwrap_err()
    );
    assert!(e.contains("faces.txt"), "{e}");
    assert!(!out.exists());
}

#[test]
fn synthetic_faces_carry_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("synth.ndjson");
    write_synthetic(&nd, 300, 7).unwrap();
    let out = dir.path().join("d.parquet");
    let r = ingest(&[nd], &out, &IngestConfig::default(), &()).unwrap();
    assert_eq!(r.written, 300);
    let t = tables::drawings::read(&out).unwrap();
    let factors: Vec<&str> = synth::FACTORS.to_vec();
    assert_eq!(t.label_names, factors);
    assert!(t.rows.iter().all(|r| r.labels.iter().all(Option::is_some)));
    assert!(t.rows.iter().all(|r| r.word.as_deref() == Some("face")));
    // hash splits: roughly 5% / 5%, the same on every run
    assert!(
        r.splits[0] > 240 && r.splits[1] > 3 && r.splits[2] > 3,
        "{r:?}"
    );
    let again = dir.path().join("e.parquet");
    let r2 = ingest(
        &[dir.path().join("synth.ndjson")],
        &again,
        &IngestConfig::default(),
        &(),
    )
    .unwrap();
    assert_eq!(r.splits, r2.splits);
}

#[test]
fn hash_split_follows_the_fractions() {
    let n = 20_000;
    let mut c = [0usize; 3];
    for i in 0..n {
        c[hash_split(&format!("{i}"), 3, 0.1, 0.2) as usize] += 1;
    }
    let share = |k: usize| c[k] as f64 / n as f64;
    assert!(
        (share(1) - 0.1).abs() < 0.01 && (share(2) - 0.2).abs() < 0.01,
        "{c:?}"
    );
    assert_ne!(
        (0..100)
            .map(|i| hash_split(&format!("{i}"), 1, 0.5, 0.0))
            .collect::<Vec<_>>(),
        (0..100)
            .map(|i| hash_split(&format!("{i}"), 2, 0.5, 0.0))
            .collect::<Vec<_>>(),
        "the seed changes the assignment"
    );
}

#[test]
fn word_from_file_names() {
    assert_eq!(
        word_from_file_name(Path::new("x/full_binary_face.bin")),
        "face"
    );
    assert_eq!(
        word_from_file_name(Path::new("alarm_clock_sketchrnn_test.npz")),
        "alarm clock"
    );
    assert_eq!(word_from_file_name(Path::new("face.ndjson.gz")), "face");
}

/// Many lines parsed in runs on several threads give the answer of taking the records one by
/// one: the limit, duplicates, filters and bad lines counted in file order, rows in file order.
#[test]
fn runs_parsed_in_parallel_keep_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let n = 30_000;
    // key i % 20_000 (the last 10,000 repeat earlier keys), every 7th a cat, every 997th bad
    let line = |i: usize| {
        if i % 997 == 5 {
            return "{\"key_id\": oops}\n".to_string();
        }
        let word = if i % 7 == 3 { "cat" } else { "face" };
        let key = i % 20_000;
        format!(
            "{{\"word\":\"{word}\",\"key_id\":\"{key}\",\"drawing\":[[[{a},{b}],[1,2]]]}}\n",
            a = i % 256,
            b = (i / 256) % 256
        )
    };
    let text: String = (0..n).map(line).collect();
    let input = write(dir.path(), "many.ndjson", &text);
    let out = dir.path().join("d.parquet");
    for (limit, dedup) in [
        (0, false),
        (0, true),
        (12_345, true),
        (25_000, true),
        (9_999, false),
    ] {
        let cfg = IngestConfig {
            word: vec!["face".into()],
            on_error: OnError::Skip,
            drop_duplicates: dedup,
            limit,
            ..Default::default()
        };
        let r = ingest(std::slice::from_ref(&input), &out, &cfg, &()).unwrap();
        // the same, one record at a time
        let mut want = IngestReport::default();
        let mut seen = std::collections::HashSet::new();
        let mut keys = Vec::new();
        for i in 0..n {
            want.read += 1;
            if i % 997 == 5 {
                want.skipped_bad += 1;
            } else if i % 7 == 3 {
                want.skipped_word += 1;
            } else if dedup && !seen.insert(i % 20_000) {
                want.skipped_duplicate += 1;
            } else {
                want.written += 1;
                keys.push((i % 20_000).to_string());
                if limit > 0 && want.written == limit {
                    break;
                }
            }
        }
        let got = (
            r.read,
            r.written,
            r.skipped_word,
            r.skipped_duplicate,
            r.skipped_bad,
        );
        let expected = (
            want.read,
            want.written,
            want.skipped_word,
            want.skipped_duplicate,
            want.skipped_bad,
        );
        assert_eq!(got, expected, "limit {limit}, dedup {dedup}");
        assert_eq!(r.splits.iter().sum::<usize>(), r.written);
        assert!(r.first_bad.as_deref().unwrap().contains("line 6"), "{r:?}");
        let t = tables::drawings::read(&out).unwrap();
        let written: Vec<String> = t.rows.iter().map(|r| r.key_id.clone()).collect();
        assert_eq!(written, keys, "limit {limit}, dedup {dedup}");
    }
    // stopping at the first bad line names it, whichever run it fell in
    let e = ingest(&[input], &out, &IngestConfig::default(), &()).unwrap_err();
    assert!(format!("{e:#}").contains("line 6:"), "{e:#}");
}
