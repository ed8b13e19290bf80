//! One LSTM layer with PyTorch's weights and names, over padded, masked sequences.
//!
//! On the CPU the layer runs as one candle custom op over the whole sequence
//! ([`crate::kernel`]), input projection included. On CUDA it is a loop of steps, each two
//! cuBLAS products (the input's and the state's) and one fused gate cell ([`crate::cell`]). On
//! Metal, and on request for comparison, it is a loop over candle-nn's own
//! `LSTM::step` with the same weights and the same masking.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, Device, Layout, Result, Shape, Tensor};
use candle_nn::rnn::{LSTMConfig, LSTMState, RNN};
use candle_nn::VarBuilder;

use crate::kernel::{self, Dims, Output, Precision, Saved};

/// Which implementation runs the recurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LstmImpl {
    /// The fused custom op on the CPU, the gate cell on CUDA, candle-nn's step loop on Metal.
    #[default]
    Auto,
    /// Always candle-nn's `LSTM::step` loop (slow on the CPU; for comparison).
    CandleNn,
    /// Always the step loop of products and the fused gate cell (what CUDA runs; on the CPU,
    /// to test it).
    GateCell,
    /// On the CPU, the fused op with bf16 matrix products ([`Precision::Bf16`]: f32 where the
    /// CPU lacks AVX512-BF16); elsewhere as `Auto`.
    FusedBf16,
}

impl LstmImpl {
    /// This implementation with its products at `precision`: bf16 makes `Auto` `FusedBf16`.
    pub fn at(self, precision: Precision) -> Self {
        match (self, precision) {
            (LstmImpl::Auto, Precision::Bf16) => LstmImpl::FusedBf16,
            (imp, _) => imp,
        }
    }
}

struct LstmOp {
    dims: Dims,
    lengths: Arc<Vec<usize>>,
    output: Output,
    save: bool,
    /// whether the input needs its gradient (the drawings, data, do not)
    input_grad: bool,
    saved: Arc<Mutex<Option<Saved>>>,
}

/// A contiguous CPU storage's values (the custom ops' inputs).
pub(crate) fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("lstm op: {what} is not contiguous")))?;
    Ok(&s.as_slice::<f32>()?[a..b])
}

/// Calls `f` with a CPU tensor's values, without copying them when they are contiguous.
pub(crate) fn with_values<R>(t: &Tensor, what: &str, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        candle_core::Storage::Cpu(cpu) => Ok(f(slice(cpu, layout, what)?)),
        _ => Err(candle_core::Error::Msg(format!(
            "lstm op: {what} is not on the CPU"
        ))),
    }
}

impl CustomOp3 for LstmOp {
    fn name(&self) -> &'static str {
        "seqae-lstm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, state0) = (
            slice(s1, l1, "x")?,
            slice(s2, l2, "weights")?,
            slice(s3, l3, "state0")?,
        );
        let (out, saved) = kernel::forward(
            self.dims,
            x,
            w,
            state0,
            &self.lengths,
            self.output,
            self.save,
        );
        if let Some(saved) = saved {
            *self.saved.lock().expect("lstm op state") = Some(saved);
        }
        let Dims { t, b, h, .. } = self.dims;
        let shape = match self.output {
            Output::All => Shape::from((t, b, h)),
            Output::Last => Shape::from((b, h)),
        };
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _state0: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let guard = self.saved.lock().expect("lstm op state");
        let saved = guard.as_ref().ok_or_else(|| {
            candle_core::Error::Msg("lstm op: backward without a saved forward".into())
        })?;
        let g = with_values(x, "x", |x| {
            with_values(w, "weights", |w| {
                with_values(grad_res, "output gradient", |grad| {
                    let lengths = &self.lengths;
                    kernel::backward(saved, x, w, lengths, self.output, grad, self.input_grad)
                })
            })
        })???;
        let Dims { t, b, i, h, .. } = self.dims;
        let dev = w.device();
        let dx = self
            .input_grad
            .then(|| Tensor::from_vec(g.dx, (t, b, i), dev))
            .transpose()?;
        Ok((
            dx,
            Some(Tensor::from_vec(
                g.dw,
                (4 * h, self.dims.packed_width()),
                dev,
            )?),
            Some(Tensor::from_vec(
                g.dstate0,
                (b, self.dims.state_width()),
                dev,
            )?),
        ))
    }
}

