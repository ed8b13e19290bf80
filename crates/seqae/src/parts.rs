//! The network's parts, each built from its own variables as candle's examples build theirs
//! (`new(vb.pp(..))`, then `forward`): the [`Encoder`]'s LSTMs and pooling, the
//! [`PictureBranch`], the [`Latent`] head and the [`Decoder`]. `SeqAe` (`model.rs`) puts
//! them together.
//!
//! Variable names are a file format: saved `model.safetensors` files and
//! `python/doodle_torch.py` read `encoder.lstm.*`, `encoder.raster.*`, `encoder.to_latent.*`
//! (`to_mu.*`, `to_logsigma.*`), `decoder.init.*`, `decoder.lstm.*` and `decoder.head.*`.

use candle_core::Tensor;
use candle_nn::{Linear, Module, VarBuilder};

use crate::config::ModelConfig;
use crate::data;
use crate::error::Result;
use crate::kernel::Output;
use crate::lstm::{reverse_within, Lstm, LstmImpl};

/// A dense layer `i → o`. Its values are zeros until `SeqAe::new` draws them
/// (in name order, so the draw does not depend on the order parts are built in) or they are
/// loaded.
fn linear(vb: VarBuilder, i: usize, o: usize) -> candle_core::Result<Linear> {
    let init = candle_nn::Init::Const(0.0);
    let w = vb.get_with_hints((o, i), "weight", init)?;
    let b = vb.get_with_hints(o, "bias", init)?;
    Ok(Linear::new(w, Some(b)))
}

/// `l` itself, or with `grad` false a copy cut from the graph (encoding and drawing keep no
/// graph).
fn detach_linear(l: &Linear, grad: bool) -> Linear {
    if grad {
        l.clone()
    } else {
        Linear::new(l.weight().detach(), l.bias().map(|b| b.detach()))
    }
}

/// The encoder's LSTM (optionally bidirectional) and the pooling of its outputs into
/// summaries. `vb` is the LSTM's (`encoder.lstm`).
pub struct Encoder {
    forward: Lstm,
    backward: Option<Lstm>,
    width: usize,
}

impl Encoder {
    pub fn new(vb: VarBuilder, cfg: &ModelConfig, imp: LstmImpl) -> Result<Self> {
        let input = data::encoder_width(cfg.encoder_positions);
        let forward = Lstm::new(vb.clone(), input, cfg.enc_hidden, false, imp)?;
        let backward = if cfg.bidirectional {
            Some(Lstm::new(vb, input, cfg.enc_hidden, true, imp)?)
        } else {
            None
        };
        let directions = if cfg.bidirectional { 2 } else { 1 };
        Ok(Encoder {
            forward,
            backward,
            width: cfg.enc_hidden * directions * cfg.summaries(),
        })
    }

    /// Width of [`Self::forward`]'s summaries.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The summaries `[B, K·H]` (forward) or `[B, 2·K·H]` (forward then backward), K being the
    /// pool's slots, of time-major rows `x`. `pool` is [`data::pool_weights`]'s `[T, B, K]`
    /// (None for `last`).
    pub fn forward(
        &self,
        x: &Tensor,
        lengths: &[usize],
        pool: Option<&Tensor>,
        grad: bool,
    ) -> Result<Tensor> {
        let run = |lstm: &Lstm, x: &Tensor, w: Option<&Tensor>| -> Result<Tensor> {
            Ok(match w {
                None => lstm.forward(x, lengths, None, Output::Last, grad)?,
                Some(w) => {
                    // [B, K, T] × [B, T, H] → [B, K, H]: a weighted sum over time per slot
                    let hs = lstm.forward(x, lengths, None, Output::All, grad)?;
                    let hs = hs.transpose(0, 1)?.contiguous()?;
                    let w = w.permute((1, 2, 0))?.contiguous()?;
                    w.matmul(&hs)?.flatten_from(1)?
                }
            })
        };
        let f = run(&self.forward, x, pool)?;
        Ok(match &self.backward {
            None => f,
            Some(backward) => {
                // the backward LSTM's step s is the drawing's point len-1-s: so are its weights
                let w_rev = pool.map(|w| reverse_within(w, lengths)).transpose()?;
                let b = run(backward, &reverse_within(x, lengths)?, w_rev.as_ref())?;
                Tensor::cat(&[&f, &b], 1)?
            }
        })
    }

    /// The forward and (bidirectional) backward LSTMs.
    #[cfg(test)]
    pub(crate) fn lstms(&self) -> (&Lstm, &Lstm) {
        (
            &self.forward,
            self.backward.as_ref().expect("a bidirectional model"),
        )
    }
}

