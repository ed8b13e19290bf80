//! How far apart two drawings' lines are: the symmetric Chamfer distance between two drawings
//! (a drawing and its reconstruction, say), both scaled into the unit box and densified along
//! their strokes, so that it compares lines rather than vertices. It is drawing geometry, so it
//! lives with the drawing model rather than with the stage that reports it (`evaluate`).

use crate::{Stroke, Stroke3};

/// Points along every stroke, at most `step` apart: each stroke's first point, then every
/// segment cut into `ceil(length / step)` equal parts. A one-point stroke (a dot) stays a point.
pub fn densify(strokes: &[Stroke], step: f32) -> Vec<[f32; 2]> {
    let step = if step.is_finite() && step > 0.0 {
        step
    } else {
        f32::INFINITY
    };
    let mut out = Vec::new();
    for s in strokes.iter().filter(|s| !s.is_empty()) {
        out.push([s.x[0], s.y[0]]);
        for i in 1..s.len() {
            let (x0, y0, x1, y1) = (s.x[i - 1], s.y[i - 1], s.x[i], s.y[i]);
            let len = (x1 - x0).hypot(y1 - y0);
            let parts = (len / step).ceil().clamp(1.0, 1e6) as usize;
            for p in 1..=parts {
                let t = p as f32 / parts as f32;
                out.push([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t]);
            }
        }
    }
    out
}

/// Mean over `a` of the distance to the nearest point of `b`.
fn mean_nearest(a: &[[f32; 2]], b: &[[f32; 2]]) -> f64 {
    // A few hundred points per drawing: brute force costs well under a millisecond.
    let sum: f64 = a
        .iter()
        .map(|p| {
            let best = b
                .iter()
                .map(|q| {
                    let (dx, dy) = (p[0] - q[0], p[1] - q[1]);
                    dx * dx + dy * dy
                })
                .fold(f32::INFINITY, f32::min);
            f64::from(best.sqrt())
        })
        .sum();
    sum / a.len() as f64
}

/// Symmetric Chamfer distance of two point sets: the mean of the two directed mean
/// nearest-point distances, so two parallel copies of a line `d` apart are `d` apart.
/// `None` when either set is empty.
pub fn chamfer_points(a: &[[f32; 2]], b: &[[f32; 2]]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some(0.5 * (mean_nearest(a, b) + mean_nearest(b, a)))
}

/// Chamfer distance of two drawings, each scaled into the unit box first (so it ignores size
/// and position) and densified every `step` units. `None` when either has no points.
pub fn chamfer(original: &Stroke3, reconstruction: &Stroke3, step: f32) -> Option<f64> {
    chamfer_points(
        &densify(&original.to_unit_strokes(), step),
        &densify(&reconstruction.to_unit_strokes(), step),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(x0: f32, y0: f32, x1: f32, y1: f32) -> Stroke {
        Stroke::new(vec![x0, x1], vec![y0, y1])
    }

    #[test]
    fn densify_spaces_points_and_keeps_dots() {
        let p = densify(&[seg(0.0, 0.0, 1.0, 0.0)], 0.25);
        assert_eq!(p.len(), 5);
        assert_eq!(p[2], [0.5, 0.0]);
        let p = densify(&[Stroke::new(vec![0.3], vec![0.7])], 0.02);
        assert_eq!(p, vec![[0.3, 0.7]]);
        // a zero step does not loop forever: only the vertices remain
        assert_eq!(densify(&[seg(0.0, 0.0, 1.0, 0.0)], 0.0).len(), 2);
    }

    #[test]
    fn parallel_segments_d_apart_are_d_apart() {
        for d in [0.0f32, 0.05, 0.1, 0.3] {
            let a = densify(&[seg(0.0, 0.2, 1.0, 0.2)], 0.02);
            let b = densify(&[seg(0.0, 0.2 + d, 1.0, 0.2 + d)], 0.02);
            let c = chamfer_points(&a, &b).unwrap();
            assert!((c - f64::from(d)).abs() < 1e-6, "shift {d}: {c}");
        }
    }

    #[test]
    fn it_measures_lines_not_vertices() {
        // the same line with 2 and with 11 vertices
        let a = densify(&[seg(0.0, 0.0, 1.0, 0.0)], 0.02);
        let xs: Vec<f32> = (0..=10).map(|i| i as f32 / 10.0).collect();
        let b = densify(&[Stroke::new(xs.clone(), vec![0.0; 11])], 0.02);
        // the two samplings of the line differ by less than half a step
        let dense = chamfer_points(&a, &b).unwrap();
        assert!(dense < 0.01, "{dense}");
        // on the vertices alone the same line would look far from itself
        let sparse = chamfer_points(
            &[[0.0, 0.0], [1.0, 0.0]],
            &xs.iter().map(|&x| [x, 0.0]).collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(sparse > 0.1, "{sparse}");
    }

    #[test]
    fn a_drawing_is_zero_from_itself_and_from_a_scaled_copy() {
        let square = Stroke::new(
            vec![10.0, 60.0, 60.0, 10.0, 10.0],
            vec![10.0, 10.0, 60.0, 60.0, 10.0],
        );
        let inner = seg(20.0, 30.0, 50.0, 30.0);
        let d = Stroke3::from_strokes(&[square.clone(), inner]);
        assert_eq!(chamfer(&d, &d, 0.02), Some(0.0));
        let mut big = d.clone();
        big.dx.iter_mut().for_each(|v| *v *= 3.0);
        big.dy.iter_mut().for_each(|v| *v *= 3.0);
        assert!(chamfer(&d, &big, 0.02).unwrap() < 1e-5);
        // moving the inner line down by 10 of 50 units (0.2 of the box) costs the inner line's
        // share of the points times 0.2: 30 of 230 units of ink
        let moved = Stroke3::from_strokes(&[square, seg(20.0, 40.0, 50.0, 40.0)]);
        let c = chamfer(&d, &moved, 0.02).unwrap();
        let expect = 0.2 * 30.0 / 230.0;
        assert!((c - expect).abs() < 0.002, "{c} vs {expect}");
        assert_eq!(chamfer(&d, &Stroke3::default(), 0.02), None);
    }
}
