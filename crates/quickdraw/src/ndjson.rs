//! Newline-delimited JSON, plain or gzip-compressed: Google's *simplified* and *raw* files, the
//! SPG subset (only `word`, `key_id`, `drawing`) and the project's synthetic faces (which add
//! a `"labels"` object).
//!
//! Simplified and raw lines are told apart by content: a raw stroke has a third list of
//! times. Every line is parsed on its own, so a bad line is reported and the reader goes on
//! with the next one.

use crate::fastline::Scratch;
use crate::fields::{Labels, StrokeRef};
use crate::{
    open_file, sniff, ErrorKind, Format, Location, Record, RecordError, RecordRef, Source,
};
use drawing::Stroke3;
use flate2::read::MultiGzDecoder;
use rayon::prelude::*;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const READ_BUFFER: usize = 256 * 1024;

/// Opens an ndjson or ndjson.gz file for line reading, checking that its first bytes are
/// what the name promises.
fn open_input(path: &Path) -> Result<(Format, Box<dyn BufRead + Send>), RecordError> {
    let format = Format::from_path(path);
    let mismatch = |expected: Format, found: &str| {
        RecordError::new(
            path,
            None,
            ErrorKind::FormatMismatch {
                expected: expected.as_str(),
                found: found.to_string(),
            },
        )
    };
    let read_err = |e| RecordError::new(path, None, ErrorKind::Read(e));
    let file = open_file(path)?;
    let mut plain = BufReader::with_capacity(READ_BUFFER, file);
    let (format, mut input): (Format, Box<dyn BufRead + Send>) = match format {
        Some(Format::NdjsonGz) => {
            let head = plain.fill_buf().map_err(read_err)?;
            if !head.is_empty() && !head.starts_with(&[0x1f, 0x8b]) {
                let found = sniff(head).unwrap_or("data that is not gzip-compressed");
                return Err(mismatch(Format::NdjsonGz, found));
            }
            let gz = MultiGzDecoder::new(plain);
            (
                Format::NdjsonGz,
                Box::new(BufReader::with_capacity(READ_BUFFER, gz)),
            )
        }
        Some(Format::Ndjson) => (Format::Ndjson, Box::new(plain)),
        _ => {
            return Err(mismatch(
                Format::Ndjson,
                "a file not named .ndjson or .ndjson.gz",
            ))
        }
    };
    let head = input.fill_buf().map_err(read_err)?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if let Some(&first) = head.iter().find(|b| !b.is_ascii_whitespace()) {
        if first != b'{' {
            let found = sniff(head).unwrap_or("data that does not start with a JSON object");
            return Err(mismatch(format, found));
        }
    }
    Ok((format, input))
}

/// Reads one line (without its line end) into `buf`; `Ok(false)` at the end of the input.
fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    if input.read_until(b'\n', buf)? == 0 {
        return Ok(false);
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(true)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Streams the records of one ndjson or ndjson.gz file, a line at a time.
pub struct NdjsonReader {
    path: PathBuf,
    format: Format,
    input: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    line_no: u64,
    done: bool,
}

impl NdjsonReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RecordError> {
        let path = path.as_ref();
        let (format, input) = open_input(path)?;
        Ok(NdjsonReader {
            path: path.to_path_buf(),
            format,
            input,
            buf: Vec::with_capacity(64 * 1024),
            line_no: 0,
            done: false,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }
}

impl Iterator for NdjsonReader {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match read_line(&mut *self.input, &mut self.buf) {
                Ok(false) => self.done = true,
                Ok(true) => {
                    self.line_no += 1;
                    let line = if self.line_no == 1 {
                        self.buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&self.buf)
                    } else {
                        &self.buf
                    };
                    if !is_blank(line) {
                        return Some(parse_line(line, self.line_no, &self.path));
                    }
                }
                Err(e) => {
                    self.done = true;
                    let loc = Some(Location::Line(self.line_no + 1));
                    return Some(Err(RecordError::new(&self.path, loc, ErrorKind::Read(e))));
                }
            }
        }
        None
    }
}

/// (1-based line number, start, end) of a line in a batch's buffer.
type LineSpan = (u64, usize, usize);

