//! Stage 1, `ingest`: reads the data set's files (simplified and raw ndjson, plain or gzipped;
//! Google's `.bin`; sketch-rnn's `.npz`) and writes one Parquet table of drawings as stroke-3
//! sequences (see [`tables::drawings`]).
//!
//! Streaming: ndjson files are read in batches of lines by one thread and parsed on all cores,
//! runs of lines straight into Arrow column batches ([`tables::drawings::DrawingColumns`]),
//! which the Parquet writer encodes on all cores too; memory does not grow with the input.
//! The one exception is opt-in: `drop_duplicates` keeps a set of key_id hashes, about 8 bytes
//! a drawing (25 with the hash table's slack).

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use arrow::array::BooleanArray;
use quickdraw::ndjson::{LineBatch, LineParser};
use quickdraw::{RecordError, RecordRef};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;
use tables::dataset::Shard;
use tables::drawings::{DrawingColumns, DrawingRef, DrawingWriter};
use tables::Split;

/// The `[ingest]` section of `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Keep only drawings of these categories (empty: all).
    pub word: Vec<String>,
    /// Drop drawings the game did not recognise.
    pub recognized_only: bool,
    /// Drop drawings with more points than this, as sketch-rnn does (0: keep all).
    #[default(250)]
    pub max_points: usize,
    /// Stop after writing this many drawings (0: no limit).
    pub limit: usize,
    /// Salt of the key_id hash that assigns splits.
    pub seed: u64,
    /// Share of the drawings without a split of their own that go to `valid`.
    #[default(0.05)]
    pub valid_fraction: f64,
    /// Share that go to `test`.
    #[default(0.05)]
    pub test_fraction: f64,
    /// What a bad record does: stop with an error naming the file and the line or record, or
    /// skip it and count it.
    pub on_error: OnError,
    /// Drop drawings whose key_id was already written (the same file given twice, or raw and
    /// simplified files of one category); memory grows with the input, about 25 bytes a drawing.
    pub drop_duplicates: bool,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop with an error naming the file and the line or record.
    #[default]
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
    /// Drawings of other shards (with a shard), not counted as skipped.
    pub other_shard: usize,
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

/// Progress callbacks: drawings read so far (from whichever thread writes).
pub trait Progress: Sync {
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

/// Per run, beside the settings: which rows (a shard) and how the output is laid out.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Keep only the drawings of this shard (by their key_id; see [`tables::dataset::Shard`]).
    pub shard: Option<Shard>,
    /// Write a Hive-partitioned folder by this column instead of one file: the output is the
    /// folder, each partition's file `part-0000I.parquet` (I the shard's number, else 0).
    pub partition_by: Option<String>,
}

/// Reads every input and writes `output`; the output appears only when everything succeeded.
pub fn ingest(
    inputs: &[PathBuf],
    output: &Path,
    cfg: &IngestConfig,
    progress: &dyn Progress,
) -> Result<IngestReport> {
    ingest_with(inputs, output, cfg, &RunOptions::default(), progress)
}

