//! The LSTM recurrence over a whole padded batch in plain Rust, forward and backward.
//!
//! Layout: time-major. `x` is `[T, B, I]`; the weights come packed in one `[4H, I+H+1]`
//! matrix, each row PyTorch's `weight_ih` row, then its `weight_hh` row, then `bias_ih +
//! bias_hh` (gates in PyTorch's order i, f, g, o), so that one custom op with three inputs
//! carries them and its backward hands back one gradient. The input projection runs inside
//! the op: a `[T, B, 4H]` tensor of it, and of its gradient, would cost more in memory traffic
//! than the products themselves.
//!
//! A row `b` is active at step `s` while `s < lengths[b]`; at padded steps the state (h, c) is
//! held, so the state after the last step is the one at each row's own last real step. The batch
//! is split into one slice per rayon thread; each slice runs the whole sequence on its rows
//! (small products do not pay for splitting, whole slices do); an encoding on [`crate::f32x8`]
//! cuts them smaller still, so that each step's gates stay in the cache. Where the CPU has AVX2
//! and FMA but not AVX-512, every product runs on [`crate::f32x8`]: a step's with the weights
//! packed once per call, the weights' gradients (one product over all steps) with the gate
//! gradients packed step by step as the backward writes them. At [`Precision::Bf16`] they run
//! on [`crate::bf16`]'s; else on single-threaded `gemm` calls.

use gemm::Parallelism;
use rayon::prelude::*;

use crate::bf16::{self, PackedA, PackedB, Strided};
pub use crate::config::Precision;
use crate::f32x8;

/// The shortest inner size a bf16 product is worth: the first layer's few input columns
/// (a drawing's offsets) keep their f32 precision, and would gain nothing.
pub const BF16_MIN_K: usize = 32;

/// Sizes of one call, and its precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub t: usize,
    pub b: usize,
    /// input width
    pub i: usize,
    pub h: usize,
    /// Each row's `state0` also carries a gate bias of its own (`[4H]` after h0 and c0),
    /// added at every step: the projection of an input that is the same at every step (the
    /// decoder's z), made once instead of at each step.
    pub row_bias: bool,
    /// [`Precision::Bf16`]: the weights' products with bf16 operands ([`crate::bf16`]), where
    /// the CPU runs AVX512-BF16, for the products whose inner size is at least
    /// [`BF16_MIN_K`]; the cells, the state and every sum stay f32.
    pub precision: Precision,
}

impl Dims {
    /// Columns of the packed weights: `I + H + 1`.
    pub fn packed_width(&self) -> usize {
        self.i + self.h + 1
    }

    /// Whether a product with inner size `k` runs in bf16.
    fn bf16(&self, k: usize) -> bool {
        self.precision == Precision::Bf16 && k >= BF16_MIN_K && bf16::available()
    }

    /// Whether the step's products with inner size `k` run on [`f32x8`]: in f32 (not
    /// [`Self::bf16`]), where [`f32x8::preferred`] says so (AVX2 and FMA, no AVX-512).
    fn f32x8(&self, k: usize) -> bool {
        !self.bf16(k) && f32x8::preferred() && !testing::gemm_only()
    }

    /// Values per row of `state0`: h0 and c0, then the row's gate bias with `row_bias`.
    pub fn state_width(&self) -> usize {
        if self.row_bias {
            6 * self.h
        } else {
            2 * self.h
        }
    }
}

/// What the forward hands back: every step's h, or only the final one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `[T, B, H]`
    All,
    /// `[B, H]`: the state after the last step (each row's own last real step).
    Last,
}

/// A switch for the tests: the f32 step products on `gemm` even where [`f32x8`] runs, so
/// that the path of CPUs without AVX2 (and of aarch64) is tested here too.
pub(crate) mod testing {
    #[cfg(test)]
    thread_local! {
        static GEMM_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Whether this thread's calls keep to `gemm` (decided on the calling thread, where the
    /// forward and the backward choose their products).
    pub(crate) fn gemm_only() -> bool {
        #[cfg(test)]
        return GEMM_ONLY.get();
        #[cfg(not(test))]
        false
    }

    /// Runs `f` with this thread's f32 step products on `gemm`.
    #[cfg(test)]
    pub(crate) fn on_gemm<R>(f: impl FnOnce() -> R) -> R {
        GEMM_ONLY.set(true);
        let r = f();
        GEMM_ONLY.set(false);
        r
    }
}

/// What one batch slice keeps from the forward for the backward.
#[derive(Debug)]
struct Slice {
    b0: usize,
    nb: usize,
    /// post-activation gates `[T, nb, 4H]` (or one step's worth when not saving)
    gates: Vec<f32>,
    /// cells `[T+1, nb, H]`, index 0 is c0 (two slots when not saving)
    cs: Vec<f32>,
    /// hidden states `[T+1, nb, H]`, index 0 is h0 (two slots when not saving)
    hs: Vec<f32>,
    /// tanh of the cells `[T, nb, H]` (one slot when not saving)
    tcs: Vec<f32>,
}

/// Everything the backward needs, kept by the forward.
#[derive(Debug)]
pub struct Saved {
    dims: Dims,
    slices: Vec<Slice>,
}

impl Drop for Saved {
    fn drop(&mut self) {
        for sl in self.slices.drain(..) {
            for v in [sl.gates, sl.cs, sl.hs, sl.tcs] {
                pool::give(v);
            }
        }
    }
}

/// Large scratch buffers kept between calls: a fresh multi-megabyte allocation comes from the
/// OS as new pages, and faulting them in cost more than the gate arithmetic.
mod pool {
    use std::sync::Mutex;

    static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());
    const KEEP: usize = 48;

    /// A zeroed buffer of `len` values, reusing the smallest kept one that fits.
    pub fn take(len: usize) -> Vec<f32> {
        let mut v = take_dirty(len);
        v.fill(0.0);
        v
    }

    /// A buffer of `len` values left as the last user wrote them (zeros where it grew): for
    /// buffers the caller overwrites in full, so that they are not zeroed for nothing.
    pub fn take_dirty(len: usize) -> Vec<f32> {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        match best {
            Some(i) => {
                let mut v = pool.swap_remove(i);
                drop(pool);
                v.resize(len, 0.0);
                v
            }
            None => vec![0.0; len],
        }
    }

