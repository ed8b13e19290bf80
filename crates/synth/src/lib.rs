//! Labelled synthetic face doodles: the project's built-in data set and its yardstick.
//!
//! Every face is drawn from five independent factors ([`FACTORS`], levels in [`LEVELS`]):
//! the head outline, the eyes, the mouth, the nose and hair/ears. Each factor's level is drawn
//! uniformly and independently, then the face is drawn the way people draw in Quick, Draw!:
//! wobbly, slightly unclosed strokes, features of varying size and position, a tilted head,
//! strokes in a human-like but varying order and direction. The result is normalised like
//! Google's simplified files (top-left aligned, longest side 255, Ramer–Douglas–Peucker at
//! epsilon 2, integer coordinates) and written as simplified ndjson with an extra `labels`
//! object, so the same readers and stages handle synthetic and real faces.
//!
//! Everything is a pure function of `(seed, index)`: [`face`] gives the same drawing for the
//! same pair on every machine, and `key_id`s of different seeds never collide.

use std::f64::consts::{PI, TAU};
use std::fmt::Write as _;
use std::io::{self, Write};

use drawing::Stroke;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// The label factors, in the order of [`LEVELS`] and of [`SynthFace::labels`].
pub const FACTORS: &[&str] = &["outline", "eyes", "mouth", "nose", "hair_ears"];

/// The levels of each factor, aligned with [`FACTORS`].
pub const LEVELS: &[&[&str]] = &[
    &["round", "oval", "square", "pear"],
    &["dots", "circles", "crosses", "closed"],
    &["smile", "frown", "straight", "open"],
    &["none", "dot", "hook", "triangle"],
    &["none", "spiky", "curly", "ears"],
];

/// The levels of one factor, `None` for an unknown factor name.
pub fn levels(factor: &str) -> Option<&'static [&'static str]> {
    FACTORS.iter().position(|f| *f == factor).map(|i| LEVELS[i])
}

/// Category name written in the `word` field.
pub const WORD: &str = "face";
/// Country code written in the `countrycode` field (ISO 3166 "user-assigned", so never real).
pub const COUNTRYCODE: &str = "ZZ";

/// One generated face: the strokes as written (integer values 0–255, longest side 255, top-left
/// aligned) and its label per factor, in [`FACTORS`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthFace {
    pub key_id: String,
    pub strokes: Vec<Stroke>,
    pub labels: Vec<(&'static str, String)>,
}

impl SynthFace {
    /// The level of `factor`, `None` for an unknown factor.
    pub fn label(&self, factor: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(f, _)| *f == factor)
            .map(|(_, l)| l.as_str())
    }

    /// Total number of points over all strokes.
    pub fn n_points(&self) -> usize {
        self.strokes.iter().map(Stroke::len).sum()
    }

    /// Appends this face as one simplified-ndjson line (with the trailing newline) to `out`.
    /// `timestamp` is the string written in the `timestamp` field.
    fn push_json_line(&self, timestamp: &str, out: &mut String) {
        // Every string written here is ASCII without quotes or backslashes (key_id, labels and
        // timestamp are ours), so no escaping is needed.
        let _ = write!(
            out,
            "{{\"word\":\"{WORD}\",\"countrycode\":\"{COUNTRYCODE}\",\"timestamp\":\"{timestamp}\",\
             \"recognized\":true,\"key_id\":\"{}\",\"drawing\":[",
            self.key_id
        );
        for (i, s) in self.strokes.iter().enumerate() {
            out.push_str(if i == 0 { "[" } else { ",[" });
            for (j, coords) in [&s.x, &s.y].into_iter().enumerate() {
                out.push_str(if j == 0 { "[" } else { ",[" });
                for (k, v) in coords.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}", *v as i32);
                }
                out.push(']');
            }
            out.push(']');
        }
        out.push_str("],\"labels\":{");
        for (i, (f, l)) in self.labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{f}\":\"{l}\"");
        }
        out.push_str("}}\n");
    }
}

/// The `key_id` of face `index` of `seed`: distinct for every pair, so different seeds give
/// disjoint sets.
pub fn key_id(seed: u64, index: u64) -> String {
    format!("synth-{seed}-{index}")
}