/// Runs the fused op: `x` `[T, B, I]`, `w` the packed weights `[4H, I+H+1]` (see
/// [`crate::kernel`]), `state0` `[B, 2H]`, or `[B, 6H]` with each row's own gate bias after
/// its h0 and c0 ([`Dims::row_bias`]); its products at `precision`.
pub fn fused(
    x: &Tensor,
    w: &Tensor,
    state0: &Tensor,
    lengths: &[usize],
    output: Output,
    precision: Precision,
) -> Result<Tensor> {
    let (t, b, i) = x.dims3()?;
    let (g4, width) = w.dims2()?;
    let h = g4 / 4;
    if g4 != 4 * h || width != i + h + 1 {
        candle_core::bail!("lstm op: weights {:?} do not fit input width {i}", w.dims());
    }
    let row_bias = match state0.dims2()? {
        (rows, w) if rows == b && w == 2 * h => false,
        (rows, w) if rows == b && w == 6 * h => true,
        _ => candle_core::bail!(
            "lstm op: state0 {:?} is neither [{b}, {}] nor [{b}, {}]",
            state0.dims(),
            2 * h,
            6 * h
        ),
    };
    let save = x.track_op() || w.track_op() || state0.track_op();
    let op = LstmOp {
        dims: Dims {
            t,
            b,
            i,
            h,
            row_bias,
            precision,
        },
        lengths: Arc::new(lengths.to_vec()),
        output,
        save,
        input_grad: x.track_op(),
        saved: Arc::new(Mutex::new(None)),
    };
    let (x, w, state0) = (x.contiguous()?, w.contiguous()?, state0.contiguous()?);
    if save {
        x.apply_op3(&w, &state0, op)
    } else {
        x.apply_op3_no_bwd(&w, &state0, &op)
    }
}

/// One LSTM layer (PyTorch names `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`,
/// `_reverse` appended for a backward direction).
#[derive(Debug, Clone)]
pub struct Lstm {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    nn: candle_nn::LSTM,
    hidden: usize,
    imp: LstmImpl,
}

