//! Matrix products in f32 with the right operand packed once: the LSTM kernel's products at
//! `precision = "f32"` on a CPU with AVX2 and FMA.
//!
//! The recurrence multiplies the same weight matrix at every step by a few dozen rows of
//! state. A general product (`gemm`) packs the weights again at every call, about a tenth of
//! a step; here they are packed once per sequence, in panels of `NR` columns, each k's `NR`
//! values together, which is the order the tile reads them in. The left operand is read where
//! it lies, row by row. A tile of up to `MR` rows by `NR` columns keeps its sums in 12 of the
//! 16 registers; each k loads two vectors of the panel and broadcasts one value per row. The
//! weights' gradients use the same tile with the gate gradients as the right operand, packed a
//! step's rows at a time ([`PackedB::set_rows`]) while the backward writes them.
//! Where the CPU lacks AVX2 or FMA, [`available`] is false and the callers use `gemm`; where it
//! has AVX-512, they keep to `gemm` too ([`preferred`]).

use crate::bf16::Strided;

/// Rows of one tile, at most.
#[cfg(target_arch = "x86_64")]
const MR: usize = 6;
/// Columns of one tile and of one panel of B (two 8-lane registers).
const NR: usize = 16;
/// Rows per block: a block of the left operand (up to 150 KiB at k = 320) stays in the L2
/// cache while every panel passes over it.
#[cfg(target_arch = "x86_64")]
const MC: usize = 120;
/// Values of k per block, at most: a block of a panel (up to 20 KiB) and a tile's rows of A
/// stay in the L1 cache while every tile of rows passes over the panel.
#[cfg(target_arch = "x86_64")]
const KC: usize = 320;

