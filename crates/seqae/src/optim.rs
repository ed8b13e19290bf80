//! The optimiser: Adam with decoupled weight decay (AdamW) and global-norm gradient clipping,
//! its moments kept in the open so that checkpoints hold them and a resumed run goes on
//! exactly where it stopped.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::error::Result;
use crate::model::SeqAe;

/// Adam with decoupled weight decay, its moments kept in the open so checkpoints hold them.
pub struct Adam {
    pub vars: Vec<(String, Var)>,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    pub t: u64,
    weight_decay: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Adam {
    pub fn new(model: &SeqAe, weight_decay: f64) -> Result<Self> {
        let vars = model.named_vars();
        let m = vars
            .iter()
            .map(|(_, v)| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let v = vars
            .iter()
            .map(|(_, v)| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Adam {
            vars,
            m,
            v,
            t: 0,
            weight_decay,
        })
    }

    /// One update; returns the gradient norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip: f64) -> Result<f64> {
        let mut sq = 0f64;
        for (_, var) in &self.vars {
            if let Some(g) = grads.get(var) {
                sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
        }
        let norm = sq.sqrt();
        let scale = if clip > 0.0 && norm > clip {
            clip / norm
        } else {
            1.0
        };
        self.t += 1;
        let bc1 = 1.0 - BETA1.powf(self.t as f64);
        let bc2 = 1.0 - BETA2.powf(self.t as f64);
        for (k, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var) else { continue };
            let g = g.affine(scale, 0.0)?;
            self.m[k] = (self.m[k].affine(BETA1, 0.0)? + g.affine(1.0 - BETA1, 0.0)?)?;
            self.v[k] = (self.v[k].affine(BETA2, 0.0)? + g.sqr()?.affine(1.0 - BETA2, 0.0)?)?;
            let denom = self.v[k].affine(1.0 / bc2, 0.0)?.sqrt()?.affine(1.0, EPS)?;
            let update = self.m[k].div(&denom)?.affine(lr / bc1, 0.0)?;
            let decayed = if self.weight_decay > 0.0 {
                var.as_tensor().affine(1.0 - lr * self.weight_decay, 0.0)?
            } else {
                var.as_tensor().clone()
            };
            var.set(&(decayed - update)?)?;
        }
        Ok(norm)
    }
}
