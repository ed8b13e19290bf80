//! Google's binary drawing files (`full_binary_<category>.bin`), as read by the data set's
//! `examples/binary_file_parser.py`: consecutive little-endian records of
//!
//! ```text
//! key_id u64 | countrycode 2 bytes | recognized u8 | timestamp u32 (Unix seconds) | n_strokes u16
//! then per stroke: n_points u16 | x: n_points × u8 | y: n_points × u8
//! ```
//!
//! Records have no separators, so a truncated file cannot be resynchronised: the reader
//! reports where it ended and stops. Other bad records (no points, a `recognized` byte that
//! is not 0 or 1, a non-ASCII country code) are reported and skipped.

use crate::{open_file, sniff, ErrorKind, Format, Location, Record, RecordError, Source};
use drawing::{Stroke, Stroke3};
use std::io::{BufRead, BufReader, ErrorKind as IoKind, Read};
use std::path::{Path, PathBuf};

/// Streams the records of one `.bin` file.
pub struct BinReader {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    /// Bytes consumed so far: the offset of the next record.
    offset: u64,
    index: u64,
    done: bool,
}

impl BinReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RecordError> {
        let path = path.as_ref();
        let mut input = BufReader::with_capacity(256 * 1024, open_file(path)?);
        let head = input
            .fill_buf()
            .map_err(|e| RecordError::new(path, None, ErrorKind::Read(e)))?;
        // key_ids are random, so a real file may start with any two bytes; only a header
        // whose `recognized` byte (offset 10) is not 0 or 1 is surely another format
        let header_valid = head.len() >= 17 && head[10] <= 1;
        if let Some(found) = sniff(head).filter(|_| !header_valid) {
            let kind = ErrorKind::FormatMismatch {
                expected: Format::Bin.as_str(),
                found: found.to_string(),
            };
            return Err(RecordError::new(path, None, kind));
        }
        Ok(Self::from_reader(path, Box::new(input)))
    }

    /// Reads records from any byte stream; `path` only names it in errors.
    pub fn from_reader(path: &Path, input: Box<dyn BufRead + Send>) -> Self {
        BinReader {
            path: path.to_path_buf(),
            input,
            offset: 0,
            index: 0,
            done: false,
        }
    }

    /// Fills `buf` or explains how far it got.
    fn take(&mut self, buf: &mut [u8], what: &str) -> Result<(), ErrorKind> {
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(ErrorKind::Truncated(format!(
                        "the file ends at byte {} inside the {what}, {} of {} bytes read",
                        self.offset + got as u64,
                        got,
                        buf.len()
                    )))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => return Err(ErrorKind::Read(e)),
            }
        }
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn read_record(&mut self) -> Result<Record, ErrorKind> {
        let mut head = [0u8; 17];
        self.take(&mut head, "record header")?;
        let key_id = u64::from_le_bytes(head[0..8].try_into().expect("8 bytes"));
        let cc = &head[8..10];
        let recognized = head[10];
        let timestamp = u32::from_le_bytes(head[11..15].try_into().expect("4 bytes"));
        let n_strokes = u16::from_le_bytes([head[15], head[16]]);
        let mut strokes = Vec::with_capacity(usize::from(n_strokes));
        let mut xy = Vec::new();
        for s in 0..n_strokes {
            let mut n = [0u8; 2];
            self.take(&mut n, &format!("point count of stroke {s}"))?;
            let n = usize::from(u16::from_le_bytes(n));
            xy.resize(2 * n, 0);
            self.take(&mut xy, &format!("points of stroke {s}"))?;
            strokes.push(Stroke {
                x: xy[..n].iter().map(|&v| f32::from(v)).collect(),
                y: xy[n..].iter().map(|&v| f32::from(v)).collect(),
            });
        }
        // the record is fully read: errors from here on leave the stream in step
        if recognized > 1 {
            return Err(ErrorKind::Invalid(format!(
                "recognized byte is {recognized}, expected 0 or 1"
            )));
        }
        let countrycode = match cc {
            [0, 0] => None,
            _ if cc.iter().all(|b| b.is_ascii_alphanumeric() || *b == 0) => Some(
                cc.iter()
                    .filter(|&&b| b != 0)
                    .map(|&b| char::from(b))
                    .collect(),
            ),
            _ => {
                return Err(ErrorKind::Invalid(format!(
                    "country code bytes {cc:?} are not ASCII letters"
                )))
            }
        };
        let drawing = Stroke3::from_strokes(&strokes);
        if drawing.is_empty() {
            return Err(ErrorKind::EmptyDrawing);
        }
        Ok(Record {
            key_id: key_id.to_string(),
            word: None,
            countrycode,
            recognized: Some(recognized == 1),
            timestamp: Some(i64::from(timestamp) * 1_000_000),
            split: None,
            source: Source::Binary,
            drawing,
            times: None,
            labels: Vec::new(),
            location: Location::Record {
                index: 0,
                offset: 0,
            },
        })
    }
}

