//! Walks over a Parquet file's thrift (compact protocol) before parquet decodes it, refusing
//! what would make parquet spend seconds or gigabytes on a few corrupt bytes (each found by
//! `trust`'s `fuzz_readers`):
//! - in the footer, a list, set or map that declares more elements than there are bytes left
//!   (every element of every thrift type takes at least one byte, so a longer size is never
//!   valid; parquet 60.1 skipped boolean elements without reading a byte each, 60.2 no longer
//!   does, and the check costs microseconds);
//! - in every column chunk's page headers, a dictionary page declaring more values than its
//!   bytes can hold (parquet's `DictDecoder::set_dict` sizes the dictionary by the declared
//!   count: 4.1 GB from a 5.7 KB file), or an uncompressed size far beyond what its compressed
//!   bytes can give (parquet reserves the declared size before it decompresses).
//!
//! The walks are lenient otherwise: anything else they do not understand is left for parquet to
//! report.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use parquet::basic::Type as Physical;
use parquet::file::metadata::ParquetMetaData;

use crate::{Result, TableError};

/// An uncompressed page may declare this many bytes whatever its compressed size (parquet's
/// writers cut pages at about 1 MB)...
const PAGE_BYTES_FLOOR: i64 = 16 << 20;
/// ...and beyond it at most this many times its compressed bytes (far above what zstd, snappy
/// or gzip give on real columns, which are dictionary- or RLE-encoded before compression).
const PAGE_RATIO_MAX: i64 = 1000;

/// Checks the page headers of every column chunk of row group `g` of a Parquet file whose footer
/// parquet has read into `meta`; `bytes` are the file's bytes from `offset` on (the row group's).
pub(crate) fn check_pages(
    path: &Path,
    bytes: &[u8],
    offset: u64,
    meta: &ParquetMetaData,
    g: usize,
) -> Result<()> {
    {
        let group = meta.row_group(g);
        for column in group.columns() {
            let (start, len) = column.byte_range();
            let end = start.saturating_add(len);
            let Some(start) = start.checked_sub(offset) else {
                continue; // parquet says what is wrong
            };
            let end = end - offset;
            if end > bytes.len() as u64 {
                continue;
            }
            let chunk = &bytes[start as usize..end as usize];
            let min_value_bits = match column.column_type() {
                Physical::BOOLEAN => 1,
                Physical::INT32 | Physical::FLOAT | Physical::BYTE_ARRAY => 32,
                Physical::INT64 | Physical::DOUBLE => 64,
                Physical::INT96 => 96,
                Physical::FIXED_LEN_BYTE_ARRAY => {
                    8 * i64::from(column.column_descr().type_length().max(1))
                }
            };
            let refuse = |what: String| {
                TableError::invalid(
                    path,
                    format!(
                        "not a readable Parquet file: row group {g}, column {}: {what}",
                        column.column_path()
                    ),
                )
            };
            let mut pos = 0;
            while pos < chunk.len() {
                let mut w = Walker {
                    buf: &chunk[pos..],
                    pos: 0,
                    oversized: None,
                };
                let header = w.page_header();
                if let Some(m) = w.oversized {
                    return Err(refuse(format!("a page header declares {m}")));
                }
                let Ok(h) = header else { break };
                if h.compressed < 0 || h.uncompressed < 0 {
                    break;
                }
                if let Some(what) = h.oversized(min_value_bits) {
                    return Err(refuse(what));
                }
                pos += w.pos + h.compressed as usize;
            }
        }
    }
    Ok(())
}

/// What [`check_pages`] reads of a page header.
struct PageFacts {
    uncompressed: i64,
    compressed: i64,
    dictionary_values: Option<i64>,
}

impl PageFacts {
    /// What is wrong with the page's declared sizes, for values of at least `min_value_bits`.
    fn oversized(&self, min_value_bits: i64) -> Option<String> {
        if self.uncompressed > PAGE_BYTES_FLOOR.max(self.compressed * PAGE_RATIO_MAX) {
            return Some(format!(
                "a page declares {} bytes uncompressed from {} compressed",
                self.uncompressed, self.compressed
            ));
        }
        match self.dictionary_values {
            Some(n) if n < 0 || n.saturating_mul(min_value_bits) > 8 * self.uncompressed => {
                Some(format!(
                    "a dictionary page declares {n} values in {} bytes",
                    self.uncompressed
                ))
            }
            _ => None,
        }
    }
}

