//! The box a drawing's positions are measured in, and the pen's positions in it, which the
//! encoder's rows, its pooling weights and its pictures all share.

use drawing::Stroke3;

/// The box, in the drawing's own units, that positions are measured in: the drawing's bounding
/// box, except for a contrastive view with strokes left out, which keeps its whole drawing's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub(crate) lo: [f32; 2],
    pub(crate) hi: [f32; 2],
}

impl Frame {
    /// The bounding box of `d`'s points.
    pub fn of(d: &Stroke3) -> Frame {
        let (lo, hi) = bounds(&absolute_positions(d));
        Frame { lo, hi }
    }
}

/// The pen's position after each point, in the drawing's bounding box scaled to a longest side
/// of 1 and centred on 0 (so independent of the drawing's size, place and the augmentation).
pub(crate) fn normalised_positions(d: &Stroke3, frame: Frame) -> Vec<[f32; 2]> {
    let abs = absolute_positions(d);
    let Frame { lo, hi } = frame;
    let side = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let inv = if side > 0.0 { 1.0 / side } else { 0.0 };
    let mid = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    abs.iter()
        .map(|p| [(p[0] - mid[0]) * inv, (p[1] - mid[1]) * inv])
        .collect()
}

/// The pen's position after each point with the drawing's box stretched to the unit square
/// (an axis without extent sits at 0.5).
pub(crate) fn unit_square_positions(d: &Stroke3, frame: Frame) -> Vec<[f32; 2]> {
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

/// The pen's place after each point, from where the drawing starts.
pub(crate) fn absolute_positions(d: &Stroke3) -> Vec<[f32; 2]> {
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

/// The lowest and highest x and y of `abs`.
pub(crate) fn bounds(abs: &[[f32; 2]]) -> ([f32; 2], [f32; 2]) {
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in abs {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}