/// A run of consecutive non-blank lines of one file, kept in one buffer.
#[derive(Debug, Clone)]
pub struct LineBatch {
    path: Arc<Path>,
    buf: Vec<u8>,
    lines: Vec<LineSpan>,
}

impl LineBatch {
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn len(&self) -> usize {
        self.lines.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
    /// Bytes of line text held (line ends excluded).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }
    /// `(line number, line)` pairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.lines.iter().map(|&(n, a, b)| (n, &self.buf[a..b]))
    }
    /// Parses every line on this thread.
    pub fn parse(&self) -> Vec<Result<Record, RecordError>> {
        self.iter()
            .map(|(n, line)| parse_line(line, n, &self.path))
            .collect()
    }
    /// Parses the lines on rayon's thread pool; results stay in file order.
    pub fn parse_par(&self) -> Vec<Result<Record, RecordError>> {
        self.lines
            .par_iter()
            .map(|&(n, a, b)| parse_line(&self.buf[a..b], n, &self.path))
            .collect()
    }
    /// The lines in runs of `run_lines` (the last may be shorter), as `(line number, line)`
    /// pairs, for rayon: each run is parsed on one thread with one [`LineParser`], and
    /// `collect` keeps the runs' results in file order.
    pub fn par_runs(
        &self,
        run_lines: usize,
    ) -> impl IndexedParallelIterator<Item = impl ExactSizeIterator<Item = (u64, &[u8])> + Clone + '_> + '_
    {
        self.lines
            .par_chunks(run_lines.max(1))
            .map(|run| run.iter().map(|&(n, a, b)| (n, &self.buf[a..b])))
    }
}

/// Iterator of [`LineBatch`]es of about `batch_bytes` each; see [`read_lines_batched`].
pub struct LineBatches {
    path: Arc<Path>,
    input: Box<dyn BufRead + Send>,
    spare: Option<(Vec<u8>, Vec<LineSpan>)>,
    line_no: u64,
    batch_bytes: usize,
    done: bool,
}

/// Reads an ndjson or ndjson.gz file in batches of whole lines (about `batch_bytes` of text
/// each, at least one line), numbered, for parsing in parallel with
/// [`LineBatch::parse_par`] or [`parse_line`]. Blank lines are dropped. A read error ends
/// the iteration after being yielded.
pub fn read_lines_batched(
    path: impl AsRef<Path>,
    batch_bytes: usize,
) -> Result<LineBatches, RecordError> {
    let path = path.as_ref();
    let (_, input) = open_input(path)?;
    Ok(LineBatches {
        path: Arc::from(path),
        input,
        spare: None,
        line_no: 0,
        batch_bytes: batch_bytes.max(1),
        done: false,
    })
}

impl LineBatches {
    /// Hands a parsed batch back so that the next one reuses its buffers (optional; it
    /// spares the allocation and page faults of a fresh multi-megabyte buffer per batch).
    pub fn recycle(&mut self, mut batch: LineBatch) {
        batch.buf.clear();
        batch.lines.clear();
        self.spare = Some((batch.buf, batch.lines));
    }
}

impl Iterator for LineBatches {
    type Item = Result<LineBatch, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (buf, lines) = self
            .spare
            .take()
            .unwrap_or_else(|| (Vec::with_capacity(self.batch_bytes + 64 * 1024), Vec::new()));
        let mut batch = LineBatch {
            path: self.path.clone(),
            buf,
            lines,
        };
        while batch.buf.len() < self.batch_bytes {
            // lines are read straight into the batch buffer, then trimmed in place
            let start = batch.buf.len();
            match self.input.read_until(b'\n', &mut batch.buf) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => {
                    self.line_no += 1;
                    let mut end = batch.buf.len();
                    while end > start && matches!(batch.buf[end - 1], b'\n' | b'\r') {
                        end -= 1;
                    }
                    let mut first = start;
                    if self.line_no == 1 && batch.buf[start..end].starts_with(b"\xEF\xBB\xBF") {
                        first += 3;
                    }
                    if is_blank(&batch.buf[first..end]) {
                        batch.buf.truncate(start);
                    } else {
                        batch.buf.truncate(end);
                        batch.lines.push((self.line_no, first, end));
                    }
                }
                Err(e) => {
                    // the lines read so far are lost with the batch: the file is unreadable
                    // from here on anyway, and the error names where
                    self.done = true;
                    let loc = Some(Location::Line(self.line_no + 1));
                    return Some(Err(RecordError::new(&self.path, loc, ErrorKind::Read(e))));
                }
            }
        }
        (!batch.is_empty()).then_some(Ok(batch))
    }
}

