//! Matrix products with bf16 operands and f32 sums: the LSTM kernel's `bf16` precision.
//!
//! On a CPU with AVX512-BF16 (AMD Zen 4 and later, Intel Cooper Lake and Sapphire Rapids and
//! later), one `vdpbf16ps` does 32 multiply-adds, twice as many as an f32 FMA of the same width,
//! so the products can run near twice as fast as in f32. The operands are rounded to bf16
//! (8 significant bits); every product and every sum stays f32. Where the CPU lacks the
//! instructions, [`available`] is false and the callers stay on f32.
//!
//! `dst (m×n) = [dst +] A (m×k) · B (k×n)`, both operands packed first as bf16 pairs along k
//! (one `u32` a pair), which is what one lane of `vdpbf16ps` multiplies and adds: A row by row,
//! or pair by pair for a transposed source ([`PackedA`]); B in panels of `NR` columns, each
//! pair's `NR` columns together ([`PackedB`]). A tile of `MR` rows by `NR` columns keeps its
//! sums in 12 registers. The packing runs 16 lanes wide.

/// Rows of one tile.
#[cfg(target_arch = "x86_64")]
const MR: usize = 6;
/// Columns of one tile and of one panel of B (two 16-lane registers).
const NR: usize = 32;
/// Pairs of k per block: a block of a panel of B (32 KiB) stays in the L1/L2 cache while
/// every tile of rows passes over it.
#[cfg(target_arch = "x86_64")]
const KC: usize = 256;

