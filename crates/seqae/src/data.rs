//! From stroke-3 drawings to padded, masked, length-bucketed tensors.
//!
//! The model sees stroke-5 rows `(dx, dy, p_draw, p_lift, p_end)` with offsets divided by the
//! model's scale factor. The encoder reads the drawing's `L` points; the decoder reads a start
//! token `(0, 0, 1, 0, 0)` then the points, and is trained to produce the points then an
//! end-of-drawing row `(0, 0, 0, 0, 1)`: `L + 1` steps.
//!
//! With `positions`, the encoder's rows also carry the pen's position after each move, `(x, y)`
//! relative to the drawing's bounding box (longest side 1, centred on 0): where a stroke lies on
//! the face (eyes above, mouth below) is then read off each row instead of being integrated from
//! the offsets.
//!
//! What a batch carries besides its rows is made in files of their own: the pooling weights
//! ([`crate::pool`]), the pictures ([`crate::raster`]) and the contrastive views
//! ([`crate::views`]); their public items are re-exported here, where they were first.

use candle_core::{Device, Tensor};
use drawing::Stroke3;
use rand::{Rng, RngExt};

use crate::config::{ContrastiveViews, ModelConfig};
use crate::error::{Error, Result};
use crate::frame::normalised_positions;
use crate::pool::pool_weights_in;
use crate::raster::blank_rows;

pub use crate::frame::Frame;
pub use crate::pool::pool_weights;
pub use crate::raster::rasters;
pub use crate::views::contrastive_view;

/// Checks one drawing: same column lengths, at least one point, finite offsets.
pub fn validate(d: &Stroke3, index: usize) -> Result<()> {
    if d.dx.len() != d.dy.len() || d.dx.len() != d.pen.len() {
        return Err(Error::Ragged {
            index,
            dx: d.dx.len(),
            dy: d.dy.len(),
            pen: d.pen.len(),
        });
    }
    if d.is_empty() {
        return Err(Error::EmptyDrawing { index });
    }
    for (point, (&x, &y)) in d.dx.iter().zip(&d.dy).enumerate() {
        for (column, value) in [("dx", x), ("dy", y)] {
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    index,
                    point,
                    column,
                    value,
                });
            }
        }
    }
    Ok(())
}

/// Standard deviation of all dx and dy values together (sketch-rnn's normalisation); 1 when
/// the data has no spread.
pub fn scale_factor(drawings: &[Stroke3]) -> f32 {
    let (mut n, mut sum, mut sum2) = (0f64, 0f64, 0f64);
    for d in drawings {
        for &v in d.dx.iter().chain(&d.dy) {
            n += 1.0;
            sum += v as f64;
            sum2 += (v as f64) * (v as f64);
        }
    }
    if n < 2.0 {
        return 1.0;
    }
    let mean = sum / n;
    let var = (sum2 / n - mean * mean).max(0.0);
    let sd = var.sqrt() as f32;
    if sd.is_finite() && sd > 1e-6 {
        sd
    } else {
        1.0
    }
}

/// One padded batch, time-major.
#[derive(Debug)]
pub struct Batch {
    /// real points per drawing
    pub lengths: Vec<usize>,
    /// `[T, B, 5]`, or `[T, B, 7]` with positions
    pub enc_x: Tensor,
    /// `[T+1, B, 5]` (7 with decoder positions): start token then the points
    pub dec_in: Tensor,
    /// `[(T+1)·B, 5]`: the points then the end row
    pub target: Tensor,
    /// `[(T+1)·B]`: 1 where an offset is to be predicted (`s < L`)
    pub mask_xy: Tensor,
    /// `[(T+1)·B]`: 1 where a pen state is to be predicted (`s ≤ L`)
    pub mask_pen: Tensor,
    /// `[T, B, K]`: the encoder's pooling weights ([`pool_weights`])
    pub pool: Option<Tensor>,
    /// `[B, S·S]`: each drawing as a picture, for the encoder's raster branch ([`rasters`])
    pub raster: Option<Tensor>,
    /// a second view of each drawing for the contrastive term ([`contrastive_view`])
    pub view: Option<EncoderInput>,
}

