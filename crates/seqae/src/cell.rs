//! The LSTM gate cell of one step as candle custom ops, forward and backward: the four gates'
//! activations, the new cell and hidden state, and the held state of padded rows, in one pass
//! over `[B, H]` instead of a dozen elementwise ops.
//!
//! [`crate::lstm::LstmImpl::GateCell`] builds a layer from it: each step's products (the
//! input's `x_s @ W_xᵀ` and `h_prev @ W_hhᵀ`) are candle matmuls, which are cuBLAS on CUDA,
//! and this cell follows them. On CUDA the cell is the kernel pair of
//! `cuda/lstm_cell.cu`; on the CPU, the same arithmetic in Rust (the tests of the `cuda` build
//! also run the kernels' own code on the CPU against it, through `cuda/lstm_cell_host.c`).
//!
//! Inputs of one step, `[B, 4H]` gates in PyTorch's order i, f, g, o: `xp` (the input
//! projection with the biases), `hh` (`h_prev @ W_hhᵀ`), and the state before the step
//! `[B, 2H]` (h, then c). The mask `[B]` is 1 for rows still running and 0 for padding, whose
//! state is held.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use crate::lstm::{slice as cpu_slice, with_values as with_cpu};

/// One step of the cell over `(xp, hh, state)`, as a custom op: the forward, or its backward.
struct Cell {
    h: usize,
    mask: Tensor,
    pass: Pass,
}

enum Pass {
    /// The state after the step, `[B, 2H]`.
    Forward,
    /// Given `grad`, the gradient of the forward's output: `[dgates 4H | dstate 2H]` `[B, 6H]`.
    Backward { grad: Tensor },
}