/// A deterministic timestamp for face `(seed, index)` in the real files' format
/// (`"2017-03-08 21:12:07.266040 UTC"`), spread over March to May 2017 like the real data.
pub fn timestamp(seed: u64, index: u64) -> String {
    let h = splitmix64(splitmix64(seed) ^ index);
    let start = 1_488_326_400u64; // 2017-03-01 00:00:00 UTC
    let secs = start + h % (92 * 86_400);
    let micros = (h >> 40) % 1_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Days since 1970-01-01 to (year, month, day), H. Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Faces `0..count` of `seed`, in index order.
pub fn generate(seed: u64, count: u64) -> impl Iterator<Item = SynthFace> {
    (0..count).map(move |i| face(seed, i))
}

/// Writes faces `0..count` of `seed` as simplified ndjson, one face a line, each with its
/// `labels` object. Faces are drawn in parallel, in blocks, and written in index order;
/// `w` need not be buffered.
pub fn write_ndjson<W: Write>(mut w: W, seed: u64, count: u64) -> io::Result<()> {
    const BLOCK: u64 = 4096;
    let mut start = 0;
    while start < count {
        let end = count.min(start + BLOCK);
        let lines: Vec<String> = (start..end)
            .into_par_iter()
            .map(|i| ndjson_line(seed, i))
            .collect();
        w.write_all(lines.concat().as_bytes())?;
        start = end;
    }
    w.flush()
}

/// One face as its simplified-ndjson line (with the trailing newline).
pub fn ndjson_line(seed: u64, index: u64) -> String {
    let mut s = String::with_capacity(1024);
    face(seed, index).push_json_line(&timestamp(seed, index), &mut s);
    s
}

/// Face `index` of `seed`: the same pair always gives the same face.
pub fn face(seed: u64, index: u64) -> SynthFace {
    // One ChaCha stream per index: faces are independent of each other and of how many are
    // generated, and any face can be made without the ones before it.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let choice: Vec<usize> = LEVELS
        .iter()
        .map(|l| rng.random_range(0..l.len()))
        .collect();
    let strokes = Artist::new(&mut rng).draw(&choice);
    SynthFace {
        key_id: key_id(seed, index),
        strokes,
        labels: FACTORS
            .iter()
            .zip(LEVELS)
            .zip(&choice)
            .map(|((f, l), &c)| (*f, l[c].to_string()))
            .collect(),
    }
}

type P = (f64, f64);
type Poly = Vec<P>;

/// Which part of the face a group of strokes belongs to (decides the drawing order).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Part {
    Outline,
    Eyes,
    Nose,
    Mouth,
    Hair,
}

/// The head's ideal outline. Coordinates are in head units: centre at the origin, half-width
/// `rx` about 1, y down as in the data set.
struct Head {
    kind: usize,
    rx: f64,
    ry: f64,
    /// squareness exponent (square) or jaw widening (pear)
    k: f64,
}

impl Head {
    /// Point of the ideal outline at angle `t` (0 = right, PI/2 = bottom).
    fn at(&self, t: f64) -> P {
        let (s, c) = t.sin_cos();
        match self.kind {
            // superellipse: |x|^k + |y|^k = 1
            2 => {
                let e = 2.0 / self.k;
                (
                    self.rx * c.signum() * c.abs().powf(e),
                    self.ry * s.signum() * s.abs().powf(e),
                )
            }
            // pear: wider towards the jaw
            3 => (self.rx * c * (1.0 + self.k * s), self.ry * s),
            _ => (self.rx * c, self.ry * s),
        }
    }

    /// Half-width of the head at height `y` (|y| < ry).
    fn half_width(&self, y: f64) -> f64 {
        let s = (y / self.ry).clamp(-1.0, 1.0);
        match self.kind {
            2 => self.rx * (1.0 - s.abs().powf(self.k)).max(0.0).powf(1.0 / self.k),
            3 => self.rx * (1.0 - s * s).sqrt() * (1.0 + self.k * s),
            _ => self.rx * (1.0 - s * s).sqrt(),
        }
    }
}

/// A sinusoid stepped by a fixed phase increment: `amp * sin(phase)`, advanced by rotating
/// `(sin, cos)` rather than calling `sin` at every point.
struct Wave {
    amp: f64,
    sin: f64,
    cos: f64,
    dsin: f64,
    dcos: f64,
}