/// Checks the footer of the Parquet file at `path`, reading only its end.
pub(crate) fn check_file(path: &Path) -> Result<()> {
    let io = |e| TableError::io(path, e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    let n = f.metadata().map_err(io)?.len();
    if n < 12 {
        return Ok(());
    }
    let mut tail = [0u8; 8];
    f.seek(SeekFrom::Start(n - 8)).map_err(io)?;
    f.read_exact(&mut tail).map_err(io)?;
    if &tail[4..] != b"PAR1" {
        return Ok(());
    }
    let len = u64::from(u32::from_le_bytes(tail[..4].try_into().unwrap()));
    if len > n - 8 {
        return Ok(());
    }
    let mut footer = vec![0u8; len as usize];
    f.seek(SeekFrom::Start(n - 8 - len)).map_err(io)?;
    f.read_exact(&mut footer).map_err(io)?;
    check_footer(path, &footer)
}

fn check_footer(path: &Path, footer: &[u8]) -> Result<()> {
    let mut w = Walker {
        buf: footer,
        pos: 0,
        oversized: None,
    };
    let _ = w.skip(STRUCT, 64);
    match w.oversized {
        Some(m) => Err(TableError::invalid(
            path,
            format!("not a readable Parquet file: its footer declares {m}"),
        )),
        None => Ok(()),
    }
}

const STRUCT: u8 = 12;

struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    oversized: Option<String>,
}

/// `Err` stops the walk: the footer is malformed (parquet will say how) or oversized.
type Step = std::result::Result<(), ()>;

impl Walker<'_> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn byte(&mut self) -> std::result::Result<u8, ()> {
        let b = *self.buf.get(self.pos).ok_or(())?;
        self.pos += 1;
        Ok(b)
    }
    fn varint(&mut self) -> std::result::Result<u64, ()> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(())
    }
    fn advance(&mut self, k: u64) -> Step {
        if k > self.left() as u64 {
            return Err(());
        }
        self.pos += k as usize;
        Ok(())
    }
    fn elements(&mut self, what: &str, count: u64, bytes_each: u64) -> Step {
        if count.saturating_mul(bytes_each) > self.left() as u64 {
            self.oversized = Some(format!(
                "a {what} of {count} elements in the {} bytes left of it",
                self.left()
            ));
            return Err(());
        }
        Ok(())
    }
    /// A field header: its id (from the delta or in full) and type; `None` at the struct's end.
    fn field(&mut self, last: i64) -> std::result::Result<Option<(i64, u8)>, ()> {
        let h = self.byte()?;
        if h == 0 {
            return Ok(None);
        }
        let id = match h >> 4 {
            0 => zigzag(self.varint()?),
            delta => last + i64::from(delta),
        };
        Ok(Some((id, h & 0x0f)))
    }

    /// An i32 or i64 field's value (type 5 or 6 on the wire).
    fn int(&mut self, ty: u8) -> std::result::Result<i64, ()> {
        match ty {
            5 | 6 => Ok(zigzag(self.varint()?)),
            _ => Err(()),
        }
    }

    /// A `PageHeader`: 2 uncompressed_page_size, 3 compressed_page_size,
    /// 7 dictionary_page_header { 1 num_values }; every other field skipped.
    fn page_header(&mut self) -> std::result::Result<PageFacts, ()> {
        let (mut uncompressed, mut compressed, mut dictionary_values) = (None, None, None);
        let mut last = 0;
        while let Some((id, ty)) = self.field(last)? {
            match (id, ty) {
                (2, _) => uncompressed = Some(self.int(ty)?),
                (3, _) => compressed = Some(self.int(ty)?),
                (7, STRUCT) => {
                    let mut inner = 0;
                    while let Some((id, ty)) = self.field(inner)? {
                        match id {
                            1 => dictionary_values = Some(self.int(ty)?),
                            _ if ty == 1 || ty == 2 => {}
                            _ => self.skip(ty, 63)?,
                        }
                        inner = id;
                    }
                }
                (_, 1 | 2) => {} // a boolean field: the value is in the header
                _ => self.skip(ty, 64)?,
            }
            last = id;
        }
        Ok(PageFacts {
            uncompressed: uncompressed.ok_or(())?,
            compressed: compressed.ok_or(())?,
            dictionary_values,
        })
    }

    fn skip(&mut self, ty: u8, depth: u8) -> Step {
        if depth == 0 {
            return Err(());
        }
        match ty {
            // a boolean element of a list or map takes a byte (in a struct it is the field
            // header's type, handled there)
            1..=3 => self.advance(1),
            4..=6 => self.varint().map(drop),
            7 => self.advance(8),
            8 => {
                let n = self.varint()?;
                self.advance(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let mut size = u64::from(h >> 4);
                if size == 15 {
                    size = self.varint()?;
                }
                self.elements("list", size, 1)?;
                for _ in 0..size {
                    self.skip(h & 0x0f, depth - 1)?;
                }
                Ok(())
            }
            11 => {
                let size = self.varint()?;
                if size == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                self.elements("map", size, 2)?;
                for _ in 0..size {
                    self.skip(kv >> 4, depth - 1)?;
                    self.skip(kv & 0x0f, depth - 1)?;
                }
                Ok(())
            }
            STRUCT => loop {
                let h = self.byte()?;
                if h == 0 {
                    return Ok(());
                }
                if h >> 4 == 0 {
                    self.varint()?; // the field id, in full
                }
                match h & 0x0f {
                    1 | 2 => {} // a boolean field: the value is in the header
                    t => self.skip(t, depth - 1)?,
                }
            },
            13 => self.advance(16),
            _ => Err(()),
        }
    }
}

