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

use candle_core::{Device, Tensor};
use drawing::Stroke3;
use rand::{Rng, RngExt};

use crate::error::{Error, Result};

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
    /// `[T+1, B, 5]`: start token then the points
    pub dec_in: Tensor,
    /// `[(T+1)·B, 5]`: the points then the end row
    pub target: Tensor,
    /// `[(T+1)·B]`: 1 where an offset is to be predicted (`s < L`)
    pub mask_xy: Tensor,
    /// `[(T+1)·B]`: 1 where a pen state is to be predicted (`s ≤ L`)
    pub mask_pen: Tensor,
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

/// Random per-drawing scaling of x and y by up to `amount` either way (sketch-rnn's
/// augmentation), drawn from `rng`.
pub struct Augment<'a> {
    pub amount: f32,
    /// Share of teacher-forced decoder inputs blanked (see `TrainConfig`).
    pub decoder_input_dropout: f32,
    pub rng: &'a mut dyn Rng,
}

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
fn write_encoder_rows(
    x: &mut [f32],
    b: usize,
    r: usize,
    d: &Stroke3,
    stretch: (f32, f32),
    scale: f32,
    positions: bool,
) {
    let width = encoder_width(positions);
    let pos = positions.then(|| normalised_positions(d));
    for s in 0..d.len() {
        let row = &mut x[(s * b + r) * width..(s * b + r + 1) * width];
        row[..5].copy_from_slice(&stroke5(d, s, stretch, scale));
        if let Some(p) = &pos {
            row[5..].copy_from_slice(&p[s]);
        }
    }
}