impl Batch {
    pub fn size(&self) -> usize {
        self.lengths.len()
    }
    /// Decoder lengths (points plus the end row).
    pub fn dec_lengths(&self) -> Vec<usize> {
        self.lengths.iter().map(|l| l + 1).collect()
    }
}

/// What the encoder reads of a batch: `[T, B, width]` rows, each drawing's length,
/// `[T, B, K]` pooling weights and, with a raster branch, `[B, S·S]` pictures.
#[derive(Debug)]
pub struct EncoderInput {
    pub x: Tensor,
    pub lengths: Vec<usize>,
    pub pool: Option<Tensor>,
    pub raster: Option<Tensor>,
}

/// What a training batch adds to its drawings, drawn from `rng`: a random scaling of each
/// drawing's x and y offsets by up to `amount` either way (sketch-rnn's augmentation) and,
/// with `contrastive`, a second, distorted view of each drawing.
pub struct Augment<'a> {
    pub amount: f32,
    pub contrastive: Option<&'a ContrastiveViews>,
    pub rng: &'a mut dyn Rng,
}

/// Width of the decoder's input rows (before z): stroke-5, then with `positions` the pen's
/// place relative to the drawing's first point, in tens of `scale` units.
pub fn decoder_width(positions: bool) -> usize {
    if positions {
        7
    } else {
        5
    }
}

/// Divides the decoder's relative positions (in `scale` units) to keep them near ±1.
pub const DECODER_POSITION_UNIT: f32 = 10.0;

/// Width of the encoder's rows.
pub fn encoder_width(positions: bool) -> usize {
    if positions {
        7
    } else {
        5
    }
}

/// The stroke-5 row of point `s` (offsets stretched by `(fx, fy)` and divided by `scale`).
fn stroke5(d: &Stroke3, s: usize, (fx, fy): (f32, f32), scale: f32) -> [f32; 5] {
    // the last point always lifts the pen, whatever the input says
    let lift = d.pen[s] != 0 || s + 1 == d.len();
    [
        d.dx[s] * fx / scale,
        d.dy[s] * fy / scale,
        f32::from(!lift),
        f32::from(lift),
        0.0,
    ]
}

/// Writes drawing `r`'s encoder rows into the time-major `[T, B, width]` buffer `x`.
#[allow(clippy::too_many_arguments)]
fn write_encoder_rows(
    x: &mut [f32],
    b: usize,
    r: usize,
    d: &Stroke3,
    frame: Frame,
    stretch: (f32, f32),
    scale: f32,
    positions: bool,
) {
    let width = encoder_width(positions);
    let pos = positions.then(|| normalised_positions(d, frame));
    for s in 0..d.len() {
        let row = &mut x[(s * b + r) * width..(s * b + r + 1) * width];
        row[..5].copy_from_slice(&stroke5(d, s, stretch, scale));
        if let Some(p) = &pos {
            row[5..].copy_from_slice(&p[s]);
        }
    }
}

/// Builds what the encoder reads of `drawings`: rows, lengths and pooling weights, positions
/// measured in each drawing's own box.
pub fn encoder_input(
    drawings: &[&Stroke3],
    scale: f32,
    cfg: &ModelConfig,
    device: &Device,
) -> Result<EncoderInput> {
    let frames: Vec<Frame> = drawings.iter().map(|d| Frame::of(d)).collect();
    encoder_input_in(drawings, &frames, scale, cfg, device)
}

