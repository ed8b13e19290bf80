//! A mutation harness over the Parquet readers (issue 26, item 5, where no coverage-guided
//! fuzzer runs on stable Rust here): each good table given is mutated at random (bytes flipped,
//! set, inserted, removed, the file cut) and read back by its reader, in this process; a panic
//! is a bug (the readers must answer with an error naming the file). Prints executions, errors
//! and panics per table, and saves each panicking input beside the output folder.
//!
//!     cargo run --release -p trust --example mutate_tables -- SECONDS OUT_DIR TABLE...

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trust::Rng;

fn read(kind: &str, p: &Path) -> Result<(), String> {
    let r = match kind {
        "drawings" => tables::drawings::read(p).map(|_| ()),
        "embeddings" => tables::embeddings::read(p).map(|_| ()),
        "clusters" => tables::clusters::read(p).map(|_| ()),
        "reconstructions" => tables::sequences::read_reconstructions(p).map(|_| ()),
        "interpolations" => tables::sequences::read_interpolations(p).map(|_| ()),
        "train_log" => tables::train_log::read(p).map(|_| ()),
        other => panic!("no reader for {other}"),
    };
    r.map_err(|e| e.to_string())
}

fn mutate(good: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = good.to_vec();
    let edits = 1 + (rng.next_f64() * 4.0) as usize;
    for _ in 0..edits {
        if b.is_empty() {
            break;
        }
        let at = (rng.next_f64() * b.len() as f64) as usize;
        match (rng.next_f64() * 5.0) as usize {
            0 => b[at] ^= 1 << ((rng.next_f64() * 8.0) as u32),
            1 => b[at] = (rng.next_f64() * 256.0) as u8,
            2 => b.insert(at, (rng.next_f64() * 256.0) as u8),
            3 => {
                b.remove(at);
            }
            _ => b.truncate(at),
        }
    }
    b
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: f64 = args[0].parse().expect("seconds");
    let out = PathBuf::from(&args[1]);
    std::fs::create_dir_all(&out).unwrap();
    std::panic::set_hook(Box::new(|_| {}));
    for (n, table) in args[2..].iter().enumerate() {
        let table = Path::new(table);
        let kind = tables::table_kind(table)
            .unwrap()
            .expect("a table of this pipeline");
        let good = std::fs::read(table).unwrap();
        let case = out.join(format!("case-{n}.parquet"));
        let mut rng = Rng::new(n as u64 + 1);
        let (mut runs, mut errors, mut panics) = (0u64, 0u64, 0u64);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs_f64(secs) {
            let bytes = mutate(&good, &mut rng);
            std::fs::write(&case, &bytes).unwrap();
            runs += 1;
            match std::panic::catch_unwind(|| read(&kind, &case)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    errors += 1;
                    assert!(e.contains("case-"), "an error without the file's name: {e}");
                }
                Err(_) => {
                    panics += 1;
                    std::fs::write(out.join(format!("panic-{kind}-{panics}.parquet")), &bytes)
                        .unwrap();
                }
            }
        }
        println!(
            "[mutate_tables] {kind} ({}): {runs} inputs in {:.0}s ({:.0}/s), {errors} refused with an error, {panics} panics",
            table.display(),
            t.elapsed().as_secs_f64(),
            runs as f64 / t.elapsed().as_secs_f64()
        );
    }
}
