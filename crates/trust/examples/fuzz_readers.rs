//! Issue 26, item 5: every reader of the project under a mutation fuzzer, in this process.
//!
//! No coverage-guided fuzzer was practical here (see docs/trust.md), so this is a structure-
//! aware mutation harness over small seeds cut from the real samples in
//! `../shared/datasets/quickdraw/` (single ndjson lines, single `.bin` records, `.npz` and
//! pickles of a few real sketch-rnn drawings, gzip of a few raw lines, small tables of each
//! kind), with cheap feedback: an input whose outcome (the first error, digits masked, or the
//! record count) was not seen before joins the corpus and is mutated in turn.
//!
//! Findings, each saved under OUT_DIR as `<reader>-<what>-<n>.bin`:
//! - `panic`: the reader panicked (caught with `catch_unwind`);
//! - `alloc`: one allocation above 64 MiB, or more than 1 GiB live at once, during one input
//!   of at most 64 KiB (one request over 1 GiB aborts the process after saving the input);
//! - `slow`: one input took more than a second, twice running (a watchdog aborts after 20 s,
//!   saving it);
//! - `noname`: an error that does not name the file.
//!
//! ```text
//! cargo run --release -p trust --example fuzz_readers -- \
//!     [--count N] [--seconds S] [--out DIR] [--seed K] [READER...]
//! ```
//!
//! Readers: ndjson bin npz pickle gzip drawings generated embeddings clusters reconstructions
//! interpolations train_log (all when none is named). Prints one line per reader: inputs,
//! inputs/s, corpus size, and each kind of finding; exits 1 when anything was found.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The allocator: counts live bytes, remembers the peak and the largest request of each input.

const CAP: usize = 1 << 30;
/// An input of at most 64 KiB that makes one allocation above this is a finding too (saved,
/// not fatal): a reader that sizes a buffer from a length field instead of the bytes present.
const SOFT_CAP: usize = 64 << 20;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// The input being run (for the dumps of an abort), and where to dump it.
static INPUT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);
static READER: AtomicUsize = AtomicUsize::new(0);
static OUT: OnceLock<PathBuf> = OnceLock::new();
static DUMPING: AtomicBool = AtomicBool::new(false);

/// Saves the input being run as `<reader>-<what>-abort.bin` and aborts.
fn dump_and_abort(what: &str, detail: String) -> ! {
    if !DUMPING.swap(true, Relaxed) {
        let (p, n) = (INPUT_PTR.load(Relaxed), INPUT_LEN.load(Relaxed));
        let name = READERS[READER.load(Relaxed)];
        if let Some(out) = OUT.get() {
            if !p.is_null() {
                // SAFETY: the harness keeps the input alive while it runs (see `run_one`)
                let input = unsafe { std::slice::from_raw_parts(p, n) };
                let f = out.join(format!("{name}-{what}-abort.bin"));
                let _ = std::fs::write(&f, input);
                eprintln!(
                    "[fuzz] {name}: {what}: {detail}; input saved as {}",
                    f.display()
                );
            }
        }
    }
    std::process::abort()
}

