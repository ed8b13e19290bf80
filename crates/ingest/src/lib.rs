//! Stage 1, `ingest`: reads the data set's files (simplified and raw ndjson, plain or gzipped;
//! Google's `.bin`; sketch-rnn's `.npz`) and writes one Parquet table of drawings as stroke-3
//! sequences (see [`tables::drawings`]).
//!
//! Streaming: ndjson files are read in batches of lines by one thread and parsed on all cores;
//! rows go to the Parquet writer a batch at a time, so memory does not grow with the input.
//! The one exception is opt-in: `drop_duplicates` keeps a set of key_id hashes, about 8 bytes
//! a drawing (25 with the hash table's slack).

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use quickdraw::{Record, RecordError};
use serde::Deserialize;
use tables::drawings::{DrawingRow, DrawingWriter};
use tables::Split;

/// The `[ingest]` section of `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Keep only these categories (empty: all).
    pub word: Vec<String>,
    /// Drop drawings the game did not recognise.
    pub recognized_only: bool,
    /// Drop drawings with more points than this (0: keep all).
    pub max_points: usize,
    /// Stop after this many drawings written (0: no limit).
    pub limit: usize,
    /// Salts the hash of key_id that assigns splits.
    pub seed: u64,
    /// Share of drawings (without a split of their own) that go to `valid`.
    pub valid_fraction: f64,
    /// Share that goes to `test`.
    pub test_fraction: f64,
    /// `stop` at the first bad record, or `skip` and count it.
    pub on_error: OnError,
    /// Drop a drawing whose key_id was already written (the same file given twice, or raw and
    /// simplified files of one category). Costs memory that grows with the input.
    pub drop_duplicates: bool,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            word: Vec::new(),
            recognized_only: false,
            max_points: 0,
            limit: 0,
            seed: 0,
            valid_fraction: 0.05,
            test_fraction: 0.05,
            on_error: OnError::Stop,
            drop_duplicates: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop with an error naming the file and the line or record.
    Stop,
    /// Skip the bad record and count it.
    Skip,
}

impl IngestConfig {
    pub fn validate(&self) -> Result<()> {
        let (v, t) = (self.valid_fraction, self.test_fraction);
        if !(0.0..=1.0).contains(&v) || !(0.0..=1.0).contains(&t) || v + t > 1.0 {
            bail!("valid_fraction ({v}) and test_fraction ({t}) must be in [0, 1] and sum to at most 1");
        }
        Ok(())
    }
}

/// What happened, for the summary line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct IngestReport {
    pub files: usize,
    pub bytes: u64,
    pub read: usize,
    pub written: usize,
    pub splits: [usize; 3],
    pub skipped_word: usize,
    pub skipped_unrecognized: usize,
    pub skipped_too_long: usize,
    pub skipped_duplicate: usize,
    pub skipped_bad: usize,
    pub first_bad: Option<String>,
}

impl IngestReport {
    pub fn skipped(&self) -> usize {
        self.skipped_word
            + self.skipped_unrecognized
            + self.skipped_too_long
            + self.skipped_duplicate
            + self.skipped_bad
    }