impl Wave {
    fn new(amp: f64, phase: f64, step: f64) -> Self {
        let (sin, cos) = phase.sin_cos();
        let (dsin, dcos) = step.sin_cos();
        Wave {
            amp,
            sin,
            cos,
            dsin,
            dcos,
        }
    }
    fn value(&self) -> f64 {
        self.amp * self.sin
    }
    fn advance(&mut self) {
        let (s, c) = (self.sin, self.cos);
        self.sin = s * self.dcos + c * self.dsin;
        self.cos = c * self.dcos - s * self.dsin;
    }
}

fn seg_len(s: &[P], i: usize) -> f64 {
    ((s[i + 1].0 - s[i].0).powi(2) + (s[i + 1].1 - s[i].1).powi(2)).sqrt()
}

/// A stretch of the head outline walked by arc length.
struct ArcPath {
    pts: Vec<P>,
    /// cumulative length at each point, from 0
    cum: Vec<f64>,
}

impl ArcPath {
    fn new(head: &Head, t0: f64, t1: f64) -> Self {
        let n = 96;
        let pts: Vec<P> = (0..=n)
            .map(|i| head.at(t0 + (t1 - t0) * i as f64 / n as f64))
            .collect();
        let mut cum = vec![0.0];
        for w in pts.windows(2) {
            let d = ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt();
            cum.push(cum.last().copied().unwrap_or(0.0) + d);
        }
        ArcPath { pts, cum }
    }

    fn reverse(&mut self) {
        self.pts.reverse();
        let total = self.cum.last().copied().unwrap_or(0.0);
        self.cum = self.cum.iter().rev().map(|c| total - c).collect();
    }

    /// The point at fraction `f` (0..=1) of the length.
    fn at(&self, f: f64) -> P {
        let target = f.clamp(0.0, 1.0) * self.cum.last().copied().unwrap_or(0.0);
        let i = self
            .cum
            .partition_point(|&c| c < target)
            .clamp(1, self.pts.len() - 1);
        let (c0, c1) = (self.cum[i - 1], self.cum[i]);
        let g = if c1 > c0 {
            (target - c0) / (c1 - c0)
        } else {
            0.0
        };
        let (a, b) = (self.pts[i - 1], self.pts[i]);
        (a.0 + (b.0 - a.0) * g, a.1 + (b.1 - a.1) * g)
    }
}

/// Draws one face with the randomness of one person's hand.
struct Artist<'a> {
    rng: &'a mut ChaCha8Rng,
}

impl<'a> Artist<'a> {
    fn new(rng: &'a mut ChaCha8Rng) -> Self {
        Artist { rng }
    }

