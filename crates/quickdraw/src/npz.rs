//! sketch-rnn `.npz` files: a zip of `.npy` members, each an object array of `(n, 3)` integer
//! arrays of stroke-3 rows `[dx, dy, pen]` (pen = 1: the pen lifts after this point).
//!
//! Canonical files hold `train`, `valid` and `test` members (the member gives the record's
//! split); some re-saved files hold one `sketches` member (split `None`). They are read in the
//! order train, valid, test, sketches; other members (e.g. `pix_count`) are ignored. Records
//! get the key `"<file stem>:<member>:<index>"` since the format has no key_id.
//!
//! Members are decompressed and decoded as a stream (see the `pickle` module), one drawing at
//! a time, and each member's CRC is checked once it has been read to its end.

use crate::pickle::{Decoder, Event, Leaf, PickleError};
use crate::{open_file, sniff, ErrorKind, Format, Location, Record, RecordError, Source, Split};
use drawing::Stroke3;
use flate2::read::DeflateDecoder;
use flate2::CrcReader;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The members read, in reading order, with the split each stands for.
const MEMBERS: [(&str, Option<Split>); 4] = [
    ("train", Some(Split::Train)),
    ("valid", Some(Split::Valid)),
    ("test", Some(Split::Test)),
    ("sketches", None),
];

#[derive(Debug, Clone)]
struct Member {
    name: &'static str,
    split: Option<Split>,
    data_start: u64,
    compressed: u64,
    size: u64,
    crc: u32,
    deflated: bool,
}

type MemberStream = BufReader<CrcReader<Box<dyn Read + Send>>>;

struct Current {
    member: Member,
    decoder: Decoder<MemberStream>,
    /// Bytes of npy header before the pickle, to report offsets within the member.
    header_len: u64,
    /// Drawings the npy header announces.
    expected: u64,
    index: u64,
}

/// Streams the drawings of one `.npz` file.
pub struct NpzReader {
    path: PathBuf,
    stem: String,
    pending: std::vec::IntoIter<Member>,
    current: Option<Current>,
    done: bool,
}