/// Parses one ndjson line (without its line end) into a record. `line_no` (1-based) and
/// `path` only go into the record's location and into errors.
pub fn parse_line(line: &[u8], line_no: u64, path: &Path) -> Result<Record, RecordError> {
    thread_local! {
        static PARSER: RefCell<LineParser> = RefCell::new(LineParser::default());
    }
    PARSER.with_borrow_mut(|p| p.parse(line, line_no, path).map(|r| r.to_record()))
}

/// Parses ndjson lines into [`RecordRef`]s that borrow the line and the parser's buffers,
/// which it reuses from line to line: no allocation per drawing once the buffers have grown.
#[derive(Default)]
pub struct LineParser {
    scratch: Scratch,
    drawing: Stroke3,
    times: Vec<f64>,
    /// Off only in tests, to check that both paths give the same answer.
    serde_only: bool,
}

impl LineParser {
    /// Parses one line (without its line end); see [`parse_line`].
    pub fn parse<'s>(
        &'s mut self,
        line: &'s [u8],
        line_no: u64,
        path: &Path,
    ) -> Result<RecordRef<'s>, RecordError> {
        let loc = Location::Line(line_no);
        let err = |kind| RecordError::new(path, Some(loc.clone()), kind);
        let sc = &mut self.scratch;
        let fast = (!self.serde_only)
            .then(|| crate::fastline::parse(line, sc))
            .flatten();
        let (key_id, word, countrycode, timestamp, recognized, raw) = match fast {
            Some(f) => {
                let raw = f
                    .drawing
                    .then(|| build_drawing(sc.strokes(), &mut self.drawing, &mut self.times));
                (
                    f.key_id,
                    f.word,
                    f.countrycode,
                    f.timestamp,
                    f.recognized,
                    raw,
                )
            }
            // the serde path gives the precise error, or the record when the fast path
            // declined something unusual but valid
            None => {
                let f = serde_json::from_slice::<LineFields>(line)
                    .map_err(|e| err(ErrorKind::Json(e)))?;
                sc.clear();
                for (name, value) in f.labels.iter().flat_map(|l| &l.0) {
                    sc.labels.push(name, value);
                }
                let raw = f.drawing.as_ref().map(|d| {
                    build_drawing(
                        d.0.iter().map(JsonStroke::view),
                        &mut self.drawing,
                        &mut self.times,
                    )
                });
                (
                    f.key_id.map(|k| Cow::Owned(k.0)),
                    f.word.map(Cow::Owned),
                    f.countrycode.map(Cow::Owned),
                    f.timestamp.map(Cow::Owned),
                    f.recognized,
                    raw,
                )
            }
        };
        let key_id = key_id.ok_or_else(|| err(ErrorKind::Invalid("no \"key_id\" field".into())))?;
        let raw = raw
            .ok_or_else(|| err(ErrorKind::Invalid("no \"drawing\" field".into())))?
            .map_err(err)?;
        let timestamp = match timestamp {
            Some(ts) => match crate::parse_timestamp(&ts) {
                Some(us) => Some(us),
                None => return Err(err(ErrorKind::Timestamp(ts.into_owned()))),
            },
            None => None,
        };
        Ok(RecordRef {
            key_id,
            word,
            countrycode,
            recognized,
            timestamp,
            split: None,
            source: if raw { Source::Raw } else { Source::Simplified },
            drawing: &self.drawing,
            times: raw.then_some(self.times.as_slice()),
            labels: self.scratch.labels.as_slice(),
            location: loc,
        })
    }
}