fn note(size: usize) {
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
    LARGEST.fetch_max(size, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > CAP && !DUMPING.load(Relaxed) {
            dump_and_abort("alloc", format!("one allocation of {} bytes", l.size()));
        }
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            note(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if l.size() > CAP && !DUMPING.load(Relaxed) {
            dump_and_abort("alloc", format!("one allocation of {} bytes", l.size()));
        }
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            note(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > CAP && !DUMPING.load(Relaxed) {
            dump_and_abort("alloc", format!("one reallocation to {new} bytes"));
        }
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            LIVE.fetch_sub(l.size(), Relaxed);
            note(new);
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// Random numbers and mutations.

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const INTERESTING: [u64; 22] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x3ff,
    0x7fff,
    0x8000,
    0xffff,
    0x10000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
    1 << 40,
    1 << 20,
];

const JSON_VALUES: [&str; 24] = [
    "0",
    "-1",
    "256",
    "-129",
    "65536",
    "1e999",
    "-1e999",
    "1e-999",
    "1.5",
    "-0",
    "99999999999999999999999999",
    "18446744073709551616",
    "NaN",
    "null",
    "true",
    "\"x\"",
    "\"\\ud800\"",
    "[]",
    "[[]]",
    "{}",
    "[[1],[2],[3],[4]]",
    "[[1,2],[3]]",
    "\"2017-13-45 99:99:99.9999999 UTC\"",
    "\"\"",
];

const JSON_KEYS: [&str; 9] = [
    "\"word\"",
    "\"key_id\"",
    "\"drawing\"",
    "\"countrycode\"",
    "\"recognized\"",
    "\"timestamp\"",
    "\"labels\"",
    "\"x\"",
    "\"drawing\":[[[1],[2]]],\"drawing\"",
];

/// Largest input the mutator makes: seeds are small and so must their offspring be, for speed.
const MAX_LEN: usize = 64 * 1024;

fn mutate(rng: &mut Rng, b: &mut Vec<u8>, other: &[u8], json: bool) {
    let stack = 1 << rng.below(4);
    let edits = 1 + rng.below(stack);
    for _ in 0..edits {
        let n = b.len();
        let at = rng.below(n + 1);
        let ops = if json { 13 } else { 10 };
        match rng.below(ops) {
            0 if n > 0 => b[at.min(n - 1)] ^= 1 << rng.below(8),
            1 if n > 0 => b[at.min(n - 1)] = rng.next() as u8,
            2 => {
                let k = 1 + rng.below(8);
                for _ in 0..k {
                    b.insert(at, rng.next() as u8);
                }
            }
            3 if n > 0 => {
                let k = (1 + rng.below(16)).min(n - at.min(n - 1));
                b.drain(at.min(n - 1)..at.min(n - 1) + k);
            }
            4 => b.truncate(at),
            5 => {
                // splice: this input's head, another's tail
                let from = rng.below(other.len() + 1);
                b.truncate(at);
                b.extend_from_slice(&other[from..]);
            }
            6 if n > 0 => {
                // a chunk copied elsewhere, now and then many times over
                let s = rng.below(n);
                let k = (1 + rng.below(64)).min(n - s);
                let chunk = b[s..s + k].to_vec();
                let times = if rng.chance(8) { 1 + rng.below(200) } else { 1 };
                let mut ins = Vec::with_capacity(k * times);
                for _ in 0..times {
                    ins.extend_from_slice(&chunk);
                }
                b.splice(at..at, ins);
            }
            7 if n > 0 => {
                // an interesting integer over a would-be length field, either byte order
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let v = if rng.chance(4) { v.wrapping_neg() } else { v };
                let w = [1, 2, 4, 8][rng.below(4)];
                let bytes = if rng.chance(2) {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                let bytes = if rng.chance(2) {
                    &bytes[..w]
                } else {
                    &bytes[8 - w..]
                };
                let s = at.min(n - 1);
                for (i, &x) in bytes.iter().enumerate() {
                    if s + i < n {
                        b[s + i] = x;
                    }
                }
            }
            8 if n > 0 => {
                // a small step on a byte or a little-endian u16/u32
                let s = at.min(n - 1);
                let d = rng.below(35) as i64 - 17;
                match rng.below(3) {
                    0 => b[s] = (b[s] as i64 + d) as u8,
                    1 if s + 2 <= n => {
                        let v = u16::from_le_bytes([b[s], b[s + 1]]) as i64 + d;
                        b[s..s + 2].copy_from_slice(&(v as u16).to_le_bytes());
                    }
                    _ if s + 4 <= n => {
                        let v = u32::from_le_bytes(b[s..s + 4].try_into().unwrap()) as i64 + d;
                        b[s..s + 4].copy_from_slice(&(v as u32).to_le_bytes());
                    }
                    _ => {}
                }
            }
            9 if !other.is_empty() => {
                // a chunk of another input inserted
                let s = rng.below(other.len());
                let k = (1 + rng.below(256)).min(other.len() - s);
                b.splice(at..at, other[s..s + k].iter().copied());
            }
            10 if n > 0 => {
                // JSON: a number (run of digits) swapped for another value
                let s = rng.below(n);
                if let Some(p) = b[s..].iter().position(u8::is_ascii_digit) {
                    let p = s + p;
                    let mut e = p;
                    while e < n && (b[e].is_ascii_digit() || b[e] == b'.' || b[e] == b'-') {
                        e += 1;
                    }
                    let v = JSON_VALUES[rng.below(JSON_VALUES.len())];
                    b.splice(p..e, v.bytes());
                }
            }
            11 if n > 0 => {
                // JSON: a key renamed or duplicated, or a string swapped for another value
                let s = rng.below(n);
                if let Some(p) = b[s..].iter().position(|&c| c == b'"') {
                    let p = s + p;
                    if let Some(q) = b[p + 1..].iter().position(|&c| c == b'"') {
                        let e = p + 1 + q + 1;
                        let v = if rng.chance(2) {
                            JSON_KEYS[rng.below(JSON_KEYS.len())]
                        } else {
                            JSON_VALUES[rng.below(JSON_VALUES.len())]
                        };
                        b.splice(p..e, v.bytes());
                    }
                }
            }
            12 => {
                // JSON: deep nesting, or a bracket, brace, comma or colon removed or added
                let s = at.min(n);
                match rng.below(3) {
                    0 => {
                        let d = 1 + rng.below(300);
                        let open = if rng.chance(2) { b'[' } else { b'{' };
                        b.splice(s..s, std::iter::repeat_n(open, d));
                    }
                    1 => {
                        if let Some(p) = b[s..]
                            .iter()
                            .position(|c| b"[]{},:".contains(c))
                            .map(|p| p + s)
                        {
                            b.remove(p);
                        }
                    }
                    _ => b.insert(s, b"[]{},:\""[rng.below(7)]),
                }
            }
            _ => {}
        }
    }
    b.truncate(MAX_LEN);
}

// ---------------------------------------------------------------------------------------------
// The readers.

const READERS: [&str; 12] = [
    "ndjson",
    "bin",
    "npz",
    "pickle",
    "gzip",
    "drawings",
    "generated",
    "embeddings",
    "clusters",
    "reconstructions",
    "interpolations",
    "train_log",
];

/// What one input gave: `Ok(records read)` or the first error's text.
type Outcome = Result<usize, String>;

struct Target {
    name: &'static str,
    /// Where inputs that must be files are written (on tmpfs when there is one).
    case: PathBuf,
    json: bool,
}

impl Target {
    fn run(&self, input: &[u8]) -> Outcome {
        let name = self.name;
        match name {
            "ndjson" => {
                // each line as `ingest` parses it, the fast parser with serde as its fallback
                let mut n = 0;
                let mut first_err = None;
                for (i, line) in input.split(|&c| c == b'\n').enumerate() {
                    match quickdraw::ndjson::parse_line(line, i as u64 + 1, &self.case) {
                        Ok(_) => n += 1,
                        Err(e) => {
                            first_err.get_or_insert(e.to_string());
                        }
                    }
                }
                first_err.map_or(Ok(n), Err)
            }
            "bin" => drain(quickdraw::binary::BinReader::from_reader(
                &self.case,
                Box::new(Cursor::new(input.to_vec())),
            )),
            "pickle" => quickdraw::fuzz::decode_pickle(input)
                .map(|(n, _)| n)
                .map_err(|e| format!("{}: {e}", self.case.display())),
            "npz" | "gzip" => {
                std::fs::write(&self.case, input).unwrap();

                match name {
                    "npz" => quickdraw::npz::NpzReader::open(&self.case)
                        .map(drain)
                        .unwrap_or_else(|e| Err(e.to_string())),
                    _ => {
                        let a = quickdraw::ndjson::NdjsonReader::open(&self.case)
                            .map(drain)
                            .unwrap_or_else(|e| Err(e.to_string()));
                        // and the batched line reader `ingest` uses, in small batches
                        if let Ok(batches) = quickdraw::ndjson::read_lines_batched(&self.case, 64) {
                            for b in batches {
                                match b {
                                    Ok(b) => {
                                        let _ = b.parse();
                                    }
                                    Err(e) => {
                                        let _ = e.to_string();
                                    }
                                }
                            }
                        }
                        a
                    }
                }
            }
            table => {
                std::fs::write(&self.case, input).unwrap();
                let p = self.case.as_path();
                let r = match table {
                    "drawings" => tables::drawings::read(p).map(|t| t.rows.len()),
                    "generated" => tables::generated::read(p).map(|t| t.0.rows.len()),
                    "embeddings" => tables::embeddings::read(p).map(|t| t.len()),
                    "clusters" => tables::clusters::read(p).map(|t| t.len()),
                    "reconstructions" => {
                        tables::sequences::read_reconstructions(p).map(|t| t.len())
                    }
                    "interpolations" => tables::sequences::read_interpolations(p).map(|t| t.len()),
                    "train_log" => tables::train_log::read(p).map(|t| t.len()),
                    other => unreachable!("{other}"),
                };
                // the footer readers too
                let _ = tables::footer(p);
                let _ = tables::table_kind(p);
                r.map_err(|e| e.to_string())
            }
        }
    }
}

/// Reads every record; the first error's text, or the count.
fn drain<E: ToString>(r: impl Iterator<Item = Result<quickdraw::Record, E>>) -> Outcome {
    let mut n = 0;
    let mut first_err = None;
    for (i, rec) in r.enumerate() {
        match rec {
            Ok(_) => n += 1,
            Err(e) => {
                first_err.get_or_insert(e.to_string());
            }
        }
        // a reader that never ends is a hang; no seed holds more than a few hundred records
        if i > 1_000_000 {
            return Err("more than a million records from a 64 KiB input".into());
        }
    }
    first_err.map_or(Ok(n), Err)
}

/// The outcome with digits masked and the file name dropped: the "coverage" signal.
fn signature(o: &Outcome, case: &str) -> String {
    match o {
        Ok(n) => format!("ok {}", (*n as u64 + 1).ilog2()),
        Err(e) => {
            let e = e.replace(case, "");
            let mut s = String::with_capacity(e.len().min(160));
            let mut digit = false;
            for c in e.chars().take(160) {
                if c.is_ascii_digit() {
                    if !digit {
                        s.push('#');
                    }
                    digit = true;
                } else {
                    digit = false;
                    s.push(c);
                }
            }
            s
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds from the real samples.

fn samples() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/quickdraw");
    if !root.is_dir() {
        eprintln!(
            "[fuzz] the real samples are not at {}: nothing to fuzz from",
            root.display()
        );
        std::process::exit(2);
    }
    root
}

fn ndjson_lines(path: &Path, take: usize) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        let mut d = flate2::read::MultiGzDecoder::new(&bytes[..]);
        std::io::Read::read_to_end(&mut d, &mut out).unwrap();
        out
    } else {
        bytes
    };
    text.split(|&c| c == b'\n')
        .filter(|l| !l.is_empty() && l.len() < 8192)
        .take(take)
        .map(<[u8]>::to_vec)
        .collect()
}

fn sorted_files(dir: &Path, take: usize) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v.truncate(take);
    v
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Splits a `.bin` file into its records (the format's own layout; see `quickdraw::binary`).
fn bin_records(b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 17 <= b.len() {
        let strokes = u16::from_le_bytes([b[at + 15], b[at + 16]]) as usize;
        let mut end = at + 17;
        for _ in 0..strokes {
            if end + 2 > b.len() {
                return out;
            }
            end += 2 + 2 * u16::from_le_bytes([b[end], b[end + 1]]) as usize;
        }
        if end > b.len() {
            break;
        }
        out.push(b[at..end].to_vec());
        at = end;
    }
    out
}

/// The first `take` drawings of each member of a real `.npz`, as stroke-3 int16 rows (short
/// ones only: the seed writer takes at most 255 rows).
fn npz_drawings(path: &Path, take: usize) -> Vec<Vec<[i16; 3]>> {
    quickdraw::npz::NpzReader::open(path)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|r| r.drawing.len() < 120)
        .take(take)
        .map(|r| {
            let d = &r.drawing;
            (0..d.len())
                .map(|i| [d.dx[i] as i16, d.dy[i] as i16, d.pen[i] as i16])
                .collect()
        })
        .collect()
}

struct Seeds {
    by_reader: Vec<Vec<Vec<u8>>>,
}

fn seeds(work: &Path) -> Seeds {
    let root = samples();
    let mut s: Vec<Vec<Vec<u8>>> = vec![Vec::new(); READERS.len()];
    let idx = |n: &str| READERS.iter().position(|&r| r == n).unwrap();

    // ndjson: single lines and pairs, simplified, raw, SPG and synthetic
    let mut lines = Vec::new();
    for f in sorted_files(&root.join("simplified/first25"), 6) {
        lines.extend(ndjson_lines(&f, 2));
    }
    for f in sorted_files(&root.join("raw/first_chunk"), 4) {
        lines.extend(ndjson_lines(&f, 2));
    }
    for f in sorted_files(&root.join("spg"), 3) {
        lines.extend(ndjson_lines(&f, 2));
    }
    let synth = work.join("synth.ndjson");
    ingest::write_synthetic(&synth, 4, 3).unwrap();
    lines.extend(ndjson_lines(&synth, 4));
    lines.extend(
        trust::fixture::edge_lines()
            .lines()
            .take(2)
            .map(|l| l.as_bytes().to_vec()),
    );
    s[idx("ndjson")] = lines.clone();
    for w in lines.chunks(2) {
        s[idx("ndjson")].push(w.join(&b'\n'));
    }

    // gzip: a few raw lines compressed, one member or several
    for f in sorted_files(&root.join("raw/first_chunk"), 3) {
        let l = ndjson_lines(&f, 3);
        s[idx("gzip")].push(gz(&l[0]));
        s[idx("gzip")].push(gz(&l.join(&b'\n')));
        let mut two = gz(&l[1]);
        two.extend(gz(&l[2]));
        s[idx("gzip")].push(two);
    }

    // bin: single records and runs of them from the real file
    let bin = std::fs::read(root.join("binary/face_first25.derived.bin")).unwrap();
    let recs = bin_records(&bin);
    assert!(recs.len() > 5, "the .bin sample splits into records");
    s[idx("bin")].extend(recs.iter().take(8).cloned());
    s[idx("bin")].push(recs[..3].concat());
    s[idx("bin")].push(bin.clone());

    // npz and pickle: a few real drawings of each sketch-rnn sample, both pickle variants
    for (k, f) in sorted_files(&root.join("sketchrnn"), 5).iter().enumerate() {
        let d = npz_drawings(f, 6);
        let py3 = k % 2 == 0;
        let p1 = quickdraw::fuzz::numpy_pickle(&d[..2], py3);
        let p2 = quickdraw::fuzz::numpy_pickle(&d[2..4], !py3);
        let p3 = quickdraw::fuzz::numpy_pickle(&d[4..], py3);
        s[idx("pickle")].extend([p1.clone(), p2.clone(), p3.clone()]);
        let npy = |p: &[u8]| quickdraw::fuzz::npy(p, 2, "|O");
        s[idx("npz")].push(quickdraw::fuzz::npz(
            &[
                ("train.npy", npy(&p1)),
                ("valid.npy", npy(&p2)),
                ("test.npy", npy(&p3)),
            ],
            k % 2 == 1,
        ));
        s[idx("npz")].push(quickdraw::fuzz::npz(
            &[("sketches.npy", npy(&p1))],
            k % 2 == 0,
        ));
    }

    // tables: a drawings table of real lines, a generated table of its rows, and the other
    // tables of a tiny pipeline run (see trust::fixture)
    let real = work.join("real.ndjson");
    std::fs::write(&real, lines[..8].join(&b'\n')).unwrap();
    let drawings = work.join("real-drawings.parquet");
    ingest::ingest(
        std::slice::from_ref(&real),
        &drawings,
        &ingest::IngestConfig::default(),
        &(),
    )
    .unwrap();
    s[idx("drawings")].push(std::fs::read(&drawings).unwrap());
    let table = tables::drawings::read(&drawings).unwrap();
    let rows: Vec<tables::generated::GeneratedRow> = table
        .rows
        .iter()
        .take(3)
        .map(|r| tables::generated::GeneratedRow {
            row: r.clone(),
            provenance: tables::generated::Provenance {
                mode: "like-cluster".into(),
                cluster: Some(1),
                sources: vec![r.key_id.clone()],
                temperature: 0.5,
            },
        })
        .collect();
    let generated = work.join("generated.parquet");
    tables::generated::write(&generated, &table.label_names, &rows, &vec![]).unwrap();
    s[idx("generated")].push(std::fs::read(&generated).unwrap());
    let p = trust::fixture::Pipeline::build(&work.join("pipeline"), 6);
    for (name, path) in [
        ("embeddings", &p.embeddings),
        ("clusters", &p.clusters),
        ("reconstructions", &p.reconstructions),
        ("interpolations", &p.interpolations),
    ] {
        s[idx(name)].push(std::fs::read(path).unwrap());
    }
    s[idx("train_log")].push(std::fs::read(p.run.join("train_log.parquet")).unwrap());
    for (r, v) in READERS.iter().zip(&s) {
        assert!(!v.is_empty(), "no seed for {r}");
    }
    Seeds { by_reader: s }
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    runs: u64,
    ok: u64,
    errors: u64,
    panic: u64,
    alloc: u64,
    slow: u64,
    noname: u64,
    /// panics inside arrow/parquet that the tables crate's guard turned into errors
    contained: u64,
    /// inputs over a second that took under a second when run again (the machine, not them)
    stalls: u64,
    largest_alloc: usize,
    peak_live: usize,
    slowest: Duration,
}

/// One line of figures for a reader.
fn report(name: &str, t: &Tally, secs: f64, corpus: usize, seeds: usize, note: &str) {
    println!(
        "[fuzz] {name:<15} {:>10} inputs {:>7.1} s {:>9.0}/s  ok {:>9} refused {:>9}  corpus {:>4} ({} seeds)  panics {} alloc>64MiB {} slow>1s {} unnamed {}  | largest alloc {} KiB, peak live {} KiB, slowest {:.1} ms{}{note}",
        t.runs,
        secs,
        t.runs as f64 / secs,
        t.ok,
        t.errors,
        corpus,
        seeds,
        t.panic,
        t.alloc,
        t.slow,
        t.noname,
        t.largest_alloc / 1024,
        t.peak_live / 1024,
        t.slowest.as_secs_f64() * 1e3,
        if t.contained > 0 {
            format!(", {} arrow/parquet panics contained by the tables guard", t.contained)
        } else {
            String::new()
        } + &if t.stalls > 0 {
            format!(", {} stalls over 1 s not repeated", t.stalls)
        } else {
            String::new()
        }
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

fn ext_of(reader: &str) -> &'static str {
    match reader {
        "ndjson" => "ndjson",
        "gzip" => "ndjson.gz",
        "bin" | "pickle" => "bin",
        "npz" => "npz",
        _ => "parquet",
    }
}

static EXEC_STARTED: AtomicU64 = AtomicU64::new(0);
static EXEC_SERIAL: AtomicU64 = AtomicU64::new(0);

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut count, mut seconds, mut out, mut seed) = (1_000_000u64, f64::INFINITY, None, 1u64);
    let mut chosen = Vec::new();
    let mut replay = Vec::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} takes a value"));
        match a.as_str() {
            "--count" => count = val().parse().expect("--count N"),
            "--seconds" => seconds = val().parse().expect("--seconds S"),
            "--out" => out = Some(PathBuf::from(val())),
            "--seed" => seed = val().parse().expect("--seed K"),
            "--replay" => replay.push(PathBuf::from(val())),
            "-h" | "--help" => {
                println!("fuzz_readers [--count N] [--seconds S] [--out DIR] [--seed K] [READER...]\nreaders: {}", READERS.join(" "));
                return;
            }
            r if READERS.contains(&r) => chosen.push(*READERS.iter().find(|&&x| x == r).unwrap()),
            other => {
                eprintln!("unknown argument {other}; readers: {}", READERS.join(" "));
                std::process::exit(2);
            }
        }
    }
    if chosen.is_empty() {
        chosen = READERS.to_vec();
    }
    let out =
        out.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz"));
    std::fs::create_dir_all(&out).unwrap();
    let out = out.canonicalize().unwrap();
    OUT.set(out.clone()).unwrap();
    // inputs that must be files go to tmpfs when there is one (a write per input)
    let scratch_root = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        out.clone()
    };
    let scratch = scratch_root.join(format!("fuzz_readers-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    if !replay.is_empty() {
        // `--replay FILE` (repeatable) with one reader: runs the files, prints what each gave
        assert_eq!(chosen.len(), 1, "--replay takes one reader");
        let name = chosen[0];
        let target = Target {
            name,
            case: scratch.join(format!("case-{name}.{}", ext_of(name))),
            json: false,
        };
        for f in replay {
            let input = std::fs::read(&f).unwrap();
            let base = LIVE.load(Relaxed);
            PEAK.store(base, Relaxed);
            LARGEST.store(0, Relaxed);
            let t0 = Instant::now();
            let r = std::panic::catch_unwind(|| target.run(&input));
            println!(
                "{}: {:?} in {:?}, largest allocation {} bytes, peak live {}",
                f.display(),
                r.map_err(|_| "panic"),
                t0.elapsed(),
                LARGEST.load(Relaxed),
                PEAK.load(Relaxed) - base
            );
        }
        let _ = std::fs::remove_dir_all(&scratch);
        return;
    }
    let seeds = seeds(&scratch.join("seeds"));

    // panics are counted, not printed
    std::panic::set_hook(Box::new(|_| {}));
    // the watchdog: an input running 20 s is a hang; save it and stop
    std::thread::spawn(|| {
        let t0 = Instant::now();
        let mut last = (0, 0);
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let serial = EXEC_SERIAL.load(Relaxed);
            let started = EXEC_STARTED.load(Relaxed);
            if serial == last.0 && serial != 0 {
                if t0.elapsed().as_secs() - last.1 >= 20 {
                    dump_and_abort(
                        "hang",
                        format!("one input ran over 20 s (started at {started} s)"),
                    );
                }
            } else {
                last = (serial, t0.elapsed().as_secs());
            }
        }
    });

    let mut found = 0;
    println!(
        "[fuzz] {} inputs per reader{} (seed {seed}); findings go to {}",
        count,
        if seconds.is_finite() {
            format!(", at most {seconds} s each")
        } else {
            String::new()
        },
        out.display()
    );
    for name in chosen {
        let i = READERS.iter().position(|&r| r == name).unwrap();
        READER.store(i, Relaxed);
        let ext = ext_of(name);
        let target = Target {
            name,
            case: scratch.join(format!("case-{name}.{ext}")),
            json: name == "ndjson",
        };
        let case_name = target.case.display().to_string();
        let mut corpus = seeds.by_reader[i].clone();
        let n_seeds = corpus.len();
        let mut seen = HashSet::new();
        let mut t = Tally::default();
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64 + 1) << 32 | 1);
        let start = Instant::now();
        // the seeds first, as they are: they must read cleanly
        for s in &corpus {
            let o = target.run(s);
            seen.insert(signature(&o, &case_name));
        }
        let mut input = Vec::with_capacity(MAX_LEN + 1024);
        while t.runs < count && start.elapsed().as_secs_f64() < seconds {
            let a = rng.below(corpus.len());
            let b = rng.below(corpus.len());
            input.clear();
            input.extend_from_slice(&corpus[a]);
            mutate(&mut rng, &mut input, &corpus[b], target.json);
            INPUT_PTR.store(input.as_mut_ptr(), Relaxed);
            INPUT_LEN.store(input.len(), Relaxed);
            let base = LIVE.load(Relaxed);
            PEAK.store(base, Relaxed);
            LARGEST.store(0, Relaxed);
            EXEC_STARTED.store(start.elapsed().as_secs(), Relaxed);
            EXEC_SERIAL.fetch_add(1, Relaxed);
            let t0 = Instant::now();
            let r = std::panic::catch_unwind(|| target.run(&input));
            let took = t0.elapsed();
            t.runs += 1;
            let peak = PEAK.load(Relaxed).saturating_sub(base);
            let largest = LARGEST.load(Relaxed);
            t.largest_alloc = t.largest_alloc.max(largest);
            t.peak_live = t.peak_live.max(peak);
            t.slowest = t.slowest.max(took);
            let save = |what: &str, n: u64| {
                let f = out.join(format!("{name}-{what}-{n}.bin"));
                std::fs::write(&f, &input).unwrap();
                f
            };
            if peak > CAP || largest > SOFT_CAP {
                t.alloc += 1;
                let f = save("alloc", t.alloc);
                if t.alloc <= 5 {
                    eprintln!(
                        "[fuzz] {name}: one allocation of {largest} bytes, {peak} live at once: {}",
                        f.display()
                    );
                }
            }
            if took > Duration::from_secs(1) {
                // on a loaded machine a low-priority run can wait a second for a core: only an
                // input that is slow a second time is a finding
                let again = Instant::now();
                let _ = std::panic::catch_unwind(|| target.run(&input));
                let again = again.elapsed();
                if again > Duration::from_secs(1) {
                    t.slow += 1;
                    let f = save("slow", t.slow);
                    eprintln!(
                        "[fuzz] {name}: {took:?}, then {again:?}, on one input: {}",
                        f.display()
                    );
                } else {
                    t.stalls += 1;
                }
            }
            let o = match r {
                Err(payload) => {
                    t.panic += 1;
                    let why = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    let f = save("panic", t.panic);
                    eprintln!("[fuzz] {name}: panic ({why}): {}", f.display());
                    Err(format!("panic {why}"))
                }
                Ok(o) => o,
            };
            match &o {
                Ok(_) => t.ok += 1,
                Err(e) if e.starts_with("panic ") => {}
                Err(e) => {
                    t.errors += 1;
                    if e.contains("the reader failed on it") {
                        t.contained += 1;
                    }
                    if !e.contains(&case_name) {
                        t.noname += 1;
                        let f = save("noname", t.noname);
                        eprintln!(
                            "[fuzz] {name}: an error without the file's name ({e}): {}",
                            f.display()
                        );
                    }
                }
            }
            if corpus.len() < 4096 && seen.insert(signature(&o, &case_name)) {
                corpus.push(input.clone());
            }
            if t.runs % 1_000_000 == 0 && t.runs < count {
                let secs = start.elapsed().as_secs_f64();
                report(name, &t, secs, corpus.len(), n_seeds, " (so far)");
            }
        }
        INPUT_PTR.store(std::ptr::null_mut(), Relaxed);
        let findings = t.panic + t.alloc + t.slow + t.noname;
        found += findings;
        report(
            name,
            &t,
            start.elapsed().as_secs_f64(),
            corpus.len(),
            n_seeds,
            "",
        );
        let _ = std::fs::remove_file(&target.case);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    if found > 0 {
        std::process::exit(1);
    }
}
