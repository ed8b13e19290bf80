//! sketch-rnn's mixture loss on the CPU as one op with its own gradient.
//!
//! Composed of candle's operations, the loss is some 35 tensors of `[rows, M]` in the forward
//! and more in the backward, each written out and read back, with candle's backward adding
//! every gradient into a fresh zeroed tensor: 35–50 ms, forward and backward, of the default
//! model's step of about 0.25 s (10,100 rows, 20 components, on a Zen 3's two cores). Here the
//! forward computes each row's loss and its gradient in one pass over the row, in f64, rows in
//! parallel, and keeps the gradient for the backward, which only scales it: 12.5–20 ms in all.
//! A loss without a backward (the validation's) pays for the gradient too, a few ms.
//! [`crate::model::mdn_loss`] runs it on the CPU and the composed loss elsewhere (CUDA,
//! Metal); the tests hold the two to each other.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

/// Added to `1 - ρ²`, so that a component's density stays finite as its correlation nears
/// ±1 (the composed loss adds the same).
pub(crate) const CORRELATION_FLOOR: f64 = 1e-6;

/// Rows per task: enough work per task (about 0.1 ms) that splitting pays; a fixed size, so
/// that the loss sums in the same order on any number of threads.
const ROWS: usize = 128;

/// The loss of `[rows, 6M+3]` head outputs against their targets (see
/// [`crate::model::mdn_loss`] for the layout and the averaging).
pub struct MdnLoss {
    /// `[rows, 5]`: dx, dy, then the pen state one-hot
    target: Vec<f64>,
    /// each row's weight in the offsets' mean (its mask over the number of real points)
    w_xy: Vec<f64>,
    /// each row's weight in the pen states' mean
    w_pen: Vec<f64>,
    m: usize,
    /// the loss's gradient with respect to the outputs, from the forward
    grad: std::sync::Mutex<Option<Tensor>>,
}

impl MdnLoss {
    /// `target` `[rows, 5]`, the masks `[rows]`, all on the CPU.
    pub fn new(target: &Tensor, mask_xy: &Tensor, mask_pen: &Tensor, m: usize) -> Result<Self> {
        let values = |t: &Tensor| t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>();
        let weights = |mask: &Tensor| -> Result<Vec<f64>> {
            let mask = values(mask)?;
            let n = mask.iter().sum::<f64>().max(1.0);
            Ok(mask.into_iter().map(|v| v / n).collect())
        };
        let (target, w_xy, w_pen) = (values(target)?, weights(mask_xy)?, weights(mask_pen)?);
        if target.len() != 5 * w_xy.len() || w_pen.len() != w_xy.len() {
            candle_core::bail!(
                "mdn loss: {} target values and masks of {} and {} rows",
                target.len(),
                w_xy.len(),
                w_pen.len()
            );
        }
        Ok(Self {
            target,
            w_xy,
            w_pen,
            m,
            grad: Default::default(),
        })
    }

    fn width(&self) -> usize {
        6 * self.m + 3
    }

