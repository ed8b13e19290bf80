//! Regression cases of the fuzzing harness (`cargo run --release -p trust --example
//! fuzz_readers`, see docs/trust.md): inputs on which a reader panicked, hung or allocated far
//! more than the input could justify. Each must be refused with an error naming the file,
//! quickly, without a large allocation.
//!
//! `tests/fuzz/*.npz` are read as they are; `*.pickle` are pickles, read inside a one-member
//! `.npz` (the only way the readers meet a pickle).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The largest single allocation since the last reset (the harness's "alloc" finding).
static LARGEST: AtomicUsize = AtomicUsize::new(0);

struct Counting;
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LARGEST.fetch_max(new, Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What the harness calls an allocation without bound for an input of at most 64 KiB.
const LIMIT: usize = 64 << 20;

/// A one-member (`sketches.npy`) stored `.npz` around a pickle.
fn npz_around(pickle: &[u8]) -> Vec<u8> {
    let mut header = "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend((header.len() as u16).to_le_bytes());
    npy.extend(header.as_bytes());
    npy.extend(pickle);
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file("sketches.npy", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(&npy).unwrap();
    z.finish().unwrap().into_inner()
}

#[test]
fn inputs_found_by_fuzzing_are_refused_quickly_and_in_bounded_memory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for case in names {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&case).unwrap();
        let path = match case.extension().and_then(|e| e.to_str()) {
            Some("pickle") => {
                let p = tmp.path().join(format!("{name}.npz"));
                std::fs::write(&p, npz_around(&bytes)).unwrap();
                p
            }
            _ => case.clone(),
        };
        LARGEST.store(0, Relaxed);
        let t = Instant::now();
        let errors: Vec<String> = match quickdraw::open(&path) {
            Err(e) => vec![e.to_string()],
            Ok(r) => r.filter_map(Result::err).map(|e| e.to_string()).collect(),
        };
        let took = t.elapsed();
        let largest = LARGEST.load(Relaxed);
        assert!(!errors.is_empty(), "{name}: read without an error");
        for e in &errors {
            assert!(
                e.contains(&name),
                "{name}: an error without the file's name: {e}"
            );
        }
        assert!(
            largest < LIMIT,
            "{name}: one allocation of {largest} bytes ({errors:?})"
        );
        assert!(took < Duration::from_secs(1), "{name}: {took:?}");
        n += 1;
    }
    assert!(n >= 2, "{n} cases");
}