impl Lstm {
    pub fn new(
        vb: VarBuilder,
        in_dim: usize,
        hidden: usize,
        reverse: bool,
        imp: LstmImpl,
    ) -> Result<Self> {
        let sfx = if reverse { "_reverse" } else { "" };
        let init = candle_nn::Init::Const(0.0); // real values are filled in by the model's seeded init
        let w_ih = vb.get_with_hints((4 * hidden, in_dim), &format!("weight_ih_l0{sfx}"), init)?;
        let w_hh = vb.get_with_hints((4 * hidden, hidden), &format!("weight_hh_l0{sfx}"), init)?;
        let b_ih = vb.get_with_hints(4 * hidden, &format!("bias_ih_l0{sfx}"), init)?;
        let b_hh = vb.get_with_hints(4 * hidden, &format!("bias_hh_l0{sfx}"), init)?;
        let cfg = LSTMConfig {
            direction: if reverse {
                candle_nn::rnn::Direction::Backward
            } else {
                candle_nn::rnn::Direction::Forward
            },
            ..LSTMConfig::default()
        };
        // candle-nn fetches the same variables by name
        let nn = candle_nn::lstm(in_dim, hidden, cfg, vb)?;
        Ok(Lstm {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            nn,
            hidden,
            imp,
        })
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The implementation that runs on the weights' device.
    fn chosen(&self) -> LstmImpl {
        match (self.imp, self.w_hh.device()) {
            (LstmImpl::Auto | LstmImpl::FusedBf16, Device::Cpu) => self.imp,
            (LstmImpl::Auto | LstmImpl::FusedBf16, Device::Cuda(_)) => LstmImpl::GateCell,
            (LstmImpl::Auto | LstmImpl::FusedBf16, _) => LstmImpl::CandleNn,
            (imp, _) => imp,
        }
    }

    /// Runs over `x` `[T, B, I]` with per-row `lengths`, from `state0` `[B, 2H]` (h0 then c0)
    /// or zeros. Returns `[T, B, H]` (`All`) or the final state's h `[B, H]` (`Last`).
    /// Without `grad` the weights are detached, so nothing is kept for a backward.
    pub fn forward(
        &self,
        x: &Tensor,
        lengths: &[usize],
        state0: Option<&Tensor>,
        output: Output,
        grad: bool,
    ) -> Result<Tensor> {
        self.forward_with_constant(x, None, lengths, state0, output, grad)
    }

    /// [`Lstm::forward`] where each row's input at every step is `x`'s row followed by the
    /// same `constant` `[B, C]` (the decoder's z): the layer's input width is `I + C`. The
    /// same as concatenating `constant` to every step, but on the CPU its share of the gates
    /// is projected once per row instead of once per step (for the decoder, half the products).
    pub fn forward_with_constant(
        &self,
        x: &Tensor,
        constant: Option<&Tensor>,
        lengths: &[usize],
        state0: Option<&Tensor>,
        output: Output,
        grad: bool,
    ) -> Result<Tensor> {
        let (t, b, i) = x.dims3()?;
        let h = self.hidden;
        let zeros;
        let state0 = match state0 {
            Some(s) => s,
            None => {
                zeros = Tensor::zeros((b, 2 * h), x.dtype(), x.device())?;
                &zeros
            }
        };
        let chosen = self.chosen();
        let d = |w: &Tensor| if grad { w.clone() } else { w.detach() };
        if chosen == LstmImpl::GateCell {
            return self.gate_cell_loop(x, constant, lengths, state0, output, &d);
        }
        if matches!(chosen, LstmImpl::Auto | LstmImpl::FusedBf16) {
            let precision = match chosen {
                LstmImpl::FusedBf16 => Precision::Bf16,
                _ => Precision::F32,
            };
            let bias = (d(&self.b_ih) + d(&self.b_hh))?.unsqueeze(1)?;
            let w_ih = d(&self.w_ih);
            return match constant {
                None => {
                    let w = Tensor::cat(&[w_ih, d(&self.w_hh), bias], 1)?;
                    fused(x, &w, state0, lengths, output, precision)
                }
                Some(k) => {
                    let c = k.dim(1)?;
                    let w = Tensor::cat(&[w_ih.narrow(1, 0, i)?, d(&self.w_hh), bias], 1)?;
                    let row_bias = k.matmul(&w_ih.narrow(1, i, c)?.t()?)?;
                    let state0 = Tensor::cat(&[state0, &row_bias], 1)?;
                    fused(x, &w, &state0, lengths, output, precision)
                }
            };
        }
        let widened;
        let x = match constant {
            None => x,
            Some(k) => {
                let ks = k.unsqueeze(0)?.broadcast_as((t, b, k.dim(1)?))?;
                widened = Tensor::cat(&[x, &ks], 2)?;
                &widened
            }
        };
        // candle-nn step loop; padded steps keep the previous state through a 0/1 mask
        let mut state = LSTMState::new(
            state0.narrow(1, 0, h)?.contiguous()?,
            state0.narrow(1, h, h)?.contiguous()?,
        );
        let mut hs = Vec::with_capacity(t);
        for s in 0..t {
            let next = self.nn.step(&x.get(s)?, &state)?;
            let m: Vec<f32> = lengths
                .iter()
                .map(|&l| if s < l { 1.0 } else { 0.0 })
                .collect();
            let m = Tensor::from_vec(m, (b, 1), x.device())?.to_dtype(x.dtype())?;
            let keep = |new: &Tensor, old: &Tensor| -> Result<Tensor> {
                new.broadcast_sub(old)?.broadcast_mul(&m)?.add(old)
            };
            state = LSTMState::new(keep(&next.h, &state.h)?, keep(&next.c, &state.c)?);
            if output == Output::All {
                hs.push(state.h.clone());
            }
        }
        match output {
            Output::All => Tensor::stack(&hs, 0),
            Output::Last => Ok(state.h),
        }
    }

    /// The layer as a loop of steps over [`crate::cell::step`]: per step the input's product
    /// `x_s @ W_xᵀ` plus the row term (the biases, and the constant's share, made once per
    /// row), `h @ W_hhᵀ`, and the cell. The input's products run per step, not as one product
    /// over `[T·B, I]`: a per-step slice of a `[T, B, 4H]` result would cost its whole size in
    /// each step's backward (candle pads a slice's gradient to its source's shape), while `x`
    /// is narrow and is data, which needs no gradient. `d` detaches the weights when no
    /// gradient is wanted.
    fn gate_cell_loop(
        &self,
        x: &Tensor,
        constant: Option<&Tensor>,
        lengths: &[usize],
        state0: &Tensor,
        output: Output,
        d: &dyn Fn(&Tensor) -> Tensor,
    ) -> Result<Tensor> {
        let (t, b, i) = x.dims3()?;
        let h = self.hidden;
        let w_ih = d(&self.w_ih);
        let bias = (d(&self.b_ih) + d(&self.b_hh))?.unsqueeze(0)?;
        // transposed copies, made once: cuBLAS takes a transpose, not a column slice of one
        let w_x_t = w_ih.narrow(1, 0, i)?.t()?.contiguous()?;
        let row = match constant {
            None => bias,
            Some(k) => {
                let w_k_t = w_ih.narrow(1, i, k.dim(1)?)?.t()?.contiguous()?;
                k.matmul(&w_k_t)?.broadcast_add(&bias)?
            }
        };
        let w_hh_t = d(&self.w_hh).t()?.contiguous()?;
        // every step's mask in one upload: a copy from the host per step would stall a GPU
        let masks: Vec<f32> = (0..t)
            .flat_map(|s| lengths.iter().map(move |&l| if s < l { 1.0 } else { 0.0 }))
            .collect();
        let masks = Tensor::from_vec(masks, (t, b), x.device())?;
        let mut state = state0.contiguous()?;
        let mut hs = Vec::with_capacity(if output == Output::All { t } else { 0 });
        for s in 0..t {
            let xp = x.get(s)?.matmul(&w_x_t)?.broadcast_add(&row)?;
            let hh = state.narrow(1, 0, h)?.contiguous()?.matmul(&w_hh_t)?;
            state = crate::cell::step(&xp, &hh, &state, &masks.get(s)?)?;
            if output == Output::All {
                hs.push(state.narrow(1, 0, h)?);
            }
        }
        match output {
            Output::All => Tensor::stack(&hs, 0),
            Output::Last => state.narrow(1, 0, h),
        }
    }

    /// One step for generation, no gradient: `x` `[B, I]`, state (h, c) each `[B, H]`.
    pub fn step_detached(&self, x: &Tensor, h: &Tensor, c: &Tensor) -> Result<(Tensor, Tensor)> {
        let st = self.nn.step(x, &LSTMState::new(h.clone(), c.clone()))?;
        Ok((st.h.detach(), st.c.detach()))
    }
}

/// Index (into a `[T·B, …]` flattening) that reverses each row of a time-major batch within
/// its own length; padded steps stay where they are.
pub fn reverse_index(t: usize, lengths: &[usize], device: &Device) -> Result<Tensor> {
    let b = lengths.len();
    let mut idx = Vec::with_capacity(t * b);
    for s in 0..t {
        for (r, &l) in lengths.iter().enumerate() {
            let src = if s < l { l - 1 - s } else { s };
            idx.push((src * b + r) as u32);
        }
    }
    Tensor::from_vec(idx, t * b, device)
}

/// Reverses each row of `x` `[T, B, I]` within its length.
pub fn reverse_within(x: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let (t, b, i) = x.dims3()?;
    let idx = reverse_index(t, lengths, x.device())?;
    x.reshape((t * b, i))?
        .index_select(&idx, 0)?
        .reshape((t, b, i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Var};
    use candle_nn::VarMap;
    use rand::{RngExt, SeedableRng};

    fn rand_tensor(rng: &mut rand_chacha::ChaCha8Rng, shape: &[usize], scale: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn layer(
        rng: &mut rand_chacha::ChaCha8Rng,
        i: usize,
        h: usize,
        imp: LstmImpl,
    ) -> (Lstm, VarMap) {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let l = Lstm::new(vb, i, h, false, imp).unwrap();
        let mut names: Vec<String> = vm.data().lock().unwrap().keys().cloned().collect();
        names.sort();
        for n in names {
            let var = vm.data().lock().unwrap()[&n].clone();
            var.set(&rand_tensor(rng, var.dims(), 0.5)).unwrap();
        }
        (l, vm)
    }

    fn max_abs(t: &Tensor) -> f32 {
        t.abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Checks that `got` and `want` hold the same gradient for each of `vars`, within 1e-4 of
    /// the larger of 1 and the gradient's own scale.
    fn assert_same_gradients(
        got: &candle_core::backprop::GradStore,
        want: &candle_core::backprop::GradStore,
        vars: &[&Var],
        what: &str,
    ) {
        for v in vars {
            let (a, b) = (got.get(v).unwrap(), want.get(v).unwrap());
            let (d, scale) = (max_abs(&(a - b).unwrap()), max_abs(b));
            assert!(
                d < 1e-4 * scale.max(1.0),
                "{what}: gradient differs by {d} (scale {scale})"
            );
        }
    }

    /// An input without gradient (the drawings) gets none from the fused op, which skips its
    /// product, and the weights get the same gradients as when it has one.
    #[test]
    fn an_input_of_data_gets_no_gradient_and_the_weights_theirs() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (t, b, i, h) = (6, 4, 3, 5);
        let (l, vm) = layer(&mut rng, i, h, LstmImpl::Auto);
        let data = rand_tensor(&mut rng, &[t, b, i], 1.0);
        let var = Var::from_tensor(&data).unwrap();
        let lengths = [6, 2, 4, 1];
        let grads = |x: &Tensor| {
            let y = l.forward(x, &lengths, None, Output::All, true).unwrap();
            y.sqr().unwrap().sum_all().unwrap().backward().unwrap()
        };
        let (without, with) = (grads(&data), grads(var.as_tensor()));
        assert!(without.get(&data).is_none());
        assert!(with.get(var.as_tensor()).is_some());
        let weights: Vec<Var> = vm.all_vars();
        for w in &weights {
            let (a, b) = (without.get(w).unwrap(), with.get(w).unwrap());
            assert_eq!(max_abs(&(a - b).unwrap()), 0.0);
        }
    }

    /// The implementations the gradient tests check: the fused op (its f32 step products on
    /// [`crate::f32x8`] where the CPU prefers them, and on `gemm`) and the gate-cell loop.
    const IMPS: [(LstmImpl, bool); 3] = [
        (LstmImpl::Auto, false),
        (LstmImpl::Auto, true),
        (LstmImpl::GateCell, false),
    ];

    /// `f` run with the f32 step products on `gemm` when `gemm`.
    fn run<R>(gemm: bool, f: impl FnOnce() -> R) -> R {
        if gemm {
            crate::kernel::testing::on_gemm(f)
        } else {
            f()
        }
    }

    /// The fused CPU op and the gate-cell loop against candle-nn's step loop: outputs and every
    /// gradient.
    #[test]
    fn fused_and_gate_cell_match_candle_nn_forward_and_gradients() {
        for (imp, gemm) in IMPS {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            let (t, b, i, h) = (7, 5, 3, 6);
            let (mut l, vm) = layer(&mut rng, i, h, LstmImpl::CandleNn);
            let nn_l = l.clone();
            l.imp = imp;
            let x = Var::from_tensor(&rand_tensor(&mut rng, &[t, b, i], 1.0)).unwrap();
            let s0 = Var::from_tensor(&rand_tensor(&mut rng, &[b, 2 * h], 0.5)).unwrap();
            let lengths = [7, 3, 1, 5, 7];
            for output in [Output::All, Output::Last] {
                let what = format!("{imp:?} (gemm only: {gemm}) {output:?}");
                let ya = run(gemm, || l.forward(&x, &lengths, Some(&s0), output, true)).unwrap();
                let yb = nn_l.forward(&x, &lengths, Some(&s0), output, true).unwrap();
                let diff = max_abs(&(&ya - &yb).unwrap());
                assert!(diff < 1e-5, "{what}: forward differs by {diff}");
                let w = rand_tensor(&mut rng, ya.dims(), 1.0);
                let ga = run(gemm, || (&ya * &w).unwrap().sum_all().unwrap().backward()).unwrap();
                let gb = (&yb * &w).unwrap().sum_all().unwrap().backward().unwrap();
                let all = vm.all_vars();
                let vars: Vec<&Var> = all.iter().chain([&x, &s0]).collect();
                // the layer's four variables, x and the state
                assert_eq!(vars.len(), 6);
                assert_same_gradients(&ga, &gb, &vars, &what);
            }
        }
    }

    /// The fused op with bf16 products against candle-nn's f32 step loop: the output and every
    /// gradient (x's with the bf16 input products, and the state's) within 2% of their scale,
    /// where bf16's rounding of the operands gives well under 1%.
    #[test]
    fn bf16_matches_candle_nn_to_its_rounding() {
        if !crate::bf16::available() {
            eprintln!("no AVX512-BF16 here: the bf16 layer is not run");
            return;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        // both inner sizes past kernel::BF16_MIN_K, so every product runs in bf16
        let (t, b, i, h) = (9, 6, 40, 32);
        let (mut l, vm) = layer(&mut rng, i, h, LstmImpl::CandleNn);
        let nn_l = l.clone();
        l.imp = LstmImpl::FusedBf16;
        let x = Var::from_tensor(&rand_tensor(&mut rng, &[t, b, i], 1.0)).unwrap();
        let s0 = Var::from_tensor(&rand_tensor(&mut rng, &[b, 2 * h], 0.5)).unwrap();
        let lengths = [9, 3, 1, 5, 9, 7];
        for output in [Output::All, Output::Last] {
            let ya = l.forward(&x, &lengths, Some(&s0), output, true).unwrap();
            let yb = nn_l.forward(&x, &lengths, Some(&s0), output, true).unwrap();
            let close = |a: &Tensor, b: &Tensor, what: &str| {
                let (d, scale) = (max_abs(&(a - b).unwrap()), max_abs(b));
                assert!(
                    d <= 2e-2 * scale,
                    "{output:?} {what}: off by {d} at scale {scale}"
                );
                // bf16 ran: not f32's values
                assert!(d > 0.0, "{output:?} {what}: f32's values to the bit");
            };
            close(&ya, &yb, "forward");
            let w = rand_tensor(&mut rng, ya.dims(), 1.0);
            let ga = (&ya * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let gb = (&yb * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let all = vm.all_vars();
            for (n, v) in all.iter().chain([&x, &s0]).enumerate() {
                close(
                    ga.get(v).unwrap(),
                    gb.get(v).unwrap(),
                    &format!("gradient {n}"),
                );
            }
        }
    }

    #[test]
    fn a_constant_input_is_the_same_as_repeating_it_at_every_step() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (t, b, i, c, h) = (6, 5, 3, 4, 5);
        let (fused_l, vm) = layer(&mut rng, i + c, h, LstmImpl::Auto);
        let mut nn_l = fused_l.clone();
        nn_l.imp = LstmImpl::CandleNn;
        let mut cell_l = fused_l.clone();
        cell_l.imp = LstmImpl::GateCell;
        let x = Var::from_tensor(&rand_tensor(&mut rng, &[t, b, i], 1.0)).unwrap();
        let k = Var::from_tensor(&rand_tensor(&mut rng, &[b, c], 1.0)).unwrap();
        let s0 = Var::from_tensor(&rand_tensor(&mut rng, &[b, 2 * h], 0.5)).unwrap();
        let lengths = [6, 2, 1, 4, 6];
        for output in [Output::All, Output::Last] {
            // the reference: k concatenated to every step, through candle-nn's loop
            let widened = Tensor::cat(
                &[
                    x.as_tensor(),
                    &k.unsqueeze(0).unwrap().broadcast_as((t, b, c)).unwrap(),
                ],
                2,
            )
            .unwrap();
            let reference = nn_l
                .forward(&widened, &lengths, Some(&s0), output, true)
                .unwrap();
            let w = rand_tensor(&mut rng, reference.dims(), 1.0);
            let g_ref = (&reference * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for l in [&fused_l, &nn_l, &cell_l] {
                let y = l
                    .forward_with_constant(&x, Some(&k), &lengths, Some(&s0), output, true)
                    .unwrap();
                let what = format!("{:?} {output:?}", l.imp);
                let d = max_abs(&(&y - &reference).unwrap());
                assert!(d < 1e-5, "{what}: forward differs by {d}");
                let g = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
                let all = vm.all_vars();
                let vars: Vec<&Var> = all.iter().chain([&x, &k, &s0]).collect();
                // the layer's four variables, x, the constant and the state
                assert_eq!(vars.len(), 7);
                assert_same_gradients(&g, &g_ref, &vars, &what);
            }
        }
    }

    /// The fused CPU op's and the gate-cell loop's gradients against central differences.
    #[test]
    fn gradients_match_finite_differences() {
        for (imp, gemm) in IMPS {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
            let (t, b, i, h) = (4, 3, 2, 3);
            let (l, vm) = layer(&mut rng, i, h, imp);
            let x = Var::from_tensor(&rand_tensor(&mut rng, &[t, b, i], 1.0)).unwrap();
            let s0 = Var::from_tensor(&rand_tensor(&mut rng, &[b, 2 * h], 0.5)).unwrap();
            let lengths = [4, 2, 3];
            let w = rand_tensor(&mut rng, &[t, b, h], 1.0);
            let loss = |l: &Lstm| -> f64 {
                let y = l
                    .forward(&x, &lengths, Some(&s0), Output::All, true)
                    .unwrap();
                (&y * &w)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_dtype(DType::F64)
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let grads = run(gemm, || {
                let y = l.forward(&x, &lengths, Some(&s0), Output::All, true)?;
                (&y * &w)?.sum_all()?.backward()
            })
            .unwrap();
            let mut vars = vm.all_vars();
            vars.push(x.clone());
            vars.push(s0.clone());
            let eps = 1e-2f32;
            for v in &vars {
                let g = grads
                    .get(v)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                let base = v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                for k in (0..base.len()).step_by(3) {
                    let mut p = base.clone();
                    p[k] += eps;
                    v.set(&Tensor::from_vec(p.clone(), v.dims(), &Device::Cpu).unwrap())
                        .unwrap();
                    let lp = run(gemm, || loss(&l));
                    p[k] -= 2.0 * eps;
                    v.set(&Tensor::from_vec(p, v.dims(), &Device::Cpu).unwrap())
                        .unwrap();
                    let lm = run(gemm, || loss(&l));
                    v.set(&Tensor::from_vec(base.clone(), v.dims(), &Device::Cpu).unwrap())
                        .unwrap();
                    let fd = (lp - lm) / (2.0 * eps as f64);
                    assert!(
                        (fd - g[k] as f64).abs() < 2e-3 + 1e-2 * fd.abs(),
                        "{imp:?} (gemm only: {gemm}) var {:?} [{k}]: fd {fd} vs {}",
                        v.dims(),
                        g[k]
                    );
                }
            }
        }
    }

    #[test]
    fn reverse_within_lengths() {
        let x = Tensor::arange(0f32, 8.0, &Device::Cpu)
            .unwrap()
            .reshape((4, 2, 1))
            .unwrap();
        let r = reverse_within(&x, &[4, 2])
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        // row 0: 0,2,4,6 -> 6,4,2,0; row 1: 1,3 (+ padding 5,7) -> 3,1,5,7
        assert_eq!(r, vec![6.0, 3.0, 4.0, 1.0, 2.0, 5.0, 0.0, 7.0]);
    }
}