/// True where these products are the LSTM's choice: [`available`], and the CPU lacks
/// AVX-512F. With AVX-512, `gemm` runs 16 lanes wide, on Intel's two 512-bit FMA units twice
/// the work a cycle of these 8-lane tiles; a 16-lane tile is not written (no CPU with AVX-512
/// was at hand to measure it on).
pub fn preferred() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static PREFERRED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *PREFERRED.get_or_init(|| available() && !is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// True when the CPU runs AVX2 and FMA.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The right operand, `k×n`, in panels of `NR` columns (the last one padded with zeros):
/// panel `j`, row `p`, column `c` holds `B[p][j·NR+c]`, at `(j·k + p)·NR + c` from a start
/// aligned to a cache line.
#[derive(Debug, Default)]
pub struct PackedB {
    k: usize,
    n: usize,
    /// where the packed values start in `data` (its first 64-byte boundary)
    start: usize,
    data: Vec<f32>,
}

impl PackedB {
    /// An empty packing that keeps its values in `storage`: a buffer kept between calls, so
    /// that a large packing does not fault in fresh pages each time ([`Self::storage_len`]).
    pub fn in_storage(storage: Vec<f32>) -> Self {
        PackedB {
            data: storage,
            ..PackedB::default()
        }
    }

    /// Values of storage a `k×n` packing takes.
    pub fn storage_len(k: usize, n: usize) -> usize {
        n.div_ceil(NR) * k * NR + 16
    }

    /// The buffer the values were kept in, for the next call.
    pub fn into_storage(self) -> Vec<f32> {
        self.data
    }

    /// Packs `b` (`k×n`) over whatever this held.
    pub fn pack(&mut self, b: Strided) {
        self.reset(b.rows, b.cols);
        self.set_rows(0, b);
    }

    /// Sizes this for a `k×n` operand whose rows [`Self::set_rows`] then writes; a product
    /// must not read it before every row is written (until then they hold whatever was there).
    pub fn reset(&mut self, k: usize, n: usize) {
        self.k = k;
        self.n = n;
        let len = Self::storage_len(k, n);
        if self.data.len() < len {
            self.data.resize(len, 0.0);
        }
        self.start = self.data.as_ptr().align_offset(64).min(16);
    }

    /// Writes `b`'s rows as rows `p0..` of the operand, the last panel's padding as zeros: for
    /// an operand packed a few rows at a time as they are computed (the LSTM's gate gradients,
    /// each step's rows while they are still in the cache).
    pub fn set_rows(&mut self, p0: usize, b: Strided) {
        b.check();
        let (k, n) = (self.k, self.n);
        assert!(
            b.cols == n && p0 + b.rows <= k,
            "rows {p0}..{} of {} columns do not fit a {k}×{n} packing",
            p0 + b.rows,
            b.cols
        );
        let len = n.div_ceil(NR) * k * NR;
        let packed = &mut self.data[self.start..self.start + len];
        for j in 0..n.div_ceil(NR) {
            let (c0, cols) = (j * NR, NR.min(n - j * NR));
            let panel = &mut packed[(j * k + p0) * NR..(j * k + p0 + b.rows) * NR];
            for (p, out) in panel.chunks_exact_mut(NR).enumerate() {
                let (values, pad) = out.split_at_mut(cols);
                let row = p * b.rs + c0 * b.cs;
                if b.cs == 1 {
                    values.copy_from_slice(&b.values[row..row + cols]);
                } else {
                    for (c, v) in values.iter_mut().enumerate() {
                        *v = b.values[row + c * b.cs];
                    }
                }
                pad.fill(0.0);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn packed(&self) -> &[f32] {
        &self.data[self.start..self.start + self.n.div_ceil(NR) * self.k * NR]
    }
}

/// `dst (m×n) = [dst +] a (m×k) · b (k×n)`, with `a` row-major at row stride `a_rs` and `dst`
/// at row stride `dst_rs`. Needs [`available`].
pub fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    (a, m, a_rs): (&[f32], usize, usize),
    b: &PackedB,
) {
    assert!(available(), "the packed f32 products need AVX2 and FMA");
    let (n, k) = (b.n, b.k);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        n <= dst_rs && (m - 1) * dst_rs + n <= dst.len(),
        "dst too small"
    );
    assert!(k <= a_rs && (m - 1) * a_rs + k <= a.len(), "a too small");
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("no packed f32 products off x86-64 (`available` is false)");
    #[cfg(target_arch = "x86_64")]
    {
        let packed = b.packed();
        // k in blocks as even as they go (no short last block's pass over C)
        let kb = k.div_ceil(k.div_ceil(KC));
        // each block of k passes over C once: a long k (the weights' gradients, thousands of
        // steps' rows) streams B from memory once, not once per block of rows
        for k0 in (0..k).step_by(kb) {
            let kc = kb.min(k - k0);
            let load = accumulate || k0 > 0;
            // rows in blocks of MC (split evenly instead, 500 rows' blocks of 100 make tiles
            // of 5 rows, and ran 0.8–0.9× as fast)
            for m0 in (0..m).step_by(MC) {
                let mc = MC.min(m - m0);
                // rows split into tiles as even as they go (50 rows: 5 of 6 and 4 of 5), so
                // that no tile is a short one
                let tiles = mc.div_ceil(MR);
                let (base, extra) = (mc / tiles, mc % tiles);
                for j in 0..n.div_ceil(NR) {
                    let (c0, cols) = (j * NR, NR.min(n - j * NR));
                    let panel = &packed[(j * k + k0) * NR..(j * k + k0 + kc) * NR];
                    let mut r0 = m0;
                    for t in 0..tiles {
                        let rows = base + usize::from(t < extra);
                        let a_tile = &a[r0 * a_rs + k0..(r0 + rows - 1) * a_rs + k0 + kc];
                        let c = &mut dst[r0 * dst_rs + c0..(r0 + rows - 1) * dst_rs + c0 + cols];
                        // SAFETY: the CPU has AVX2 and FMA (asserted); the tile reads `rows`
                        // rows of `kc` values of `a_tile` at stride a_rs, `kc` rows of
                        // `panel`, and reads and writes `rows` rows of `cols` columns of `c`
                        // at stride dst_rs, all inside the slices taken just above.
                        unsafe {
                            let (ap, bp, cp) = (a_tile.as_ptr(), panel.as_ptr(), c.as_mut_ptr());
                            let tile = match rows {
                                6 => x86::tile::<6>,
                                5 => x86::tile::<5>,
                                4 => x86::tile::<4>,
                                3 => x86::tile::<3>,
                                2 => x86::tile::<2>,
                                _ => x86::tile::<1>,
                            };
                            tile(kc, ap, a_rs, bp, cp, dst_rs, cols, load);
                        }
                        r0 += rows;
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::NR;

    /// Load and store masks of the first `n` of 8 lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lanes(n: usize) -> __m256i {
        let n = n.min(8) as i32;
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }

    /// One tile: `c (R×cols) = [c +] a (R rows of kc values) · panel (kc rows)`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile<const R: usize>(
        kc: usize,
        a: *const f32,
        a_rs: usize,
        b: *const f32,
        c: *mut f32,
        c_rs: usize,
        cols: usize,
        load: bool,
    ) {
        let full = cols == NR;
        let (m0, m1) = (lanes(cols), lanes(cols.saturating_sub(8)));
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        if load {
            for (r, acc) in acc.iter_mut().enumerate() {
                let row = c.add(r * c_rs);
                if full {
                    acc[0] = _mm256_loadu_ps(row);
                    acc[1] = _mm256_loadu_ps(row.add(8));
                } else {
                    // a short tile's second half may start past the slice: its lanes are
                    // masked off, and the pointer is only formed (wrapping), never read
                    acc[0] = _mm256_maskload_ps(row, m0);
                    acc[1] = _mm256_maskload_ps(row.wrapping_add(8), m1);
                }
            }
        }
        for p in 0..kc {
            let bp = b.add(p * NR);
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm256_broadcast_ss(&*a.add(r * a_rs + p));
                acc[0] = _mm256_fmadd_ps(av, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(av, b1, acc[1]);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = c.add(r * c_rs);
            if full {
                _mm256_storeu_ps(row, acc[0]);
                _mm256_storeu_ps(row.add(8), acc[1]);
            } else {
                _mm256_maskstore_ps(row, m0, acc[0]);
                _mm256_maskstore_ps(row.wrapping_add(8), m1, acc[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn products_equal_the_reference_at_every_shape_and_layout() {
        if !available() {
            eprintln!("no AVX2 and FMA here: the packed f32 products are not run");
            return;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // odd sizes, tiles and panels cut short, k past one block, rows past one block, the
        // LSTM's shapes
        for (m, k, n) in [
            (1, 1, 1),
            (7, 5, 33),
            (13, 64, 70),
            (6, 600, 16),
            (50, 256, 1024),
            (50, 1024, 256),
            (31, 3, 9),
            (250, 40, 20),
            (130, 700, 40),
        ] {
            let av: Vec<f32> = (0..m * k).map(|_| rng.random_range(-2.0..2.0)).collect();
            let bv: Vec<f32> = (0..k * n).map(|_| rng.random_range(-2.0..2.0)).collect();
            let want: Vec<f64> = (0..m * n)
                .map(|e| {
                    let (r, c) = (e / n, e % n);
                    (0..k)
                        .map(|q| f64::from(av[r * k + q]) * f64::from(bv[q * n + c]))
                        .sum()
                })
                .collect();
            // b row-major and transposed; a at a row stride wider than k
            let bt: Vec<f32> = (0..n * k).map(|e| bv[(e % k) * n + e / k]).collect();
            let a_rs = k + 2;
            let mut a = vec![f32::NAN; m * a_rs];
            for r in 0..m {
                a[r * a_rs..r * a_rs + k].copy_from_slice(&av[r * k..(r + 1) * k]);
            }
            for how in ["rows", "transposed", "rows set in pieces"] {
                let mut pb = PackedB::default();
                // packed over an earlier, larger packing: nothing of it may leak through
                pb.pack(Strided::rows(&[9.0; 4000], 40, 100));
                match how {
                    "rows" => pb.pack(Strided::rows(&bv, k, n)),
                    "transposed" => pb.pack(Strided::transposed(&bt, k, n)),
                    _ => {
                        // a few rows at a time, last first, over storage of NaNs: every
                        // value the product reads, padding included, must be written
                        let storage = vec![f32::NAN; PackedB::storage_len(k, n) + 5];
                        pb = PackedB::in_storage(storage);
                        pb.reset(k, n);
                        let pieces: Vec<usize> = (0..k).step_by(7).collect();
                        for &p0 in pieces.iter().rev() {
                            let rows = 7.min(k - p0);
                            pb.set_rows(p0, Strided::rows(&bv[p0 * n..], rows, n));
                        }
                    }
                }
                let what = format!("{m}×{k}×{n}, b {how}");
                let tol = 1e-5 * (1.0 + (k as f64).sqrt() * 4.0);
                // a row stride wider than n, and accumulation onto what is there
                let rs = n + 3;
                let mut dst = vec![1.0f32; m * rs];
                matmul(&mut dst, rs, true, (&a, m, a_rs), &pb);
                for r in 0..m {
                    for c in 0..n {
                        let (got, want) = (f64::from(dst[r * rs + c]), want[r * n + c] + 1.0);
                        assert!(
                            (got - want).abs() <= tol,
                            "{what} at ({r}, {c}): {got} against {want}"
                        );
                    }
                    // the pad of each row is left alone
                    assert!(dst[r * rs + n..(r + 1) * rs].iter().all(|&v| v == 1.0));
                }
                let mut over = vec![5.0f32; m * n];
                matmul(&mut over, n, false, (&a, m, a_rs), &pb);
                for (e, (g, w)) in over.iter().zip(&want).enumerate() {
                    assert!(
                        (f64::from(*g) - w).abs() <= tol,
                        "{what}: overwrite at {e}: {g} against {w}"
                    );
                }
            }
        }
    }
}