    pub fn skipped_summary(&self) -> String {
        let parts: Vec<String> = [
            (self.skipped_word, "other word"),
            (self.skipped_unrecognized, "not recognized"),
            (self.skipped_too_long, "over max_points"),
            (self.skipped_duplicate, "duplicate key_id"),
            (self.skipped_bad, "bad record"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Deterministic split of a drawing from its key: a 64-bit FNV-1a hash of the key, salted by
/// the seed, mapped to [0, 1).
pub fn hash_split(key_id: &str, seed: u64, valid: f64, test: f64) -> Split {
    let u = (key_hash(key_id, seed) >> 11) as f64 / (1u64 << 53) as f64;
    if u < test {
        Split::Test
    } else if u < test + valid {
        Split::Valid
    } else {
        Split::Train
    }
}

fn key_hash(key_id: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in key_id.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // a final mix: FNV's low bits are weak for short keys
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The category of a file that does not store one (npz, bin): its name before the first `.`,
/// without Google's `full_<format>_` prefix or a `_sketchrnn...` suffix.
pub fn word_from_file_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stem = name.split('.').next().unwrap_or("").to_string();
    for prefix in [
        "full_binary_",
        "full_simplified_",
        "full_raw_",
        "full_numpy_bitmap_",
    ] {
        if let Some(s) = stem.strip_prefix(prefix) {
            stem = s.to_string();
        }
    }
    if let Some(i) = stem.find("_sketchrnn") {
        stem.truncate(i);
    }
    stem.replace('_', " ")
}

/// Progress callbacks: drawings read so far.
pub trait Progress {
    fn advance(&self, read: usize, written: usize);
}

impl Progress for () {
    fn advance(&self, _: usize, _: usize) {}
}

/// The label factors of the inputs: the `labels` keys of each file's first readable record.
fn label_names(inputs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in inputs {
        let Ok(reader) = quickdraw::open(p) else {
            continue;
        };
        if let Some(Ok(rec)) = reader.take(16).find(|r| r.is_ok()) {
            for (k, _) in &rec.labels {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
    }
    names
}

/// Reads every input and writes `output`; the output appears only when everything succeeded.
pub fn ingest(
    inputs: &[PathBuf],
    output: &Path,
    cfg: &IngestConfig,
    progress: &dyn Progress,
) -> Result<IngestReport> {
    cfg.validate()?;
    if inputs.is_empty() {
        bail!("no input files given");
    }
    // open every input up front, so a missing or misnamed file fails before any work
    for p in inputs {
        quickdraw::open(p)?;
    }
    let labels = label_names(inputs);
    let metadata = vec![
        (
            "ingest.inputs".to_string(),
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("ingest.config".to_string(), format!("{cfg:?}")),
    ];
    let mut writer = DrawingWriter::create(output, &labels, &metadata)?;
    let mut sink = Sink {
        cfg,
        labels: &labels,
        writer: &mut writer,
        seen: HashSet::default(),
        report: IngestReport::default(),
    };
    'files: for path in inputs {
        sink.report.files += 1;
        sink.report.bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let source = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let default_word = word_from_file_name(path);
        let mut file = FileCtx {
            source: &source,
            default_word: &default_word,
        };
        match quickdraw::Format::from_path(path) {
            Some(quickdraw::Format::Ndjson | quickdraw::Format::NdjsonGz) => {
                // one thread reads (and gunzips) lines; this one parses them on all cores
                let batches = quickdraw::ndjson::read_lines_batched(path, 4 << 20)?;
                let (tx, rx) = mpsc::sync_channel(2);
                let reader = std::thread::spawn(move || {
                    for b in batches {
                        if tx.send(b).is_err() {
                            break;
                        }
                    }
                });
                for batch in rx {
                    let batch = batch?;
                    for rec in batch.parse_par() {
                        if sink.take(rec, &mut file, progress)? {
                            drop(reader);
                            break 'files;
                        }
                    }
                }
                reader.join().expect("reader thread does not panic");
            }
            _ => {
                for rec in quickdraw::open(path)? {
                    let fatal = rec.as_ref().err().is_some_and(RecordError::is_fatal);
                    if sink.take(rec, &mut file, progress)? {
                        break 'files;
                    }
                    if fatal {
                        break;
                    }
                }
            }
        }
    }
    let report = sink.report;
    if report.written == 0 {
        bail!(
            "no drawing was written to {} (read {}, skipped: {})",
            output.display(),
            report.read,
            report.skipped_summary()
        );
    }
    writer.finish()?;
    Ok(report)
}

/// The dedup set's keys are already [`key_hash`]es, well mixed: hashing them again (SipHash by
/// default) only costs time.
#[derive(Default)]
struct KeyHashHasher(u64);

impl std::hash::Hasher for KeyHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // only u64 keys reach here (write_u64); fold anything else in anyway
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

struct FileCtx<'a> {
    source: &'a str,
    default_word: &'a str,
}

struct Sink<'a> {
    cfg: &'a IngestConfig,
    labels: &'a [String],
    writer: &'a mut DrawingWriter,
    seen: HashSet<u64, BuildHasherDefault<KeyHashHasher>>,
    report: IngestReport,
}

impl Sink<'_> {
    /// Takes one record; returns true when the limit is reached.
    fn take(
        &mut self,
        rec: Result<Record, RecordError>,
        file: &mut FileCtx,
        progress: &dyn Progress,
    ) -> Result<bool> {
        let r = &mut self.report;
        r.read += 1;
        if r.read.is_multiple_of(4096) {
            progress.advance(r.read, r.written);
        }
        let mut rec = match rec {
            Ok(rec) => rec,
            Err(e) => match self.cfg.on_error {
                OnError::Stop => {
                    return Err(anyhow::Error::new(e)
                        .context("bad input (use --on-error skip to skip such records)"))
                }
                OnError::Skip => {
                    r.skipped_bad += 1;
                    r.first_bad.get_or_insert_with(|| e.to_string());
                    return Ok(false);
                }
            },
        };
        let word = rec
            .word
            .take()
            .unwrap_or_else(|| file.default_word.to_string());
        if !self.cfg.word.is_empty() && !self.cfg.word.contains(&word) {
            r.skipped_word += 1;
            return Ok(false);
        }
        if self.cfg.recognized_only && rec.recognized == Some(false) {
            r.skipped_unrecognized += 1;
            return Ok(false);
        }
        if self.cfg.max_points > 0 && rec.drawing.len() > self.cfg.max_points {
            r.skipped_too_long += 1;
            return Ok(false);
        }
        if self.cfg.drop_duplicates && !self.seen.insert(key_hash(&rec.key_id, 0)) {
            r.skipped_duplicate += 1;
            return Ok(false);
        }
        let split = match rec.split {
            Some(quickdraw::Split::Train) => Split::Train,
            Some(quickdraw::Split::Valid) => Split::Valid,
            Some(quickdraw::Split::Test) => Split::Test,
            None => hash_split(
                &rec.key_id,
                self.cfg.seed,
                self.cfg.valid_fraction,
                self.cfg.test_fraction,
            ),
        };
        r.splits[split as usize] += 1;
        let labels = self
            .labels
            .iter()
            .map(|name| {
                rec.labels
                    .iter_mut()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| std::mem::take(v))
            })
            .collect();
        self.writer.push(DrawingRow {
            key_id: rec.key_id,
            word: Some(word),
            countrycode: rec.countrycode,
            recognized: rec.recognized,
            timestamp: rec.timestamp,
            split,
            source: file.source.to_string(),
            drawing: rec.drawing,
            t: rec.times,
            labels,
        })?;
        r.written += 1;
        Ok(self.cfg.limit > 0 && r.written >= self.cfg.limit)
    }
}

/// `ingest synth`: writes `count` synthetic faces as simplified ndjson, atomically.
pub fn write_synthetic(output: &Path, count: u64, seed: u64) -> Result<()> {
    let out = tables::atomic::AtomicFile::create(output)?;
    let file = out.try_clone_file()?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    synth::write_ndjson(&mut w, seed, count)
        .and_then(|_| std::io::Write::flush(&mut w))
        .with_context(|| format!("writing {}", output.display()))?;
    drop(w);
    out.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests;
