//! The sequence autoencoder: encoder LSTM (optionally bidirectional) → latent z →
//! decoder LSTM started from tanh(Linear(z)) and fed `[previous point, z]` → an output head
//! (`mse` or sketch-rnn's `mdn`). The parts are in [`crate::parts`]; here they are put
//! together, with the losses.

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{VarBuilder, VarMap};
use drawing::{Part, Stroke3};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{ContrastiveViews, Head, ModelConfig};
use crate::data::{self, Batch};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::lstm::LstmImpl;
use crate::parts::{Decoder, Encoder, Latent, PictureBranch};

/// How `decode` picks each point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecodeMode {
    /// the most likely point (mdn: the heaviest component's mean and the likeliest pen state)
    Greedy,
    /// sample with a temperature (mdn only; the mse head is deterministic and decodes greedily)
    Sample { temperature: f32, seed: u64 },
}

/// Loss parts of one forward pass, as scalars in the graph.
pub struct Losses {
    /// what is minimised
    pub total: Tensor,
    /// reconstruction (mse, or offset NLL + pen NLL)
    pub recon: Tensor,
    /// the raw KL divergence (VAE only)
    pub kl: Option<Tensor>,
    /// the contrastive term, unweighted (when asked for and the batch has a second view)
    pub contrastive: Option<Tensor>,
}

