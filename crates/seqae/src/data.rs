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
use crate::config::{ContrastiveViews, ModelConfig, Pool};

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

/// What the encoder reads of a batch: `[T, B, width]` rows, each drawing's length,
/// `[T, B, K]` pooling weights and, with a raster branch, `[B, S·S]` pictures.
#[derive(Debug)]
pub struct EncoderInput {
    pub x: Tensor,
    pub lengths: Vec<usize>,
    pub pool: Option<Tensor>,
    pub raster: Option<Tensor>,
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

/// The box, in the drawing's own units, that positions are measured in: the drawing's bounding
/// box, except for a contrastive view with strokes left out, which keeps its whole drawing's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    lo: [f32; 2],
    hi: [f32; 2],
}

impl Frame {
    /// The bounding box of `d`'s points.
    pub fn of(d: &Stroke3) -> Frame {
        let (lo, hi) = bounds(&absolute_positions(d));
        Frame { lo, hi }
    }
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

/// The pen's position after each point, in the drawing's bounding box scaled to a longest side
/// of 1 and centred on 0 (so independent of the drawing's size, place and the augmentation).
fn normalised_positions(d: &Stroke3, frame: Frame) -> Vec<[f32; 2]> {
    let abs = absolute_positions(d);
    let Frame { lo, hi } = frame;
    let side = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let inv = if side > 0.0 { 1.0 / side } else { 0.0 };
    let mid = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    abs.iter()
        .map(|p| [(p[0] - mid[0]) * inv, (p[1] - mid[1]) * inv])
        .collect()
}

/// How much each point counts in each of the encoder's summaries, `[T, B, K]` time-major like
/// the encoder's input (None for [`Pool::Last`]). `mean`: `1/L` at each of a drawing's `L`
/// points. `grid`: the box of the drawing is stretched to the unit square (each axis on its
/// own, so that parts sit at the same place in wide and tall drawings) and a `G × G` grid of
/// nodes laid over it; each point is shared between its nearest nodes by bilinear (tent)
/// weights on its position after the move, and each node's weights are divided by their sum,
/// or by 1 where that is less, so a node that only touches a point's edge stays small.
pub fn pool_weights(
    drawings: &[&Stroke3],
    cfg: &ModelConfig,
    device: &Device,
) -> Result<Option<Tensor>> {
    let frames: Vec<Frame> = drawings.iter().map(|d| Frame::of(d)).collect();
    pool_weights_in(drawings, &frames, cfg, device)
}

/// [`pool_weights`] with positions measured in the given frames.
fn pool_weights_in(
    drawings: &[&Stroke3],
    frames: &[Frame],
    cfg: &ModelConfig,
    device: &Device,
) -> Result<Option<Tensor>> {
    let b = drawings.len();
    let t = drawings.iter().map(|d| d.len()).max().unwrap_or(0);
    let k = cfg.encoder_pool.slots(cfg.encoder_grid);
    let mut w = vec![0f32; t * b * k];
    match cfg.encoder_pool {
        Pool::Last => return Ok(None),
        Pool::Mean => {
            for (r, d) in drawings.iter().enumerate() {
                for s in 0..d.len() {
                    w[s * b + r] = 1.0 / d.len() as f32;
                }
            }
        }
        Pool::Grid => {
            let g = cfg.encoder_grid;
            let span = (g - 1) as f32;
            for (r, d) in drawings.iter().enumerate() {
                let mut sum = vec![0f32; k];
                let unit = unit_square_positions(d, frames[r]);
                for (s, p) in unit.iter().enumerate() {
                    let row = &mut w[(s * b + r) * k..(s * b + r + 1) * k];
                    let (u, v) = (p[0] * span, p[1] * span);
                    for (j, wy) in tent(v, g) {
                        for (i, wx) in tent(u, g) {
                            row[j * g + i] += wx * wy;
                            sum[j * g + i] += wx * wy;
                        }
                    }
                }
                for s in 0..d.len() {
                    let row = &mut w[(s * b + r) * k..(s * b + r + 1) * k];
                    for (x, total) in row.iter_mut().zip(&sum) {
                        *x /= total.max(1.0);
                    }
                }
            }
        }
    }
    Ok(Some(Tensor::from_vec(w, (t, b, k), device)?))
}

/// The (at most two) nodes `0..g` near `u` (in node units) with their tent weights.
fn tent(u: f32, g: usize) -> impl Iterator<Item = (usize, f32)> {
    let lo = (u.floor().max(0.0) as usize).min(g.saturating_sub(2));
    let f = (u - lo as f32).clamp(0.0, 1.0);
    let pair = if g == 1 {
        [(0, 1.0), (0, 0.0)]
    } else {
        [(lo, 1.0 - f), (lo + 1, f)]
    };
    pair.into_iter().filter(|&(_, w)| w > 0.0)
}

/// The pen's position after each point with the drawing's box stretched to the unit square
/// (an axis without extent sits at 0.5).
fn unit_square_positions(d: &Stroke3, frame: Frame) -> Vec<[f32; 2]> {
    let abs = absolute_positions(d);
    let Frame { lo, hi } = frame;
    let norm = |v: f32, k: usize| {
        let side = hi[k] - lo[k];
        if side > 0.0 {
            (v - lo[k]) / side
        } else {
            0.5
        }
    };
    abs.iter().map(|p| [norm(p[0], 0), norm(p[1], 1)]).collect()
}

fn absolute_positions(d: &Stroke3) -> Vec<[f32; 2]> {
    let (mut x, mut y) = (0f32, 0f32);
    d.dx.iter()
        .zip(&d.dy)
        .map(|(&dx, &dy)| {
            x += dx;
            y += dy;
            [x, y]
        })
        .collect()
}

fn bounds(abs: &[[f32; 2]]) -> ([f32; 2], [f32; 2]) {
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in abs {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}

/// A second view of a drawing for the contrastive term: the same drawing tilted (up to 15°
/// either way), stretched and sheared (up to `stretch`), every point moved at random by about
/// `jitter` of the drawing's size (a standard deviation), as two people might draw the same
/// thing; each stroke resized about its centre by up to `stroke_scale` and simplified again,
/// with fewer points, at a tolerance drawn up to `resimplify` of its size; put in canonical
/// order again when the model uses one (the tilt can change it); then each stroke left out
/// with chance `stroke_drop` (or by its ink, `drop_by_ink`), the way a crop works for
/// photographs: a face must still be told by its other parts, so no one part (the outline) can
/// carry the latent alone. The frame is the whole distorted drawing's box, so the parts that
/// stay keep their place in it, or, with chance `zoom` when strokes were left out, the box of
/// what is left: the parts then fill the encoder's grid, and the model learns them at full
/// size.
pub fn contrastive_view(
    d: &Stroke3,
    cfg: &ModelConfig,
    views: &ContrastiveViews,
    rng: &mut dyn Rng,
) -> (Stroke3, Frame) {
    let tilt = rng.random_range(-0.26f32..0.26);
    let a = views.stretch.clamp(0.0, 0.9);
    let mut within = |a: f32| {
        if a > 0.0 {
            rng.random_range(-a..a)
        } else {
            0.0
        }
    };
    let (sx, sy) = (1.0 + within(a), 1.0 + within(a));
    let shear = within(a);
    let (s, c) = tilt.sin_cos();
    // rotation · shear · stretch
    let m = [
        [c * sx, (c * shear - s) * sy],
        [s * sx, (s * shear + c) * sy],
    ];
    let abs = absolute_positions(d);
    let (lo, hi) = bounds(&abs);
    let size = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let sigma = views.jitter * size;
    let resize = views.stroke_scale.clamp(0.0, 0.9);
    let mut ends = stroke_ends(d).into_iter();
    let mut next_stroke = 0;
    // the current stroke's centre and size factor
    let (mut centre, mut factor) = ([0f32; 2], 1f32);
    let mut prev = [0f32; 2];
    let (mut dx, mut dy) = (Vec::with_capacity(d.len()), Vec::with_capacity(d.len()));
    for (i, p) in abs.iter().enumerate() {
        if i == next_stroke {
            let end = ends.next().unwrap_or(abs.len() - 1);
            next_stroke = end + 1;
            if resize > 0.0 {
                let (slo, shi) = bounds(&abs[i..=end]);
                centre = [(slo[0] + shi[0]) / 2.0, (slo[1] + shi[1]) / 2.0];
                factor = 1.0 + rng.random_range(-resize..resize);
            }
        }
        let p = [
            centre[0] + factor * (p[0] - centre[0]),
            centre[1] + factor * (p[1] - centre[1]),
        ];
        let (jx, jy): (f32, f32) = (
            rng.sample(rand_distr::StandardNormal),
            rng.sample(rand_distr::StandardNormal),
        );
        let q = [
            m[0][0] * p[0] + m[0][1] * p[1] + sigma * jx,
            m[1][0] * p[0] + m[1][1] * p[1] + sigma * jy,
        ];
        dx.push(q[0] - prev[0]);
        dy.push(q[1] - prev[1]);
        prev = q;
    }
    let view = Stroke3 {
        dx,
        dy,
        pen: d.pen.clone(),
    };
    let view = if views.resimplify > 0.0 {
        resimplified(&view, rng.random_range(0.0..views.resimplify.min(0.5)))
    } else {
        view
    };
    let view = cfg.prepare(&view).into_owned();
    let dropped = drop_strokes(&view, views.stroke_drop, views.drop_by_ink, rng);
    // zoomed in on what is left, as a crop of a photograph is resized
    let zoom = views.zoom > 0.0
        && dropped.len() < view.len()
        && rng.random_bool(views.zoom.min(1.0) as f64);
    let frame = Frame::of(if zoom { &dropped } else { &view });
    (dropped, frame)
}

/// `d` with each stroke simplified again by [`drawing::rdp`] at a tolerance of `share` of the
/// stroke's own size (the longest side of its box), so a nose loses no more of its shape than
/// the outline around it.
fn resimplified(d: &Stroke3, share: f32) -> Stroke3 {
    let strokes: Vec<drawing::Stroke> = d
        .to_strokes()
        .iter()
        .map(|s| drawing::rdp(&s.x, &s.y, share * s.size()))
        .collect();
    Stroke3::from_strokes(&strokes)
}

/// The index of each stroke's last point: where the pen lifts, and the drawing's last point
/// (which ends a stroke whatever its pen says).
fn stroke_ends(d: &Stroke3) -> Vec<usize> {
    (0..d.len())
        .filter(|&s| d.pen[s] != 0 || s + 1 == d.len())
        .collect()
}

/// `d` without some of its strokes (each with chance `p`, at least one kept), the others where
/// they were: a left-out stroke's moves are added to the next kept point's offset. With
/// `by_ink`, a stroke's chance is `p` times the number of strokes times its share of the ink
/// (its length), at most 0.5: long strokes (an outline) are left out often, short ones (a
/// nose) rarely, so the views do not teach the latent that a small part does not matter.
fn drop_strokes(d: &Stroke3, p: f32, by_ink: bool, rng: &mut dyn Rng) -> Stroke3 {
    let ends = stroke_ends(d);
    if p <= 0.0 || ends.len() < 2 {
        return d.clone();
    }
    let chances: Vec<f64> = if by_ink {
        let mut ink = Vec::with_capacity(ends.len());
        let mut start = 0;
        for &end in &ends {
            // the first point's offset is the pen's move to the stroke, not ink
            let len: f32 = (start + 1..=end).map(|s| d.dx[s].hypot(d.dy[s])).sum();
            ink.push(len);
            start = end + 1;
        }
        let total: f32 = ink.iter().sum();
        let n = ends.len() as f32;
        ink.iter()
            .map(|&l| {
                let share = if total > 0.0 { l / total } else { 1.0 / n };
                f64::from((p * n * share).min(0.5))
            })
            .collect()
    } else {
        vec![f64::from(p); ends.len()]
    };
    let mut keep: Vec<bool> = chances.iter().map(|&c| !rng.random_bool(c)).collect();
    if !keep.contains(&true) {
        let lucky = rng.random_range(0..keep.len());
        keep[lucky] = true;
    }
    keep_strokes(d, &ends, &keep)
}

/// The strokes of `d` (ending at `ends`) whose `keep` is true, in place: a left-out stroke's
/// moves are added to the next kept point's offset.
fn keep_strokes(d: &Stroke3, ends: &[usize], keep: &[bool]) -> Stroke3 {
    let mut out = Stroke3::default();
    let (mut carry_x, mut carry_y) = (0f32, 0f32);
    let mut start = 0;
    for (&end, &kept) in ends.iter().zip(keep) {
        for s in start..=end {
            if kept {
                out.dx.push(d.dx[s] + carry_x);
                out.dy.push(d.dy[s] + carry_y);
                out.pen.push(u8::from(s == end));
                (carry_x, carry_y) = (0.0, 0.0);
            } else {
                carry_x += d.dx[s];
                carry_y += d.dy[s];
            }
        }
        start = end + 1;
    }
    out
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

/// Each drawing as an `S × S` picture of its lines (`S` = `encoder_raster`), in its frame's
/// box scaled to the square of its longest side and centred, as the encoder's positions are;
/// `[B, S·S]`, or None without a raster branch.
pub fn rasters(
    drawings: &[&Stroke3],
    frames: &[Frame],
    cfg: &ModelConfig,
    device: &Device,
) -> Result<Option<Tensor>> {
    let side = cfg.encoder_raster;
    if side == 0 {
        return Ok(None);
    }
    let mut pixels = Vec::with_capacity(drawings.len() * side * side);
    for (d, frame) in drawings.iter().zip(frames) {
        pixels.extend(raster_in(d, *frame, side));
    }
    Ok(Some(Tensor::from_vec(
        pixels,
        (drawings.len(), side * side),
        device,
    )?))
}

/// `pictures` `[B, S·S]` with the rows where `blank` is true set to 0 (all kept where `blank`
/// is empty).
fn blank_rows(pictures: Option<Tensor>, blank: &[bool]) -> Result<Option<Tensor>> {
    match pictures {
        Some(p) if blank.iter().any(|&b| b) => {
            let keep: Vec<f32> = blank.iter().map(|&b| f32::from(u8::from(!b))).collect();
            let keep = Tensor::from_vec(keep, (blank.len(), 1), p.device())?;
            Ok(Some(p.broadcast_mul(&keep)?))
        }
        p => Ok(p),
    }
}

/// One drawing's picture for [`rasters`].
fn raster_in(d: &Stroke3, frame: Frame, side: usize) -> Vec<f32> {
    let Frame { lo, hi } = frame;
    let extent = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let inv = if extent > 0.0 { 1.0 / extent } else { 0.0 };
    let mid = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let mut unit = d.to_strokes();
    for s in &mut unit {
        s.x.iter_mut().for_each(|v| *v = (*v - mid[0]) * inv + 0.5);
        s.y.iter_mut().for_each(|v| *v = (*v - mid[1]) * inv + 0.5);
    }
    soften(&drawing::rasterise_unit(&unit, side), side)
}

/// A `side × side` picture blurred by the 3 × 3 binomial kernel (1 2 1 by 1 2 1) and scaled
/// so its darkest pixel is 1: a line drawn a pixel off then still overlaps the one it should
/// match, where one-pixel lines would share no ink at all.
fn soften(img: &[f32], side: usize) -> Vec<f32> {
    const K: [f32; 3] = [0.25, 0.5, 0.25];
    let blur = |src: &[f32], dx: usize, dy: usize| -> Vec<f32> {
        let mut out = vec![0f32; src.len()];
        for y in 0..side {
            for x in 0..side {
                let mut v = 0.0;
                for (k, w) in K.iter().enumerate() {
                    let (sx, sy) = (x + k * dx, y + k * dy);
                    // (k = 1 is the pixel itself; 0 and 2 its neighbours, clipped at the edge)
                    if sx >= dx && sy >= dy && sx - dx < side && sy - dy < side {
                        v += w * src[(sy - dy) * side + sx - dx];
                    }
                }
                out[y * side + x] = v;
            }
        }
        out
    };
    let mut out = blur(&blur(img, 1, 0), 0, 1);
    let max = out.iter().copied().fold(0f32, f32::max);
    if max > 0.0 {
        out.iter_mut().for_each(|v| *v /= max);
    }
    out
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
        let p = aug.contrastive.map_or(0.0, |c| c.raster_dropout.clamp(0.0, 1.0)) as f64;
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
    use rand::SeedableRng;

    /// The plainest model: strokes as drawn, the last state, no positions, no picture.
    fn plain_model() -> ModelConfig {
        ModelConfig {
            encoder_pool: Pool::Last,
            encoder_positions: false,
            encoder_raster: 0,
            decoder_positions: false,
            canonical_order: false,
            canonical_loop_start: false,
            ..ModelConfig::default()
        }
    }

    /// Contrastive views with every distortion off, for tests to turn on one at a time.
    fn plain() -> ContrastiveViews {
        ContrastiveViews {
            stroke_drop: 0.0,
            drop_by_ink: false,
            stretch: 0.0,
            jitter: 0.0,
            stroke_scale: 0.0,
            resimplify: 0.0,
            zoom: 0.0,
            raster_dropout: 0.0,
            ..ContrastiveViews::default()
        }
    }

    fn with_positions(encoder_positions: bool) -> ModelConfig {
        ModelConfig {
            encoder_positions,
            ..plain_model()
        }
    }

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
        let (a, b) = (d(3), d(1));
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

    #[test]
    fn mean_pool_weighs_every_point_alike() {
        let cfg = ModelConfig {
            encoder_pool: Pool::Mean,
            ..plain_model()
        };
        let (a, b) = (d(4), d(2));
        let w = pool_weights(&[&a, &b], &cfg, &Device::Cpu)
            .unwrap()
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        assert_eq!(w.len(), 4);
        for (s, step) in w.iter().enumerate() {
            assert_eq!(step[0], vec![0.25]);
            assert_eq!(step[1], vec![if s < 2 { 0.5 } else { 0.0 }]);
        }
        let last = plain_model();
        assert!(pool_weights(&[&a], &last, &Device::Cpu).unwrap().is_none());
    }

    #[test]
    fn grid_pool_shares_points_between_the_nearest_nodes() {
        let cfg = ModelConfig {
            encoder_pool: Pool::Grid,
            encoder_grid: 3,
            ..plain_model()
        };
        // pen positions (0, 0), (40, 0), (40, 20), (10, 5): a box 40 wide and 20 high, so in
        // the unit square (0, 0), (1, 0), (1, 1), (0.25, 0.25); nodes sit at 0, 0.5 and 1
        let a = Stroke3 {
            dx: vec![0.0, 40.0, 0.0, -30.0],
            dy: vec![0.0, 0.0, 20.0, -15.0],
            pen: vec![0, 0, 1, 1],
        };
        let w = pool_weights(&[&a], &cfg, &Device::Cpu)
            .unwrap()
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let node = |s: usize| w[s][0].clone();
        // corners each fall on one node; node (0, 0) also gets a quarter of the last point,
        // so its weights sum to 1.25 and are divided by that
        let mut first = vec![0.0; 9];
        first[0] = 1.0 / 1.25;
        assert_eq!(node(0), first);
        let mut second = vec![0.0; 9];
        second[2] = 1.0;
        assert_eq!(node(1), second);
        let mut third = vec![0.0; 9];
        third[8] = 1.0;
        assert_eq!(node(2), third);
        // the last point is a quarter of the way to each of four nodes: its weights there are
        // below 1, so they are kept as they are (and the centre node is not inflated)
        let last = node(3);
        assert!((last[0] - 0.25 / 1.25).abs() < 1e-6);
        for k in [1, 3, 4] {
            assert!((last[k] - 0.25).abs() < 1e-6, "node {k}: {}", last[k]);
        }
        assert_eq!(last.iter().filter(|&&v| v > 0.0).count(), 4);
    }

    #[test]
    fn contrastive_view_distorts_but_keeps_the_drawing() {
        let a = Stroke3 {
            dx: vec![10.0, 100.0, 0.0, -100.0, 40.0, 20.0],
            dy: vec![10.0, 0.0, 100.0, 0.0, -50.0, 0.0],
            pen: vec![0, 0, 0, 1, 0, 1],
        };
        let cfg = plain_model();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let keep_all = ContrastiveViews {
            stretch: 0.15,
            jitter: 0.01,
            zoom: 1.0,
            ..plain()
        };
        for _ in 0..20 {
            let (v, frame) = contrastive_view(&a, &cfg, &keep_all, &mut rng);
            assert_eq!(frame, Frame::of(&v));
            assert_eq!(v.pen, a.pen);
            assert_ne!(v.dx, a.dx);
            // each move changes by at most the tilt, stretch and shear (about 40% of its
            // length) plus two jitters of a few percent of the drawing's size
            for s in 0..a.len() {
                let (ex, ey) = (v.dx[s] - a.dx[s], v.dy[s] - a.dy[s]);
                let len = a.dx[s].hypot(a.dy[s]) + if s == 0 { 15.0 } else { 0.0 };
                assert!(ex.hypot(ey) < 0.45 * len + 8.0, "move {s}: {ex}, {ey}");
            }
        }
    }

    #[test]
    fn stroke_scale_resizes_whole_strokes() {
        // a square and a dash, with no stretch and no jitter
        let a = Stroke3 {
            dx: vec![0.0, 100.0, 0.0, -100.0, 40.0, 20.0],
            dy: vec![0.0, 0.0, 100.0, 0.0, -50.0, 0.0],
            pen: vec![0, 0, 0, 1, 0, 1],
        };
        let cfg = plain_model();
        let resize = |stroke_scale: f32| ContrastiveViews {
            stroke_scale,
            ..plain()
        };
        let len = |d: &Stroke3, s: usize| d.dx[s].hypot(d.dy[s]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // resized strokes: every move of a stroke grows or shrinks by one factor within
        // ±30%, and the two strokes' factors differ
        let mut factors = Vec::new();
        for _ in 0..20 {
            let (v, _) = contrastive_view(&a, &cfg, &resize(0.3), &mut rng);
            let square = len(&v, 1) / len(&a, 1);
            for s in [2, 3] {
                assert!((len(&v, s) / len(&a, s) - square).abs() < 1e-4, "move {s}");
            }
            let dash = len(&v, 5) / len(&a, 5);
            for f in [square, dash] {
                assert!((0.7..=1.3).contains(&f), "{f}");
            }
            factors.push((square, dash));
        }
        assert!(factors.iter().filter(|(s, d)| (s - d).abs() > 0.01).count() > 15);
        // the square stays centred where it was: its first point moves by (1 - f) times its
        // offset from the centre (50, 50), the tilt aside
        let (v, _) = contrastive_view(&a, &cfg, &resize(0.3), &mut rng);
        let f = len(&v, 1) / len(&a, 1);
        assert!((len(&v, 0) - 50f32.hypot(50.0) * (1.0 - f).abs()).abs() < 1e-3);
    }

    #[test]
    fn resimplified_views_draw_each_stroke_with_fewer_points_by_its_own_size() {
        // a circle of radius 100 and one of radius 5 inside it, 100 points each
        let circle = |cx: f32, cy: f32, r: f32| {
            let t = (0..100).map(|i| i as f32 * std::f32::consts::TAU / 99.0);
            drawing::Stroke::new(
                t.clone().map(|t| cx + r * t.cos()).collect(),
                t.map(|t| cy + r * t.sin()).collect(),
            )
        };
        let a = Stroke3::from_strokes(&[circle(100.0, 100.0, 100.0), circle(100.0, 100.0, 5.0)]);
        let kept = |d: &Stroke3| {
            let s = d.to_strokes();
            (s[0].len(), s[1].len())
        };
        // the tolerance is a share of each stroke's size, so both circles keep as many points
        let (big, small) = kept(&resimplified(&a, 0.02));
        assert!((8..40).contains(&big), "{big}");
        assert!(big.abs_diff(small) <= 2, "{big} {small}");
        // and every point kept is one of the stroke's own
        let b = resimplified(&a, 0.02).to_strokes();
        let own = a.to_strokes();
        for (s, o) in b.iter().zip(&own) {
            assert_eq!((s.x[0], s.y[0]), (o.x[0], o.y[0]));
            assert!(s.points().all(|p| o.points().any(|q| q == p)));
        }
        // in a view: fewer points, the same strokes; off, every point stays
        let cfg = ModelConfig {
            canonical_order: false,
            ..plain_model()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let fewer = ContrastiveViews {
            resimplify: 0.05,
            ..plain()
        };
        let mut sizes = Vec::new();
        for _ in 0..20 {
            let (v, _) = contrastive_view(&a, &cfg, &fewer, &mut rng);
            assert_eq!(v.n_strokes(), 2);
            sizes.push(v.len());
            let (v, _) = contrastive_view(&a, &cfg, &plain(), &mut rng);
            assert_eq!(v.len(), a.len());
        }
        // the tolerance is drawn per view, from 0 to the share
        assert!(
            sizes.iter().filter(|&&n| n < a.len()).count() >= 18,
            "{sizes:?}"
        );
        assert!(sizes.iter().min() < sizes.iter().max(), "{sizes:?}");
    }

    #[test]
    fn a_zoomed_view_is_measured_in_the_box_of_what_is_left() {
        // a big square (4 points) and a small stroke (2) inside it
        let a = Stroke3 {
            dx: vec![0.0, 100.0, 0.0, -100.0, 40.0, 20.0],
            dy: vec![0.0, 0.0, 100.0, 0.0, -50.0, 0.0],
            pen: vec![0, 0, 0, 1, 0, 1],
        };
        let cfg = plain_model();
        let (mut zoomed, mut kept_box) = (0, 0);
        for (zoom, seed) in [(1.0, 5), (0.0, 6)] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let d = ContrastiveViews {
                stroke_drop: 0.5,
                jitter: 0.01,
                zoom,
                ..plain()
            };
            for _ in 0..40 {
                let (v, frame) = contrastive_view(&a, &cfg, &d, &mut rng);
                if v.len() != 2 {
                    // the square is there: its box is the whole view's either way
                    assert_eq!(frame, Frame::of(&v));
                } else if zoom == 1.0 {
                    assert_eq!(frame, Frame::of(&v), "zoomed in on what is left");
                    zoomed += 1;
                } else {
                    assert_ne!(frame, Frame::of(&v), "the whole drawing's box");
                    kept_box += 1;
                }
            }
        }
        assert!(zoomed > 5 && kept_box > 5, "{zoomed} {kept_box}");
    }

    #[test]
    fn a_softened_picture_spreads_each_pixel_binomially() {
        let side = 5;
        let mut img = vec![0f32; side * side];
        img[2 * side + 2] = 1.0; // the centre
        img[4] = 1.0; // the top right corner: its blur is clipped at the edges
        let soft = soften(&img, side);
        let at = |x: usize, y: usize| soft[y * side + x];
        assert_eq!(
            (at(2, 2), at(1, 2), at(2, 3), at(1, 1)),
            (1.0, 0.5, 0.5, 0.25)
        );
        assert_eq!((at(4, 0), at(3, 0), at(4, 1)), (1.0, 0.5, 0.5));
        assert_eq!((at(0, 0), at(0, 4), at(3, 3)), (0.0, 0.0, 0.25));
        assert_eq!(
            soften(&[0.0; 9], 3),
            vec![0.0; 9],
            "a blank picture stays blank"
        );
    }

    #[test]
    fn dropping_by_ink_spares_short_strokes() {
        // a big square (ink 300) and a short stroke (ink 20) inside it
        let a = Stroke3 {
            dx: vec![0.0, 100.0, 0.0, -100.0, 40.0, 20.0],
            dy: vec![0.0, 0.0, 100.0, 0.0, -50.0, 0.0],
            pen: vec![0, 0, 0, 1, 0, 1],
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let (mut square_gone, mut short_gone, mut plain_short_gone) = (0, 0, 0);
        let n = 2000;
        for _ in 0..n {
            let v = drop_strokes(&a, 0.2, true, &mut rng);
            match v.len() {
                2 => square_gone += 1,
                4 => short_gone += 1,
                _ => assert_eq!(v, a),
            }
            plain_short_gone += usize::from(drop_strokes(&a, 0.2, false, &mut rng).len() == 4);
        }
        // chances min(0.5, 0.2 * 2 * 300/320) = 0.375 and 0.2 * 2 * 20/320 = 0.025, against 0.2
        // each without ink weights
        let rate = |k: usize| k as f64 / n as f64;
        assert!((rate(square_gone) - 0.375).abs() < 0.04, "{square_gone}");
        assert!(rate(short_gone) < 0.045, "{short_gone}");
        assert!(
            (rate(plain_short_gone) - 0.2).abs() < 0.04,
            "{plain_short_gone}"
        );
    }

    /// Three strokes: (10,10)-(20,10) | (50,50) | (0,90)-(10,90).
    fn three_strokes() -> Stroke3 {
        Stroke3 {
            dx: vec![10.0, 10.0, 30.0, -50.0, 10.0],
            dy: vec![10.0, 0.0, 40.0, 40.0, 0.0],
            pen: vec![0, 1, 1, 0, 1],
        }
    }

    #[test]
    fn dropped_strokes_leave_the_others_in_place() {
        let a = three_strokes();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let v = drop_strokes(&a, 0.5, false, &mut rng);
            let strokes = v.to_strokes();
            assert!(!strokes.is_empty());
            assert_eq!(*v.pen.last().unwrap(), 1);
            let mut key = Vec::new();
            for s in &strokes {
                let at = (s.x[0], s.y[0]);
                assert!(
                    [(10.0, 10.0), (50.0, 50.0), (0.0, 90.0)].contains(&at),
                    "a stroke moved to {at:?}"
                );
                key.push(at.0 as i32);
            }
            seen.insert(key);
        }
        // every non-empty subset of the three strokes turns up
        assert_eq!(seen.len(), 7);
        assert_eq!(drop_strokes(&a, 0.0, false, &mut rng), a);
    }
}
