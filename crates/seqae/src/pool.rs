//! The encoder's pooling weights: how much each point counts in each of its summaries.

use candle_core::{Device, Tensor};
use drawing::Stroke3;

use crate::config::{ModelConfig, Pool};
use crate::error::Result;
use crate::frame::{unit_square_positions, Frame};

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
pub(crate) fn pool_weights_in(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{plain_model, steps};

    #[test]
    fn mean_pool_weighs_every_point_alike() {
        let cfg = ModelConfig {
            encoder_pool: Pool::Mean,
            ..plain_model()
        };
        let (a, b) = (steps(4), steps(2));
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
}