/// Checks the strokes and turns them into stroke-3 rows in `out` (plus times for raw strokes,
/// in `times`); returns whether the strokes were raw.
fn build_drawing<'a>(
    strokes: impl Iterator<Item = StrokeRef<'a>> + Clone,
    out: &mut Stroke3,
    times: &mut Vec<f64>,
) -> Result<bool, ErrorKind> {
    let first = strokes.clone().next().ok_or(ErrorKind::EmptyDrawing)?.lists;
    let raw = first == 3;
    let mut total = 0;
    for (i, s) in strokes.clone().enumerate() {
        if !(2..=3).contains(&s.lists) {
            return Err(ErrorKind::StrokeLists {
                stroke: i,
                lists: s.lists,
            });
        }
        if s.lists != first {
            return Err(ErrorKind::MixedStrokes {
                stroke: i,
                lists: s.lists,
                first,
            });
        }
        let t_len = s.t.map(<[f64]>::len);
        if s.x.len() != s.y.len() || t_len.is_some_and(|t| t != s.x.len()) {
            return Err(ErrorKind::LengthMismatch {
                stroke: i,
                x: s.x.len(),
                y: s.y.len(),
                t: t_len,
            });
        }
        check_range(i, &s, raw)?;
        total += s.x.len();
    }
    if total == 0 {
        return Err(ErrorKind::EmptyDrawing);
    }
    // the rows `Stroke3::from_strokes` makes (a test holds the two equal), built straight
    // from the parse buffers to spare a vector per stroke; written by index into rows sized
    // once, so that the differences vectorise (pushed one by one, and each value's range
    // checked through a function pointer, the parse of 200k faces took 17% longer)
    for v in [&mut out.dx, &mut out.dy] {
        v.clear();
        v.resize(total, 0.0);
    }
    out.pen.clear();
    out.pen.resize(total, 0);
    times.clear();
    let (mut px, mut py, mut at) = (0f32, 0f32, 0);
    for s in strokes.filter(|s| !s.x.is_empty()) {
        let n = s.x.len();
        differences(s.x, px, &mut out.dx[at..at + n]);
        differences(s.y, py, &mut out.dy[at..at + n]);
        (px, py) = (s.x[n - 1], s.y[n - 1]);
        at += n;
        out.pen[at - 1] = 1;
        if let Some(t) = s.t {
            times.extend_from_slice(t);
        }
    }
    Ok(raw)
}

/// `out[k] = v[k] - v[k - 1]`, the value before `v[0]` being `before`.
fn differences(v: &[f32], before: f32, out: &mut [f32]) {
    out[0] = v[0] - before;
    for ((d, &b), &a) in out[1..].iter_mut().zip(&v[1..]).zip(v) {
        *d = b - a;
    }
}

fn check_range(stroke: usize, s: &StrokeRef, raw: bool) -> Result<(), ErrorKind> {
    fn simplified(v: f32) -> bool {
        (0.0..=255.0).contains(&v)
    }
    fn raw_range(v: f32) -> bool {
        v.abs() <= crate::RAW_COORD_LIMIT // false for NaN and the infinities too
    }
    /// The first value that is not `ok`: a branch-free pass over the list first (it
    /// vectorises), the position looked for only when there is one.
    fn first_bad(values: &[f32], ok: impl Fn(f32) -> bool) -> Option<usize> {
        if values.iter().fold(true, |all, &v| all & ok(v)) {
            return None;
        }
        values.iter().position(|&v| !ok(v))
    }
    for (axis, values) in [("x", s.x), ("y", s.y)] {
        let bad = if raw {
            first_bad(values, raw_range)
        } else {
            first_bad(values, simplified)
        };
        if let Some(point) = bad {
            return Err(ErrorKind::OutOfRange {
                stroke,
                point,
                axis,
                value: f64::from(values[point]),
                allowed: if raw {
                    "the raw range ±100000"
                } else {
                    "the simplified range 0–255"
                },
            });
        }
    }
    if let Some(t) = s.t {
        if let Some(point) = t.iter().position(|v| !v.is_finite()) {
            return Err(ErrorKind::OutOfRange {
                stroke,
                point,
                axis: "t",
                value: t[point],
                allowed: "finite values",
            });
        }
    }
    Ok(())
}

/// The fields of a line the pipeline keeps; any others are skipped.
#[derive(Deserialize)]
struct LineFields {
    word: Option<String>,
    countrycode: Option<String>,
    timestamp: Option<String>,
    recognized: Option<bool>,
    key_id: Option<KeyId>,
    drawing: Option<JsonDrawing>,
    labels: Option<Labels>,
}