/// [`ingest`] of one shard of the drawings, or into a partitioned folder, as `run` says.
pub fn ingest_with(
    inputs: &[PathBuf],
    output: &Path,
    cfg: &IngestConfig,
    run: &RunOptions,
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
    ]
    .into_iter()
    .chain(
        run.shard
            .map(|s| ("ingest.shard".to_string(), s.to_string())),
    )
    .collect::<Vec<_>>();
    let mut writer = match &run.partition_by {
        None => DrawingWriter::create(output, &labels, &metadata)?,
        Some(column) => DrawingWriter::create_partitioned(
            output,
            &labels,
            &metadata,
            column,
            &tables::dataset::part_file_name(run.shard),
        )?,
    };
    let mut sink = Sink {
        cfg,
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
        let file = FileCtx {
            cfg,
            shard: run.shard,
            labels: &labels,
            source: &source,
            default_word: &word_from_file_name(path),
        };
        match quickdraw::Format::from_path(path) {
            Some(quickdraw::Format::Ndjson | quickdraw::Format::NdjsonGz) => {
                // one thread reads (and gunzips) lines; rayon parses runs of them on all cores,
                // each run straight into a batch of columns
                let mut batches = quickdraw::ndjson::read_lines_batched(path, 4 << 20)?;
                let (tx, rx) = mpsc::sync_channel(2);
                // parsed batches come back to the reader, which reads the next lines into
                // their buffers instead of faulting in a fresh 4 MB each time
                let (spent_tx, spent_rx) = mpsc::channel::<LineBatch>();
                let reader = std::thread::spawn(move || loop {
                    if let Ok(spent) = spent_rx.try_recv() {
                        batches.recycle(spent);
                    }
                    let Some(b) = batches.next() else { break };
                    if tx.send(b).is_err() {
                        break;
                    }
                });
                let run_lines = (BATCH_LINES / rayon::current_num_threads() / 4).max(64);
                let template = sink.writer.columns();
                // each batch is parsed while the sink writes the one before it, so that the
                // cores do not wait on the sink's serial part
                let mut parsed: Vec<Chunk> = Vec::new();
                for batch in rx {
                    let batch = match batch {
                        Ok(batch) => batch,
                        Err(e) => {
                            // the records before a read error come first, as one by one
                            if sink.take_all(std::mem::take(&mut parsed), progress)? {
                                drop(reader);
                                break 'files;
                            }
                            return Err(e.into());
                        }
                    };
                    let parse = || -> Vec<Chunk> {
                        batch
                            .par_runs(run_lines)
                            .map_init(LineParser::default, |parser, lines| {
                                let mut chunk = file.chunk(template.empty());
                                // a point takes at least 4 bytes of text (`1,` twice), 7 on
                                // average in the simplified files
                                let bytes: usize = lines.clone().map(|(_, l)| l.len()).sum();
                                chunk.columns.reserve(lines.len(), bytes / 6);
                                for (n, line) in lines {
                                    if !chunk.take(parser.parse(line, n, batch.path())) {
                                        break;
                                    }
                                }
                                chunk
                            })
                            .collect()
                    };
                    let previous = std::mem::take(&mut parsed);
                    let (next, stop) = rayon::join(parse, || sink.take_all(previous, progress));
                    // the reader may have finished and gone: the buffer is then just freed
                    let _ = spent_tx.send(batch);
                    if stop? {
                        drop(reader);
                        break 'files;
                    }
                    parsed = next;
                }
                if sink.take_all(parsed, progress)? {
                    drop(reader);
                    break 'files;
                }
                reader.join().expect("reader thread does not panic");
            }
            _ => {
                let mut chunk = file.chunk(sink.writer.columns());
                for rec in quickdraw::open(path)? {
                    let fatal = rec.as_ref().err().is_some_and(RecordError::is_fatal);
                    let go_on = match rec {
                        Ok(r) => chunk.take(Ok(r.as_ref())),
                        Err(e) => chunk.take(Err(e)),
                    };
                    if !go_on || fatal || chunk.outcomes.len() >= BATCH_LINES {
                        let full = std::mem::replace(&mut chunk, file.chunk(sink.writer.columns()));
                        if sink.take(full, progress)? {
                            break 'files;
                        }
                        if !go_on || fatal {
                            continue 'files;
                        }
                    }
                }
                if sink.take(chunk, progress)? {
                    break 'files;
                }
            }
        }
    }
    let report = sink.report;
    if report.written == 0 {
        let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "{}: no drawing to write to {} (read {}, skipped: {})",
            names.join(", "),
            output.display(),
            report.read,
            report.skipped_summary()
        );
    }
    writer.finish()?;
    Ok(report)
}

/// Records per batch of the sequential readers, and about per batch of ndjson lines (4 MB).
const BATCH_LINES: usize = 4096;

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

/// What the records of one file share: the config, the table's label names, the file's name
/// and the word its records default to.
struct FileCtx<'a> {
    cfg: &'a IngestConfig,
    shard: Option<Shard>,
    labels: &'a [String],
    source: &'a str,
    default_word: &'a str,
}

impl<'a> FileCtx<'a> {
    fn chunk(&self, columns: DrawingColumns) -> Chunk<'a> {
        Chunk {
            file: FileCtx { ..*self },
            columns,
            outcomes: Vec::new(),
            errors: Vec::new(),
            keys: Vec::new(),
        }
    }
}

/// What became of one record read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A row of the chunk's columns (unless the sink finds it a duplicate).
    Kept(Split),
    OtherShard,
    OtherWord,
    NotRecognized,
    TooLong,
    /// Its error is the chunk's next in `errors`.
    Bad,
}

/// A run of consecutive records of one file, filtered and built into columns (on any thread);
/// the [`Sink`] then takes the chunks in file order, which keeps `limit`, `drop_duplicates`
/// and the first error exactly as if the records had come one by one.
struct Chunk<'a> {
    file: FileCtx<'a>,
    columns: DrawingColumns,
    outcomes: Vec<Outcome>,
    errors: Vec<RecordError>,
    /// With `drop_duplicates`: the key hash of each kept row.
    keys: Vec<u64>,
}

