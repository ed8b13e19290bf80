//! Regression cases of the mutation harness (`cargo run -p trust --example fuzz_readers`):
//! corrupt tables on which the arrow or parquet reader panicked. Each must be refused with an
//! error naming the file, not a panic. The file name's prefix is the table it was made from.

use std::path::Path;

/// Reads `p` with the reader of the table its file name starts with (`embeddings-3.parquet`).
fn read_as_named(p: &Path) -> Result<(), tables::TableError> {
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    match name.rsplit_once('-').unwrap().0 {
        "drawings" => tables::drawings::read(p).map(|_| ()),
        "embeddings" => tables::embeddings::read(p).map(|_| ()),
        "clusters" => tables::clusters::read(p).map(|_| ()),
        "reconstructions" => tables::sequences::read_reconstructions(p).map(|_| ()),
        "interpolations" => tables::sequences::read_interpolations(p).map(|_| ()),
        "train_log" => tables::train_log::read(p).map(|_| ()),
        other => panic!("{name}: no reader for {other}"),
    }
}

#[test]
fn corrupt_tables_found_by_mutation_are_refused_not_panicked_on() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corrupt");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let r = read_as_named(&p);
        let e = r.expect_err(&name).to_string();
        assert!(e.contains(&name), "{e}");
        // the footer readers too
        let _ = tables::footer(&p);
        let _ = tables::table_kind(&p);
        n += 1;
    }
    assert!(n >= 6, "{n} cases");
}

/// Found by `fuzz_readers` as inputs taking over a second or gigabytes:
/// - drawings-3.parquet: a corrupt page header that parquet's page reader skipped a few bytes per
///   system call when reading from a `File`: two million reads, 0.7 s on a quiet machine (47 s
///   under strace) for a 9 KB file; read from memory, about 20 ms;
/// - drawings-4.parquet, drawings-5.parquet: footers declaring a map of 1.4 million and a list of
///   660,000 elements in 3 KB, which parquet 60.1 walked for 0.8 s and 1.4 s (5.9 s on a loaded
///   machine); the footer check refuses them in microseconds;
/// - clusters-3, train_log-3 (footers), embeddings-3, reconstructions-3 (page headers): unknown
///   fields holding boolean lists of billions of elements, which parquet 60.1 skipped without
///   reading a byte each: 0.5 s to more than 20 s; parquet 60.2 reads a byte per element;
/// - embeddings-4.parquet (5.7 KB): a dictionary page declaring more values than its bytes hold,
///   for which parquet's dictionary decoder reserved 4.1 GB (and filled it); the page check
///   refuses it before parquet decodes anything.
///
/// The bound here is loose for a loaded machine, and under the times they took before.
#[test]
fn slow_corrupt_tables_are_refused_quickly() {
    for name in [
        "drawings-3.parquet",
        "drawings-4.parquet",
        "drawings-5.parquet",
        "clusters-3.parquet",
        "train_log-3.parquet",
        "embeddings-3.parquet",
        "embeddings-4.parquet",
        "reconstructions-3.parquet",
    ] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corrupt")
            .join(name);
        type Read = fn(&Path) -> Result<(), tables::TableError>;
        let reads: [Read; 3] = [
            read_as_named,
            |p| tables::footer(p).map(|_| ()),
            |p| tables::table_kind(p).map(|_| ()),
        ];
        for read in reads {
            let t = std::time::Instant::now();
            let r = read(&p);
            let took = t.elapsed();
            if let Err(e) = r {
                assert!(e.to_string().contains(name), "{e}");
            }
            assert!(
                took < std::time::Duration::from_millis(400),
                "{name}: {took:?}"
            );
        }
        let e = read_as_named(&p).expect_err(name);
        assert!(e.to_string().contains(name), "{e}");
    }
}
