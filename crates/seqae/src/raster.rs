//! Drawings as small softened pictures, for the encoder's raster branch.

use candle_core::{Device, Tensor};
use drawing::Stroke3;

use crate::config::ModelConfig;
use crate::error::Result;
use crate::frame::Frame;

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
pub(crate) fn blank_rows(pictures: Option<Tensor>, blank: &[bool]) -> Result<Option<Tensor>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