    /// Row `r`'s share of the loss, and its gradient with respect to `v` written into `g`.
    /// `scratch` holds `7M` values.
    fn row(&self, r: usize, v: &[f64], scratch: &mut [f64], g: &mut [f64]) -> f64 {
        let m = self.m;
        let t = &self.target[5 * r..5 * r + 5];
        let (w_xy, w_pen) = (self.w_xy[r], self.w_pen[r]);
        g.fill(0.0);
        let mut loss = 0.0;
        if w_xy != 0.0 {
            let part = |k: usize| &v[k * m..(k + 1) * m];
            let (a, mux, muy, lsx, lsy, r_raw) =
                (part(0), part(1), part(2), part(3), part(4), part(5));
            let (pi, rest) = scratch.split_at_mut(m);
            let (s, rest) = rest.split_at_mut(m);
            let (zx, rest) = rest.split_at_mut(m);
            let (zy, rest) = rest.split_at_mut(m);
            let (rho, rest) = rest.split_at_mut(m);
            let (ix, iy) = rest.split_at_mut(m);
            // log π plus each component's log density of the offset, as the composed loss
            let log_z = exp_normalise(a, pi);
            let ln_2pi = (2.0 * std::f64::consts::PI).ln();
            for j in 0..m {
                (ix[j], iy[j]) = ((-lsx[j]).exp(), (-lsy[j]).exp());
                (zx[j], zy[j]) = ((t[0] - mux[j]) * ix[j], (t[1] - muy[j]) * iy[j]);
                rho[j] = r_raw[j].tanh();
                let om = 1.0 + CORRELATION_FLOOR - rho[j] * rho[j];
                let q = zx[j] * zx[j] + zy[j] * zy[j] - 2.0 * rho[j] * zx[j] * zy[j];
                let log_n = -(lsx[j] + lsy[j]) - ln_2pi - 0.5 * om.ln() - q / (2.0 * om);
                s[j] = a[j] - log_z + log_n;
            }
            // s becomes γ, the components' responsibilities for the offset
            let lp = exp_normalise_in_place(s);
            loss -= w_xy * lp;
            // d(-w lp) / d each output
            for j in 0..m {
                let (gamma, zx, zy, rho) = (s[j], zx[j], zy[j], rho[j]);
                let om = 1.0 + CORRELATION_FLOOR - rho * rho;
                let q = zx * zx + zy * zy - 2.0 * rho * zx * zy;
                let (ex, ey) = (zx - rho * zy, zy - rho * zx);
                let k = -w_xy * gamma;
                g[j] = -w_xy * (gamma - pi[j]);
                g[m + j] = k * ex * ix[j] / om;
                g[2 * m + j] = k * ey * iy[j] / om;
                g[3 * m + j] = k * (zx * ex / om - 1.0);
                g[4 * m + j] = k * (zy * ey / om - 1.0);
                let d_rho = (rho + zx * zy) / om - q * rho / (om * om);
                g[5 * m + j] = k * d_rho * (1.0 - rho * rho);
            }
        }
        if w_pen != 0.0 {
            let (p, pen) = (&v[6 * m..6 * m + 3], &t[2..5]);
            let mut soft = [0.0; 3];
            let log_z = exp_normalise(p, &mut soft);
            let pen_ll: f64 = (0..3).map(|k| pen[k] * (p[k] - log_z)).sum();
            loss -= w_pen * pen_ll;
            let total: f64 = pen.iter().sum();
            for k in 0..3 {
                g[6 * m + k] = -w_pen * (pen[k] - soft[k] * total);
            }
        }
        loss
    }

    /// The loss over every row of `out`, and its gradient written into `grad`.
    fn run<T: WithDType>(&self, out: &[T], grad: &mut [T]) -> f64 {
        let d = self.width();
        let sums: Vec<f64> = out
            .par_chunks(ROWS * d)
            .zip(grad.par_chunks_mut(ROWS * d))
            .enumerate()
            .map(|(c, (rows, grad))| {
                // one task's rows: each row's values in f64, the loss they add, their gradient
                let (mut v, mut g) = (vec![0.0; d], vec![0.0; d]);
                let mut scratch = vec![0.0; 7 * self.m];
                let mut sum = 0.0;
                for (k, (row, dst)) in rows
                    .chunks_exact(d)
                    .zip(grad.chunks_exact_mut(d))
                    .enumerate()
                {
                    v.iter_mut().zip(row).for_each(|(a, &b)| *a = b.to_f64());
                    sum += self.row(c * ROWS + k, &v, &mut scratch, &mut g);
                    dst.iter_mut()
                        .zip(&g)
                        .for_each(|(a, &b)| *a = T::from_f64(b));
                }
                sum
            })
            .collect();
        // in task order: the same sum on any number of threads
        sums.into_iter().sum()
    }

    /// The loss as a `[]` tensor of `T`; the gradient kept for the backward.
    fn forward<T: WithDType>(
        &self,
        s: &[T],
        l: &Layout,
        wrap: fn(Vec<T>) -> CpuStorage,
    ) -> Result<CpuStorage> {
        let out = self.values(s, l)?;
        let mut grad = vec![T::zero(); out.len()];
        let loss = self.run(out, &mut grad);
        let rows = self.w_xy.len();
        let grad = Tensor::from_vec(grad, (rows, self.width()), &candle_core::Device::Cpu)?;
        *self.grad.lock().expect("mdn loss state") = Some(grad);
        Ok(wrap(vec![T::from_f64(loss)]))
    }