/// [`encoder_input`] with positions measured in the given frames.
pub(crate) fn encoder_input_in(
    drawings: &[&Stroke3],
    frames: &[Frame],
    scale: f32,
    cfg: &ModelConfig,
    device: &Device,
) -> Result<EncoderInput> {
    let b = drawings.len();
    let t = drawings.iter().map(|d| d.len()).max().unwrap_or(0);
    let positions = cfg.encoder_positions;
    let width = encoder_width(positions);
    let mut x = vec![0f32; t * b * width];
    for (r, (d, frame)) in drawings.iter().zip(frames).enumerate() {
        write_encoder_rows(&mut x, b, r, d, *frame, (1.0, 1.0), scale, positions);
    }
    Ok(EncoderInput {
        x: Tensor::from_vec(x, (t, b, width), device)?,
        lengths: drawings.iter().map(|d| d.len()).collect(),
        pool: pool_weights_in(drawings, frames, cfg, device)?,
        raster: rasters(drawings, frames, cfg, device)?,
    })
}

/// Fills `factors` with random x and y scalings of up to `amount` either way (none at 0).
fn draw_scale_factors(factors: &mut [(f32, f32)], amount: f32, rng: &mut dyn Rng) {
    if amount > 0.0 {
        for f in factors.iter_mut() {
            *f = (
                rng.random_range(1.0 - amount..1.0 + amount),
                rng.random_range(1.0 - amount..1.0 + amount),
            );
        }
    }
}

/// Builds a training batch. Drawings must be validated already.
pub fn make_batch(
    drawings: &[&Stroke3],
    scale: f32,
    cfg: &ModelConfig,
    augment: Option<Augment>,
    device: &Device,
) -> Result<Batch> {
    let positions = cfg.encoder_positions;
    let b = drawings.len();
    let t = drawings.iter().map(|d| d.len()).max().unwrap_or(0);
    let mut factors = vec![(1f32, 1f32); b];
    let mut views: Option<Vec<(Stroke3, Frame)>> = None;
    // which views' pictures are blanked for the encoder's picture branch
    let mut blank_view_raster: Vec<bool> = Vec::new();
    if let Some(aug) = augment {
        if let Some(c) = aug.contrastive {
            views = Some(
                drawings
                    .iter()
                    .map(|d| contrastive_view(d, cfg, c, aug.rng))
                    .collect(),
            );
        }
        draw_scale_factors(&mut factors, aug.amount, aug.rng);
        let p = aug
            .contrastive
            .map_or(0.0, |c| c.raster_dropout.clamp(0.0, 1.0)) as f64;
        if cfg.encoder_raster > 0 && p > 0.0 {
            blank_view_raster = (0..b).map(|_| aug.rng.random_bool(p)).collect();
        }
    }
    let width = encoder_width(positions);
    // each drawing's box: its positions, pooling weights and picture are measured in it
    let frames: Vec<Frame> = drawings.iter().map(|d| Frame::of(d)).collect();
    let mut points = vec![0f32; t * b * width];
    let dw = decoder_width(cfg.decoder_positions);
    let mut dec_in = vec![0f32; (t + 1) * b * dw];
    let mut target = vec![0f32; (t + 1) * b * 5];
    let mut mask_xy = vec![0f32; (t + 1) * b];
    let mut mask_pen = vec![0f32; (t + 1) * b];
    for (r, d) in drawings.iter().enumerate() {
        let n = d.len();
        write_encoder_rows(
            &mut points,
            b,
            r,
            d,
            frames[r],
            factors[r],
            scale,
            positions,
        );
        dec_in[r * dw + 2] = 1.0; // start token
        let mut at = [0f32; 2];
        for s in 0..n {
            let row = stroke5(d, s, factors[r], scale);
            if s > 0 {
                at[0] += row[0] / DECODER_POSITION_UNIT;
                at[1] += row[1] / DECODER_POSITION_UNIT;
            }
            let dst = &mut dec_in[((s + 1) * b + r) * dw..((s + 1) * b + r + 1) * dw];
            dst[..5].copy_from_slice(&row);
            if dw > 5 {
                dst[5..].copy_from_slice(&at);
            }
            target[(s * b + r) * 5..(s * b + r + 1) * 5].copy_from_slice(&row);
            mask_xy[s * b + r] = 1.0;
            mask_pen[s * b + r] = 1.0;
        }
        target[(n * b + r) * 5 + 4] = 1.0; // end of drawing
        mask_pen[n * b + r] = 1.0;
    }
    Ok(Batch {
        lengths: drawings.iter().map(|d| d.len()).collect(),
        enc_x: Tensor::from_vec(points, (t, b, width), device)?,
        dec_in: Tensor::from_vec(dec_in, (t + 1, b, dw), device)?,
        target: Tensor::from_vec(target, ((t + 1) * b, 5), device)?,
        mask_xy: Tensor::from_vec(mask_xy, (t + 1) * b, device)?,
        mask_pen: Tensor::from_vec(mask_pen, (t + 1) * b, device)?,
        pool: pool_weights_in(drawings, &frames, cfg, device)?,
        raster: rasters(drawings, &frames, cfg, device)?,
        view: views
            .map(|v| -> Result<EncoderInput> {
                let mut input = framed_encoder_input(&v, scale, cfg, device)?;
                input.raster = blank_rows(input.raster, &blank_view_raster)?;
                Ok(input)
            })
            .transpose()?,
    })
}