    /// Hands a buffer back; beyond `KEEP` buffers the smallest is freed.
    pub fn give(v: Vec<f32>) {
        if v.capacity() < 1 << 16 {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.push(v);
        if pool.len() > KEEP {
            let i = (0..pool.len())
                .min_by_key(|&i| pool[i].capacity())
                .expect("non-empty");
            pool.swap_remove(i);
        }
    }
}

// Eigen's rational approximation of tanh (float, clamped): pure arithmetic, so loops over
// slices vectorise; max error a few ulp. Both polynomials run in Estrin's scheme rather than
// Horner's (the same terms, a chain of dependent operations half as long): a cell's step was
// bound more by the latency of its five tanh chains than by the arithmetic units.
#[inline(always)]
fn tanh_fast(x: f32) -> f32 {
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_6e-3;
    const B4: f32 = 1.185_347e-4;
    const B6: f32 = 1.198_258_4e-6;
    let x = x.clamp(-7.998_811_7, 7.998_811_7);
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let p = ((x2 * A3 + A1) + x4 * (x2 * A7 + A5)) + x8 * ((x2 * A11 + A9) + x4 * A13);
    let q = (x2 * B2 + B0) + x4 * (x2 * B6 + B4);
    (p * x) / q
}

#[inline(always)]
fn sigmoid_fast(x: f32) -> f32 {
    0.5 + 0.5 * tanh_fast(0.5 * x)
}

/// True when the CPU runs AVX2 and FMA: the cell loops then run 8 lanes wide instead of the
/// baseline's 4 (the build targets plain x86-64). Other architectures run the loops as built.
#[cfg(target_arch = "x86_64")]
fn wide() -> bool {
    // the same check as the products' tiles
    f32x8::available()
}

/// True when the CPU runs AVX-512F too: the cell loops then run 16 lanes wide (encoding 5–15%
/// faster than at 8 lanes on a Zen 4, whose AVX-512 runs on 256-bit units).
#[cfg(target_arch = "x86_64")]
fn wider() -> bool {
    static WIDER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WIDER.get_or_init(|| wide() && is_x86_feature_detected!("avx512f"))
}

/// Defines `$name`, which runs `$imp` compiled for AVX-512 or AVX2 (with FMA) where the CPU
/// has them, else as built: the same operations in the same order at every width (no fused
/// multiply-adds are introduced), so the same results to the bit.
macro_rules! at_widest {
    ($(#[$doc:meta])* fn $name:ident => $imp:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) {
                    $imp($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    $imp($($arg),*)
                }
                if wider() {
                    // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked by `wider`).
                    return unsafe { avx512($($arg),*) };
                }
                if wide() {
                    // SAFETY: the CPU has AVX2 and FMA (checked by `wide`).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

at_widest!(
    /// [`cell_forward_impl`] at the CPU's widest vectors.
    fn cell_forward => cell_forward_impl(
        a: &mut [f32],
        bias: &[f32],
        c_prev: &[f32],
        c: &mut [f32],
        tc: &mut [f32],
        h: &mut [f32],
    )
);

at_widest!(
    /// [`cell_backward_impl`] at the CPU's widest vectors.
    fn cell_backward => cell_backward_impl(
        gates: &[f32],
        c_prev: &[f32],
        tc: &[f32],
        dh: &[f32],
        dc: &mut [f32],
        dg: &mut [f32],
    )
);

/// One active cell update for one row, gates fused: `a` holds the products on entry (the
/// pre-activations less `bias`, the row's `[4H]` gate bias, added here rather than copied into
/// every step's gates first) and the activations on exit.
#[inline(always)]
fn cell_forward_impl(
    a: &mut [f32],
    bias: &[f32],
    c_prev: &[f32],
    c: &mut [f32],
    tc: &mut [f32],
    h: &mut [f32],
) {
    let n = c.len();
    let (ai, rest) = a.split_at_mut(n);
    let (af, rest) = rest.split_at_mut(n);
    let (ag, ao) = rest.split_at_mut(n);
    let ao = &mut ao[..n];
    let (bi, bf) = (&bias[..n], &bias[n..2 * n]);
    let (bg, bo) = (&bias[2 * n..3 * n], &bias[3 * n..4 * n]);
    let (c_prev, tc, h) = (&c_prev[..n], &mut tc[..n], &mut h[..n]);
    // two passes, the gates then the cell's tanh: each loop's chain of dependent operations
    // is shorter, so the CPU overlaps more of its iterations (with Estrin's scheme above, a
    // step of 64 rows' cells 20-30% faster on a Zen 3)
    for j in 0..n {
        let i = sigmoid_fast(ai[j] + bi[j]);
        let f = sigmoid_fast(af[j] + bf[j]);
        let g = tanh_fast(ag[j] + bg[j]);
        let o = sigmoid_fast(ao[j] + bo[j]);
        ai[j] = i;
        af[j] = f;
        ag[j] = g;
        ao[j] = o;
        c[j] = f * c_prev[j] + i * g;
    }
    for j in 0..n {
        let t = tanh_fast(c[j]);
        tc[j] = t;
        h[j] = ao[j] * t;
    }
}

/// One active step's backward for one row: writes pre-activation gate gradients into `dg`
/// and the cell gradient flowing to the previous step into `dc` (in place).
#[inline(always)]
fn cell_backward_impl(
    gates: &[f32],
    c_prev: &[f32],
    tc: &[f32],
    dh: &[f32],
    dc: &mut [f32],
    dg: &mut [f32],
) {
    let n = dc.len();
    let (gi, rest) = gates.split_at(n);
    let (gf, rest) = rest.split_at(n);
    let (gg, go) = rest.split_at(n);
    let go = &go[..n];
    let (di, rest) = dg.split_at_mut(n);
    let (df, rest) = rest.split_at_mut(n);
    let (dgg, d_o) = rest.split_at_mut(n);
    let d_o = &mut d_o[..n];
    let (c_prev, tc, dh) = (&c_prev[..n], &tc[..n], &dh[..n]);
    for j in 0..n {
        let (i, f, g, o, t) = (gi[j], gf[j], gg[j], go[j], tc[j]);
        let dcj = dc[j] + dh[j] * o * (1.0 - t * t);
        di[j] = dcj * g * i * (1.0 - i);
        df[j] = dcj * c_prev[j] * f * (1.0 - f);
        dgg[j] = dcj * i * (1.0 - g * g);
        d_o[j] = dh[j] * t * o * (1.0 - o);
        dc[j] = dcj * f;
    }
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)`, strides given as (row, column).
#[allow(clippy::too_many_arguments)]
fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    (dst_rs, dst_cs): (isize, isize),
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (isize, isize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (isize, isize),
) {
    if m == 0 || n == 0 {
        return;
    }
    // bounds: the last element each operand can touch must lie inside its slice
    let last = |rows: usize, cols: usize, rs: isize, cs: isize| {
        (rows.saturating_sub(1) as isize * rs + cols.saturating_sub(1) as isize * cs) as usize
    };
    assert!(last(m, n, dst_rs, dst_cs) < dst.len());
    if k > 0 {
        assert!(last(m, k, lhs_rs, lhs_cs) < lhs.len());
        assert!(last(k, n, rhs_rs, rhs_cs) < rhs.len());
    }
    // SAFETY: every index reachable from the given sizes and strides is inside the slices
    // (checked above), and dst does not alias lhs or rhs (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs,
            dst_rs,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// The rows `lo..hi` of a slice that span every row still running at step `s` (`lo == hi`:
/// none). Batches sorted by length (as `encode` sorts them) have exactly their running rows
/// there, so the products do no work for padding; rows in the span that have ended are
/// computed and then ignored, as before.
fn running_rows(lengths: &[usize], s: usize) -> (usize, usize) {
    match lengths.iter().position(|&l| s < l) {
        None => (0, 0),
        Some(lo) => (
            lo,
            lengths.iter().rposition(|&l| s < l).map_or(lo, |r| r + 1),
        ),
    }
}

/// The most rows of a slice that saves nothing for a backward (encoding) on [`f32x8`]: its
/// step's gates (`rows · 4H`, 256 KB at H 256) then stay in the core's L2 cache from the product
/// to the cells, as a training slice's do, where 500 rows' 2 MB went through memory.
const UNSAVED_F32X8_ROWS: usize = 64;

/// The batch's rows in slices, `(first row, rows)`: one slice per rayon thread, or more of at
/// most `max_rows` each (a multiple of the threads, so that each runs as many).
fn split_batch(b: usize, max_rows: usize) -> Vec<(usize, usize)> {
    let threads = rayon::current_num_threads().max(1);
    let n = (threads * b.div_ceil(threads * max_rows.max(1))).clamp(1, b.max(1));
    let per = b.div_ceil(n);
    (0..b)
        .step_by(per.max(1))
        .map(|b0| (b0, per.min(b - b0)))
        .collect()
}

/// The packed weights `[4H, I+H+1]` split into the layouts the products read fastest.
struct Unpacked {
    /// `w_ih` and `w_hh` transposed, stacked: `[I+H, 4H]`
    w_t: Vec<f32>,
    /// values of `w_ih`'s part of `w_t`
    ih_len: usize,
    /// `b_ih + b_hh`, `[4H]`
    bias: Vec<f32>,
    /// `w_t` packed for [`f32x8`]'s products, where [`Dims::f32x8`] says so: one product of
    /// each step's input and state, side by side, gives the gates
    f32x8: Option<f32x8::PackedB>,
    /// `w_t`'s two parts packed for bf16 products, where [`Dims::bf16`] says so
    ih_bf16: Option<PackedB>,
    hh_bf16: Option<PackedB>,
}

impl Unpacked {
    fn new(dims: Dims, w: &[f32]) -> Self {
        let Dims { i, h, .. } = dims;
        let (g4, width) = (4 * h, dims.packed_width());
        let mut w_t = pool::take_dirty((i + h) * g4);
        let mut bias = vec![0.0; g4];
        for j in 0..g4 {
            let row = &w[j * width..(j + 1) * width];
            for k in 0..i + h {
                w_t[k * g4 + j] = row[k];
            }
            bias[j] = row[i + h];
        }
        let pack = |w_t: &[f32], k: usize| {
            dims.bf16(k).then(|| {
                let mut p = PackedB::default();
                p.pack(Strided::rows(w_t, k, g4));
                p
            })
        };
        let f32x8 = dims.f32x8(h).then(|| {
            let mut p = f32x8::PackedB::default();
            p.pack(Strided::rows(&w_t, i + h, g4));
            p
        });
        Unpacked {
            ih_bf16: pack(&w_t[..i * g4], i),
            hh_bf16: pack(&w_t[i * g4..], h),
            f32x8,
            w_t,
            ih_len: i * g4,
            bias,
        }
    }

    /// `w_ih` transposed, `[I, 4H]`, and `w_hh` transposed, `[H, 4H]`.
    fn ih_hh(&self) -> (&[f32], &[f32]) {
        self.w_t.split_at(self.ih_len)
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.w_t));
    }
}

/// `gates` (`[rows, 4H]`) += `input` (`[rows, k]`) · `w_t`ᵀ, with `w_t` the `[k, 4H]` transpose
/// of a weight matrix. Computed as its transpose (gatesᵀ += w · inputᵀ), so that gemm's long
/// side is the 4H gates and the weights, column-major in `w_t`, are read without repacking.
/// With `packed` (the same `w_t` packed for bf16), the product runs in bf16, its input packed
/// into `scratch`.
fn add_product(
    gates: &mut [f32],
    (w_t, packed): (&[f32], Option<&PackedB>),
    input: &[f32],
    k: usize,
    accumulate: bool,
    scratch: &mut PackedA,
) {
    let g4 = w_t.len() / k;
    if let Some(packed) = packed {
        scratch.pack(Strided::rows(input, input.len() / k, k));
        bf16::matmul(gates, g4, accumulate, scratch, packed);
        return;
    }
    matmul(
        (g4, input.len() / k, k),
        gates,
        (1, g4 as isize),
        accumulate,
        w_t,
        (1, g4 as isize),
        input,
        (1, k as isize),
    );
}

/// A weight's gradient over all of a slice's steps, `dw` (`[4H, n]`) = `dg`ᵀ · `rows`, with
/// `dg` `[T·nb, 4H]` and `rows` `[T·nb, n]` (the inputs or the hidden states); in bf16 when
/// `dg_t` (`dg`ᵀ packed) is given, `rows` packed into `rhs`.
fn weight_gradient(
    dw: &mut [f32],
    dg: &[f32],
    dg_t: Option<&PackedA>,
    rows: &[f32],
    n: usize,
    rhs: &mut PackedB,
) {
    let (k, g4) = (rows.len() / n, dw.len() / n);
    match dg_t {
        Some(dg_t) => {
            rhs.pack(Strided::rows(rows, k, n));
            bf16::matmul(dw, n, false, dg_t, rhs);
        }
        None => matmul(
            (g4, n, k),
            dw,
            (n as isize, 1),
            false,
            dg,
            (1, g4 as isize),
            rows,
            (n as isize, 1),
        ),
    }
}

/// Runs the forward. `x` is `[T, B, I]`, `w` the packed weights `[4H, I+H+1]` (see the module
/// doc), `state0` `[B, 2H]` (h0 then c0 per row). Returns the requested output and, when
/// `save`, what the backward needs.
pub fn forward(
    dims: Dims,
    x: &[f32],
    w: &[f32],
    state0: &[f32],
    lengths: &[usize],
    output: Output,
    save: bool,
) -> (Vec<f32>, Option<Saved>) {
    let Dims { t, b, i, h, .. } = dims;
    let (g4, sw) = (4 * h, dims.state_width());
    assert_eq!(x.len(), t * b * i);
    assert_eq!(w.len(), g4 * dims.packed_width());
    assert_eq!(state0.len(), b * sw);
    assert_eq!(lengths.len(), b);
    let wu = Unpacked::new(dims, w);
    let slot_gate = |s: usize| if save { s } else { 0 };
    let slot_state = |s: usize| if save { s } else { s % 2 };
    let max_rows = match (save, &wu.f32x8) {
        (false, Some(_)) => UNSAVED_F32X8_ROWS,
        _ => b,
    };
    let mut slices: Vec<Slice> = split_batch(b, max_rows)
        .into_iter()
        .map(|(b0, nb)| {
            let steps = if save { t } else { 1 };
            let states = if save { t + 1 } else { 2 };
            Slice {
                b0,
                nb,
                // every value is written before it is read (tcs only at active steps, and
                // only read there)
                gates: pool::take_dirty(steps * nb * g4),
                cs: pool::take_dirty(states * nb * h),
                hs: pool::take_dirty(states * nb * h),
                tcs: pool::take_dirty(steps * nb * h),
            }
        })
        .collect();
    // with All output, each slice writes its own rows of every step; gathered afterwards
    let mut outs: Vec<Vec<f32>> = vec![Vec::new(); slices.len()];
    slices
        .par_iter_mut()
        .zip(outs.par_iter_mut())
        .for_each(|(sl, out)| {
            let (b0, nb) = (sl.b0, sl.nb);
            // the gates' starting values at every step: the shared bias, plus each row's own
            let mut start = pool::take_dirty(nb * g4);
            for (r, row) in start.chunks_exact_mut(g4).enumerate() {
                let src = &state0[(b0 + r) * sw..(b0 + r + 1) * sw];
                sl.hs[r * h..(r + 1) * h].copy_from_slice(&src[..h]);
                sl.cs[r * h..(r + 1) * h].copy_from_slice(&src[h..2 * h]);
                row.copy_from_slice(&wu.bias);
                if dims.row_bias {
                    row.iter_mut().zip(&src[2 * h..]).for_each(|(a, b)| *a += b);
                }
            }
            if output == Output::All {
                *out = pool::take_dirty(t * nb * h);
            }
            let mut scratch = PackedA::default();
            let mut xh = Vec::new();
            for s in 0..t {
                let (gs, ps, ns) = (slot_gate(s), slot_state(s), slot_state(s + 1));
                let gates = &mut sl.gates[gs * nb * g4..(gs + 1) * nb * g4];
                // the products for the running rows only (the others' gates are never read),
                // written over what the slot held; the cells add each row's start values
                let (lo, hi) = running_rows(&lengths[b0..b0 + nb], s);
                if lo < hi {
                    let run = &mut gates[lo * g4..hi * g4];
                    let x_s = &x[(s * b + b0 + lo) * i..(s * b + b0 + hi) * i];
                    let h_prev = &sl.hs[(ps * nb + lo) * h..(ps * nb + hi) * h];
                    if let Some(w_t) = &wu.f32x8 {
                        // each row's input and state side by side, times both weights at once
                        let k = i + h;
                        xh.resize((hi - lo) * k, 0.0);
                        for (r, row) in xh.chunks_exact_mut(k).enumerate() {
                            row[..i].copy_from_slice(&x_s[r * i..(r + 1) * i]);
                            row[i..].copy_from_slice(&h_prev[r * h..(r + 1) * h]);
                        }
                        f32x8::matmul(run, g4, false, (&xh, hi - lo, k), w_t);
                    } else {
                        let (w_ih_t, w_hh_t) = wu.ih_hh();
                        if i > 0 {
                            let w = (w_ih_t, wu.ih_bf16.as_ref());
                            add_product(run, w, x_s, i, false, &mut scratch);
                        }
                        let w = (w_hh_t, wu.hh_bf16.as_ref());
                        add_product(run, w, h_prev, h, i > 0, &mut scratch);
                    }
                }
                // previous and next state slots are distinct (s and s+1, or s%2 and (s+1)%2)
                let (cs_lo, cs_hi) = sl.cs.split_at_mut(ps.max(ns) * nb * h);
                let (hs_lo, hs_hi) = sl.hs.split_at_mut(ps.max(ns) * nb * h);
                let (c_prev, c_next, h_prev, h_next) = if ps < ns {
                    (
                        &cs_lo[ps * nb * h..],
                        &mut cs_hi[..nb * h],
                        &hs_lo[ps * nb * h..],
                        &mut hs_hi[..nb * h],
                    )
                } else {
                    (
                        &cs_hi[..nb * h],
                        &mut cs_lo[ns * nb * h..(ns + 1) * nb * h],
                        &hs_hi[..nb * h],
                        &mut hs_lo[ns * nb * h..(ns + 1) * nb * h],
                    )
                };
                let tcs = &mut sl.tcs[gs * nb * h..(gs + 1) * nb * h];
                for r in 0..nb {
                    let (rh, rg) = (r * h..(r + 1) * h, r * g4..(r + 1) * g4);
                    if s < lengths[b0 + r] {
                        cell_forward(
                            &mut gates[rg.clone()],
                            &start[rg],
                            &c_prev[rh.clone()],
                            &mut c_next[rh.clone()],
                            &mut tcs[rh.clone()],
                            &mut h_next[rh],
                        );
                    } else {
                        c_next[rh.clone()].copy_from_slice(&c_prev[rh.clone()]);
                        h_next[rh.clone()].copy_from_slice(&h_prev[rh]);
                    }
                }
                if output == Output::All {
                    out[s * nb * h..(s + 1) * nb * h].copy_from_slice(h_next);
                }
            }
            pool::give(start);
        });
    let result = match output {
        Output::All => {
            let mut all = vec![0.0; t * b * h];
            for (sl, out) in slices.iter().zip(&outs) {
                for s in 0..t {
                    all[(s * b + sl.b0) * h..(s * b + sl.b0 + sl.nb) * h]
                        .copy_from_slice(&out[s * sl.nb * h..(s + 1) * sl.nb * h]);
                }
            }
            all
        }
        Output::Last => {
            let mut last = vec![0.0; b * h];
            for sl in &slices {
                let slot = slot_state(t);
                last[sl.b0 * h..(sl.b0 + sl.nb) * h]
                    .copy_from_slice(&sl.hs[slot * sl.nb * h..(slot + 1) * sl.nb * h]);
            }
            last
        }
    };
    for out in outs {
        pool::give(out);
    }
    let saved = Saved { dims, slices };
    (result, save.then_some(saved))
}

/// Gradients of one call.
pub struct Grads {
    /// `[T, B, I]`, zero at padded steps; empty unless asked for
    pub dx: Vec<f32>,
    /// `[4H, I+H+1]`, packed like the weights
    pub dw: Vec<f32>,
    /// `[B, 2H]` (`[B, 6H]` with `row_bias`): dh0 then dc0 per row, then the gradient of
    /// the row's gate bias
    pub dstate0: Vec<f32>,
}

/// Runs the backward from the gradient of the output (`[T, B, H]` for `All`, `[B, H]` for
/// `Last`); `x` and `w` are the forward's. `input_grad`: whether to compute `dx` (an input of
/// data, as the drawings are, needs none).
pub fn backward(
    saved: &Saved,
    x: &[f32],
    w: &[f32],
    lengths: &[usize],
    output: Output,
    grad_out: &[f32],
    input_grad: bool,
) -> Grads {
    let dims = saved.dims;
    let Dims { t, b, i, h, .. } = dims;
    let (g4, width, sw) = (4 * h, dims.packed_width(), dims.state_width());
    assert_eq!(x.len(), t * b * i);
    assert_eq!(w.len(), g4 * width);
    match output {
        Output::All => assert_eq!(grad_out.len(), t * b * h),
        Output::Last => assert_eq!(grad_out.len(), b * h),
    }
    /// A slice's gradients of the weights (the bias's aside).
    enum WeightGrads {
        /// from `gemm` or bf16: `[4H, I]` and `[4H, H]`, as the packed weights' rows
        ByGate { ih: Vec<f32>, hh: Vec<f32> },
        /// from [`f32x8`]: `[I+H, 4H]`, the transpose of the packed weights' first columns
        ByInput(Vec<f32>),
    }
    struct Part {
        /// `[T, nb, I]`
        dx: Vec<f32>,
        weights: WeightGrads,
        /// `[4H]`
        dbias: Vec<f32>,
        /// `[nb, 4H]` with `row_bias`: each row's gate gradients summed over the steps
        drow: Vec<f32>,
        dh: Vec<f32>,
        dc: Vec<f32>,
    }
    // for bf16: w_hh (`[4H, H]`, for dh) and w_ih (`[4H, I]`, for dx), packed once for all
    // slices
    let packed = |col0: usize, cols: usize| {
        let mut p = PackedB::default();
        p.pack(Strided {
            values: &w[col0..],
            rows: g4,
            cols,
            rs: width,
            cs: 1,
        });
        p
    };
    let hh_bf16 = dims.bf16(g4).then(|| packed(i, h));
    // else in f32 on `f32x8`, where `Dims::f32x8` says so
    let hh_f32x8 = (hh_bf16.is_none() && dims.f32x8(g4)).then(|| {
        let mut p = f32x8::PackedB::default();
        p.pack(Strided {
            values: &w[i..],
            rows: g4,
            cols: h,
            rs: width,
            cs: 1,
        });
        p
    });
    // the products that touch the input's few columns stay f32 (as in the forward)
    let ih_bf16 = (dims.bf16(g4) && dims.bf16(i)).then(|| packed(0, i));
    // on f32x8, each step's gate gradients go to every product that needs them while they are
    // in the cache (the input's gradient, the weights' packed gate gradients), so that no
    // `[T·nb, 4H]` array of them is written and read back
    let ih_f32x8 = (hh_f32x8.is_some() && input_grad && i > 0).then(|| {
        let mut p = f32x8::PackedB::default();
        p.pack(Strided {
            values: w,
            rows: g4,
            cols: i,
            rs: width,
            cs: 1,
        });
        p
    });
    let parts: Vec<Part> = saved
        .slices
        .par_iter()
        .map(|sl| {
            let (b0, nb) = (sl.b0, sl.nb);
            let mut scratch = PackedA::default();
            // the weights' gradients on f32x8 take the gate gradients packed, each step's
            // rows as they are written
            let mut dg_packed = hh_f32x8.is_some().then(|| {
                let len = f32x8::PackedB::storage_len(t * nb, g4);
                let mut p = f32x8::PackedB::in_storage(pool::take_dirty(len));
                p.reset(t * nb, g4);
                p
            });
            // the gate gradients `[T, nb, 4H]`, or on f32x8 one step's `[nb, 4H]` (a row
            // that is held at a step was held at every later one, so its zeros stand)
            let streamed = dg_packed.is_some();
            let mut dg = pool::take(if streamed { nb * g4 } else { t * nb * g4 });
            let mut dx = if input_grad && i > 0 {
                pool::take_dirty(t * nb * i)
            } else {
                Vec::new()
            };
            let mut dh_next = vec![0.0f32; nb * h];
            let mut dc = vec![0.0f32; nb * h];
            let mut dh = vec![0.0f32; nb * h];
            let mut dbias = vec![0.0f32; g4];
            let mut drow = vec![0.0f32; if dims.row_bias { nb * g4 } else { 0 }];
            if output == Output::Last {
                dh_next.copy_from_slice(&grad_out[b0 * h..(b0 + nb) * h]);
            }
            for s in (0..t).rev() {
                // total gradient reaching h_s
                dh.copy_from_slice(&dh_next);
                if output == Output::All {
                    let g = &grad_out[(s * b + b0) * h..(s * b + b0 + nb) * h];
                    add_assign(&mut dh, g);
                }
                let dgs = if streamed {
                    &mut dg[..]
                } else {
                    &mut dg[s * nb * g4..(s + 1) * nb * g4]
                };
                let gates = &sl.gates[s * nb * g4..(s + 1) * nb * g4];
                let c_prev = &sl.cs[s * nb * h..(s + 1) * nb * h];
                let tcs = &sl.tcs[s * nb * h..(s + 1) * nb * h];
                for r in 0..nb {
                    let (rh, rg) = (r * h..(r + 1) * h, r * g4..(r + 1) * g4);
                    // held steps pass dh and dc through unchanged (dg stays zero)
                    if s < lengths[b0 + r] {
                        cell_backward(
                            &gates[rg.clone()],
                            &c_prev[rh.clone()],
                            &tcs[rh.clone()],
                            &dh[rh.clone()],
                            &mut dc[rh],
                            &mut dgs[rg.clone()],
                        );
                        // the bias's gradients (per row with `row_bias`) while dg is at hand
                        add_assign(&mut dbias, &dgs[rg.clone()]);
                        if dims.row_bias {
                            add_assign(&mut drow[rg.clone()], &dgs[rg]);
                        }
                    }
                }
                if let Some(p) = &mut dg_packed {
                    p.set_rows(s * nb, Strided::rows(dgs, nb, g4));
                }
                if let Some(w_ih) = &ih_f32x8 {
                    let dxs = &mut dx[s * nb * i..(s + 1) * nb * i];
                    f32x8::matmul(dxs, i, false, (dgs, nb, g4), w_ih);
                }
                // dh_{s-1} = dg_s · w_hh for active rows, as its transpose (w_hhᵀ · dg_sᵀ,
                // for the reason `add_product` gives; w_hhᵀ is column-major in the packed
                // rows); held rows keep dh
                let (lo, hi) = running_rows(&lengths[b0..b0 + nb], s);
                if let Some(w_hh) = &hh_bf16 {
                    scratch.pack(Strided::rows(&dgs[lo * g4..hi * g4], hi - lo, g4));
                    bf16::matmul(&mut dh_next[lo * h..hi * h], h, false, &scratch, w_hh);
                } else if let Some(w_hh) = &hh_f32x8 {
                    let dg_run = (&dgs[lo * g4..hi * g4], hi - lo, g4);
                    f32x8::matmul(&mut dh_next[lo * h..hi * h], h, false, dg_run, w_hh);
                } else {
                    matmul(
                        (h, hi - lo, g4),
                        &mut dh_next[lo * h..hi * h],
                        (1, h as isize),
                        false,
                        &w[i..],
                        (1, width as isize),
                        &dgs[lo * g4..hi * g4],
                        (1, g4 as isize),
                    );
                }
                // the rows outside lo..hi have ended too
                for r in 0..nb {
                    if s >= lengths[b0 + r] {
                        dh_next[r * h..(r + 1) * h].copy_from_slice(&dh[r * h..(r + 1) * h]);
                    }
                }
            }
            let hs = &sl.hs[..t * nb * h];
            let weights = match dg_packed {
                // one product over all T·nb rows: dwᵀ = [x h]ᵀ · dg, each step's input and
                // state transposed into the rows of the left operand
                Some(dg_packed) => {
                    let k = t * nb;
                    let mut xh_t = pool::take_dirty((i + h) * k);
                    for s in 0..t {
                        let xs = &x[(s * b + b0) * i..(s * b + b0 + nb) * i];
                        for_each_transposed(xs, nb, i, |c, r, v| xh_t[c * k + s * nb + r] = v);
                    }
                    for_each_transposed(hs, k, h, |c, q, v| xh_t[(i + c) * k + q] = v);
                    let mut dw_t = vec![0.0f32; (i + h) * g4];
                    f32x8::matmul(&mut dw_t, g4, false, (&xh_t, i + h, k), &dg_packed);
                    pool::give(xh_t);
                    pool::give(dg_packed.into_storage());
                    WeightGrads::ByInput(dw_t)
                }
                // one product each over all T·nb rows (in bf16, dgᵀ packed once for both)
                None => {
                    let dg_t = dims.bf16(t * nb).then(|| {
                        let mut p = PackedA::default();
                        p.pack(Strided::transposed(&dg, g4, t * nb));
                        p
                    });
                    let mut rhs = PackedB::default();
                    let mut hh = vec![0.0f32; g4 * h];
                    weight_gradient(&mut hh, &dg, dg_t.as_ref(), hs, h, &mut rhs);
                    let mut ih = vec![0.0f32; g4 * i];
                    if i > 0 {
                        // this slice's rows of x, contiguous
                        let mut xs = pool::take_dirty(t * nb * i);
                        for s in 0..t {
                            xs[s * nb * i..(s + 1) * nb * i]
                                .copy_from_slice(&x[(s * b + b0) * i..(s * b + b0 + nb) * i]);
                        }
                        let dg_t = dg_t.as_ref().filter(|_| dims.bf16(i));
                        weight_gradient(&mut ih, &dg, dg_t, &xs, i, &mut rhs);
                        pool::give(xs);
                    }
                    WeightGrads::ByGate { ih, hh }
                }
            };
            // dx = dg · w_ih (on f32x8, done step by step above)
            if !dx.is_empty() && !streamed {
                match &ih_bf16 {
                    Some(w_ih) => {
                        scratch.pack(Strided::rows(&dg, t * nb, g4));
                        bf16::matmul(&mut dx, i, false, &scratch, w_ih);
                    }
                    None => matmul(
                        (t * nb, i, g4),
                        &mut dx,
                        (i as isize, 1),
                        false,
                        &dg,
                        (g4 as isize, 1),
                        w,
                        (width as isize, 1),
                    ),
                }
            }
            pool::give(dg);
            Part {
                dx,
                weights,
                dbias,
                drow,
                dh: dh_next,
                dc,
            }
        })
        .collect();
    let mut dx = vec![0.0f32; if input_grad { t * b * i } else { 0 }];
    let mut dw = vec![0.0f32; g4 * width];
    let mut dstate0 = vec![0.0f32; b * sw];
    for (sl, p) in saved.slices.iter().zip(&parts) {
        let nb = sl.nb;
        for s in (0..t).filter(|_| input_grad && i > 0) {
            dx[(s * b + sl.b0) * i..(s * b + sl.b0 + nb) * i]
                .copy_from_slice(&p.dx[s * nb * i..(s + 1) * nb * i]);
        }
        match &p.weights {
            WeightGrads::ByGate { ih, hh } => {
                for j in 0..g4 {
                    let row = &mut dw[j * width..(j + 1) * width];
                    add_assign(&mut row[..i], &ih[j * i..(j + 1) * i]);
                    add_assign(&mut row[i..i + h], &hh[j * h..(j + 1) * h]);
                }
            }
            WeightGrads::ByInput(dw_t) => {
                for_each_transposed(dw_t, i + h, g4, |j, c, v| dw[j * width + c] += v);
            }
        }
        for j in 0..g4 {
            dw[j * width + i + h] += p.dbias[j];
        }
        for r in 0..nb {
            let row = &mut dstate0[(sl.b0 + r) * sw..(sl.b0 + r + 1) * sw];
            row[..h].copy_from_slice(&p.dh[r * h..(r + 1) * h]);
            row[h..2 * h].copy_from_slice(&p.dc[r * h..(r + 1) * h]);
            if dims.row_bias {
                row[2 * h..].copy_from_slice(&p.drow[r * g4..(r + 1) * g4]);
            }
        }
    }
    for p in parts {
        pool::give(p.dx);
    }
    Grads { dx, dw, dstate0 }
}

/// `dst += src`, value by value.
fn add_assign(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(a, v)| *a += v);
}

/// Calls `f(c, r, value)` for each value of `src` (`rows × cols`, row-major): a transpose into
/// whatever `f` writes. In blocks of 16 × 16, so that the rows read and the rows written both
/// stay in the cache.
fn for_each_transposed(
    src: &[f32],
    rows: usize,
    cols: usize,
    mut f: impl FnMut(usize, usize, f32),
) {
    const BLOCK: usize = 16;
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for c in c0..(c0 + BLOCK).min(cols) {
                for r in r0..(r0 + BLOCK).min(rows) {
                    f(c, r, src[r * cols + c]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_functions_match_std() {
        for k in -2000..=2000 {
            let x = k as f32 * 0.01;
            assert!((tanh_fast(x) - x.tanh()).abs() < 2e-6, "tanh({x})");
            let s = 1.0 / (1.0 + (-x).exp());
            assert!((sigmoid_fast(x) - s).abs() < 2e-6, "sigmoid({x})");
        }
        assert_eq!(tanh_fast(50.0), tanh_fast(8.0));
        assert!(tanh_fast(-50.0) < -0.99999);
    }

    /// The cells compiled for the CPU's widest vectors give the plain build's results to the
    /// bit (no fused multiply-adds are introduced), forward and backward.
    #[test]
    fn wide_cells_equal_the_plain_ones() {
        let n = 37; // not a multiple of any vector width
        let val = |k: usize| ((k * 7919 % 2001) as f32 - 1000.0) * 0.006;
        let a0: Vec<f32> = (0..4 * n).map(val).collect();
        let c_prev: Vec<f32> = (0..n).map(|k| val(k + 5000)).collect();
        let bias: Vec<f32> = (0..4 * n).map(|k| val(k + 3000) * 0.1).collect();
        // (gates, bias, c_prev, c, tanh c, h) and (gates, c_prev, tanh c, dh, dc, d gates)
        type Forward = fn(&mut [f32], &[f32], &[f32], &mut [f32], &mut [f32], &mut [f32]);
        type Backward = fn(&[f32], &[f32], &[f32], &[f32], &mut [f32], &mut [f32]);
        let run = |f: Forward| {
            let (mut a, mut c, mut tc, mut h) =
                (a0.clone(), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            f(&mut a, &bias, &c_prev, &mut c, &mut tc, &mut h);
            (a, c, tc, h)
        };
        let wide_fwd = run(cell_forward);
        assert_eq!(wide_fwd, run(cell_forward_impl));
        let (gates, _, tc, _) = wide_fwd;
        let dh: Vec<f32> = (0..n).map(|k| val(k + 9000)).collect();
        let back = |f: Backward| {
            let (mut dc, mut dg) = (
                (0..n).map(|k| val(k + 700)).collect::<Vec<f32>>(),
                vec![0.0; 4 * n],
            );
            f(&gates, &c_prev, &tc, &dh, &mut dc, &mut dg);
            (dc, dg)
        };
        assert_eq!(back(cell_backward), back(cell_backward_impl));
    }

    #[test]
    fn running_rows_span_the_rows_still_running() {
        assert_eq!(running_rows(&[1, 2, 3, 3], 0), (0, 4));
        assert_eq!(running_rows(&[1, 2, 3, 3], 1), (1, 4));
        assert_eq!(running_rows(&[3, 3, 2, 1], 2), (0, 2));
        assert_eq!(running_rows(&[1, 5, 1, 5, 1], 2), (1, 4));
        assert_eq!(running_rows(&[1, 2], 2), (0, 0));
        assert_eq!(running_rows(&[], 0), (0, 0));
    }

    /// A batch of rows of many lengths, sorted either way or not at all (so the products skip
    /// ended rows at either end, or in the middle), gives each row's outputs and gradients as
    /// that row run alone without padding.
    #[test]
    fn every_row_of_a_padded_batch_equals_the_row_alone() {
        let (i, h) = (3, 5);
        let g4 = 4 * h;
        let w: Vec<f32> = (0..g4 * (i + h + 1))
            .map(|k| ((k * 7 % 13) as f32 - 6.0) * 0.05)
            .collect();
        for lengths in [
            vec![1, 2, 4, 6, 9],
            vec![9, 6, 4, 2, 1],
            vec![4, 9, 1, 6, 2],
        ] {
            let (t, b) = (9, lengths.len());
            let dims = Dims {
                t,
                b,
                i,
                h,
                row_bias: false,
                precision: Precision::F32,
            };
            let x: Vec<f32> = (0..t * b * i)
                .map(|k| ((k * 37 % 11) as f32 - 5.0) * 0.1)
                .collect();
            let state0: Vec<f32> = (0..b * 2 * h).map(|k| (k % 7) as f32 * 0.05).collect();
            let (all, saved) = forward(dims, &x, &w, &state0, &lengths, Output::All, true);
            // no gradient at padded steps (there the batch repeats a row's last output)
            let grad: Vec<f32> = (0..t * b * h)
                .map(|k| {
                    let (s, r) = (k / (b * h), k / h % b);
                    if s < lengths[r] {
                        ((k % 5) as f32 - 2.0) * 0.1
                    } else {
                        0.0
                    }
                })
                .collect();
            let g = backward(&saved.unwrap(), &x, &w, &lengths, Output::All, &grad, true);
            let mut dw_rows = vec![0.0f32; g.dw.len()];
            for (r, &len) in lengths.iter().enumerate() {
                let one = Dims {
                    t: len,
                    b: 1,
                    ..dims
                };
                let xr: Vec<f32> = (0..len)
                    .flat_map(|s| x[(s * b + r) * i..(s * b + r + 1) * i].to_vec())
                    .collect();
                let s0 = &state0[r * 2 * h..(r + 1) * 2 * h];
                let (alone, saved) = forward(one, &xr, &w, s0, &[len], Output::All, true);
                let gr: Vec<f32> = (0..len)
                    .flat_map(|s| grad[(s * b + r) * h..(s * b + r + 1) * h].to_vec())
                    .collect();
                let ga = backward(&saved.unwrap(), &xr, &w, &[len], Output::All, &gr, true);
                dw_rows.iter_mut().zip(&ga.dw).for_each(|(a, d)| *a += d);
                let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * (1.0 + a.abs());
                for s in 0..len {
                    for k in 0..h {
                        assert!(
                            close(all[(s * b + r) * h + k], alone[s * h + k]),
                            "{lengths:?} row {r} step {s}"
                        );
                    }
                    for k in 0..i {
                        assert!(
                            close(g.dx[(s * b + r) * i + k], ga.dx[s * i + k]),
                            "dx {lengths:?} row {r}"
                        );
                    }
                }
                for k in 0..2 * h {
                    assert!(
                        close(g.dstate0[r * 2 * h + k], ga.dstate0[k]),
                        "dstate0 {lengths:?} row {r}"
                    );
                }
            }
            // the weights' gradient is the sum of the rows'
            for (a, d) in g.dw.iter().zip(&dw_rows) {
                assert!(
                    (a - d).abs() <= 1e-4 * (1.0 + a.abs()),
                    "dw {lengths:?}: {a} vs {d}"
                );
            }
        }
    }

    /// The bf16 products against f32: the outputs and every gradient within bf16's rounding,
    /// with and without the input's products in bf16, with and without row biases. A product
    /// wired wrong is off by far more.
    #[test]
    fn bf16_products_agree_with_f32_to_their_rounding() {
        if !crate::bf16::available() {
            eprintln!("no AVX512-BF16 here: the bf16 kernel is not run");
            return;
        }
        let wave = |n: usize, m: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|k| ((k * m % 23) as f32 - 11.0) / 11.0 * scale)
                .collect()
        };
        for (i, row_bias) in [(3, false), (40, false), (40, true)] {
            // T·B/threads past BF16_MIN_K, for the weights' gradients too
            let (t, b, h) = (40, 5, 64);
            let lengths = [40, 9, 23, 1, 40];
            let f32_dims = Dims {
                t,
                b,
                i,
                h,
                row_bias,
                precision: Precision::F32,
            };
            let bf16_dims = Dims {
                precision: Precision::Bf16,
                ..f32_dims
            };
            let w = wave(4 * h * f32_dims.packed_width(), 7, 0.3);
            let x = wave(t * b * i, 37, 1.0);
            let state0 = wave(b * f32_dims.state_width(), 11, 0.5);
            let grad = wave(t * b * h, 5, 0.2);
            let run = |dims: Dims| {
                let (out, saved) = forward(dims, &x, &w, &state0, &lengths, Output::All, true);
                let g = backward(&saved.unwrap(), &x, &w, &lengths, Output::All, &grad, true);
                [out, g.dx, g.dw, g.dstate0]
            };
            let (want, got) = (run(f32_dims), run(bf16_dims));
            for (name, (want, got)) in ["h", "dx", "dw", "dstate0"]
                .iter()
                .zip(want.iter().zip(&got))
            {
                let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let off = want
                    .iter()
                    .zip(got)
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    off <= 2e-2 * scale,
                    "{name} (i {i}, row_bias {row_bias}): off by {off} at scale {scale}"
                );
                // the bf16 products did run (i = 3 leaves dx to f32, which may match)
                if *name == "h" {
                    assert!(off > 0.0, "{name}: bf16 gave f32's values to the bit");
                }
            }
        }
    }

    /// Encoding (nothing saved) cuts a big batch into more slices than threads on [`f32x8`]:
    /// every row's outputs are those of the training forward's one slice per thread, to the bit.
    #[test]
    fn unsaved_slices_give_the_saved_forwards_outputs() {
        let (t, i, h) = (6, 3, 8);
        let b = 3 * UNSAVED_F32X8_ROWS + 5;
        let dims = Dims {
            t,
            b,
            i,
            h,
            row_bias: true,
            precision: Precision::F32,
        };
        let val = |k: usize, m: usize| ((k * 7919 % m) as f32 / m as f32 - 0.5) * 0.8;
        let x: Vec<f32> = (0..t * b * i).map(|k| val(k, 101)).collect();
        let w: Vec<f32> = (0..4 * h * dims.packed_width())
            .map(|k| val(k, 97))
            .collect();
        let state0: Vec<f32> = (0..b * dims.state_width()).map(|k| val(k, 89)).collect();
        // sorted longest first (as `encode` sorts them), then in no order
        let sorted: Vec<usize> = (0..b).map(|r| t - r * t / b).collect();
        let unsorted: Vec<usize> = (0..b).map(|r| 1 + r * 5 % t).collect();
        for lengths in [sorted, unsorted] {
            for output in [Output::All, Output::Last] {
                let (unsaved, _) = forward(dims, &x, &w, &state0, &lengths, output, false);
                let (saved, _) = forward(dims, &x, &w, &state0, &lengths, output, true);
                assert!(unsaved == saved, "{output:?}, lengths {lengths:?}");
            }
        }
    }

    #[test]
    fn padded_rows_hold_their_state() {
        let dims = Dims {
            t: 4,
            b: 3,
            i: 2,
            h: 2,
            row_bias: false,
            precision: Precision::F32,
        };
        let x: Vec<f32> = (0..4 * 3 * 2)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.1)
            .collect();
        let w: Vec<f32> = (0..8 * 5)
            .map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.2)
            .collect();
        let state0 = vec![0.1f32; 3 * 4];
        let lengths = [4, 2, 1];
        let (all, _) = forward(dims, &x, &w, &state0, &lengths, Output::All, false);
        let (last, _) = forward(dims, &x, &w, &state0, &lengths, Output::Last, true);
        for (bi, &len) in lengths.iter().enumerate() {
            let at = |s: usize| &all[(s * 3 + bi) * 2..(s * 3 + bi + 1) * 2];
            assert_eq!(&last[bi * 2..bi * 2 + 2], at(len - 1), "row {bi}");
            for s in len..4 {
                assert_eq!(at(s), at(len - 1));
            }
        }
    }
}