impl NpzReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RecordError> {
        let path = path.as_ref();
        let err = |kind| RecordError::new(path, None, kind);
        let mut file = open_file(path)?;
        let mut head = [0u8; 8];
        let n = read_up_to(&mut file, &mut head).map_err(|e| err(ErrorKind::Read(e)))?;
        if !head[..n].starts_with(b"PK") {
            return Err(err(ErrorKind::FormatMismatch {
                expected: Format::Npz.as_str(),
                found: sniff(&head[..n])
                    .unwrap_or("data that is not a zip archive")
                    .to_string(),
            }));
        }
        file.rewind().map_err(|e| err(ErrorKind::Read(e)))?;
        let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
            err(ErrorKind::Npy(format!(
                "cannot read the zip directory: {e}"
            )))
        })?;
        let mut members = Vec::new();
        for (name, split) in MEMBERS {
            let entry = match archive.by_name(&format!("{name}.npy")) {
                Ok(entry) => entry,
                Err(zip::result::ZipError::FileNotFound) => continue,
                Err(e) => return Err(err(ErrorKind::Npy(format!("member {name}.npy: {e}")))),
            };
            let deflated = match entry.compression() {
                zip::CompressionMethod::Stored => false,
                zip::CompressionMethod::Deflated => true,
                other => {
                    return Err(err(ErrorKind::Npy(format!(
                        "member {name}.npy uses compression {other:?}; only stored and deflated are read"
                    ))))
                }
            };
            members.push(Member {
                name,
                split,
                data_start: entry.data_start().ok_or_else(|| {
                    err(ErrorKind::Npy(format!("member {name}.npy: no data offset")))
                })?,
                compressed: entry.compressed_size(),
                size: entry.size(),
                crc: entry.crc32(),
                deflated,
            });
        }
        if members.is_empty() {
            let names: Vec<String> = archive
                .file_names()
                .filter_map(Result::ok)
                .map(|n| n.into_owned())
                .collect();
            return Err(err(ErrorKind::NpzMissingArrays(names.join(", "))));
        }
        let stem = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let stem = stem.strip_suffix(".npz").unwrap_or(&stem).to_string();
        Ok(NpzReader {
            path: path.to_path_buf(),
            stem,
            pending: members.into_iter(),
            current: None,
            done: false,
        })
    }

    /// The splits (members) this file holds, in reading order.
    pub fn members(&self) -> Vec<&'static str> {
        let cur = self.current.iter().map(|c| c.member.name);
        cur.chain(self.pending.as_slice().iter().map(|m| m.name))
            .collect()
    }

    fn open_member(&self, m: Member) -> Result<Current, RecordError> {
        let at = |offset| {
            Some(Location::Offset {
                member: Some(m.name),
                offset,
            })
        };
        let mut file = open_file(&self.path)?;
        file.seek(SeekFrom::Start(m.data_start))
            .map_err(|e| RecordError::new(&self.path, at(0), ErrorKind::Read(e)))?;
        let raw = file.take(m.compressed);
        let inner: Box<dyn Read + Send> = if m.deflated {
            Box::new(DeflateDecoder::new(BufReader::new(raw)))
        } else {
            Box::new(raw)
        };
        let mut stream = BufReader::with_capacity(256 * 1024, CrcReader::new(inner));
        let header = read_npy_header(&mut stream)
            .map_err(|(offset, kind)| RecordError::new(&self.path, at(offset), kind))?;
        let npy_err = |msg: String| RecordError::new(&self.path, at(0), ErrorKind::Npy(msg));
        if header.descr != "|O" {
            return Err(npy_err(format!(
                "member {}.npy holds an array of dtype {:?}, not an object array of drawings",
                m.name, header.descr
            )));
        }
        let [expected] = header.shape[..] else {
            return Err(npy_err(format!(
                "member {}.npy has shape {:?}, not a list of drawings",
                m.name, header.shape
            )));
        };
        Ok(Current {
            member: m,
            decoder: Decoder::new(stream),
            header_len: header.len,
            expected: expected as u64,
            index: 0,
        })
    }

    /// Checks the member's length and CRC after its pickle has ended.
    fn finish_member(&self, cur: Current, count: usize) -> Result<(), RecordError> {
        let m = &cur.member;
        let at = Some(Location::Offset {
            member: Some(m.name),
            offset: 0,
        });
        let npy_err = |msg: String| RecordError::new(&self.path, at.clone(), ErrorKind::Npy(msg));
        if count as u64 != cur.expected {
            return Err(npy_err(format!(
                "member {}.npy announces {} drawings but holds {count}",
                m.name, cur.expected
            )));
        }
        let mut stream = cur.decoder.into_inner();
        std::io::copy(&mut stream, &mut std::io::sink())
            .map_err(|e| RecordError::new(&self.path, at.clone(), ErrorKind::Read(e)))?;
        let crc = stream.get_ref().crc();
        // `amount` counts modulo 2^32
        if crc.sum() != m.crc || crc.amount() != m.size as u32 {
            return Err(npy_err(format!(
                "member {}.npy is damaged: CRC or length differs from the zip directory's",
                m.name
            )));
        }
        Ok(())
    }

    fn record(&self, cur: &Current, index: u64, leaf: Leaf) -> Result<Record, RecordError> {
        let location = Location::Array {
            member: cur.member.name,
            index,
        };
        let drawing = leaf_to_stroke3(&leaf)
            .map_err(|k| RecordError::new(&self.path, Some(location.clone()), k))?;
        Ok(Record {
            key_id: format!("{}:{}:{index}", self.stem, cur.member.name),
            word: None,
            countrycode: None,
            recognized: None,
            timestamp: None,
            split: cur.member.split,
            source: Source::SketchRnn,
            drawing,
            times: None,
            labels: Vec::new(),
            location,
        })
    }
}

impl Iterator for NpzReader {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some(cur) = self.current.as_mut() else {
                match self.pending.next() {
                    None => self.done = true,
                    Some(m) => match self.open_member(m) {
                        Ok(c) => self.current = Some(c),
                        Err(e) => {
                            self.done = true;
                            return Some(Err(e));
                        }
                    },
                }
                continue;
            };
            match cur.decoder.next_event() {
                Ok(Event::Leaf(leaf)) => {
                    let index = cur.index;
                    cur.index += 1;
                    let cur = self.current.as_ref().expect("current member");
                    return Some(self.record(cur, index, leaf));
                }
                Ok(Event::End(count)) => {
                    let cur = self.current.take().expect("current member");
                    if let Err(e) = self.finish_member(cur, count) {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                Err(PickleError {
                    offset,
                    message,
                    io,
                }) => {
                    self.done = true;
                    let loc = Location::Offset {
                        member: Some(cur.member.name),
                        offset: cur.header_len + offset,
                    };
                    let kind = match io {
                        Some(e) => ErrorKind::Read(e),
                        None => ErrorKind::Pickle(message),
                    };
                    return Some(Err(RecordError::new(&self.path, Some(loc), kind)));
                }
            }
        }
        None
    }
}