/// The pen's position after each point, in the drawing's bounding box scaled to a longest side
/// of 1 and centred on 0 (so independent of the drawing's size, place and the augmentation).
fn normalised_positions(d: &Stroke3) -> Vec<[f32; 2]> {
    let (mut x, mut y) = (0f32, 0f32);
    let abs: Vec<[f32; 2]> =
        d.dx.iter()
            .zip(&d.dy)
            .map(|(&dx, &dy)| {
                x += dx;
                y += dy;
                [x, y]
            })
            .collect();
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in &abs {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let side = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let inv = if side > 0.0 { 1.0 / side } else { 0.0 };
    let mid = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    abs.iter()
        .map(|p| [(p[0] - mid[0]) * inv, (p[1] - mid[1]) * inv])
        .collect()
}

/// Builds the encoder input only: `[T, B, 5 or 7]` and the lengths.
pub fn encoder_input(
    drawings: &[&Stroke3],
    scale: f32,
    positions: bool,
    device: &Device,
) -> Result<(Tensor, Vec<usize>)> {
    let b = drawings.len();
    let t = drawings.iter().map(|d| d.len()).max().unwrap_or(0);
    let width = encoder_width(positions);
    let mut x = vec![0f32; t * b * width];
    for (r, d) in drawings.iter().enumerate() {
        write_encoder_rows(&mut x, b, r, d, (1.0, 1.0), scale, positions);
    }
    let lengths = drawings.iter().map(|d| d.len()).collect();
    Ok((Tensor::from_vec(x, (t, b, width), device)?, lengths))
}

/// Builds a training batch. Drawings must be validated already.
pub fn make_batch(
    drawings: &[&Stroke3],
    scale: f32,
    positions: bool,
    augment: Option<Augment>,
    device: &Device,
) -> Result<Batch> {
    let b = drawings.len();
    let t = drawings.iter().map(|d| d.len()).max().unwrap_or(0);
    let mut factors = vec![(1f32, 1f32); b];
    let mut blank: Vec<bool> = Vec::new();
    if let Some(aug) = augment {
        for f in factors.iter_mut() {
            let a = aug.amount;
            if a > 0.0 {
                *f = (
                    aug.rng.random_range(1.0 - a..1.0 + a),
                    aug.rng.random_range(1.0 - a..1.0 + a),
                );
            }
        }
        let p = aug.decoder_input_dropout;
        if p > 0.0 {
            blank = (0..t * b).map(|_| aug.rng.random_bool(p as f64)).collect();
        }
    }
    let width = encoder_width(positions);
    let mut points = vec![0f32; t * b * width];
    let mut dec_in = vec![0f32; (t + 1) * b * 5];
    let mut target = vec![0f32; (t + 1) * b * 5];
    let mut mask_xy = vec![0f32; (t + 1) * b];
    let mut mask_pen = vec![0f32; (t + 1) * b];
    for (r, d) in drawings.iter().enumerate() {
        let n = d.len();
        write_encoder_rows(&mut points, b, r, d, factors[r], scale, positions);
        dec_in[r * 5 + 2] = 1.0; // start token
        for s in 0..n {
            let row = stroke5(d, s, factors[r], scale);
            // a blanked input stays all zeros: "previous point unknown"
            if !blank.get(s * b + r).copied().unwrap_or(false) {
                dec_in[((s + 1) * b + r) * 5..((s + 1) * b + r + 1) * 5].copy_from_slice(&row);
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
        dec_in: Tensor::from_vec(dec_in, (t + 1, b, 5), device)?,
        target: Tensor::from_vec(target, ((t + 1) * b, 5), device)?,
        mask_xy: Tensor::from_vec(mask_xy, (t + 1) * b, device)?,
        mask_pen: Tensor::from_vec(mask_pen, (t + 1) * b, device)?,
    })
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
    use rand::SeedableRng;

    fn d(n: usize) -> Stroke3 {
        Stroke3 {
            dx: vec![2.0; n],
            dy: vec![-2.0; n],
            pen: (0..n).map(|i| u8::from(i % 3 == 2)).collect(),
        }
    }

    #[test]
    fn validation_names_the_drawing_and_point() {
        assert!(matches!(
            validate(&Stroke3::default(), 4),
            Err(Error::EmptyDrawing { index: 4 })
        ));
        let mut bad = d(5);
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
        let mut ragged = d(3);
        ragged.pen.pop();
        assert!(matches!(validate(&ragged, 0), Err(Error::Ragged { .. })));
        assert!(validate(&d(1), 0).is_ok());
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

    #[test]
    fn positions_are_the_pen_in_the_drawings_box() {
        // points at (10, 0), (30, 0), (30, 10): box 20 wide, 10 high, centre (20, 5)
        let a = Stroke3 {
            dx: vec![10.0, 20.0, 0.0],
            dy: vec![0.0, 0.0, 10.0],
            pen: vec![0, 0, 1],
        };
        let single = d(1);
        let (x, lengths) = encoder_input(&[&a, &single], 5.0, true, &Device::Cpu).unwrap();
        assert_eq!(x.dims(), &[3, 2, 7]);
        assert_eq!(lengths, vec![3, 1]);
        let x = x.to_vec3::<f32>().unwrap();
        assert_eq!(x[0][0], vec![2.0, 0.0, 1.0, 0.0, 0.0, -0.5, -0.25]);
        assert_eq!(x[1][0][5..], [0.5, -0.25]);
        assert_eq!(x[2][0], vec![0.0, 2.0, 0.0, 1.0, 0.0, 0.5, 0.25]);
        // a single point has no extent: it sits at the centre
        assert_eq!(x[0][1][5..], [0.0, 0.0]);
        // augmentation stretches the offsets, not the positions
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let aug = Augment {
            amount: 0.5,
            decoder_input_dropout: 0.0,
            rng: &mut rng,
        };
        let b = make_batch(&[&a], 5.0, true, Some(aug), &Device::Cpu).unwrap();
        let e = b.enc_x.to_vec3::<f32>().unwrap();
        assert_ne!(e[0][0][0], 2.0);
        assert_eq!(e[0][0][5..], [-0.5, -0.25]);
    }

    #[test]
    fn batch_layout_and_masks() {
        let (a, b) = (d(3), d(1));
        let batch = make_batch(&[&a, &b], 2.0, false, None, &Device::Cpu).unwrap();
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