/// CLIP's symmetric InfoNCE: row i of `a` should be closer (cosine) to row i of `b` than to any
/// other row, and the other way round.
pub fn info_nce(a: &Tensor, b: &Tensor, temperature: f64) -> Result<Tensor> {
    let unit = |t: &Tensor| -> Result<Tensor> {
        let norm = (t.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?;
        Ok(t.broadcast_div(&norm)?)
    };
    let (a, b) = (unit(a)?, unit(b)?);
    let logits = a.matmul(&b.t()?)?.affine(1.0 / temperature, 0.0)?;
    let n = a.dim(0)?;
    let target = Tensor::arange(0u32, n as u32, a.device())?;
    let rows = candle_nn::loss::cross_entropy(&logits, &target)?;
    let cols = candle_nn::loss::cross_entropy(&logits.t()?.contiguous()?, &target)?;
    Ok(((rows + cols)? * 0.5)?)
}

/// The network and its variables: the parts of [`crate::parts`], built on one [`VarMap`].
pub struct SeqAe {
    cfg: ModelConfig,
    scale: f32,
    varmap: VarMap,
    device: Device,
    encoder: Encoder,
    /// the raster branch (`encoder_raster` > 0)
    picture: Option<PictureBranch>,
    latent: Latent,
    decoder: Decoder,
}

impl SeqAe {
    /// A fresh model, weights drawn from `seed` as PyTorch does (uniform ±1/√fan_in; LSTM
    /// ±1/√hidden), with the data's scale factor.
    pub fn new(
        cfg: &ModelConfig,
        scale: f32,
        seed: u64,
        imp: LstmImpl,
        device: &Device,
    ) -> Result<Self> {
        let m = Self::build(cfg, scale, imp, device)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let data = m.varmap.data().lock().expect("varmap");
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            let var = &data[name];
            let bound = if name.contains(".lstm.") {
                1.0 / ((var.dims()[0] / 4) as f32).sqrt()
            } else if name.ends_with(".weight") {
                1.0 / (var.dims()[1] as f32).sqrt()
            } else {
                let w = &data[&name.replace(".bias", ".weight")];
                1.0 / (w.dims()[1] as f32).sqrt()
            };
            let n = var.elem_count();
            let v: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
            var.set(&Tensor::from_vec(v, var.shape(), device)?)?;
        }
        drop(data);
        Ok(m)
    }

    fn build(cfg: &ModelConfig, scale: f32, imp: LstmImpl, device: &Device) -> Result<Self> {
        cfg.validate()?;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::Config(format!(
                "scale factor must be a positive number, not {scale}"
            )));
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let enc = vb.pp("encoder");
        let encoder = Encoder::new(enc.pp("lstm"), cfg, imp)?;
        let picture = (cfg.encoder_raster > 0)
            .then(|| PictureBranch::new(enc.pp("raster"), cfg))
            .transpose()?;
        let summary = encoder.width() + picture.as_ref().map_or(0, PictureBranch::width);
        let latent = Latent::new(enc, cfg, summary)?;
        let decoder = Decoder::new(vb.pp("decoder"), cfg, imp)?;
        Ok(SeqAe {
            cfg: cfg.clone(),
            scale,
            varmap,
            device: device.clone(),
            encoder,
            picture,
            latent,
            decoder,
        })
    }

    /// Rebuilds a model from its config and a safetensors file of its weights.
    pub fn from_weights(
        cfg: &ModelConfig,
        scale: f32,
        weights: &std::path::Path,
        imp: LstmImpl,
        device: &Device,
    ) -> Result<Self> {
        let mut m = Self::build(cfg, scale, imp, device)?;
        m.varmap
            .load(weights)
            .map_err(|e| Error::bad_file(weights, e))?;
        Ok(m)
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    /// Offsets are divided by this before the network sees them.
    pub fn scale(&self) -> f32 {
        self.scale
    }
    pub fn device(&self) -> &Device {
        &self.device
    }
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }
    /// Variables sorted by name (the order optimiser state is kept in).
    pub fn named_vars(&self) -> Vec<(String, candle_core::Var)> {
        let data = self.varmap.data().lock().expect("varmap");
        let mut v: Vec<_> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
    /// The encoder's LSTMs and pooling.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }
    /// The decoder, for teacher-forced outputs or drawing step by step.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    pub fn parameter_count(&self) -> usize {
        self.named_vars().iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// What the latent layer reads: the [`Encoder`]'s summaries, then the [`PictureBranch`]'s
    /// features of `raster` when the model has one.
    fn summary(
        &self,
        x: &Tensor,
        lengths: &[usize],
        pool: Option<&Tensor>,
        raster: Option<&Tensor>,
        grad: bool,
    ) -> Result<Tensor> {
        let hidden = self.encoder.forward(x, lengths, pool, grad)?;
        match (&self.picture, raster) {
            (None, _) => Ok(hidden),
            (Some(branch), Some(r)) => {
                let features = branch.forward(r, grad)?;
                Ok(Tensor::cat(&[&hidden, &features], 1)?)
            }
            (Some(_), None) => Err(Error::Config(
                "the model reads rasters (encoder_raster) but none were made".into(),
            )),
        }
    }

    /// The latent's mean of each drawing of an encoder input (the VAE's mu; no sampling).
    fn mu_of(&self, input: &data::EncoderInput, grad: bool) -> Result<Tensor> {
        let hidden = self.summary(
            &input.x,
            &input.lengths,
            input.pool.as_ref(),
            input.raster.as_ref(),
            grad,
        )?;
        Ok(self.latent.forward(&hidden, grad)?.0)
    }

    /// Loss of one batch. `noise` `[B, latent]` is the VAE's standard normal draw (None: use
    /// mu, as for validation). `kl_weight` and `kl_min` only matter for the VAE.
    pub fn loss(
        &self,
        batch: &Batch,
        noise: Option<&Tensor>,
        kl_weight: f64,
        kl_min: f64,
        contrastive: Option<&ContrastiveViews>,
    ) -> Result<Losses> {
        let hidden = self.summary(
            &batch.enc_x,
            &batch.lengths,
            batch.pool.as_ref(),
            batch.raster.as_ref(),
            true,
        )?;
        let (mu, logsigma) = self.latent.forward(&hidden, true)?;
        let (z, kl) = match &logsigma {
            None => (mu.clone(), None),
            Some(ls) => {
                let z = match noise {
                    Some(eps) => (&mu + ls.exp()?.mul(eps)?)?,
                    None => mu.clone(),
                };
                // KL(N(mu, sigma) || N(0, 1)), averaged over batch and latent dimensions
                let kl = ((ls.affine(2.0, 1.0)? - mu.sqr()?)? - ls.affine(2.0, 0.0)?.exp()?)?
                    .mean_all()?
                    .affine(-0.5, 0.0)?;
                (z, Some(kl))
            }
        };
        let out = self
            .decoder
            .forward(&batch.dec_in, &z, &batch.dec_lengths())?;
        let recon = match self.cfg.head {
            Head::Mse => mse_loss(&out, &batch.target, &batch.mask_xy)?,
            Head::Mdn => mdn_loss(
                &out,
                &batch.target,
                &batch.mask_xy,
                &batch.mask_pen,
                self.cfg.mixtures,
            )?,
        };
        let mut total = match &kl {
            Some(kl) if kl_weight > 0.0 => {
                (&recon + kl.maximum(kl_min)?.affine(kl_weight, 0.0)?)?
            }
            _ => recon.clone(),
        };
        let mut con = None;
        if let (Some(c), Some(view)) = (contrastive, &batch.view) {
            let mu_view = self.mu_of(view, true)?;
            let term = info_nce(&mu, &mu_view, c.temperature)?;
            total = (total + term.affine(c.weight, 0.0)?)?;
            con = Some(term);
        }
        Ok(Losses {
            total,
            recon,
            kl,
            contrastive: con,
        })
    }

    /// Latent vectors (mu for the VAE), one per drawing, in input order. Drawings are sorted
    /// by length and run in batches of `batch` so little work goes to padding.
    pub fn encode(&self, drawings: &[&Stroke3], batch: usize) -> Result<Vec<Vec<f32>>> {
        for (i, d) in drawings.iter().enumerate() {
            data::validate(d, i)?;
        }
        let items: Vec<_> = drawings
            .iter()
            .map(|d| {
                let d = self.cfg.prepare(d);
                let frame = Frame::of(&d);
                (d, frame)
            })
            .collect();
        self.encode_framed(&items, batch)
    }

    /// Encodes parts of each drawing ([`Stroke3::parts`]), as the contrastive views that leave
    /// strokes out are: for a face, the vector of its eyes, nose and mouth without the outline
    /// and hair (`inside`), of its outline alone, or of its hair and ears (`outside`).
    /// Positions are measured in the whole drawing's box, or with `own_box` in the part's own
    /// (zoomed in, as views are with `contrastive.zoom`). Returns, per drawing, one vector per
    /// asked part, `None` where the drawing lacks that part.
    pub fn encode_parts(
        &self,
        drawings: &[&Stroke3],
        parts: &[Part],
        batch: usize,
        own_box: bool,
    ) -> Result<Vec<Vec<Option<Vec<f32>>>>> {
        for (i, d) in drawings.iter().enumerate() {
            data::validate(d, i)?;
        }
        // every asked part of every drawing goes into one list, encoded in length order
        let mut at = Vec::new();
        let mut items = Vec::new();
        for (i, d) in drawings.iter().enumerate() {
            let whole = self.cfg.prepare(d);
            let Some(cut) = whole.parts() else { continue };
            for (k, &part) in parts.iter().enumerate() {
                if let Some(piece) = cut.get(part) {
                    let frame = Frame::of(if own_box { piece } else { &whole });
                    at.push((i, k));
                    items.push((std::borrow::Cow::Owned(piece.clone()), frame));
                }
            }
        }
        let mut out = vec![vec![None; parts.len()]; drawings.len()];
        for ((i, k), z) in at.into_iter().zip(self.encode_framed(&items, batch)?) {
            out[i][k] = Some(z);
        }
        Ok(out)
    }

    /// Encodes prepared drawings, each with the box its positions are measured in, `batch` at a
    /// time in order of length (so little work goes to padding); vectors in the input's order.
    fn encode_framed(
        &self,
        items: &[(std::borrow::Cow<'_, Stroke3>, Frame)],
        batch: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| items[i].0.len());
        let mut out = vec![Vec::new(); items.len()];
        for chunk in order.chunks(batch.max(1)) {
            let ds: Vec<&Stroke3> = chunk.iter().map(|&i| items[i].0.as_ref()).collect();
            let frames: Vec<Frame> = chunk.iter().map(|&i| items[i].1).collect();
            let input = data::encoder_input_in(&ds, &frames, self.scale, &self.cfg, &self.device)?;
            let mu = self.mu_of(&input, false)?;
            for (&i, z) in chunk.iter().zip(mu.to_vec2::<f32>()?) {
                out[i] = z;
            }
        }
        Ok(out)
    }

    /// Generates one drawing per latent vector (`z` is `n × latent`, flat), step by step from z
    /// alone, feeding back its own output, until the end-of-drawing state (mdn) or `max_len`
    /// points. Offsets come back in source units; the last point always lifts the pen.
    pub fn decode(&self, z: &[f32], max_len: usize, mode: DecodeMode) -> Result<Vec<Stroke3>> {
        let width = self.cfg.latent;
        if !z.len().is_multiple_of(width) {
            return Err(Error::LatentWidth {
                got: z.len(),
                width,
            });
        }
        if let Some(p) = z.iter().position(|v| !v.is_finite()) {
            return Err(Error::LatentNonFinite {
                index: p / width,
                position: p % width,
            });
        }
        let n = z.len() / width;
        let mut out = vec![Stroke3::default(); n];
        if n == 0 {
            return Ok(out);
        }
        let (temperature, seed) = match mode {
            DecodeMode::Greedy => (None, 0),
            DecodeMode::Sample { temperature, seed } => {
                if !(temperature.is_finite() && temperature > 0.0) {
                    return Err(Error::Config(format!(
                        "temperature must be positive, not {temperature}"
                    )));
                }
                (Some(temperature), seed)
            }
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let zt = Tensor::from_vec(z.to_vec(), (n, width), &self.device)?;
        let (mut h, mut c) = self.decoder.start(&zt)?;
        let dw = data::decoder_width(self.cfg.decoder_positions);
        let mut start = vec![0f32; dw];
        start[2] = 1.0;
        let mut prev = vec![start; n];
        // the pen's place relative to the first point, for decoder positions
        let mut at = vec![[0f32; 2]; n];
        let mut done = vec![false; n];
        for _ in 0..max_len {
            let p = Tensor::from_vec(prev.concat(), (n, dw), &self.device)?;
            let x = Tensor::cat(&[&p, &zt], 1)?;
            let y;
            (h, c, y) = self.decoder.step(&x, &h, &c)?;
            let y = y.to_vec2::<f32>()?;
            for r in 0..n {
                if done[r] {
                    continue;
                }
                let (dx, dy, state) = match self.cfg.head {
                    Head::Mse => (y[r][0], y[r][1], if y[r][2] > 0.5 { 1 } else { 0 }),
                    Head::Mdn => sample_mdn(&y[r], self.cfg.mixtures, temperature, &mut rng),
                };
                if state == 2 {
                    done[r] = true;
                    continue;
                }
                let d = &mut out[r];
                d.dx.push(dx * self.scale);
                d.dy.push(dy * self.scale);
                d.pen.push(state as u8);
                let mut row = vec![0f32; dw];
                row[0] = dx;
                row[1] = dy;
                row[2 + state] = 1.0;
                if dw > 5 {
                    if out[r].len() > 1 {
                        at[r][0] += dx / data::DECODER_POSITION_UNIT;
                        at[r][1] += dy / data::DECODER_POSITION_UNIT;
                    }
                    row[5..].copy_from_slice(&at[r]);
                }
                prev[r] = row;
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        for d in &mut out {
            if let Some(p) = d.pen.last_mut() {
                *p = 1;
            }
        }
        Ok(out)
    }
}

/// Picks (dx, dy, pen state 0 draw / 1 lift / 2 end) from one row of mdn output.
pub(crate) fn sample_mdn(
    y: &[f32],
    m: usize,
    temperature: Option<f32>,
    rng: &mut ChaCha8Rng,
) -> (f32, f32, usize) {
    let part = |k: usize| &y[k * m..(k + 1) * m];
    let (pi, mux, muy, lsx, lsy, rho) = (part(0), part(1), part(2), part(3), part(4), part(5));
    let pen = &y[6 * m..6 * m + 3];
    let argmax = |v: &[f32]| {
        v.iter()
            .enumerate()
            .fold(0, |best, (i, &x)| if x > v[best] { i } else { best })
    };
    match temperature {
        None => {
            let k = argmax(pi);
            (mux[k], muy[k], argmax(pen))
        }
        Some(tau) => {
            let pick = |logits: &[f32], rng: &mut ChaCha8Rng| -> usize {
                let mx = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let w: Vec<f32> = logits.iter().map(|&l| ((l - mx) / tau).exp()).collect();
                let total: f32 = w.iter().sum();
                let mut u = rng.random::<f32>() * total;
                for (i, &wi) in w.iter().enumerate() {
                    if u < wi {
                        return i;
                    }
                    u -= wi;
                }
                w.len() - 1
            };
            let k = pick(pi, rng);
            let s = tau.sqrt();
            let (sx, sy, r) = (lsx[k].exp() * s, lsy[k].exp() * s, rho[k].tanh());
            let n1: f32 = rng.sample(rand_distr::StandardNormal);
            let n2: f32 = rng.sample(rand_distr::StandardNormal);
            let dx = mux[k] + sx * n1;
            let dy = muy[k] + sy * (r * n1 + (1.0 - r * r).max(0.0).sqrt() * n2);
            (dx, dy, pick(pen, rng))
        }
    }
}

/// Masked mean squared error over (dx, dy, pen-lift), averaged over real points and columns.
pub fn mse_loss(out: &Tensor, target: &Tensor, mask_xy: &Tensor) -> Result<Tensor> {
    let pred = out.narrow(1, 0, 3)?;
    let tgt = Tensor::cat(&[&target.narrow(1, 0, 2)?, &target.narrow(1, 3, 1)?], 1)?;
    let se = (pred - tgt)?.sqr()?.sum(1)?;
    let count = mask_xy.sum_all()?.affine(3.0, 0.0)?;
    Ok((se * mask_xy)?.sum_all()?.div(&count)?)
}

/// sketch-rnn's reconstruction loss: the negative log-likelihood of each real offset under a
/// mixture of `m` bivariate Gaussians (averaged over real points) plus the pen states'
/// cross-entropy (averaged over real points and the end row). `out` is `[rows, 6m+3]`: the
/// components' weight logits, x and y means, x and y log-sigmas, correlations before tanh,
/// then the 3 pen logits. On the CPU it runs as one op ([`crate::mdn`]); elsewhere as
/// candle's operations ([`mdn_loss_composed`]).
pub fn mdn_loss(
    out: &Tensor,
    target: &Tensor,
    mask_xy: &Tensor,
    mask_pen: &Tensor,
    m: usize,
) -> Result<Tensor> {
    if out.device().is_cpu() {
        let op = crate::mdn::MdnLoss::new(target, mask_xy, mask_pen, m)?;
        return Ok(out.contiguous()?.apply_op1(op)?);
    }
    mdn_loss_composed(out, target, mask_xy, mask_pen, m)
}

/// [`mdn_loss`] as candle's operations, on any device.
pub fn mdn_loss_composed(
    out: &Tensor,
    target: &Tensor,
    mask_xy: &Tensor,
    mask_pen: &Tensor,
    m: usize,
) -> Result<Tensor> {
    let part = |k: usize| out.narrow(1, k * m, m);
    let log_pi = candle_nn::ops::log_softmax(&part(0)?, D::Minus1)?;
    let (mux, muy, lsx, lsy) = (part(1)?, part(2)?, part(3)?, part(4)?);
    let rho = part(5)?.tanh()?;
    let x = target.narrow(1, 0, 1)?;
    let y = target.narrow(1, 1, 1)?;
    let zx = x.broadcast_sub(&mux)?.mul(&lsx.neg()?.exp()?)?;
    let zy = y.broadcast_sub(&muy)?.mul(&lsy.neg()?.exp()?)?;
    // 1 - rho², kept away from 0 so the density stays finite
    let one_m_r2 = rho
        .sqr()?
        .affine(-1.0, 1.0 + crate::mdn::CORRELATION_FLOOR)?;
    let q = ((zx.sqr()? + zy.sqr()?)? - (rho * (zx * zy)?)?.affine(2.0, 0.0)?)?;
    let log_n = ((lsx + lsy)?.affine(-1.0, -(2.0 * std::f64::consts::PI).ln())?
        - one_m_r2.log()?.affine(0.5, 0.0)?)?
    .sub(&q.div(&one_m_r2.affine(2.0, 0.0)?)?)?;
    let lp = (log_pi + log_n)?.log_sum_exp(1)?;
    let n_xy = mask_xy.sum_all()?.maximum(1.0)?;
    let offset_nll = (lp * mask_xy)?.sum_all()?.neg()?.div(&n_xy)?;
    let log_pen = candle_nn::ops::log_softmax(&out.narrow(1, 6 * m, 3)?, D::Minus1)?;
    let pen_ll = (log_pen * target.narrow(1, 2, 3)?)?.sum(1)?;
    let n_pen = mask_pen.sum_all()?.maximum(1.0)?;
    let pen_nll = (pen_ll * mask_pen)?.sum_all()?.neg()?.div(&n_pen)?;
    Ok((offset_nll + pen_nll)?)
}