/// A stroke-3 drawing from a `(n, 3)` array of `[dx, dy, pen]` rows.
fn leaf_to_stroke3(leaf: &Leaf) -> Result<Stroke3, ErrorKind> {
    let [n, 3] = leaf.shape[..] else {
        return Err(ErrorKind::Invalid(format!(
            "a drawing of shape {:?}, expected (n, 3) rows of [dx, dy, pen]",
            leaf.shape
        )));
    };
    if n == 0 {
        return Err(ErrorKind::EmptyDrawing);
    }
    let at = |row: usize, col: usize| {
        let i = if leaf.fortran {
            col * n + row
        } else {
            row * 3 + col
        };
        leaf.dtype.get(&leaf.data, i)
    };
    let mut out = Stroke3::with_capacity(n);
    for row in 0..n {
        let (Some(dx), Some(dy), Some(pen)) = (at(row, 0), at(row, 1), at(row, 2)) else {
            return Err(ErrorKind::Invalid(format!(
                "a drawing of dtype {}{}, not numbers",
                char::from(leaf.dtype.kind),
                leaf.dtype.size
            )));
        };
        if !(dx.is_finite() && dy.is_finite()) {
            return Err(ErrorKind::Invalid(format!(
                "row {row}: offset ({dx}, {dy})"
            )));
        }
        if pen != 0.0 && pen != 1.0 {
            return Err(ErrorKind::Invalid(format!(
                "row {row}: pen is {pen}, expected 0 or 1"
            )));
        }
        out.dx.push(dx as f32);
        out.dy.push(dy as f32);
        out.pen.push(pen as u8);
    }
    Ok(out)
}

struct NpyHeader {
    descr: String,
    shape: Vec<usize>,
    /// Bytes from the member's start to the array data.
    len: u64,
}