impl Cell {
    /// Values per output row.
    fn width(&self) -> usize {
        match self.pass {
            Pass::Forward => 2 * self.h,
            Pass::Backward { .. } => 6 * self.h,
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The gates' activations (i, f, g, o) of unit `j` of one row.
fn activations(xp: &[f32], hh: &[f32], h: usize, j: usize) -> [f32; 4] {
    let pre = |k: usize| xp[k * h + j] + hh[k * h + j];
    [
        sigmoid(pre(0)),
        sigmoid(pre(1)),
        pre(2).tanh(),
        sigmoid(pre(3)),
    ]
}

/// The forward pass on the CPU, row by row (`mask.len()` rows).
pub fn forward_cpu(xp: &[f32], hh: &[f32], state: &[f32], mask: &[f32], h: usize) -> Vec<f32> {
    let mut out = vec![0f32; mask.len() * 2 * h];
    for (r, o) in out.chunks_exact_mut(2 * h).enumerate() {
        let s = &state[r * 2 * h..(r + 1) * 2 * h];
        if mask[r] == 0.0 {
            o.copy_from_slice(s);
            continue;
        }
        let (xp, hh) = (
            &xp[r * 4 * h..(r + 1) * 4 * h],
            &hh[r * 4 * h..(r + 1) * 4 * h],
        );
        for j in 0..h {
            let [gi, gf, gg, go] = activations(xp, hh, h, j);
            let c = gf * s[h + j] + gi * gg;
            o[j] = go * c.tanh();
            o[h + j] = c;
        }
    }
    out
}

/// The backward pass on the CPU: `[B, 6H]`, the gates' gradient then the state's.
pub fn backward_cpu(
    xp: &[f32],
    hh: &[f32],
    state: &[f32],
    mask: &[f32],
    grad: &[f32],
    h: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; mask.len() * 6 * h];
    for (r, o) in out.chunks_exact_mut(6 * h).enumerate() {
        let g = &grad[r * 2 * h..(r + 1) * 2 * h];
        let (dgates, dstate) = o.split_at_mut(4 * h);
        if mask[r] == 0.0 {
            // held: the gradient passes to the state before, none to the gates
            dstate.copy_from_slice(g);
            continue;
        }
        let (xp, hh) = (
            &xp[r * 4 * h..(r + 1) * 4 * h],
            &hh[r * 4 * h..(r + 1) * 4 * h],
        );
        for j in 0..h {
            let [gi, gf, gg, go] = activations(xp, hh, h, j);
            let c_prev = state[r * 2 * h + h + j];
            let tc = (gf * c_prev + gi * gg).tanh();
            let dh = g[j];
            let dc = g[h + j] + dh * go * (1.0 - tc * tc);
            dgates[j] = dc * gg * gi * (1.0 - gi);
            dgates[h + j] = dc * c_prev * gf * (1.0 - gf);
            dgates[2 * h + j] = dc * gi * (1.0 - gg * gg);
            dgates[3 * h + j] = dh * tc * go * (1.0 - go);
            // h_prev's gradient of a running row flows through hh, outside the cell
            dstate[h + j] = dc * gf;
        }
    }
    out
}

impl CustomOp3 for Cell {
    fn name(&self) -> &'static str {
        match self.pass {
            Pass::Forward => "seqae-lstm-cell",
            Pass::Backward { .. } => "seqae-lstm-cell-backward",
        }
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
        let (xp, hh, state) = (
            cpu_slice(s1, l1, "xp")?,
            cpu_slice(s2, l2, "hh")?,
            cpu_slice(s3, l3, "state")?,
        );
        let out = with_cpu(&self.mask, "mask", |m| match &self.pass {
            Pass::Forward => Ok(forward_cpu(xp, hh, state, m, self.h)),
            Pass::Backward { grad } => with_cpu(grad, "gradient", |g| {
                backward_cpu(xp, hh, state, m, g, self.h)
            }),
        })??;
        let rows = out.len() / self.width();
        Ok((CpuStorage::F32(out), Shape::from((rows, self.width()))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let rows = l3.dims()[0];
        let (kernel, held) = match &self.pass {
            Pass::Forward => ("lstm_cell_fwd", vec![&self.mask]),
            Pass::Backward { grad } => ("lstm_cell_bwd", vec![&self.mask, grad]),
        };
        let inputs = [(s1, l1), (s2, l2), (s3, l3)];
        let out = cuda::launch(kernel, &inputs, &held, rows, self.width(), self.h)?;
        Ok((out, Shape::from((rows, self.width()))))
    }

    fn bwd(
        &self,
        xp: &Tensor,
        hh: &Tensor,
        state: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        if let Pass::Backward { .. } = self.pass {
            candle_core::bail!("lstm cell: the backward pass has no gradient of its own");
        }
        let op = Cell {
            h: self.h,
            mask: self.mask.clone(),
            pass: Pass::Backward {
                grad: grad_res.contiguous()?,
            },
        };
        let g = xp.apply_op3_no_bwd(hh, state, &op)?;
        let dgates = g.narrow(1, 0, 4 * self.h)?;
        let dstate = g.narrow(1, 4 * self.h, 2 * self.h)?;
        Ok((Some(dgates.clone()), Some(dgates), Some(dstate)))
    }
}

/// One step of the cell: the state after it `[B, 2H]` from `xp`, `hh` `[B, 4H]`, the state
/// before `[B, 2H]` and `mask` `[B]` (f32, 1 running, 0 held). Differentiable in the first three.
pub fn step(xp: &Tensor, hh: &Tensor, state: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let (rows, g4) = xp.dims2()?;
    let h = g4 / 4;
    if g4 != 4 * h
        || hh.dims() != xp.dims()
        || state.dims() != [rows, 2 * h]
        || mask.dims() != [rows]
    {
        candle_core::bail!(
            "lstm cell: xp {:?}, hh {:?}, state {:?}, mask {:?} do not fit together",
            xp.dims(),
            hh.dims(),
            state.dims(),
            mask.dims()
        );
    }
    let op = Cell {
        h,
        mask: mask.contiguous()?,
        pass: Pass::Forward,
    };
    let (xp, hh, state) = (xp.contiguous()?, hh.contiguous()?, state.contiguous()?);
    if xp.track_op() || hh.track_op() || state.track_op() {
        xp.apply_op3(&hh, &state, op)
    } else {
        xp.apply_op3_no_bwd(&hh, &state, &op)
    }
}

/// The kernels of `cuda/lstm_cell.cu`, compiled to PTX at build time.
#[cfg(feature = "cuda")]
mod cuda {
    use candle_core::cuda::cudarc::driver::{LaunchConfig, PushKernelArg};
    use candle_core::cuda::{CudaStorage, WrapErr};
    use candle_core::{Layout, Result, Tensor};

    const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/lstm_cell.ptx"));

    /// Runs kernel `name` over `rows × h` threads: its arguments are the `inputs` (with their
    /// layouts), then the `held` tensors of the op, then a fresh `[rows, width]` output, then
    /// the thread count and `h`.
    pub fn launch(
        name: &str,
        inputs: &[(&CudaStorage, &Layout)],
        held: &[&Tensor],
        rows: usize,
        width: usize,
        h: usize,
    ) -> Result<CudaStorage> {
        let dev = inputs[0].0.device.clone();
        let func = dev.get_or_load_custom_func(name, "seqae_lstm_cell", PTX)?;
        let views = inputs
            .iter()
            .map(|(s, l)| {
                let (a, b) = l.contiguous_offsets().ok_or_else(|| {
                    candle_core::Error::Msg("lstm cell: an input is not contiguous".into())
                })?;
                Ok(s.as_cuda_slice::<f32>()?.slice(a..b))
            })
            .collect::<Result<Vec<_>>>()?;
        let guards: Vec<_> = held.iter().map(|t| t.storage_and_layout()).collect();
        let held_views = guards
            .iter()
            .map(|(s, l)| match &**s {
                candle_core::Storage::Cuda(c) => {
                    let (a, b) = l.contiguous_offsets().ok_or_else(|| {
                        candle_core::Error::Msg("lstm cell: a held tensor is not contiguous".into())
                    })?;
                    Ok(c.as_cuda_slice::<f32>()?.slice(a..b))
                }
                _ => candle_core::bail!("lstm cell: a held tensor is not on the GPU"),
            })
            .collect::<Result<Vec<_>>>()?;
        let n = rows * h;
        // SAFETY: the kernel writes every one of the output's values
        let out = unsafe { dev.alloc::<f32>(rows * width) }?;
        let mut builder = func.builder();
        for v in views.iter().chain(held_views.iter()) {
            builder.arg(v);
        }
        builder.arg(&out);
        let (n32, h32) = (n as u32, h as u32);
        builder.arg(&n32);
        builder.arg(&h32);
        // SAFETY: the arguments match the kernel's signature in lstm_cell.cu
        unsafe { builder.launch(LaunchConfig::for_num_elems(n as u32)) }.w()?;
        Ok(CudaStorage::wrap_cuda_slice(out, dev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn values(rng: &mut rand_chacha::ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-scale..scale)).collect()
    }

    /// The cell's gradient against central differences of its forward, for running and held
    /// rows.
    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (rows, h) = (3, 4);
        let xp = values(&mut rng, rows * 4 * h, 1.5);
        let hh = values(&mut rng, rows * 4 * h, 1.5);
        let state = values(&mut rng, rows * 2 * h, 1.0);
        let mask = [1.0, 0.0, 1.0];
        let w = values(&mut rng, rows * 2 * h, 1.0);
        let loss = |xp: &[f32], state: &[f32]| -> f64 {
            forward_cpu(xp, &hh, state, &mask, h)
                .iter()
                .zip(&w)
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum()
        };
        let g = backward_cpu(&xp, &hh, &state, &mask, &w, h);
        let eps = 1e-2f32;
        let fd = |f: &dyn Fn(f32) -> f64| (f(eps) - f(-eps)) / (2.0 * eps as f64);
        for r in 0..rows {
            for k in 0..4 * h {
                let at = r * 4 * h + k;
                let want = fd(&|e| {
                    let mut p = xp.clone();
                    p[at] += e;
                    loss(&p, &state)
                });
                let got = g[r * 6 * h + k] as f64;
                assert!(
                    (want - got).abs() < 1e-3,
                    "row {r} gate {k}: {got} vs {want}"
                );
            }
            // the c part always; the h part only of held rows (running rows' h_prev acts
            // through hh)
            for k in 0..2 * h {
                if k < h && mask[r] == 1.0 {
                    continue;
                }
                let at = r * 2 * h + k;
                let want = fd(&|e| {
                    let mut p = state.clone();
                    p[at] += e;
                    loss(&xp, &p)
                });
                let got = g[r * 6 * h + 4 * h + k] as f64;
                assert!(
                    (want - got).abs() < 1e-3,
                    "row {r} state {k}: {got} vs {want}"
                );
            }
        }
    }

    /// With the `cuda` feature: the kernels' own per-thread code (`cuda/lstm_cell.h`), built
    /// for the CPU, gives what the Rust cell gives.
    #[cfg(feature = "cuda")]
    #[test]
    fn the_cuda_kernels_code_matches_the_cpu_cell() {
        extern "C" {
            fn seqae_lstm_cell_fwd_host(
                xp: *const f32,
                hh: *const f32,
                state: *const f32,
                mask: *const f32,
                out: *mut f32,
                n: u32,
                h: u32,
            );
            fn seqae_lstm_cell_bwd_host(
                xp: *const f32,
                hh: *const f32,
                state: *const f32,
                mask: *const f32,
                grad: *const f32,
                out: *mut f32,
                n: u32,
                h: u32,
            );
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (rows, h) = (6, 7);
        let xp = values(&mut rng, rows * 4 * h, 3.0);
        let hh = values(&mut rng, rows * 4 * h, 3.0);
        let state = values(&mut rng, rows * 2 * h, 1.0);
        let grad = values(&mut rng, rows * 2 * h, 1.0);
        let mask = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let n = (rows * h) as u32;
        let mut fwd = vec![f32::NAN; rows * 2 * h];
        let mut bwd = vec![f32::NAN; rows * 6 * h];
        // SAFETY: every pointer covers the sizes the kernels read and write for `n` threads
        unsafe {
            seqae_lstm_cell_fwd_host(
                xp.as_ptr(),
                hh.as_ptr(),
                state.as_ptr(),
                mask.as_ptr(),
                fwd.as_mut_ptr(),
                n,
                h as u32,
            );
            seqae_lstm_cell_bwd_host(
                xp.as_ptr(),
                hh.as_ptr(),
                state.as_ptr(),
                mask.as_ptr(),
                grad.as_ptr(),
                bwd.as_mut_ptr(),
                n,
                h as u32,
            );
        }
        let close = |a: &[f32], b: &[f32], what: &str| {
            for (k, (x, y)) in a.iter().zip(b).enumerate() {
                assert!((x - y).abs() <= 1e-6, "{what}[{k}]: kernel {x}, Rust {y}");
            }
        };
        close(&fwd, &forward_cpu(&xp, &hh, &state, &mask, h), "forward");
        close(
            &bwd,
            &backward_cpu(&xp, &hh, &state, &mask, &grad, h),
            "backward",
        );
    }
}