    /// `out`'s values, contiguous, with the number of rows checked against the targets'.
    fn values<'a, T: WithDType>(&self, s: &'a [T], l: &Layout) -> Result<&'a [T]> {
        let (a, b) = l
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("mdn loss: output not contiguous".into()))?;
        let out = &s[a..b];
        if out.len() != self.w_xy.len() * self.width() {
            candle_core::bail!(
                "mdn loss: {} output values for {} rows of {}",
                out.len(),
                self.w_xy.len(),
                self.width()
            );
        }
        Ok(out)
    }
}

impl CustomOp1 for MdnLoss {
    fn name(&self) -> &'static str {
        "seqae-mdn-loss"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let loss = match s {
            CpuStorage::F32(v) => self.forward(v, l, CpuStorage::F32)?,
            CpuStorage::F64(v) => self.forward(v, l, CpuStorage::F64)?,
            _ => candle_core::bail!("mdn loss: f32 or f64 outputs, not {:?}", s.dtype()),
        };
        Ok((loss, Shape::from(())))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let guard = self.grad.lock().expect("mdn loss state");
        let grad = guard.as_ref().ok_or_else(|| {
            candle_core::Error::Msg("mdn loss: backward without a forward".into())
        })?;
        Ok(Some(grad.broadcast_mul(grad_res)?.reshape(arg.shape())?))
    }
}

/// Writes the softmax of `x` into `p` and returns `ln Σ exp(x)` (from the largest value, so
/// nothing overflows).
fn exp_normalise(x: &[f64], p: &mut [f64]) -> f64 {
    p.copy_from_slice(x);
    exp_normalise_in_place(p)
}

/// [`exp_normalise`] over `x` itself.
fn exp_normalise_in_place(x: &mut [f64]) -> f64 {
    let top = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - top).exp();
        sum += *v;
    }
    x.iter_mut().for_each(|v| *v /= sum);
    top + sum.ln()
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Tensor};
    use rand::SeedableRng;

    use crate::model::{mdn_loss, mdn_loss_composed};

    /// The op's loss and gradient against the composed loss's, in f64 and f32: rows across
    /// several tasks (each row's own target and masks, some masked out), 3 and 20 components,
    /// and outputs out to where the densities and correlations are extreme.
    #[test]
    fn fused_loss_and_gradient_equal_the_composed_ones() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for (m, spread) in [(3, 1.0), (20, 1.0), (20, 4.0)] {
            let rows = 2 * super::ROWS + 45;
            let (out, target, mxy, mpen) = crate::tests::loss_inputs(rows, 6 * m + 3, &mut rng);
            let out = (out.as_tensor() * spread).unwrap();
            for dtype in [DType::F64, DType::F32] {
                let cast = |t: &Tensor| t.to_dtype(dtype).unwrap();
                let (target, mxy, mpen) = (cast(&target), cast(&mxy), cast(&mpen));
                let var = candle_core::Var::from_tensor(&cast(&out)).unwrap();
                type Loss = fn(&Tensor, &Tensor, &Tensor, &Tensor, usize) -> crate::Result<Tensor>;
                let run = |f: Loss| {
                    let loss: Tensor = f(var.as_tensor(), &target, &mxy, &mpen, m).unwrap();
                    // a scale on the loss, as a weight in the total: the gradient carries it
                    let grads = loss.affine(0.7, 0.0).unwrap().backward().unwrap();
                    let grad = grads.get(&var).unwrap();
                    let values = |t: &Tensor| {
                        t.flatten_all()
                            .unwrap()
                            .to_dtype(DType::F64)
                            .unwrap()
                            .to_vec1::<f64>()
                            .unwrap()
                    };
                    (values(&loss)[0], values(grad))
                };
                let (fused, composed) = (run(mdn_loss), run(mdn_loss_composed));
                let tol = if dtype == DType::F64 { 1e-9 } else { 2e-4 };
                let what = format!("m {m}, spread {spread}, {dtype:?}");
                assert!(
                    (fused.0 - composed.0).abs() <= tol * composed.0.abs().max(1.0),
                    "{what}: loss {} against {}",
                    fused.0,
                    composed.0
                );
                let scale = composed.1.iter().fold(0f64, |a, g| a.max(g.abs()));
                assert!(scale > 0.0);
                for (k, (f, c)) in fused.1.iter().zip(&composed.1).enumerate() {
                    assert!(
                        (f - c).abs() <= tol * scale,
                        "{what}: gradient [{}, {}]: {f} against {c}",
                        k / (6 * m + 3),
                        k % (6 * m + 3)
                    );
                }
            }
        }
    }
}