fn zigzag(n: u64) -> i64 {
    (n >> 1) as i64 ^ -((n & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_longer_than_its_bytes_is_refused_and_a_good_one_passes() {
        let p = Path::new("t.parquet");
        // struct { 1: list<bool> of 3 } then stop
        let good = [0x19, 0x31, 1, 0, 1, 0];
        assert!(check_footer(p, &good).is_ok());
        // the same list declaring 2^31 - 1 elements (size 15: a varint follows)
        let bad = [0x19, 0xf1, 0xff, 0xff, 0xff, 0xff, 0x07, 1, 0, 1, 0];
        let e = check_footer(p, &bad).unwrap_err().to_string();
        assert!(
            e.contains("t.parquet") && e.contains("2147483647 elements"),
            "{e}"
        );
        // malformed in other ways: left to parquet
        assert!(check_footer(p, &[0x19]).is_ok());
        assert!(check_footer(p, &[0x0e, 0x00]).is_ok());
    }

    /// A page header as parquet writes it: type, sizes, then the dictionary page's header.
    fn dictionary_page(uncompressed: u64, compressed: u64, values: u64) -> Vec<u8> {
        let varint = |mut v: u64, out: &mut Vec<u8>| loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        };
        let mut b = vec![0x15, 4]; // 1: type = DICTIONARY_PAGE (2, zigzag)
        b.push(0x15);
        varint(uncompressed << 1, &mut b);
        b.push(0x15);
        varint(compressed << 1, &mut b);
        b.push(0x4c); // 7: dictionary_page_header, a struct (delta 4)
        b.push(0x15);
        varint(values << 1, &mut b);
        b.extend([0x15, 0, 0]); // 2: encoding PLAIN, end of both structs
        b.push(0);
        b
    }

    #[test]
    fn page_headers_are_read_and_oversized_pages_refused() {
        let facts = |bytes: &[u8]| {
            let mut w = Walker {
                buf: bytes,
                pos: 0,
                oversized: None,
            };
            let h = w.page_header().expect("a page header");
            assert_eq!(w.pos, bytes.len());
            h
        };
        // 100 floats in 400 bytes, zstd'd to 120: fine
        let h = facts(&dictionary_page(400, 120, 100));
        assert_eq!(
            (h.uncompressed, h.compressed, h.dictionary_values),
            (400, 120, Some(100))
        );
        assert_eq!(h.oversized(32), None);
        // 101 floats cannot fit in 400 bytes; a byte each (booleans: a bit) can
        let h = facts(&dictionary_page(400, 120, 101));
        assert!(h.oversized(32).unwrap().contains("101 values in 400 bytes"));
        assert_eq!(h.oversized(1), None);
        // 2 GB from 3 KB compressed is refused; 16 MB from anything is not
        let h = facts(&dictionary_page(2 << 30, 3000, 1));
        assert!(h.oversized(32).unwrap().contains("uncompressed from 3000"));
        assert_eq!(facts(&dictionary_page(16 << 20, 10, 1)).oversized(32), None);
    }
}