/// True when the CPU runs AVX512-BF16 (with AVX-512F and BW, which the products also use).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512bf16")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `x` rounded to the nearest bf16 (ties to even), as its bits; NaN stays NaN.
#[inline(always)]
pub fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) as u16) | 0x40;
    }
    (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// The f32 a bf16's bits stand for (exact).
#[inline(always)]
pub fn from_bf16(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// Source rows and columns of one operand: element `(r, c)` at `r * rs + c * cs`.
#[derive(Debug, Clone, Copy)]
pub struct Strided<'a> {
    pub values: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Strided<'a> {
    /// `values` as a row-major `rows×cols` matrix.
    pub fn rows(values: &'a [f32], rows: usize, cols: usize) -> Self {
        Strided {
            values,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of the row-major `cols×rows` matrix `values`: `rows×cols`.
    pub fn transposed(values: &'a [f32], rows: usize, cols: usize) -> Self {
        Strided {
            values,
            rows,
            cols,
            rs: 1,
            cs: rows,
        }
    }

    pub(crate) fn check(&self) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(last < self.values.len(), "operand out of its slice");
        }
    }

    /// Element `(r, c)`, bf16; zero past the last column (the pad of an odd k).
    #[inline(always)]
    fn at(&self, r: usize, c: usize) -> u16 {
        if c < self.cols {
            to_bf16(self.values[r * self.rs + c * self.cs])
        } else {
            0
        }
    }
}

/// The left operand, `m×k`, as bf16 pairs along k: row by row when its rows are contiguous in
/// the source, else pair by pair (a transpose, read along the source's rows). Kept between
/// calls so that its buffer is reused.
#[derive(Debug, Default)]
pub struct PackedA {
    m: usize,
    /// pairs per row: `k / 2` rounded up
    kp: usize,
    /// pair `p` of row `r` at `r·rs + p·ps`
    rs: usize,
    ps: usize,
    data: Vec<u32>,
}

impl PackedA {
    /// Packs `a` (`m×k`) over whatever this held.
    pub fn pack(&mut self, a: Strided) {
        a.check();
        let (m, k, kp) = (a.rows, a.cols, a.cols.div_ceil(2));
        self.m = m;
        self.kp = kp;
        // every pair is written below, so what the buffer held needs no zeroing (this runs at
        // every step of the LSTM)
        self.data.resize(m * kp, 0);
        if a.cs == 1 {
            (self.rs, self.ps) = (kp, 1);
            for (r, out) in self.data.chunks_exact_mut(kp.max(1)).enumerate().take(m) {
                pairs(&a.values[r * a.rs..r * a.rs + k], out);
            }
        } else if a.rs == 1 {
            (self.rs, self.ps) = (1, m);
            for (p, out) in self.data.chunks_exact_mut(m.max(1)).enumerate().take(kp) {
                let col = |c: usize| (c < k).then(|| &a.values[c * a.cs..c * a.cs + m]);
                interleave(col(2 * p).expect("p < kp"), col(2 * p + 1), out);
            }
        } else {
            (self.rs, self.ps) = (kp, 1);
            for r in 0..m {
                for p in 0..kp {
                    self.data[r * kp + p] =
                        u32::from(a.at(r, 2 * p)) | (u32::from(a.at(r, 2 * p + 1)) << 16);
                }
            }
        }
    }
}

/// The right operand, `k×n`, as bf16 pairs along k, in panels of `NR` columns (the last one
/// padded with zeros): panel `j`, pair `p`, column `c` holds `B[2p][jNR+c]` in its low half and
/// `B[2p+1][jNR+c]` in its high half, at `(j·kp + p)·NR + c`.
#[derive(Debug, Default)]
pub struct PackedB {
    n: usize,
    kp: usize,
    data: Vec<u32>,
}

impl PackedB {
    /// Packs `b` (`k×n`) over whatever this held.
    pub fn pack(&mut self, b: Strided) {
        b.check();
        let (k, n, kp) = (b.rows, b.cols, b.rows.div_ceil(2));
        let panels = n.div_ceil(NR);
        self.n = n;
        self.kp = kp;
        self.data.clear();
        self.data.resize(panels * kp * NR, 0);
        for (j, panel) in self.data.chunks_exact_mut(kp.max(1) * NR).enumerate() {
            let (c0, cols) = (j * NR, NR.min(n - j * NR));
            for (p, out) in panel.chunks_exact_mut(NR).enumerate() {
                if b.cs == 1 {
                    let row = |r: usize| (r < k).then(|| &b.values[r * b.rs + c0..][..cols]);
                    interleave(row(2 * p).expect("p < kp"), row(2 * p + 1), out);
                } else {
                    for (c, v) in out[..cols].iter_mut().enumerate() {
                        let at = |r: usize| {
                            if r < k {
                                u32::from(to_bf16(b.values[r * b.rs + (c0 + c) * b.cs]))
                            } else {
                                0
                            }
                        };
                        *v = at(2 * p) | (at(2 * p + 1) << 16);
                    }
                }
            }
        }
    }
}

/// `out[i]` = the pair (`lo[i]`, `hi[i]`) in bf16, for `i < lo.len()`; no `hi`: zeros.
fn interleave(lo: &[f32], hi: Option<&[f32]>, out: &mut [u32]) {
    assert!(out.len() >= lo.len() && hi.is_none_or(|h| h.len() == lo.len()));
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: the CPU has AVX-512F (checked); the lengths are checked above.
        unsafe { x86::interleave(lo, hi, out) };
        return;
    }
    for (i, v) in out[..lo.len()].iter_mut().enumerate() {
        let h = hi.map_or(0, |h| to_bf16(h[i]));
        *v = u32::from(to_bf16(lo[i])) | (u32::from(h) << 16);
    }
}

/// `out` = the consecutive pairs of `src` in bf16 (an odd length's last pair padded with zero).
fn pairs(src: &[f32], out: &mut [u32]) {
    assert!(out.len() >= src.len().div_ceil(2));
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: the CPU has AVX-512F (checked); the lengths are checked above.
        unsafe { x86::pairs(src, out) };
        return;
    }
    for (p, v) in out[..src.len().div_ceil(2)].iter_mut().enumerate() {
        let hi = src.get(2 * p + 1).map_or(0, |&x| to_bf16(x));
        *v = u32::from(to_bf16(src[2 * p])) | (u32::from(hi) << 16);
    }
}