/// The encoder's raster branch: one dense layer with tanh over each drawing's picture
/// (`encoder.raster`, `encoder_raster`² → `encoder_raster_width`).
pub struct PictureBranch {
    layer: Linear,
    width: usize,
}

impl PictureBranch {
    pub fn new(vb: VarBuilder, cfg: &ModelConfig) -> Result<Self> {
        let side = cfg.encoder_raster;
        Ok(PictureBranch {
            layer: linear(vb, side * side, cfg.encoder_raster_width)?,
            width: cfg.encoder_raster_width,
        })
    }

    /// Width of [`Self::forward`]'s features.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Features `[B, width]` of pictures `[B, S·S]`.
    pub fn forward(&self, pictures: &Tensor, grad: bool) -> Result<Tensor> {
        Ok(detach_linear(&self.layer, grad).forward(pictures)?.tanh()?)
    }
}

/// From the encoder's summary to the latent: `to_latent`, or the VAE's `to_mu` and
/// `to_logsigma`. `vb` is the encoder's (`encoder`), where these layers have always been.
pub enum Latent {
    /// `to_latent`: z itself
    Plain(Linear),
    /// `to_mu` and `to_logsigma`: the mean and log standard deviation z is drawn from
    Vae { mu: Linear, logsigma: Linear },
}

impl Latent {
    /// A head reading summaries `input` wide.
    pub fn new(vb: VarBuilder, cfg: &ModelConfig, input: usize) -> Result<Self> {
        Ok(if cfg.vae {
            Latent::Vae {
                mu: linear(vb.pp("to_mu"), input, cfg.latent)?,
                logsigma: linear(vb.pp("to_logsigma"), input, cfg.latent)?,
            }
        } else {
            Latent::Plain(linear(vb.pp("to_latent"), input, cfg.latent)?)
        })
    }

    /// (mu or z, log-sigma for the VAE).
    pub fn forward(&self, summary: &Tensor, grad: bool) -> Result<(Tensor, Option<Tensor>)> {
        Ok(match self {
            Latent::Vae { mu, logsigma } => {
                let mu = detach_linear(mu, grad).forward(summary)?;
                let ls = detach_linear(logsigma, grad).forward(summary)?;
                (mu, Some(ls))
            }
            Latent::Plain(l) => (detach_linear(l, grad).forward(summary)?, None),
        })
    }
}

/// The decoder: its LSTM starts from tanh(`init`(z)), reads `[previous point, z]` at every step,
/// and `head` turns its outputs into points (`mse`) or mixtures (`mdn`). `vb` is `decoder`.
pub struct Decoder {
    init: Linear,
    lstm: Lstm,
    head: Linear,
    hidden: usize,
}

impl Decoder {
    pub fn new(vb: VarBuilder, cfg: &ModelConfig, imp: LstmImpl) -> Result<Self> {
        let hidden = cfg.dec_hidden;
        let input = data::decoder_width(cfg.decoder_positions) + cfg.latent;
        Ok(Decoder {
            init: linear(vb.pp("init"), cfg.latent, 2 * hidden)?,
            lstm: Lstm::new(vb.pp("lstm"), input, hidden, false, imp)?,
            head: linear(vb.pp("head"), hidden, cfg.out_dim())?,
            hidden,
        })
    }

    /// Head output `[(T+1)·B, D]` with teacher forcing: `dec_in` `[T+1, B, width]` is the start
    /// token then the points, `z` `[B, latent]`.
    pub fn forward(&self, dec_in: &Tensor, z: &Tensor, lengths: &[usize]) -> Result<Tensor> {
        let (t1, b, _) = dec_in.dims3()?;
        let init = self.init.forward(z)?.tanh()?;
        // z joins every step's input
        let hs = self.lstm.forward_with_constant(
            dec_in,
            Some(z),
            lengths,
            Some(&init),
            Output::All,
            true,
        )?;
        Ok(self.head.forward(&hs.reshape((t1 * b, self.hidden))?)?)
    }

    /// The LSTM's first state (h, c) for drawing from `z` `[N, latent]`, out of the graph.
    pub fn start(&self, z: &Tensor) -> Result<(Tensor, Tensor)> {
        let init = detach_linear(&self.init, false).forward(z)?.tanh()?;
        let hd = self.hidden;
        Ok((
            init.narrow(1, 0, hd)?.contiguous()?,
            init.narrow(1, hd, hd)?.contiguous()?,
        ))
    }

    /// One step of drawing, out of the graph: the input `x` `[N, width + latent]` and state
    /// (h, c) give the next state and the head's output `[N, D]`.
    pub fn step(&self, x: &Tensor, h: &Tensor, c: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (h, c) = self.lstm.step_detached(x, h, c)?;
        let y = detach_linear(&self.head, false).forward(&h)?;
        Ok((h, c, y))
    }
}