/// [`encoder_input_in`] of drawings that each carry their frame.
fn framed_encoder_input(
    items: &[(Stroke3, Frame)],
    scale: f32,
    cfg: &ModelConfig,
    device: &Device,
) -> Result<EncoderInput> {
    let (refs, frames): (Vec<&Stroke3>, Vec<Frame>) = items.iter().map(|(d, f)| (d, *f)).unzip();
    encoder_input_in(&refs, &frames, scale, cfg, device)
}

/// Splits indices into batches of similar length: shuffled (when `rng` is given) pools of
/// `pool` batches are sorted by length and cut, then the batch order is shuffled, so little
/// work goes to padding while batches still differ from epoch to epoch.
pub fn bucket(
    lengths: &[usize],
    batch: usize,
    pool: usize,
    rng: Option<&mut dyn Rng>,
) -> Vec<Vec<usize>> {
    use rand::seq::SliceRandom;
    let batch = batch.max(1);
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    let mut rng = rng;
    if let Some(r) = rng.as_mut() {
        idx.shuffle(r);
    }
    let mut out = Vec::new();
    for chunk in idx.chunks_mut(batch * pool.max(1)) {
        chunk.sort_by_key(|&i| lengths[i]);
        out.extend(chunk.chunks(batch).map(|c| c.to_vec()));
    }
    if let Some(r) = rng.as_mut() {
        out.shuffle(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{plain_model, steps};
    use rand::SeedableRng;

    #[test]
    fn validation_names_the_drawing_and_point() {
        assert!(matches!(
            validate(&Stroke3::default(), 4),
            Err(Error::EmptyDrawing { index: 4 })
        ));
        let mut bad = steps(5);
        bad.dy[3] = f32::NAN;
        let e = validate(&bad, 7).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFinite {
                    index: 7,
                    point: 3,
                    column: "dy",
                    ..
                }
            ),
            "{e}"
        );
        let mut ragged = steps(3);
        ragged.pen.pop();
        assert!(matches!(validate(&ragged, 0), Err(Error::Ragged { .. })));
        assert!(validate(&steps(1), 0).is_ok());
    }

    #[test]
    fn scale_is_the_spread_of_offsets() {
        let s = scale_factor(&[Stroke3 {
            dx: vec![1.0, -1.0],
            dy: vec![1.0, -1.0],
            pen: vec![0, 1],
        }]);
        assert!((s - 1.0).abs() < 1e-6);
        let s = scale_factor(&[Stroke3 {
            dx: vec![3.0, -3.0],
            dy: vec![3.0, -3.0],
            pen: vec![0, 1],
        }]);
        assert!((s - 3.0).abs() < 1e-6);
        assert_eq!(
            scale_factor(&[Stroke3 {
                dx: vec![2.0, 2.0],
                dy: vec![2.0, 2.0],
                pen: vec![0, 1]
            }]),
            1.0
        );
        assert_eq!(scale_factor(&[]), 1.0);
    }

    fn with_positions(encoder_positions: bool) -> ModelConfig {
        ModelConfig {
            encoder_positions,
            ..plain_model()
        }
    }

    #[test]
    fn positions_are_the_pen_in_the_drawings_box() {
        // points at (10, 0), (30, 0), (30, 10): box 20 wide, 10 high, centre (20, 5)
        let a = Stroke3 {
            dx: vec![10.0, 20.0, 0.0],
            dy: vec![0.0, 0.0, 10.0],
            pen: vec![0, 0, 1],
        };
        let single = steps(1);
        let EncoderInput { x, lengths, .. } =
            encoder_input(&[&a, &single], 5.0, &with_positions(true), &Device::Cpu).unwrap();
        assert_eq!(x.dims(), &[3, 2, 7]);
        assert_eq!(lengths, vec![3, 1]);
        let x = x.to_vec3::<f32>().unwrap();
        assert_eq!(x[0][0], vec![2.0, 0.0, 1.0, 0.0, 0.0, -0.5, -0.25]);
        assert_eq!(x[1][0][5..], [0.5, -0.25]);
        assert_eq!(x[2][0], vec![0.0, 2.0, 0.0, 1.0, 0.0, 0.5, 0.25]);
        // a single point has no extent: it sits at the centre
        assert_eq!(x[0][1][5..], [0.0, 0.0]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let aug = Augment {
            amount: 0.5,
            contrastive: None,
            rng: &mut rng,
        };
        // augmentation stretches the offsets, not the positions
        let b = make_batch(&[&a], 5.0, &with_positions(true), Some(aug), &Device::Cpu).unwrap();
        let e = b.enc_x.to_vec3::<f32>().unwrap();
        assert_ne!(e[0][0][0], 2.0);
        assert_eq!(e[0][0][5..], [-0.5, -0.25]);
    }

    #[test]
    fn batch_layout_and_masks() {
        let (a, b) = (steps(3), steps(1));
        let batch = make_batch(&[&a, &b], 2.0, &with_positions(false), None, &Device::Cpu).unwrap();
        assert_eq!(batch.enc_x.dims(), &[3, 2, 5]);
        let dec = batch.dec_in.to_vec3::<f32>().unwrap();
        assert_eq!(dec[0][0], vec![0.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(
            dec[1][1],
            vec![1.0, -1.0, 0.0, 1.0, 0.0],
            "single point lifts"
        );
        let tgt = batch.target.to_vec2::<f32>().unwrap();
        assert_eq!(
            tgt[2 * 2],
            vec![1.0, -1.0, 0.0, 1.0, 0.0],
            "row 0 step 2 lifts"
        );
        assert_eq!(tgt[3 * 2], vec![0.0, 0.0, 0.0, 0.0, 1.0], "row 0 end");
        assert_eq!(
            tgt[2 + 1],
            vec![0.0, 0.0, 0.0, 0.0, 1.0],
            "row 1 end at step 1"
        );
        let mxy = batch.mask_xy.to_vec1::<f32>().unwrap();
        let mp = batch.mask_pen.to_vec1::<f32>().unwrap();
        assert_eq!(mxy, vec![1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(mp, vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn buckets_cover_everything_once_and_group_lengths() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 7919) % 200 + 1).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let batches = bucket(&lengths, 10, 20, Some(&mut rng));
        let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        let pad: usize = batches
            .iter()
            .map(|b| {
                let max = b.iter().map(|&j| lengths[j]).max().unwrap();
                b.iter().map(|&j| max - lengths[j]).sum::<usize>()
            })
            .sum();
        let real: usize = lengths.iter().sum();
        assert!(pad * 10 < real, "padding {pad} vs {real} real steps");
    }
}