impl Chunk<'_> {
    /// Takes one record; false once nothing after it can matter (an error that stops).
    fn take(&mut self, rec: Result<RecordRef, RecordError>) -> bool {
        let cfg = self.file.cfg;
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                self.outcomes.push(Outcome::Bad);
                self.errors.push(e);
                return cfg.on_error == OnError::Skip;
            }
        };
        let word = rec.word.as_deref().unwrap_or(self.file.default_word);
        let outcome = if self.file.shard.is_some_and(|s| !s.contains(&rec.key_id)) {
            Outcome::OtherShard
        } else if !cfg.word.is_empty() && !cfg.word.iter().any(|w| w == word) {
            Outcome::OtherWord
        } else if cfg.recognized_only && rec.recognized == Some(false) {
            Outcome::NotRecognized
        } else if cfg.max_points > 0 && rec.drawing.len() > cfg.max_points {
            Outcome::TooLong
        } else {
            let split = match rec.split {
                Some(quickdraw::Split::Train) => Split::Train,
                Some(quickdraw::Split::Valid) => Split::Valid,
                Some(quickdraw::Split::Test) => Split::Test,
                None => hash_split(&rec.key_id, cfg.seed, cfg.valid_fraction, cfg.test_fraction),
            };
            if cfg.drop_duplicates {
                self.keys.push(key_hash(&rec.key_id, 0));
            }
            let labels = self.file.labels.iter().map(|name| {
                rec.labels
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            });
            let row = DrawingRef {
                key_id: &rec.key_id,
                word: Some(word),
                countrycode: rec.countrycode.as_deref(),
                recognized: rec.recognized,
                timestamp: rec.timestamp,
                split,
                source: self.file.source,
                drawing: rec.drawing,
                t: rec.times,
            };
            self.columns.push(row, labels);
            Outcome::Kept(split)
        };
        self.outcomes.push(outcome);
        true
    }
}

struct Sink<'a> {
    cfg: &'a IngestConfig,
    writer: &'a mut DrawingWriter,
    seen: HashSet<u64, BuildHasherDefault<KeyHashHasher>>,
    report: IngestReport,
}

impl Sink<'_> {
    /// [`Sink::take`] of each chunk in turn, up to the limit; returns true when it is reached.
    fn take_all(&mut self, chunks: Vec<Chunk>, progress: &dyn Progress) -> Result<bool> {
        for chunk in chunks {
            if self.take(chunk, progress)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Counts a chunk's records in order and writes its rows, up to the limit; returns true
    /// when the limit is reached.
    fn take(&mut self, chunk: Chunk, progress: &dyn Progress) -> Result<bool> {
        let r = &mut self.report;
        let Chunk {
            columns,
            outcomes,
            errors,
            keys,
            ..
        } = chunk;
        let mut errors = errors.into_iter();
        // rows of `columns` read so far, and which of them to write (all, unless duplicates)
        let mut rows = 0;
        let mut keep: Option<Vec<bool>> = None;
        let mut limit_reached = false;
        for outcome in outcomes {
            r.read += 1;
            match outcome {
                Outcome::Kept(split) => {
                    let duplicate = self.cfg.drop_duplicates && !self.seen.insert(keys[rows]);
                    if duplicate {
                        r.skipped_duplicate += 1;
                        keep.get_or_insert_with(|| vec![true; columns.len()])[rows] = false;
                    } else {
                        r.splits[split as usize] += 1;
                        r.written += 1;
                    }
                    rows += 1;
                    if !duplicate && self.cfg.limit > 0 && r.written >= self.cfg.limit {
                        limit_reached = true;
                        break;
                    }
                }
                Outcome::OtherShard => r.other_shard += 1,
                Outcome::OtherWord => r.skipped_word += 1,
                Outcome::NotRecognized => r.skipped_unrecognized += 1,
                Outcome::TooLong => r.skipped_too_long += 1,
                Outcome::Bad => {
                    let e = errors.next().expect("one error per bad record");
                    match self.cfg.on_error {
                        OnError::Stop => {
                            return Err(anyhow::Error::new(e)
                                .context("bad input (use --on-error skip to skip such records)"))
                        }
                        OnError::Skip => {
                            r.skipped_bad += 1;
                            r.first_bad.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
            }
        }
        progress.advance(r.read, r.written);
        let mut batch = columns.finish();
        if rows < batch.num_rows() {
            batch = batch.slice(0, rows);
        }
        if let Some(mut keep) = keep {
            keep.truncate(rows);
            batch = arrow::compute::filter_record_batch(&batch, &BooleanArray::from(keep))?;
        }
        self.writer.write(batch)?;
        Ok(limit_reached)
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
