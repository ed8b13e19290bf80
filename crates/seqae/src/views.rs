//! The contrastive term's second views of a drawing: distorted, resimplified, with strokes
//! left out.

use drawing::Stroke3;
use rand::{Rng, RngExt};

use crate::config::{ContrastiveViews, ModelConfig};
use crate::frame::{absolute_positions, bounds, Frame};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::plain_model;
    use rand::SeedableRng;

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

    /// A big square (4 points) and a small dash (2) inside it.
    fn square_and_dash() -> Stroke3 {
        Stroke3 {
            dx: vec![0.0, 100.0, 0.0, -100.0, 40.0, 20.0],
            dy: vec![0.0, 0.0, 100.0, 0.0, -50.0, 0.0],
            pen: vec![0, 0, 0, 1, 0, 1],
        }
    }

    #[test]
    fn stroke_scale_resizes_whole_strokes() {
        // a square and a dash, with no stretch and no jitter
        let a = square_and_dash();
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
        let a = square_and_dash();
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
    fn dropping_by_ink_spares_short_strokes() {
        // a big square (ink 300) and a short stroke (ink 20) inside it
        let a = square_and_dash();
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