    fn u(&mut self, lo: f64, hi: f64) -> f64 {
        self.rng.random_range(lo..hi)
    }
    fn n(&mut self, sd: f64) -> f64 {
        let z: f64 = self.rng.sample(StandardNormal);
        z * sd
    }
    fn coin(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn draw(mut self, choice: &[usize]) -> Vec<Stroke> {
        let head = self.head(choice[0]);
        // Feature placement, in head units, varies within the face.
        let eye_y = head.ry * self.u(-0.45, -0.1);
        let mouth_y = (eye_y + head.ry * self.u(0.5, 0.85)).min(head.ry * 0.7);
        let mid_x = head.rx * self.n(0.05);

        let mut parts: Vec<(Part, Vec<Poly>)> = vec![(Part::Outline, vec![self.outline(&head)])];
        parts.push((Part::Eyes, self.eyes(choice[1], &head, eye_y, mid_x)));
        let mouth = self.mouth(choice[2], &head, mouth_y, mid_x);
        // the nose fits between the eye line and the top of the mouth, never over it
        let mouth_top = mouth.iter().flatten().fold(f64::MAX, |m, p| m.min(p.1));
        parts.push((Part::Mouth, mouth));
        let nose = self.nose(choice[3], &head, eye_y, mouth_top, mid_x);
        if !nose.is_empty() {
            parts.push((Part::Nose, nose));
        }
        let hair = self.hair(choice[4], &head, eye_y);
        if !hair.is_empty() {
            parts.push((Part::Hair, hair));
        }
        let parts = self.order(parts);

        let strokes: Vec<Poly> = parts
            .into_iter()
            .flat_map(|(_, s)| s)
            .map(|s| self.humanise(s))
            .collect();
        let strokes = self.pose(strokes);
        finish(&strokes)
    }

    fn head(&mut self, kind: usize) -> Head {
        let rx = 1.0;
        let (ry, k) = match kind {
            0 => (self.u(0.9, 1.08), 0.0),
            1 => (self.u(1.3, 1.55), 0.0),
            2 => (self.u(0.9, 1.25), self.u(4.0, 9.0)),
            _ => (self.u(1.05, 1.3), self.u(0.22, 0.38)),
        };
        Head { kind, rx, ry, k }
    }

    /// The head outline as one stroke: started near the top, either direction, slightly
    /// unclosed or overlapping, radius drifting a little as a hand does.
    fn outline(&mut self, head: &Head) -> Poly {
        let start = if self.coin(0.8) {
            1.5 * PI + self.n(0.5)
        } else {
            self.u(0.0, TAU)
        };
        let dir = if self.coin(0.6) { -1.0 } else { 1.0 };
        let sweep = TAU + self.u(-0.4, 0.3);
        let drift = self.n(0.04);
        let harm: Vec<(f64, f64)> = (0..2)
            .map(|_| (self.u(0.0, 0.03), self.u(0.0, TAU)))
            .collect();
        let n = 72;
        (0..=n)
            .map(|i| {
                let f = i as f64 / n as f64;
                let t = start + dir * sweep * f;
                let (x, y) = head.at(t);
                let r = 1.0
                    + drift * f
                    + harm
                        .iter()
                        .enumerate()
                        .map(|(h, (a, ph))| a * ((h as f64 + 2.0) * t + ph).sin())
                        .sum::<f64>();
                (x * r, y * r)
            })
            .collect()
    }

    /// A loop of radii `rx, ry` around `c`: random start and direction, unclosed or overlapping.
    fn ring(&mut self, c: P, rx: f64, ry: f64, n: usize, over: (f64, f64)) -> Poly {
        let start = self.u(0.0, TAU);
        let dir = if self.coin(0.5) { 1.0 } else { -1.0 };
        let sweep = TAU + self.u(over.0, over.1);
        (0..=n)
            .map(|i| {
                let t = start + dir * sweep * i as f64 / n as f64;
                (c.0 + rx * t.cos(), c.1 + ry * t.sin())
            })
            .collect()
    }

    /// A filled dot as people draw it: a tap (a short dash) or a tiny scribbled loop.
    fn dot(&mut self, c: P, r: f64) -> Poly {
        if self.coin(0.35) {
            // a tap: the real files hold it as two points a few pixels apart
            let a = self.u(0.0, PI);
            let h = r * self.u(0.05, 0.35);
            let (dx, dy) = (h * a.cos(), h * a.sin());
            vec![(c.0 - dx, c.1 - dy), (c.0 + dx, c.1 + dy)]
        } else {
            let ry = r * self.u(0.7, 1.2);
            self.ring(c, r, ry, 10, (0.0, 1.5))
        }
    }

    fn line(&mut self, a: P, b: P) -> Poly {
        if self.coin(0.2) {
            vec![b, a]
        } else {
            vec![a, b]
        }
    }

    fn eyes(&mut self, kind: usize, head: &Head, y: f64, mid_x: f64) -> Vec<Poly> {
        let sep = head.half_width(y) * self.u(0.3, 0.55);
        let size = head.rx
            * match kind {
                0 => self.u(0.025, 0.055),
                1 => self.u(0.08, 0.2),
                2 => self.u(0.06, 0.15),
                _ => self.u(0.08, 0.18),
            };
        let mut out = Vec::new();
        let mut sides = [-1.0, 1.0];
        if self.coin(0.3) {
            sides.reverse();
        }
        for side in sides {
            let c = (mid_x + side * sep + self.n(0.03), y + self.n(0.03));
            let s = size * self.u(0.85, 1.15);
            match kind {
                0 => out.push(self.dot(c, s)),
                1 => {
                    let ry = s * self.u(0.8, 1.25);
                    let r = self.ring(c, s, ry, 24, (-0.3, 0.5));
                    out.push(r);
                    if self.coin(0.3) {
                        let p = (c.0 + self.n(s * 0.2), c.1 + self.n(s * 0.2));
                        out.push(self.dot(p, s * 0.2));
                    }
                }
                2 => {
                    let (a, b) = (s * self.u(0.8, 1.2), s * self.u(0.8, 1.2));
                    let mut l1 = self.line((c.0 - a, c.1 - b), (c.0 + a, c.1 + b));
                    let mut l2 = self.line((c.0 + a, c.1 - b), (c.0 - a, c.1 + b));
                    if self.coin(0.3) {
                        std::mem::swap(&mut l1, &mut l2);
                    }
                    out.push(l1);
                    out.push(l2);
                }
                _ => {
                    // closed eye: a downward-bulging arc, like a sleeping eye
                    let bulge = self.u(0.35, 0.9);
                    out.push(self.arc(c, s, s * bulge));
                }
            }
        }
        out
    }

    /// A parabolic arc of half-width `w` centred at `c`; `depth` > 0 bulges down (a smile).
    fn arc(&mut self, c: P, w: f64, depth: f64) -> Poly {
        let n = 20;
        let tilt = self.n(0.08);
        let mut p: Poly = (0..=n)
            .map(|i| {
                let x = -1.0 + 2.0 * i as f64 / n as f64;
                (
                    c.0 + w * x,
                    c.1 + depth * (1.0 - x * x) - depth * 0.5 + tilt * w * x,
                )
            })
            .collect();
        if self.coin(0.25) {
            p.reverse();
        }
        p
    }

    fn mouth(&mut self, kind: usize, head: &Head, y: f64, mid_x: f64) -> Vec<Poly> {
        let w = head.half_width(y).max(0.3) * self.u(0.3, 0.7);
        let c = (mid_x + self.n(0.04), y);
        vec![match kind {
            0 => {
                let d = w * self.u(0.3, 0.75);
                self.arc(c, w, d)
            }
            1 => {
                let d = w * self.u(0.3, 0.7);
                self.arc(c, w, -d)
            }
            2 => {
                let t = self.n(0.06) * w;
                self.line((c.0 - w, c.1 + t), (c.0 + w, c.1 - t))
            }
            _ => {
                let rx = w * self.u(0.35, 0.7);
                // an open mouth stays above the chin
                let ry = (rx * self.u(0.6, 1.3))
                    .min(0.85 * head.ry - y)
                    .max(0.3 * rx);
                self.ring(c, rx, ry, 28, (-0.2, 0.4))
            }
        }]
    }

    /// A nose between the eye line `eye_y` and the top of the mouth `mouth_top`.
    fn nose(
        &mut self,
        kind: usize,
        head: &Head,
        eye_y: f64,
        mouth_top: f64,
        mid_x: f64,
    ) -> Vec<Poly> {
        let gap = (mouth_top - eye_y).max(0.05);
        let len = (head.ry * self.u(0.15, 0.3)).min(0.75 * gap);
        // its bottom (0.4 len below the centre) stays above the mouth
        let y = eye_y + 0.6 * len + (gap - len) * self.u(0.3, 0.8);
        let c = (mid_x + self.n(0.04), y);
        match kind {
            0 => vec![],
            1 => {
                let r = self.u(0.03, 0.06);
                vec![self.dot(c, r)]
            }
            2 => {
                // an L or hook: down the bridge, then a short foot to one side
                let side = if self.coin(0.5) { 1.0 } else { -1.0 };
                let foot = len * self.u(0.3, 0.6);
                let slant = self.n(0.1) * len;
                let top = (c.0 - slant, c.1 - 0.6 * len);
                let bottom = (c.0, c.1 + 0.4 * len);
                let end = (c.0 + side * foot, c.1 + 0.4 * len - self.u(0.0, 0.25) * len);
                let mut p = vec![top, bottom, end];
                if self.coin(0.15) {
                    p.reverse();
                }
                vec![p]
            }
            _ => {
                let b = len * self.u(0.35, 0.6);
                let apex = (c.0 + self.n(0.03), c.1 - 0.6 * len);
                let l = (c.0 - b, c.1 + 0.4 * len);
                let r = (c.0 + b, c.1 + 0.4 * len);
                let close = self.u(-0.1, 0.1) * b;
                let mut p = if self.coin(0.5) {
                    vec![apex, l, r, (apex.0 + close, apex.1 + close.abs())]
                } else {
                    vec![apex, r, l, (apex.0 + close, apex.1 + close.abs())]
                };
                if self.coin(0.2) {
                    p.rotate_left(1);
                    p.push(p[0]);
                    p.remove(p.len() - 2);
                }
                vec![p]
            }
        }
    }

    fn hair(&mut self, kind: usize, head: &Head, eye_y: f64) -> Vec<Poly> {
        // the top of the head between angles PI + spread and TAU - spread (top is 1.5 PI),
        // walked by arc length so that hair spreads evenly over flat and round heads alike
        let spread = self.u(0.2, 0.5);
        let mut scalp = ArcPath::new(head, PI + spread, TAU - spread);
        if self.coin(0.35) {
            scalp.reverse();
        }
        match kind {
            0 => vec![],
            1 => {
                let m = self.rng.random_range(4..9usize);
                let len = self.u(0.15, 0.35);
                let pts: Vec<(P, f64)> = (0..=2 * m)
                    .map(|j| {
                        let f = ((j as f64 + self.n(0.15)) / (2 * m) as f64).clamp(0.0, 1.0);
                        let r = if j % 2 == 1 {
                            1.0 + len * self.u(0.7, 1.3)
                        } else {
                            1.0 + self.u(0.0, 0.04)
                        };
                        (scalp.at(f), r)
                    })
                    .collect();
                if self.coin(0.65) {
                    // one zigzag stroke
                    vec![pts.into_iter().map(|(p, r)| (p.0 * r, p.1 * r)).collect()]
                } else {
                    // separate hairs, each drawn outward from the scalp
                    pts.iter()
                        .skip(1)
                        .step_by(2)
                        .map(|&(p, r)| vec![p, (p.0 * r, p.1 * r)])
                        .collect()
                }
            }
            2 => {
                // curls: a looping scribble riding just above the scalp (a prolate cycloid)
                let loops = self.rng.random_range(5..9usize) as f64;
                let rho = self.u(0.1, 0.15);
                let ph = self.u(0.0, TAU);
                let turn = if self.coin(0.5) { 1.0 } else { -1.0 };
                let n = (loops * 14.0) as usize;
                let lift = 1.0 + rho;
                vec![(0..=n)
                    .map(|i| {
                        let f = i as f64 / n as f64;
                        let (x, y) = scalp.at(f);
                        let a = ph + turn * TAU * loops * f;
                        (x * lift + rho * a.cos(), y * lift + rho * a.sin())
                    })
                    .collect()]
            }
            _ => {
                // ears: C-shaped arcs at eye level on both sides, bulging outward
                let yc = eye_y + head.ry * self.u(0.0, 0.25);
                let half = head.ry * self.u(0.15, 0.3);
                let out = self.u(0.2, 0.38);
                let mut ears = Vec::new();
                for side in [-1.0, 1.0] {
                    let inset = self.u(0.0, 0.06);
                    let (y0, y1) = (yc - half, yc + half);
                    let a = (side * (head.half_width(y0) - inset), y0);
                    let b = (side * (head.half_width(y1) - inset), y1);
                    let n = 16;
                    let mut p: Poly = (0..=n)
                        .map(|i| {
                            let t = PI * i as f64 / n as f64;
                            let f = (1.0 - t.cos()) / 2.0;
                            (
                                a.0 + (b.0 - a.0) * f + side * out * t.sin(),
                                a.1 + (b.1 - a.1) * f,
                            )
                        })
                        .collect();
                    if self.coin(0.5) {
                        p.reverse();
                    }
                    ears.push(p);
                }
                if self.coin(0.4) {
                    ears.reverse();
                }
                ears
            }
        }
    }

    /// Puts the parts in a human order: outline first most of the time, then eyes, nose,
    /// mouth, hair, shuffled by a noisy rank so that every order occurs.
    fn order(&mut self, parts: Vec<(Part, Vec<Poly>)>) -> Vec<(Part, Vec<Poly>)> {
        let outline_first = self.coin(0.85);
        let mut keyed: Vec<(f64, (Part, Vec<Poly>))> = parts
            .into_iter()
            .map(|part| {
                let base = match part.0 {
                    Part::Outline if outline_first => -100.0,
                    Part::Outline => self.u(0.5, 4.5),
                    Part::Eyes => 1.0,
                    Part::Nose => 2.0,
                    Part::Mouth => 3.0,
                    Part::Hair => 2.5,
                };
                (base + self.n(0.9), part)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut parts: Vec<_> = keyed.into_iter().map(|(_, p)| p).collect();
        // rarely, someone draws the features in no order at all
        if self.coin(0.05) {
            parts.shuffle(self.rng);
        }
        parts
    }

    /// Resamples a stroke (a few output pixels apart: fine enough for RDP at epsilon 2, coarse
    /// enough to stay fast) and adds a hand's slow wobble.
    fn humanise(&mut self, s: Poly) -> Poly {
        let len: f64 = s
            .windows(2)
            .map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt())
            .sum();
        if len < 1e-9 {
            return s;
        }
        let amp = (0.012 * len).min(0.035) * self.u(0.3, 1.0);
        let waves: Vec<(f64, f64, f64)> = (0..4)
            .map(|_| {
                let cycles = (len / self.u(1.2, 3.0)).max(self.u(0.5, 1.5));
                (amp * self.u(0.3, 1.0), cycles, self.u(0.0, TAU))
            })
            .collect();
        // Walk the stroke at equal arc-length steps so that every wave's phase advances by a
        // constant angle per point: a rotation instead of a sine per point (sine dominated the
        // run time). Corners get cut by at most half a step, as a hand does.
        let n = (len / 0.03).ceil().max(1.0) as usize;
        let step = len / n as f64;
        let mut waves: Vec<Wave> = waves
            .iter()
            .map(|&(amp, cycles, phase)| Wave::new(amp, phase, TAU * cycles / n as f64))
            .collect();
        let mut out = Vec::with_capacity(n + 1);
        let (mut seg, mut seg_start) = (0usize, 0.0f64);
        for i in 0..=n {
            let d = if i == n { len } else { i as f64 * step };
            // advance to the segment that holds arc length d
            let mut l = seg_len(&s, seg);
            while seg + 2 < s.len() && seg_start + l < d {
                seg_start += l;
                seg += 1;
                l = seg_len(&s, seg);
            }
            let f = if l > 0.0 {
                ((d - seg_start) / l).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (a, b) = (s[seg], s[seg + 1]);
            out.push((
                a.0 + (b.0 - a.0) * f + waves[0].value() + waves[1].value(),
                a.1 + (b.1 - a.1) * f + waves[2].value() + waves[3].value(),
            ));
            waves.iter_mut().for_each(Wave::advance);
        }
        out
    }

    /// Tilts and squashes the whole face a little.
    fn pose(&mut self, strokes: Vec<Poly>) -> Vec<Poly> {
        let tilt = self.n(0.1).clamp(-0.3, 0.3);
        let sq = self.u(0.92, 1.08);
        let (s, c) = tilt.sin_cos();
        strokes
            .into_iter()
            .map(|p| {
                p.into_iter()
                    .map(|(x, y)| {
                        let x = x * sq;
                        (c * x - s * y, s * x + c * y)
                    })
                    .collect()
            })
            .collect()
    }
}

/// Google's simplification: top-left align, scale the longest side to 255, simplify each
/// stroke with RDP (epsilon 2), round to integers.
fn finish(strokes: &[Poly]) -> Vec<Stroke> {
    let scaled = normalise(strokes);
    let simplified: Vec<Poly> = scaled
        .iter()
        .map(|p| {
            let (x, y): (Vec<f32>, Vec<f32>) = p.iter().map(|&(x, y)| (x as f32, y as f32)).unzip();
            let s = drawing::rdp(&x, &y, 2.0);
            s.points().map(|(x, y)| (x as f64, y as f64)).collect()
        })
        .collect();
    // RDP may drop an extreme point; scale again so the longest side is exactly 255.
    normalise(&simplified)
        .into_iter()
        .map(|p| {
            let mut s = Stroke::default();
            for (x, y) in p {
                let (x, y) = (
                    x.round().clamp(0.0, 255.0) as f32,
                    y.round().clamp(0.0, 255.0) as f32,
                );
                if s.x.last() != Some(&x) || s.y.last() != Some(&y) {
                    s.x.push(x);
                    s.y.push(y);
                }
            }
            s
        })
        .collect()
}

fn normalise(strokes: &[Poly]) -> Vec<Poly> {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in strokes.iter().flatten() {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let scale = 255.0 / (x1 - x0).max(y1 - y0).max(1e-9);
    strokes
        .iter()
        .map(|p| {
            p.iter()
                .map(|&(x, y)| ((x - x0) * scale, (y - y0) * scale))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests;