/// `key_id` as a string, also accepted as a JSON integer.
struct KeyId(String);

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key_id string or integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyId, E> {
                Ok(KeyId(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyId, E> {
                Ok(KeyId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyId, E> {
                Ok(KeyId(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `drawing` array, parsed straight into per-stroke vectors (no `serde_json::Value`).
struct JsonDrawing(Vec<JsonStroke>);

/// One stroke as written: `lists` counts the lists seen, even those beyond the third.
struct JsonStroke {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub t: Option<Vec<f64>>,
    pub lists: usize,
}

impl JsonStroke {
    fn view(&self) -> StrokeRef<'_> {
        StrokeRef {
            x: &self.x,
            y: &self.y,
            t: self.t.as_deref(),
            lists: self.lists,
        }
    }
}

impl<'de> Deserialize<'de> for JsonDrawing {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonDrawing;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strokes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonDrawing, A::Error> {
                let mut strokes = Vec::with_capacity(seq.size_hint().unwrap_or(8));
                while let Some(s) = seq.next_element::<JsonStroke>()? {
                    strokes.push(s);
                }
                Ok(JsonDrawing(strokes))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for JsonStroke {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonStroke;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a stroke: [[x...], [y...]] or [[x...], [y...], [t...]]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonStroke, A::Error> {
                let mut s = JsonStroke {
                    x: Vec::new(),
                    y: Vec::new(),
                    t: None,
                    lists: 0,
                };
                loop {
                    let more = match s.lists {
                        0 => seq.next_element::<Vec<f32>>()?.map(|v| s.x = v),
                        1 => seq.next_element::<Vec<f32>>()?.map(|v| s.y = v),
                        2 => seq.next_element::<Vec<f64>>()?.map(|v| s.t = Some(v)),
                        // counted, so the caller can say how many lists there were
                        _ => seq.next_element::<IgnoredAny>()?.map(drop),
                    };
                    if more.is_none() {
                        return Ok(s);
                    }
                    s.lists += 1;
                }
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn parse(line: &str) -> Result<Record, RecordError> {
        parse_line(line.as_bytes(), 7, Path::new("t.ndjson"))
    }

    fn kind(line: &str) -> ErrorKind {
        let e = parse(line).unwrap_err();
        assert_eq!(e.location, Some(Location::Line(7)));
        assert!(e.to_string().starts_with("t.ndjson: line 7: "), "{e}");
        assert!(!e.is_fatal());
        e.kind
    }

    const SIMPLE: &str = r#"{"word":"face","countrycode":"CH","timestamp":"2017-03-19 15:52:39.229 UTC","recognized":true,"key_id":"5152530285723648","drawing":[[[10,20,30],[5,5,15]],[[0],[100]]]}"#;

    #[test]
    fn simplified_line() {
        let r = parse(SIMPLE).unwrap();
        assert_eq!(r.key_id, "5152530285723648");
        assert_eq!(r.word.as_deref(), Some("face"));
        assert_eq!(r.countrycode.as_deref(), Some("CH"));
        assert_eq!(r.recognized, Some(true));
        assert_eq!(r.timestamp, Some(1_489_938_759_229_000));
        assert_eq!(r.source, Source::Simplified);
        assert_eq!(r.times, None);
        assert_eq!(r.drawing.dx, vec![10.0, 10.0, 10.0, -30.0]);
        assert_eq!(r.drawing.dy, vec![5.0, 0.0, 10.0, 85.0]);
        assert_eq!(r.drawing.pen, vec![0, 0, 1, 1]);
        assert_eq!(r.location, Location::Line(7));
        assert!(r.labels.is_empty());
    }

    #[test]
    fn raw_line_keeps_times_and_fractions() {
        let r = parse(
            r#"{"word":"face","key_id":"1","drawing":[[[318.5,312],[-20,2755],[0,16]],[[1],[2],[40]]]}"#,
        )
        .unwrap();
        assert_eq!(r.source, Source::Raw);
        assert_eq!(r.times, Some(vec![0.0, 16.0, 40.0]));
        assert_eq!(r.drawing.dx, vec![318.5, -6.5, -311.0]);
        assert_eq!(r.drawing.pen, vec![0, 1, 1]);
        assert_eq!(r.countrycode, None);
        assert_eq!(r.timestamp, None);
    }

    #[test]
    fn spg_style_and_labels_and_numeric_key() {
        let r = parse(
            r#"{"word":"face","key_id":42,"drawing":[[[1,2],[3,4]]],"labels":{"mouth":"smile","eyes":2,"hair":true},"i":9}"#,
        )
        .unwrap();
        assert_eq!(r.key_id, "42");
        assert_eq!(r.recognized, None);
        assert_eq!(
            r.labels,
            vec![
                ("mouth".into(), "smile".into()),
                ("eyes".into(), "2".into()),
                ("hair".into(), "true".into())
            ]
        );
    }

    #[test]
    fn malformed_lines() {
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1],[2]]"#),
            ErrorKind::Json(_)
        ));
        assert!(matches!(kind("not json"), ErrorKind::Json(_)));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[["a"],[2]]]}"#),
            ErrorKind::Json(_)
        ));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1],[2]]],"labels":{"a":[1]}}"#),
            ErrorKind::Json(_)
        ));
        assert!(
            matches!(kind(r#"{"key_id":"1"}"#), ErrorKind::Invalid(m) if m.contains("drawing"))
        );
        assert!(
            matches!(kind(r#"{"drawing":[[[1],[2]]]}"#), ErrorKind::Invalid(m) if m.contains("key_id"))
        );
    }

    #[test]
    fn empty_drawings() {
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[]}"#),
            ErrorKind::EmptyDrawing
        ));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[],[]],[[],[]]]}"#),
            ErrorKind::EmptyDrawing
        ));
    }

    #[test]
    fn length_mismatches_and_list_counts() {
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1],[2]],[[1,2],[3]]]}"#),
            ErrorKind::LengthMismatch {
                stroke: 1,
                x: 2,
                y: 1,
                t: None
            }
        ));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1,2],[3,4],[0]]]}"#),
            ErrorKind::LengthMismatch {
                stroke: 0,
                x: 2,
                y: 2,
                t: Some(1)
            }
        ));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1],[2],[0],[5]]]}"#),
            ErrorKind::StrokeLists {
                stroke: 0,
                lists: 4
            }
        ));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1]]]}"#),
            ErrorKind::StrokeLists {
                stroke: 0,
                lists: 1
            }
        ));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1],[2],[0]],[[1],[2]]]}"#),
            ErrorKind::MixedStrokes {
                stroke: 1,
                lists: 2,
                first: 3
            }
        ));
    }

    #[test]
    fn coordinates_out_of_range() {
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1,256],[2,3]]]}"#),
            ErrorKind::OutOfRange {
                stroke: 0,
                point: 1,
                axis: "x",
                ..
            }
        ));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1],[2]],[[0],[-1]]]}"#),
            ErrorKind::OutOfRange {
                stroke: 1,
                point: 0,
                axis: "y",
                ..
            }
        ));
        // the first bad value of a long stroke, wherever it lies
        let xs: Vec<String> = (0..40).map(|k| (k * 6).to_string()).collect();
        let mut ys = xs.clone();
        ys[37] = "256".into();
        let line = format!(
            r#"{{"key_id":"1","drawing":[[[1],[2]],[[{}],[{}]]]}}"#,
            xs.join(","),
            ys.join(",")
        );
        assert!(matches!(
            kind(&line),
            ErrorKind::OutOfRange {
                stroke: 1,
                point: 37,
                axis: "y",
                ..
            }
        ));
        // raw allows canvas pixels, but not absurd values
        assert!(parse(r#"{"key_id":"1","drawing":[[[-1013,2755.5],[2,3],[0,1]]]}"#).is_ok());
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1],[2e6],[0]]]}"#),
            ErrorKind::OutOfRange { axis: "y", .. }
        ));
        assert!(matches!(
            kind(r#"{"key_id":"1","drawing":[[[1e39],[2],[0]]]}"#),
            ErrorKind::OutOfRange { axis: "x", .. }
        ));
    }

    #[test]
    fn bad_timestamp() {
        let line = SIMPLE.replace("2017-03-19 15:52:39.229 UTC", "last tuesday");
        assert!(matches!(kind(&line), ErrorKind::Timestamp(t) if t == "last tuesday"));
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn file_text() -> String {
        // blank line, a bad line, and no final newline (as the raw samples end)
        format!("{SIMPLE}\n\n{{\"key_id\":\"2\",\"drawing\":[]}}\r\n{SIMPLE}")
    }

    #[test]
    fn reader_continues_after_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("a.ndjson", file_text().into_bytes()),
            ("a.ndjson.gz", gz(file_text().as_bytes())),
        ] {
            let p = write(dir.path(), name, &bytes);
            let out: Vec<_> = NdjsonReader::open(&p).unwrap().collect();
            assert_eq!(out.len(), 3, "{name}");
            assert!(out[0].is_ok());
            let e = out[1].as_ref().unwrap_err();
            assert_eq!(e.location, Some(Location::Line(3)));
            assert!(matches!(e.kind, ErrorKind::EmptyDrawing));
            assert_eq!(out[2].as_ref().unwrap().location, Location::Line(4));
        }
    }

    #[test]
    fn batches_match_the_sequential_reader() {
        let dir = tempfile::tempdir().unwrap();
        let text: String =
            (0..50).map(|_| format!("{SIMPLE}\n")).collect::<String>() + &file_text();
        let p = write(dir.path(), "b.ndjson", text.as_bytes());
        let seq: Vec<_> = NdjsonReader::open(&p)
            .unwrap()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        let batches: Vec<_> = read_lines_batched(&p, 1000)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // recycling buffers changes nothing
        let mut it = read_lines_batched(&p, 1000).unwrap();
        let mut recycled = Vec::new();
        while let Some(b) = it.next() {
            let b = b.unwrap();
            recycled.extend(b.parse().into_iter().map(|r| r.map_err(|e| e.to_string())));
            it.recycle(b);
        }
        assert!(batches.len() > 3, "small batches: {}", batches.len());
        let par: Vec<_> = batches
            .iter()
            .flat_map(LineBatch::parse_par)
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        assert_eq!(seq, par);
        assert_eq!(seq, recycled);
        assert_eq!(par.len(), 53);
    }

    #[test]
    fn content_must_match_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "x.ndjson", &gz(SIMPLE.as_bytes()));
        let e = NdjsonReader::open(&p).err().unwrap();
        assert!(
            matches!(e.kind, ErrorKind::FormatMismatch { ref found, .. } if found == "gzip data"),
            "{e}"
        );
        let p = write(dir.path(), "y.ndjson.gz", SIMPLE.as_bytes());
        let e = NdjsonReader::open(&p).err().unwrap();
        assert!(matches!(e.kind, ErrorKind::FormatMismatch { .. }), "{e}");
        let p = write(
            dir.path(),
            "z.ndjson",
            &[0, 0, 96, 241, 50, 78, 18, 0, 67, 72],
        );
        let e = NdjsonReader::open(&p).err().unwrap();
        assert!(e.to_string().contains("z.ndjson"), "{e}");
        assert!(matches!(e.kind, ErrorKind::FormatMismatch { .. }));
        let e = NdjsonReader::open(dir.path().join("missing.ndjson"))
            .err()
            .unwrap();
        assert!(matches!(e.kind, ErrorKind::Open(_)));
        assert!(e.to_string().contains("missing.ndjson"), "{e}");
    }

    #[test]
    fn corrupt_gzip_is_a_fatal_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..2000)
            .map(|i| SIMPLE.replace("5152530285723648", &i.to_string()) + "\n")
            .collect();
        let mut bytes = gz(text.as_bytes());
        let n = bytes.len();
        bytes.truncate(n / 2);
        let p = write(dir.path(), "c.ndjson.gz", &bytes);
        let out: Vec<_> = NdjsonReader::open(&p).unwrap().collect();
        let last = out.last().unwrap().as_ref().unwrap_err();
        assert!(last.is_fatal());
        assert!(matches!(last.kind, ErrorKind::Read(_)), "{last}");
        assert!(out[..out.len() - 1].iter().all(Result::is_ok));
    }

    /// The fast path and serde agree on every line: inline edge cases and, when present,
    /// every real sample line.
    #[test]
    fn fast_path_agrees_with_serde() {
        let mut lines: Vec<Vec<u8>> = [
            SIMPLE,
            r#"{"word":"f\u00e4ce","key_id":12,"drawing":[[[1,2.25],[3,4],[0,1e1]]],"labels":{"m":"s"}}"#,
            r#"{"key_id":"1","drawing":[[[1,],[2]]]}"#,
            r#"{"key_id":"1","drawing":[[[300],[2]]]}"#,
            r#"{"key_id":"1","drawing":[[[1],[2]]],"word":null,"recognized":null}"#,
            r#"{"key_id":"1","key_id":"1","drawing":[[[1],[2]]]}"#,
            r#"{"key_id":"1","drawing":[[[1.5e-3],[2]],[[0.1],[0.2]]]}"#,
            r#"{}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        // bytes that are not UTF-8, in a value the record skips and in one it keeps
        lines.push(b"{\"key_id\":\"1\",\"drawing\":[[[1],[2]]],\"z\":\"\xff\"}".to_vec());
        lines.push(b"{\"key_id\":\"1\",\"drawing\":[[[1],[2]]],\"word\":\"f\xc3\"}".to_vec());
        lines.push(br#"{"key_id":"7","drawing":[[[1,22,133,4],[5,66,177,8]],[[9,10],[11,12]]],"labels":{"eyes":"dots"},"recognized":false}"#.to_vec());
        // and mutants of them (a byte replaced by one the parser cares about, dropped or
        // doubled), so that the two paths meet lines nobody wrote by hand
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds = lines.clone();
        const BYTES: &[u8] = b"0123456789,[]{}\":-.eE \\nt\xff\xc3";
        for _ in 0..4000 {
            let mut line = seeds[next() as usize % seeds.len()].clone();
            for _ in 0..1 + next() % 3 {
                if line.is_empty() {
                    break;
                }
                let at = next() as usize % line.len();
                match next() % 3 {
                    0 => line[at] = BYTES[next() as usize % BYTES.len()],
                    1 => {
                        line.remove(at);
                    }
                    _ => line.insert(at, line[at]),
                }
            }
            lines.push(line);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/quickdraw");
        for f in [
            "simplified/eye.ndjson",
            "spg/face.ndjson",
            "raw/first_chunk/face.ndjson.gz",
        ] {
            let Ok(file) = std::fs::File::open(root.join(f)) else {
                continue;
            };
            let r: Box<dyn std::io::Read> = if f.ends_with(".gz") {
                Box::new(MultiGzDecoder::new(file))
            } else {
                Box::new(file)
            };
            lines.extend(BufReader::new(r).split(b'\n').map(Result::unwrap));
        }
        let p = Path::new("t.ndjson");
        // one parser per path, reused over all the lines, as ingest uses them: buffers left
        // from a longer line must not leak into the next
        let mut fast = LineParser::default();
        let mut serde = LineParser {
            serde_only: true,
            ..Default::default()
        };
        for (i, line) in lines.iter().enumerate() {
            let a = fast.parse(line, 1, p).map(|r| r.to_record());
            let b = serde.parse(line, 1, p).map(|r| r.to_record());
            let (a, b) = (a.map_err(|e| e.to_string()), b.map_err(|e| e.to_string()));
            match (&a, &b) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "line {i}"),
                (Err(_), Err(_)) => assert_eq!(a, b, "line {i}"),
                _ => panic!("line {i}: fast {a:?} vs serde {b:?}"),
            }
        }
        assert!(!root.is_dir() || lines.len() > 8);
    }

    #[test]
    fn rows_match_stroke3_from_strokes() {
        use drawing::Stroke;
        let r = parse(r#"{"key_id":"1","drawing":[[[],[]],[[10,20,30],[5,5,15]],[[0],[100]],[[],[]],[[50,60],[50,40]]]}"#)
            .unwrap();
        let strokes = [
            Stroke::default(),
            Stroke::new(vec![10.0, 20.0, 30.0], vec![5.0, 5.0, 15.0]),
            Stroke::new(vec![0.0], vec![100.0]),
            Stroke::default(),
            Stroke::new(vec![50.0, 60.0], vec![50.0, 40.0]),
        ];
        assert_eq!(r.drawing, Stroke3::from_strokes(&strokes));
        let raw =
            parse(r#"{"key_id":"1","drawing":[[[1,2],[3,4],[0,5]],[[],[],[]],[[7],[8],[9]]]}"#)
                .unwrap();
        assert_eq!(raw.times, Some(vec![0.0, 5.0, 9.0]));
        assert_eq!(raw.drawing.len(), 3);
    }
}