/// `dst (m×n) = [dst +] a · b`, with `dst` row-major at row stride `dst_rs`. Needs
/// [`available`].
pub fn matmul(dst: &mut [f32], dst_rs: usize, accumulate: bool, a: &PackedA, b: &PackedB) {
    assert!(available(), "bf16 products need AVX512-BF16");
    assert_eq!(a.kp, b.kp, "inner sizes differ");
    let (m, n, kp) = (a.m, b.n, a.kp);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        n <= dst_rs && (m - 1) * dst_rs + n <= dst.len(),
        "dst too small"
    );
    if kp == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("no bf16 products off x86-64 (`available` is false)");
    #[cfg(target_arch = "x86_64")]
    for k0 in (0..kp).step_by(KC) {
        let kc = KC.min(kp - k0);
        let load = accumulate || k0 > 0;
        for j in 0..n.div_ceil(NR) {
            let cols = NR.min(n - j * NR);
            let panel = &b.data[(j * kp + k0) * NR..(j * kp + k0 + kc) * NR];
            for r0 in (0..m).step_by(MR) {
                let rows = MR.min(m - r0);
                let first = r0 * a.rs + k0 * a.ps;
                let a_tile = &a.data[first..=first + (rows - 1) * a.rs + (kc - 1) * a.ps];
                let c = &mut dst[r0 * dst_rs + j * NR..(r0 + rows - 1) * dst_rs + j * NR + cols];
                let a_tile = x86::Tile {
                    a: a_tile.as_ptr(),
                    rs: a.rs,
                    ps: a.ps,
                };
                // SAFETY: the CPU has the instructions (asserted); the tile reads `rows` rows
                // of `kc` pairs of `a_tile` at strides (rs, ps), `kc` pairs of `panel`, and
                // reads and writes `rows` rows of `cols` columns of `c` at stride dst_rs, all
                // inside the slices taken just above.
                unsafe {
                    let (bp, cp) = (panel.as_ptr(), c.as_mut_ptr());
                    match rows {
                        6 => x86::tile::<6>(kc, a_tile, bp, cp, dst_rs, cols, load),
                        5 => x86::tile::<5>(kc, a_tile, bp, cp, dst_rs, cols, load),
                        4 => x86::tile::<4>(kc, a_tile, bp, cp, dst_rs, cols, load),
                        3 => x86::tile::<3>(kc, a_tile, bp, cp, dst_rs, cols, load),
                        2 => x86::tile::<2>(kc, a_tile, bp, cp, dst_rs, cols, load),
                        _ => x86::tile::<1>(kc, a_tile, bp, cp, dst_rs, cols, load),
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

    /// Where a tile's rows of A start, and their strides (row, pair).
    pub(super) struct Tile {
        pub a: *const u32,
        pub rs: usize,
        pub ps: usize,
    }

    /// Mask of the first `n` of 16 lanes.
    #[inline(always)]
    fn lanes(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            (1 << n) - 1
        }
    }

    /// Each lane rounded to bf16 as [`super::to_bf16`] rounds, in its low half.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn round16(v: __m512) -> __m512i {
        let b = _mm512_castps_si512(v);
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(1));
        let bias = _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff));
        let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(b, bias));
        let magnitude = _mm512_and_si512(b, _mm512_set1_epi32(0x7fff_ffff));
        let nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(0x7f80_0000));
        let quiet = _mm512_or_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(0x40));
        _mm512_mask_blend_epi32(nan, rounded, quiet)
    }

    /// [`super::interleave`], 16 lanes at a time.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn interleave(lo: &[f32], hi: Option<&[f32]>, out: &mut [u32]) {
        for i in (0..lo.len()).step_by(16) {
            let m = lanes(lo.len() - i);
            let l = round16(_mm512_maskz_loadu_ps(m, lo.as_ptr().add(i)));
            let h = match hi {
                Some(hi) => round16(_mm512_maskz_loadu_ps(m, hi.as_ptr().add(i))),
                None => _mm512_setzero_si512(),
            };
            let v = _mm512_or_si512(l, _mm512_slli_epi32::<16>(h));
            _mm512_mask_storeu_epi32(out.as_mut_ptr().add(i).cast(), m, v);
        }
    }

    /// [`super::pairs`], 16 values (8 pairs) at a time, written as halves of the pairs.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pairs(src: &[f32], out: &mut [u32]) {
        let halves = out.as_mut_ptr().cast::<i16>();
        for i in (0..src.len()).step_by(16) {
            let m = lanes(src.len() - i);
            let v = round16(_mm512_maskz_loadu_ps(m, src.as_ptr().add(i)));
            _mm512_mask_cvtepi32_storeu_epi16(halves.add(i).cast(), m, v);
        }
        if src.len() % 2 == 1 {
            // the pad half of the last pair
            *halves.add(src.len()) = 0;
        }
    }

    /// One tile: `c (R×cols) = [c +] a (R rows of kc pairs) · panel (kc pairs)`.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn tile<const R: usize>(
        kc: usize,
        a: Tile,
        b: *const u32,
        c: *mut f32,
        c_rs: usize,
        cols: usize,
        load: bool,
    ) {
        let m0 = lanes(cols);
        let m1 = lanes(cols.saturating_sub(16));
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        if load {
            for (r, acc) in acc.iter_mut().enumerate() {
                acc[0] = _mm512_maskz_loadu_ps(m0, c.add(r * c_rs));
                acc[1] = _mm512_maskz_loadu_ps(m1, c.wrapping_add(r * c_rs + 16));
            }
        }
        for p in 0..kc {
            let bp = b.add(p * NR);
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.cast()));
            let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.add(16).cast()));
            let ap = a.a.add(p * a.ps);
            for (r, acc) in acc.iter_mut().enumerate() {
                let av: __m512bh = std::mem::transmute(_mm512_set1_epi32(*ap.add(r * a.rs) as i32));
                acc[0] = _mm512_dpbf16_ps(acc[0], av, b0);
                acc[1] = _mm512_dpbf16_ps(acc[1], av, b1);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(c.add(r * c_rs), m0, acc[0]);
            _mm512_mask_storeu_ps(c.wrapping_add(r * c_rs + 16), m1, acc[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// The product in f64 of the operands rounded to bf16, which the kernel must match to
    /// f32 rounding of its sums.
    fn reference(a: Strided, b: Strided) -> Vec<f64> {
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let mut out = vec![0.0; m * n];
        for r in 0..m {
            for c in 0..n {
                out[r * n + c] = (0..k)
                    .map(|q| f64::from(from_bf16(a.at(r, q))) * f64::from(from_bf16(b.at(q, c))))
                    .sum();
            }
        }
        out
    }

    #[test]
    fn rounding_is_to_nearest_even() {
        assert_eq!(from_bf16(to_bf16(1.0)), 1.0);
        // 1 + 2^-8 is halfway between two bf16 values: to the even one, 1.0
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        // just above halfway rounds up
        assert_eq!(
            from_bf16(to_bf16(1.0 + 1.0 / 256.0 + 1.0 / 65536.0)),
            1.0 + 1.0 / 128.0
        );
        assert_eq!(from_bf16(to_bf16(-3.0)), -3.0);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
    }

    /// A `rows×cols` matrix laid out row-major, transposed (column-major), or spaced out
    /// (every other value of rows twice as long, so that neither stride is 1).
    fn layout(logical: &[f32], rows: usize, cols: usize, how: usize) -> (Vec<f32>, usize, usize) {
        let (rs, cs, len) = match how {
            0 => (cols, 1, rows * cols),
            1 => (1, rows, rows * cols),
            _ => (2 * cols, 2, 2 * rows * cols),
        };
        let mut v = vec![f32::NAN; len];
        for r in 0..rows {
            for c in 0..cols {
                v[r * rs + c * cs] = logical[r * cols + c];
            }
        }
        (v, rs, cs)
    }

    #[test]
    fn products_equal_the_reference_at_every_shape_and_layout() {
        if !available() {
            eprintln!("no AVX512-BF16 here: the bf16 products are not run");
            return;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // odd k, tiles and panels cut short, k past one block
        for (m, k, n) in [
            (1, 1, 1),
            (7, 5, 33),
            (13, 64, 70),
            (6, 600, 32),
            (50, 257, 1024),
        ] {
            let av: Vec<f32> = (0..m * k).map(|_| rng.random_range(-2.0..2.0)).collect();
            let bv: Vec<f32> = (0..k * n).map(|_| rng.random_range(-2.0..2.0)).collect();
            let want = reference(Strided::rows(&av, m, k), Strided::rows(&bv, k, n));
            for (a_how, b_how) in [(0, 0), (1, 1), (2, 2), (1, 0)] {
                let (a_vals, a_rs, a_cs) = layout(&av, m, k, a_how);
                let (b_vals, b_rs, b_cs) = layout(&bv, k, n, b_how);
                let a = Strided {
                    values: &a_vals,
                    rows: m,
                    cols: k,
                    rs: a_rs,
                    cs: a_cs,
                };
                let b = Strided {
                    values: &b_vals,
                    rows: k,
                    cols: n,
                    rs: b_rs,
                    cs: b_cs,
                };
                let (mut pa, mut pb) = (PackedA::default(), PackedB::default());
                // packed over an earlier, larger packing: nothing of it may leak through
                pa.pack(Strided::rows(&[9.0; 4000], 40, 100));
                pb.pack(Strided::rows(&[9.0; 4000], 40, 100));
                pa.pack(a);
                pb.pack(b);
                let what = format!("{m}×{k}×{n}, layouts {a_how} {b_how}");
                // a row stride wider than n, and accumulation onto what is there
                let rs = n + 3;
                let mut dst = vec![1.0f32; m * rs];
                matmul(&mut dst, rs, true, &pa, &pb);
                for r in 0..m {
                    for c in 0..n {
                        let (got, want) = (f64::from(dst[r * rs + c]), want[r * n + c] + 1.0);
                        let tol = 1e-5 * (1.0 + (k as f64).sqrt() * 4.0);
                        assert!(
                            (got - want).abs() <= tol,
                            "{what} at ({r}, {c}): {got} against {want}"
                        );
                    }
                    // the pad of each row is left alone
                    assert!(dst[r * rs + n..(r + 1) * rs].iter().all(|&v| v == 1.0));
                }
                let mut over = vec![5.0f32; m * n];
                matmul(&mut over, n, false, &pa, &pb);
                let diff = over
                    .iter()
                    .zip(&want)
                    .map(|(g, w)| (f64::from(*g) - w).abs())
                    .fold(0.0, f64::max);
                assert!(diff <= 1e-4, "{what}: overwrite off by {diff}");
            }
        }
    }

    /// The vector rounding equals the scalar one, NaN, infinities, ties and subnormals
    /// included.
    #[test]
    fn packing_rounds_as_to_bf16() {
        let mut vals = vec![
            0.0,
            -0.0,
            1.0,
            1.0 + 1.0 / 256.0,
            1.0 + 3.0 / 256.0,
            f32::MAX,
            f32::MIN_POSITIVE / 4.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        vals.extend((0..200).map(|_| f32::from_bits(rng.random())));
        let mut out = vec![0u32; vals.len().div_ceil(2)];
        pairs(&vals, &mut out);
        let halves: Vec<u16> = out
            .iter()
            .flat_map(|p| [*p as u16, (p >> 16) as u16])
            .collect();
        for (x, h) in vals.iter().zip(&halves) {
            assert_eq!(*h, to_bf16(*x), "{x:e} ({:#x})", x.to_bits());
        }
        let mut inter = vec![0u32; vals.len()];
        interleave(&vals, Some(&vals), &mut inter);
        for (x, p) in vals.iter().zip(&inter) {
            assert_eq!((*p as u16, (p >> 16) as u16), (to_bf16(*x), to_bf16(*x)));
        }
    }
}
