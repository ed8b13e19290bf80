//! Entry points for the fuzzing harness (`cargo run -p trust --example fuzz_readers`), behind
//! the `fuzz` feature: the pickle decoder on bytes in memory, and writers of small, well-formed
//! `.npy` / `.npz` files for its seeds. Not part of the readers' API.

use std::io::{Cursor, Write};

use crate::pickle::{Decoder, Event};

/// Runs the pickle decoder over `bytes` to its end: the number of leaf arrays and the count
/// the object array announced, or the decoder's error.
pub fn decode_pickle(bytes: &[u8]) -> Result<(usize, usize), String> {
    let mut d = Decoder::new(bytes);
    let mut leaves = 0;
    loop {
        match d.next_event() {
            Ok(Event::Leaf(_)) => leaves += 1,
            Ok(Event::End(n)) => return Ok((leaves, n)),
            Err(e) => return Err(format!("byte {}: {}", e.offset, e.message)),
        }
    }
}

/// A numpy object-array pickle of these drawings (stroke-3 rows), as `np.savez` writes it;
/// Python 3's variant when `py3`. At most 255 rows a drawing.
pub fn numpy_pickle(drawings: &[Vec<[i16; 3]>], py3: bool) -> Vec<u8> {
    crate::pickle::numpy_pickle(drawings, py3)
}

/// An `.npy` file (format 1.0) of `n` elements of dtype `descr` around `payload`.
pub fn npy(payload: &[u8], n: usize, descr: &str) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({n},), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((header.len() as u16).to_le_bytes());
    b.extend(header.as_bytes());
    b.extend(payload);
    b
}

/// A zip archive of these members (`("train.npy", bytes)`, ...), deflated or stored.
pub fn npz(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in members {
        z.start_file(*name, opts).expect("a zip in memory");
        z.write_all(bytes).expect("a zip in memory");
    }
    z.finish().expect("a zip in memory").into_inner()
}