impl Iterator for BinReader {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.input.fill_buf() {
            Ok([]) => {
                self.done = true;
                return None;
            }
            Ok(_) => {}
            Err(e) => {
                self.done = true;
                let loc = Location::Offset {
                    member: None,
                    offset: self.offset,
                };
                return Some(Err(RecordError::new(
                    &self.path,
                    Some(loc),
                    ErrorKind::Read(e),
                )));
            }
        }
        let loc = Location::Record {
            index: self.index,
            offset: self.offset,
        };
        self.index += 1;
        let out = self.read_record().map_err(|kind| {
            let e = RecordError::new(&self.path, Some(loc.clone()), kind);
            self.done = e.is_fatal();
            e
        });
        Some(out.map(|mut r| {
            r.location = loc;
            r
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes one record the way Google's files do.
    pub(crate) fn encode(
        key: u64,
        cc: &[u8; 2],
        rec: u8,
        ts: u32,
        strokes: &[(&[u8], &[u8])],
    ) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(key.to_le_bytes());
        b.extend(cc);
        b.push(rec);
        b.extend(ts.to_le_bytes());
        b.extend((strokes.len() as u16).to_le_bytes());
        for (x, y) in strokes {
            b.extend((x.len() as u16).to_le_bytes());
            b.extend(*x);
            b.extend(*y);
        }
        b
    }

    fn read(bytes: Vec<u8>) -> Vec<Result<Record, RecordError>> {
        BinReader::from_reader(Path::new("f.bin"), Box::new(std::io::Cursor::new(bytes))).collect()
    }

    #[test]
    fn reads_records() {
        let mut b = encode(
            5152530285723648,
            b"CH",
            1,
            1489938759,
            &[(&[10, 20, 30], &[5, 5, 15]), (&[0], &[100])],
        );
        let second = b.len() as u64;
        b.extend(encode(7, b"US", 0, 0, &[(&[255], &[0])]));
        let out = read(b);
        assert_eq!(out.len(), 2);
        let r = out[0].as_ref().unwrap();
        assert_eq!(r.key_id, "5152530285723648");
        assert_eq!(r.countrycode.as_deref(), Some("CH"));
        assert_eq!(r.recognized, Some(true));
        assert_eq!(r.timestamp, Some(1_489_938_759_000_000));
        assert_eq!(r.source, Source::Binary);
        assert_eq!(r.drawing.dx, vec![10.0, 10.0, 10.0, -30.0]);
        assert_eq!(r.drawing.pen, vec![0, 0, 1, 1]);
        let r = out[1].as_ref().unwrap();
        assert_eq!(r.recognized, Some(false));
        assert_eq!(
            r.location,
            Location::Record {
                index: 1,
                offset: second
            }
        );
    }

    #[test]
    fn truncation_stops_the_reader() {
        let mut b = encode(1, b"CH", 1, 0, &[(&[1, 2], &[3, 4])]);
        let second = b.len() as u64;
        b.extend(encode(2, b"CH", 1, 0, &[(&[1, 2], &[3, 4])]));
        b.extend(encode(3, b"CH", 1, 0, &[(&[1, 2], &[3, 4])]));
        for cut in [
            second as usize + 5,
            second as usize + 18,
            second as usize + 21,
        ] {
            let out = read(b[..cut].to_vec());
            assert_eq!(out.len(), 2, "cut at {cut}");
            let e = out[1].as_ref().unwrap_err();
            assert!(matches!(e.kind, ErrorKind::Truncated(_)), "{e}");
            assert!(e.is_fatal());
            assert_eq!(
                e.location,
                Some(Location::Record {
                    index: 1,
                    offset: second
                })
            );
            assert!(
                e.to_string().contains(&format!("ends at byte {cut}")),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_records_are_skipped() {
        let mut b = encode(1, b"CH", 1, 0, &[]);
        b.extend(encode(2, b"CH", 1, 0, &[(&[], &[])]));
        b.extend(encode(3, b"CH", 9, 0, &[(&[1], &[1])]));
        b.extend(encode(4, &[0xff, 0xfe], 1, 0, &[(&[1], &[1])]));
        b.extend(encode(5, b"CH", 0, 0, &[(&[1], &[1])]));
        let out = read(b);
        assert_eq!(out.len(), 5);
        assert!(matches!(
            out[0].as_ref().unwrap_err().kind,
            ErrorKind::EmptyDrawing
        ));
        assert!(matches!(
            out[1].as_ref().unwrap_err().kind,
            ErrorKind::EmptyDrawing
        ));
        assert!(
            matches!(&out[2].as_ref().unwrap_err().kind, ErrorKind::Invalid(m) if m.contains("recognized"))
        );
        assert!(
            matches!(&out[3].as_ref().unwrap_err().kind, ErrorKind::Invalid(m) if m.contains("country"))
        );
        assert_eq!(out[4].as_ref().unwrap().key_id, "5");
    }

    #[test]
    fn json_named_bin_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("face.bin");
        std::fs::write(&p, br#"{"word":"face","key_id":"1","drawing":[[[1],[2]]]}"#).unwrap();
        let e = BinReader::open(&p).err().unwrap();
        assert!(
            matches!(e.kind, ErrorKind::FormatMismatch { ref found, .. } if found == "JSON text")
        );
        assert!(e.to_string().contains("face.bin"), "{e}");
        let e = BinReader::open(dir.path().join("nope.bin")).err().unwrap();
        assert!(matches!(e.kind, ErrorKind::Open(_)));
    }
}