/// Reads the `.npy` preamble: magic, version, and the Python-dict header.
fn read_npy_header(r: &mut impl BufRead) -> Result<NpyHeader, (u64, ErrorKind)> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => (
            0,
            ErrorKind::Npy("the member ends inside its header".into()),
        ),
        _ => (0, ErrorKind::Read(e)),
    };
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre).map_err(io)?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err((
            0,
            ErrorKind::Npy("the member is not a .npy array (no \\x93NUMPY magic)".into()),
        ));
    }
    let (hlen, fixed) = match pre[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).map_err(io)?;
            (u64::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(io)?;
            (u64::from(u32::from_le_bytes(b)), 12)
        }
        v => return Err((6, ErrorKind::Npy(format!("unknown .npy version {v}")))),
    };
    if hlen > 1 << 20 {
        return Err((8, ErrorKind::Npy(format!("a header of {hlen} bytes"))));
    }
    let mut text = vec![0u8; hlen as usize];
    r.read_exact(&mut text).map_err(io)?;
    let text = String::from_utf8_lossy(&text);
    let bad = |what: &str| (fixed, ErrorKind::Npy(format!("header {text:?}: {what}")));
    let value = |key: &str| {
        let at = text.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = value("descr")
        .and_then(|v| {
            let q = v.chars().next().filter(|c| *c == '\'' || *c == '"')?;
            let end = v[1..].find(q)?;
            Some(v[1..1 + end].to_string())
        })
        .ok_or_else(|| bad("no 'descr' string"))?;
    let shape = value("shape")
        .and_then(|v| {
            let inner = v.strip_prefix('(')?;
            let inner = &inner[..inner.find(')')?];
            inner
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_end_matches('L').parse::<usize>().ok())
                .collect::<Option<Vec<usize>>>()
        })
        .ok_or_else(|| bad("no 'shape' tuple"))?;
    Ok(NpyHeader {
        descr,
        shape,
        len: fixed + hlen,
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::npy;
    use crate::pickle::tests::numpy_pickle;

    fn drawings(n: usize) -> Vec<Vec<[i16; 3]>> {
        (0..n)
            .map(|i| vec![[i as i16, -5, 0], [3, 4, 1], [-1, 2, 1]])
            .collect()
    }

    /// Writes the fuzz module's in-memory `.npz` of these members to `path`.
    fn npz(path: &Path, members: &[(&str, Vec<u8>)], deflate: bool) {
        std::fs::write(path, crate::fuzz::npz(members, deflate)).unwrap();
    }

    #[test]
    fn canonical_splits_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sheep.npz");
        let member = |n, py3| npy(&numpy_pickle(&drawings(n), py3), n, "|O");
        npz(
            &p,
            &[
                ("valid.npy", member(2, false)),
                ("train.npy", member(3, true)),
                ("test.npy", member(1, false)),
            ],
            true,
        );
        let r = NpzReader::open(&p).unwrap();
        assert_eq!(r.members(), vec!["train", "valid", "test"]);
        let recs: Vec<Record> = r.map(Result::unwrap).collect();
        assert_eq!(recs.len(), 6);
        let splits: Vec<_> = recs.iter().map(|r| r.split).collect();
        use Split::*;
        assert_eq!(
            splits,
            [
                Some(Train),
                Some(Train),
                Some(Train),
                Some(Valid),
                Some(Valid),
                Some(Test)
            ]
        );
        assert_eq!(recs[2].key_id, "sheep:train:2");
        assert_eq!(
            recs[4].location,
            Location::Array {
                member: "valid",
                index: 1
            }
        );
        assert_eq!(recs[2].drawing.dx, vec![2.0, 3.0, -1.0]);
        assert_eq!(recs[2].drawing.dy, vec![-5.0, 4.0, 2.0]);
        assert_eq!(recs[2].drawing.pen, vec![0, 1, 1]);
        assert_eq!(recs[0].source, Source::SketchRnn);
    }

    #[test]
    fn single_sketches_member_has_no_split() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("face_x.npz");
        let pix = npy(&[0u8; 16], 2, "<f8");
        npz(
            &p,
            &[
                (
                    "sketches.npy",
                    npy(&numpy_pickle(&drawings(2), true), 2, "|O"),
                ),
                ("pix_count.npy", pix),
            ],
            false,
        );
        let recs: Vec<Record> = NpzReader::open(&p).unwrap().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 2);
        assert!(recs.iter().all(|r| r.split.is_none()));
        assert_eq!(recs[1].key_id, "face_x:sketches:1");
    }

    #[test]
    fn npz_without_the_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("other.npz");
        npz(&p, &[("pix_count.npy", npy(&[0u8; 8], 1, "<f8"))], false);
        let e = NpzReader::open(&p).err().unwrap();
        assert!(
            matches!(e.kind, ErrorKind::NpzMissingArrays(ref m) if m == "pix_count.npy"),
            "{e}"
        );
        assert!(e.to_string().contains("other.npz"));
    }

    #[test]
    fn wrong_content_and_wrong_member_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.npz");
        std::fs::write(&p, b"{\"word\": \"face\"}\n").unwrap();
        let e = NpzReader::open(&p).err().unwrap();
        assert!(
            matches!(e.kind, ErrorKind::FormatMismatch { ref found, .. } if found == "JSON text"),
            "{e}"
        );
        let p = dir.path().join("n.npz");
        npz(&p, &[("train.npy", npy(&[0u8; 8], 1, "<f8"))], false);
        let out: Vec<_> = NpzReader::open(&p).unwrap().collect();
        assert_eq!(out.len(), 1);
        let e = out[0].as_ref().unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::Npy(ref m) if m.contains("<f8")),
            "{e}"
        );
        assert!(e.to_string().contains("train.npy"), "{e}");
        assert!(NpzReader::open(dir.path().join("absent.npz")).is_err());
    }

    #[test]
    fn bad_drawings_are_skipped_and_damage_is_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut ds = drawings(3);
        ds[1][0][2] = 5; // pen neither 0 nor 1
        let p = dir.path().join("b.npz");
        npz(
            &p,
            &[("test.npy", npy(&numpy_pickle(&ds, false), 3, "|O"))],
            false,
        );
        let out: Vec<_> = NpzReader::open(&p).unwrap().collect();
        assert_eq!(out.len(), 3);
        let e = out[1].as_ref().unwrap_err();
        assert!(!e.is_fatal());
        assert_eq!(
            e.location,
            Some(Location::Array {
                member: "test",
                index: 1
            })
        );
        assert!(out[2].is_ok());

        // header promises more drawings than the pickle holds
        npz(
            &p,
            &[("test.npy", npy(&numpy_pickle(&drawings(2), false), 5, "|O"))],
            false,
        );
        let out: Vec<_> = NpzReader::open(&p).unwrap().collect();
        assert!(out
            .last()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("announces 5"));

        // a flipped byte in a stored member: the pickle may still decode, the CRC does not match
        let good = npy(&numpy_pickle(&drawings(3), false), 3, "|O");
        npz(&p, &[("test.npy", good.clone())], false);
        let mut bytes = std::fs::read(&p).unwrap();
        let at = bytes.windows(4).position(|w| w == [3, 0, 4, 0]).unwrap();
        bytes[at] ^= 0x10;
        std::fs::write(&p, &bytes).unwrap();
        let out: Vec<_> = NpzReader::open(&p).unwrap().collect();
        let e = out.last().unwrap().as_ref().unwrap_err();
        assert!(e.is_fatal());
        assert!(e.to_string().contains("damaged"), "{e}");

        // a truncated pickle
        let cut = good[..good.len() - 30].to_vec();
        npz(&p, &[("test.npy", cut)], true);
        let out: Vec<_> = NpzReader::open(&p).unwrap().collect();
        let e = out.last().unwrap().as_ref().unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::Pickle(ref m) if m.contains("ends early")),
            "{e}"
        );
    }
}
