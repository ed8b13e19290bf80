//! A walk over a Parquet footer's thrift (compact protocol) before parquet parses it, refusing
//! a list, set or map that declares more elements than there are bytes left.
//!
//! Why: parquet 60.1 skips the elements of a list of booleans without reading a byte each
//! (`skip_till_depth` in its `parquet_thrift.rs`; the compact protocol writes one byte per
//! boolean element), so a corrupt footer declaring such a list of two billion elements cost
//! seconds of work to be refused (found by `trust`'s `fuzz_readers`). Every element of every
//! thrift type takes at least one byte, so a longer declared size is never valid. The walk is
//! lenient otherwise: anything else it does not understand is left for parquet to report.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::{Result, TableError};

/// Checks the footer at the end of `file` (a whole Parquet file in memory).
pub(crate) fn check_bytes(path: &Path, file: &[u8]) -> Result<()> {
    let n = file.len();
    if n < 12 || &file[n - 4..] != b"PAR1" {
        return Ok(()); // parquet says what is wrong
    }
    let len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
    if len > n - 8 {
        return Ok(());
    }
    check_footer(path, &file[n - 8 - len..n - 8])
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
}
