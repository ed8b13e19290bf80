//! The drawing model shared by every stage.
//!
//! A Quick, Draw! drawing is a list of strokes (pen-down polylines). The pipeline stores and
//! learns from it as a *stroke-3* sequence: one row per point, `(dx, dy, pen)`, where `dx, dy`
//! is the offset from the previous point (the first point's offset is from the origin, so a
//! running sum gives back absolute coordinates) and `pen` is 1 when the pen lifts after that
//! point (so the last point of every drawing has `pen = 1`).
//!
//! Coordinates stay in the source's units (0–255 for simplified files, canvas pixels for raw
//! ones); y grows downward, as in the data set.
//!
//! Beside the model: simplification, rasterising, and the distance between two drawings' lines
//! ([`chamfer`]).

pub mod chamfer;

/// One pen-down polyline in absolute coordinates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stroke {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
}

impl Stroke {
    pub fn new(x: Vec<f32>, y: Vec<f32>) -> Self {
        debug_assert_eq!(x.len(), y.len());
        Stroke { x, y }
    }
    pub fn len(&self) -> usize {
        self.x.len()
    }
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
    pub fn points(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        self.x.iter().copied().zip(self.y.iter().copied())
    }
    /// The longest side of the stroke's box (0 for a dot or an empty stroke).
    pub fn size(&self) -> f32 {
        let (w, h) = stroke_box(self);
        w.max(h).max(0.0)
    }
}

/// A drawing as a stroke-3 sequence, three parallel columns of equal length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stroke3 {
    pub dx: Vec<f32>,
    pub dy: Vec<f32>,
    /// 1 where the pen lifts after this point.
    pub pen: Vec<u8>,
}

/// Axis-aligned bounding box of a drawing in absolute coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub min_x: f32,
    pub min_y: f32,
    pub max_x: f32,
    pub max_y: f32,
}

impl BBox {
    pub fn width(&self) -> f32 {
        self.max_x - self.min_x
    }
    pub fn height(&self) -> f32 {
        self.max_y - self.min_y
    }
}

impl Stroke3 {
    pub fn with_capacity(n: usize) -> Self {
        Stroke3 {
            dx: Vec::with_capacity(n),
            dy: Vec::with_capacity(n),
            pen: Vec::with_capacity(n),
        }
    }

    /// Builds the sequence from absolute strokes. Empty strokes are skipped.
    pub fn from_strokes(strokes: &[Stroke]) -> Self {
        let n = strokes.iter().map(Stroke::len).sum();
        let mut out = Stroke3::with_capacity(n);
        let (mut px, mut py) = (0f32, 0f32);
        for s in strokes.iter().filter(|s| !s.is_empty()) {
            for (x, y) in s.points() {
                out.dx.push(x - px);
                out.dy.push(y - py);
                out.pen.push(0);
                px = x;
                py = y;
            }
            *out.pen.last_mut().expect("non-empty stroke") = 1;
        }
        out
    }

    /// Back to absolute strokes (a running sum, split where the pen lifts). A sequence whose
    /// last point does not lift the pen still ends its last stroke there.
    pub fn to_strokes(&self) -> Vec<Stroke> {
        let mut strokes = Vec::new();
        let mut cur = Stroke::default();
        let (mut x, mut y) = (0f32, 0f32);
        for i in 0..self.len() {
            x += self.dx[i];
            y += self.dy[i];
            cur.x.push(x);
            cur.y.push(y);
            if self.pen[i] != 0 {
                strokes.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            strokes.push(cur);
        }
        strokes
    }

    pub fn len(&self) -> usize {
        self.dx.len()
    }
    pub fn is_empty(&self) -> bool {
        self.dx.is_empty()
    }
    /// Number of strokes: the number of pen lifts (a last point without one counts too).
    pub fn n_strokes(&self) -> usize {
        let lifts = self.pen.iter().filter(|&&p| p != 0).count();
        lifts + usize::from(self.pen.last().is_some_and(|&p| p == 0))
    }

    /// Bounding box of the absolute points, `None` when empty.
    pub fn bbox(&self) -> Option<BBox> {
        if self.is_empty() {
            return None;
        }
        let (mut x, mut y) = (0f32, 0f32);
        let mut b = BBox {
            min_x: f32::INFINITY,
            min_y: f32::INFINITY,
            max_x: f32::NEG_INFINITY,
            max_y: f32::NEG_INFINITY,
        };
        for i in 0..self.len() {
            x += self.dx[i];
            y += self.dy[i];
            b.min_x = b.min_x.min(x);
            b.min_y = b.min_y.min(y);
            b.max_x = b.max_x.max(x);
            b.max_y = b.max_y.max(y);
        }
        Some(b)
    }

    /// Absolute points scaled into the unit box `[0,1]²` (aspect ratio kept, longest side 1,
    /// top-left aligned), as strokes. Used by rasterisers and distance measures that must
    /// not depend on a drawing's size or position.
    pub fn to_unit_strokes(&self) -> Vec<Stroke> {
        let Some(b) = self.bbox() else {
            return Vec::new();
        };
        let side = b.width().max(b.height()).max(f32::EPSILON);
        self.to_strokes()
            .into_iter()
            .map(|s| Stroke {
                x: s.x.iter().map(|v| (v - b.min_x) / side).collect(),
                y: s.y.iter().map(|v| (v - b.min_y) / side).collect(),
            })
            .collect()
    }

    /// True when every value is finite.
    pub fn is_finite(&self) -> bool {
        self.dx.iter().chain(&self.dy).all(|v| v.is_finite())
    }

    /// The same strokes in a canonical order and direction, so that two people who drew the
    /// same picture in a different order get the same sequence: the largest stroke (by its
    /// bounding box's longest side) first, the others top to bottom in bands a tenth of the
    /// drawing high, left to right within a band; an open stroke runs from its left end (upper
    /// on a tie), a closed one (ends closer than a fifth of its size) clockwise on screen.
    pub fn canonical(&self) -> Stroke3 {
        self.canonical_with(false)
    }

    /// [`Stroke3::canonical`], and with `loops_from_top` each closed stroke also starts at its
    /// top: at its point nearest the top centre of its box, as a clock's hand at twelve. Where
    /// people start a circle (an eye, a head) then no longer matters; the short gap or overlap
    /// between its ends becomes a stretch of the loop, and its ends meet at the old neighbours.
    pub fn canonical_with(&self, loops_from_top: bool) -> Stroke3 {
        let mut strokes: Vec<Stroke> = self
            .to_strokes()
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if strokes.is_empty() {
            return self.clone();
        }
        let side = self
            .bbox()
            .map_or(1.0, |b| b.width().max(b.height()))
            .max(f32::EPSILON);
        for s in &mut strokes {
            let closed = orient(s);
            if closed && loops_from_top {
                start_at_top(s);
            }
        }
        let extent = |s: &Stroke| {
            let (w, h) = stroke_box(s);
            w.max(h)
        };
        let largest = (0..strokes.len())
            .max_by(|&a, &b| {
                extent(&strokes[a])
                    .total_cmp(&extent(&strokes[b]))
                    .then(b.cmp(&a))
            })
            .expect("non-empty");
        let first = strokes.remove(largest);
        let band = side / 10.0;
        let key = |s: &Stroke| {
            let n = s.len() as f32;
            let cx = s.x.iter().sum::<f32>() / n;
            let cy = s.y.iter().sum::<f32>() / n;
            ((cy / band).floor() as i64, cx)
        };
        // stable: strokes with equal keys keep the order they were drawn in
        strokes.sort_by(|a, b| {
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        });
        strokes.insert(0, first);
        Stroke3::from_strokes(&strokes)
    }

    /// One part of the drawing cut by its largest stroke (see [`Stroke3::parts`]); `None` when
    /// that part is empty.
    pub fn part(&self, part: Part) -> Option<Stroke3> {
        self.parts()?.get(part).cloned()
    }

    /// The drawing cut into three by its largest stroke: that stroke, the strokes inside it
    /// (what is inside a face's outline, or a house's walls), and the rest, each keeping its
    /// strokes' order and place. Each stroke is read as a polygon closed by joining its ends,
    /// and the largest is the one that encloses the largest area (not the widest: a head's hair
    /// can be as wide as the head). A stroke is inside when most of its points are. `None` for
    /// a drawing without points.
    pub fn parts(&self) -> Option<Parts> {
        let strokes: Vec<Stroke> = self
            .to_strokes()
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let area: Vec<f32> = strokes.iter().map(|s| twice_signed_area(s).abs()).collect();
        let largest =
            (0..strokes.len()).max_by(|&a, &b| area[a].total_cmp(&area[b]).then(b.cmp(&a)))?;
        let outline = &strokes[largest];
        let (mut inside, mut outside) = (Vec::new(), Vec::new());
        for (i, s) in strokes.iter().enumerate() {
            if i == largest {
                continue;
            }
            let n_in = s.points().filter(|&p| in_polygon(outline, p)).count();
            if 2 * n_in > s.len() {
                inside.push(s.clone());
            } else {
                outside.push(s.clone());
            }
        }
        let some = |s: Vec<Stroke>| (!s.is_empty()).then(|| Stroke3::from_strokes(&s));
        Some(Parts {
            outline: Stroke3::from_strokes(std::slice::from_ref(outline)),
            inside: some(inside),
            outside: some(outside),
        })
    }
}

/// The parts a drawing's largest stroke cuts it into: a face's head, what is inside it (eyes,
/// nose, mouth) and what is outside (hair, ears). See [`Stroke3::parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The strokes most of whose points lie inside the largest stroke.
    Inside,
    /// The largest stroke alone: the one that encloses the largest area.
    Outline,
    /// The strokes that are neither.
    Outside,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Inside, Part::Outline, Part::Outside];

    /// The part's name, as in file columns and config: `inside`, `outline`, `outside`.
    pub fn name(self) -> &'static str {
        match self {
            Part::Inside => "inside",
            Part::Outline => "outline",
            Part::Outside => "outside",
        }
    }

    pub fn from_name(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A drawing cut by its largest stroke: see [`Stroke3::parts`].
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    pub outline: Stroke3,
    /// `None` when no stroke is inside.
    pub inside: Option<Stroke3>,
    /// `None` when every other stroke is inside.
    pub outside: Option<Stroke3>,
}

impl Parts {
    /// One of the parts; `None` when it is empty.
    pub fn get(&self, part: Part) -> Option<&Stroke3> {
        match part {
            Part::Inside => self.inside.as_ref(),
            Part::Outline => Some(&self.outline),
            Part::Outside => self.outside.as_ref(),
        }
    }
}

/// Twice the signed area of the polygon through `s`'s points, closed by joining its ends
/// (the shoelace sum).
fn twice_signed_area(s: &Stroke) -> f32 {
    let n = s.len();
    (0..n)
        .map(|i| {
            let j = (i + 1) % n;
            s.x[i] * s.y[j] - s.x[j] * s.y[i]
        })
        .sum()
}

/// Even-odd rule: is `p` inside the polygon through `poly`'s points (closed by joining its
/// ends)? A polygon of fewer than three points has no inside.
fn in_polygon(poly: &Stroke, (px, py): (f32, f32)) -> bool {
    let n = poly.len();
    if n < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = n - 1;
    for i in 0..n {
        let (xi, yi, xj, yj) = (poly.x[i], poly.y[i], poly.x[j], poly.y[j]);
        if (yi > py) != (yj > py) && px < xi + (py - yi) * (xj - xi) / (yj - yi) {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Width and height of one stroke's points.
fn stroke_box(s: &Stroke) -> (f32, f32) {
    let span = |v: &[f32]| {
        let (lo, hi) = v
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        hi - lo
    };
    (span(&s.x), span(&s.y))
}

/// Puts one stroke in its canonical direction (see [`Stroke3::canonical`]).
/// Returns whether the stroke is closed (its ends closer than a fifth of its size).
fn orient(s: &mut Stroke) -> bool {
    let n = s.len();
    if n < 2 {
        return false;
    }
    let size = s.size();
    let gap = ((s.x[n - 1] - s.x[0]).powi(2) + (s.y[n - 1] - s.y[0]).powi(2)).sqrt();
    let reverse = if gap < 0.2 * size {
        // with y down, a positive area turns clockwise on screen
        twice_signed_area(s) < 0.0
    } else {
        (s.x[n - 1], s.y[n - 1]) < (s.x[0], s.y[0])
    };
    if reverse {
        s.x.reverse();
        s.y.reverse();
    }
    gap < 0.2 * size
}

/// Turns a closed stroke so that it starts at its point nearest the top centre of its box
/// (y grows downwards), keeping its direction. A loop whose last point repeats its first is
/// closed again at the new start.
fn start_at_top(s: &mut Stroke) {
    let n = s.len();
    if n < 3 {
        return;
    }
    let repeats = s.x[n - 1] == s.x[0] && s.y[n - 1] == s.y[0];
    let m = if repeats { n - 1 } else { n };
    let (lo_x, hi_x) = s.x[..m]
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let top_y = s.y[..m].iter().cloned().fold(f32::MAX, f32::min);
    let top = ((lo_x + hi_x) / 2.0, top_y);
    let k = (0..m)
        .min_by(|&a, &b| {
            let d = |i: usize| (s.x[i] - top.0).powi(2) + (s.y[i] - top.1).powi(2);
            d(a).total_cmp(&d(b)).then(a.cmp(&b))
        })
        .expect("at least one point");
    if k == 0 {
        return;
    }
    s.x.truncate(m);
    s.y.truncate(m);
    s.x.rotate_left(k);
    s.y.rotate_left(k);
    if repeats {
        s.x.push(s.x[0]);
        s.y.push(s.y[0]);
    }
}

/// Ramer–Douglas–Peucker simplification of one polyline (Google's last simplification step,
/// with epsilon 2.0 in 0–255 units). Keeps the first and last point.
pub fn rdp(x: &[f32], y: &[f32], epsilon: f32) -> Stroke {
    let n = x.len();
    if n < 3 {
        return Stroke::new(x.to_vec(), y.to_vec());
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    // explicit stack: long raw strokes would overflow a recursive version
    let mut stack = vec![(0usize, n - 1)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (ax, ay, bx, by) = (x[a], y[a], x[b], y[b]);
        let (vx, vy) = (bx - ax, by - ay);
        let len = (vx * vx + vy * vy).sqrt();
        let mut best = (0f32, a);
        for i in a + 1..b {
            let d = if len > 0.0 {
                ((x[i] - ax) * vy - (y[i] - ay) * vx).abs() / len
            } else {
                ((x[i] - ax).powi(2) + (y[i] - ay).powi(2)).sqrt()
            };
            if d > best.0 {
                best = (d, i);
            }
        }
        if best.0 > epsilon {
            keep[best.1] = true;
            stack.push((a, best.1));
            stack.push((best.1, b));
        }
    }
    let (mut ox, mut oy) = (Vec::new(), Vec::new());
    for i in 0..n {
        if keep[i] {
            ox.push(x[i]);
            oy.push(y[i]);
        }
    }
    Stroke::new(ox, oy)
}

/// Rasterises a drawing into a `size × size` grey image (row-major, values in `[0,1]`, 1 =
/// ink), scaled into the unit box with a margin, lines drawn with unit-width antialias-free
/// DDA. Used as the pixel baseline and by tests.
pub fn rasterise(drawing: &Stroke3, size: usize) -> Vec<f32> {
    rasterise_unit(&drawing.to_unit_strokes(), size)
}

/// Rasterises strokes already placed in the unit box `[0,1]²` as [`rasterise`] does (ink
/// outside the box is clipped): for callers that choose the box themselves.
pub fn rasterise_unit(strokes: &[Stroke], size: usize) -> Vec<f32> {
    let mut img = vec![0f32; size * size];
    if size == 0 {
        return img;
    }
    let margin = 1.0f32;
    let scale = (size as f32 - 1.0 - 2.0 * margin).max(0.0);
    for s in strokes {
        let pts: Vec<(f32, f32)> = s
            .points()
            .map(|(x, y)| (margin + x * scale, margin + y * scale))
            .collect();
        let mut plot = |x: f32, y: f32| {
            let (ix, iy) = (x.round() as isize, y.round() as isize);
            if ix >= 0 && iy >= 0 && (ix as usize) < size && (iy as usize) < size {
                img[iy as usize * size + ix as usize] = 1.0;
            }
        };
        if pts.len() == 1 {
            plot(pts[0].0, pts[0].1);
        }
        for w in pts.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
            for k in 0..=steps {
                let t = k as f32 / steps as f32;
                plot(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_inside_keeps_the_strokes_within_the_outline_in_place() {
        let square = Stroke::new(
            vec![0.0, 100.0, 100.0, 0.0, 0.0],
            vec![0.0, 0.0, 100.0, 100.0, 2.0],
        );
        let eye = Stroke::new(vec![30.0, 35.0], vec![30.0, 32.0]);
        let hair = Stroke::new(vec![20.0, 25.0, 30.0], vec![-5.0, -20.0, -5.0]);
        // a stroke half in, half out: most of its points decide
        let ear = Stroke::new(vec![95.0, 110.0, 120.0], vec![50.0, 45.0, 55.0]);
        let mouth = Stroke::new(vec![40.0, 50.0, 60.0], vec![70.0, 75.0, 70.0]);
        let d = Stroke3::from_strokes(&[
            eye.clone(),
            square.clone(),
            hair.clone(),
            ear.clone(),
            mouth.clone(),
        ]);
        let inside = d.part(Part::Inside).expect("two strokes inside");
        assert_eq!(inside.to_strokes(), vec![eye.clone(), mouth.clone()]);
        // the three parts share the strokes out, each in drawing order
        let parts = d.parts().unwrap();
        assert_eq!(parts.outline.to_strokes(), vec![square.clone()]);
        assert_eq!(parts.outside.unwrap().to_strokes(), vec![hair, ear]);
        assert_eq!(d.part(Part::Outline).unwrap().to_strokes(), vec![square]);
        // a lone outline has no inside and no outside
        let alone = d.part(Part::Outline).unwrap();
        assert_eq!(alone.part(Part::Inside), None);
        assert_eq!(alone.part(Part::Outside), None);
        for p in Part::ALL {
            assert_eq!(Part::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn the_outline_is_the_stroke_enclosing_most_not_the_widest() {
        // hair: a zigzag wider than the head but enclosing little
        let hair = Stroke::new(
            vec![-10.0, 10.0, 30.0, 50.0, 70.0, 90.0, 110.0],
            vec![5.0, -10.0, 5.0, -10.0, 5.0, -10.0, 5.0],
        );
        let head = Stroke::new(vec![0.0, 100.0, 100.0, 0.0], vec![0.0, 0.0, 100.0, 100.0]);
        let mouth = Stroke::new(vec![40.0, 50.0, 60.0], vec![70.0, 75.0, 70.0]);
        let d = Stroke3::from_strokes(&[hair, head, mouth.clone()]);
        assert_eq!(d.part(Part::Inside).unwrap().to_strokes(), vec![mouth]);
    }

    #[test]
    fn the_inside_is_none_without_one() {
        let line = Stroke::new(vec![0.0, 100.0], vec![0.0, 0.0]);
        let dot = Stroke::new(vec![50.0], vec![0.0]);
        assert_eq!(Stroke3::from_strokes(&[line, dot]).part(Part::Inside), None);
        assert_eq!(Stroke3::default().part(Part::Inside), None);
        let ring = Stroke::new(vec![0.0, 10.0, 10.0, 0.0], vec![0.0, 0.0, 10.0, 10.0]);
        assert_eq!(Stroke3::from_strokes(&[ring]).part(Part::Inside), None);
    }
    use super::*;

    fn strokes_of(d: &Stroke3) -> Vec<Vec<(f32, f32)>> {
        d.to_strokes()
            .iter()
            .map(|s| s.points().collect())
            .collect()
    }

    #[test]
    fn canonical_order_does_not_depend_on_how_it_was_drawn() {
        let circle = |cx: f32, cy: f32, r: f32| {
            let (x, y): (Vec<f32>, Vec<f32>) = (0..=12)
                .map(|i| {
                    let a = i as f32 / 12.0 * std::f32::consts::TAU;
                    (cx + r * a.cos(), cy + r * a.sin())
                })
                .unzip();
            Stroke::new(x, y)
        };
        let outline = circle(50.0, 50.0, 45.0);
        let left_eye = circle(35.0, 35.0, 5.0);
        let right_eye = circle(65.0, 36.0, 5.0);
        let mouth = Stroke::new(vec![30.0, 50.0, 70.0], vec![70.0, 78.0, 70.0]);
        let reversed = |s: &Stroke| {
            let mut s = s.clone();
            s.x.reverse();
            s.y.reverse();
            s
        };
        let a = Stroke3::from_strokes(&[
            outline.clone(),
            left_eye.clone(),
            right_eye.clone(),
            mouth.clone(),
        ]);
        let b = Stroke3::from_strokes(&[
            reversed(&mouth),
            right_eye.clone(),
            reversed(&outline),
            reversed(&left_eye),
        ]);
        assert_ne!(a, b);
        let (ca, cb) = (a.canonical(), b.canonical());
        assert_eq!(strokes_of(&ca), strokes_of(&cb));
        // the outline first, then the eyes left to right, then the mouth from its left end
        let s = strokes_of(&ca);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].len(), 13);
        assert!(s[1][0].0 < 50.0 && s[2][0].0 > 50.0);
        assert_eq!(s[3][0], (30.0, 70.0));
        // nothing is lost
        assert_eq!(ca.len(), a.len());
        assert_eq!(ca.bbox(), a.bbox());
    }

    #[test]
    fn loops_start_at_their_top() {
        // a ring started at 3 o'clock (y down), exactly closed, and unclosed ones started at 9
        // o'clock and just past 3
        let ring = |start: f32, n: usize, closed: bool| {
            let (x, y): (Vec<f32>, Vec<f32>) = (0..n + usize::from(closed))
                .map(|i| {
                    let a = start + (i % n) as f32 / n as f32 * std::f32::consts::TAU;
                    (50.0 + 40.0 * a.cos(), 50.0 + 40.0 * a.sin())
                })
                .unzip();
            Stroke::new(x, y)
        };
        let mouth = Stroke::new(vec![30.0, 50.0, 70.0], vec![70.0, 78.0, 70.0]);
        let pi = std::f32::consts::PI;
        // (an unclosed ring of 24 points leaves a gap of one step, under a fifth of its size)
        for (start, closed) in [(0.0, true), (pi, false), (0.3, false)] {
            let loop_ = ring(start, if closed { 12 } else { 24 }, closed);
            let d = Stroke3::from_strokes(&[loop_.clone(), mouth.clone()]);
            let c = strokes_of(&d.canonical_with(true));
            let first = c[0][0];
            // (the points of the ring started past 3 o'clock are 15 degrees, 10.5 units, apart:
            // none is at the very top)
            assert!(
                (first.0 - 50.0).abs() < 5.5 && (first.1 - 10.0).abs() < 1.5,
                "{start}: starts at {first:?}"
            );
            // the same points (a loop that repeated its first point repeats its new first)
            assert_eq!(c[0].len(), loop_.len());
            let mut got: Vec<(i32, i32)> = c[0]
                .iter()
                .map(|p| (p.0.round() as i32, p.1.round() as i32))
                .collect();
            let mut want: Vec<(i32, i32)> = loop_
                .points()
                .map(|p| (p.0.round() as i32, p.1.round() as i32))
                .collect();
            got.sort();
            want.sort();
            if closed {
                // the repeated point is now the top one
                got.dedup();
                want.dedup();
            }
            assert_eq!(got, want);
            if closed {
                assert_eq!(c[0][0], c[0][12], "closed again at its new start");
            }
            // clockwise on screen (y down): from the top, the next point is to the right
            assert!(c[0][1].0 > first.0);
            // an open stroke keeps its start
            assert_eq!(c[1][0], (30.0, 70.0));
            // without the option the loop keeps its start
            let plain = strokes_of(&d.canonical());
            assert_ne!(plain[0][0], first);
        }
    }

    fn face() -> Vec<Stroke> {
        vec![
            Stroke::new(vec![10.0, 20.0, 30.0], vec![5.0, 5.0, 15.0]),
            Stroke::new(vec![0.0], vec![100.0]),
            Stroke::new(vec![50.0, 60.0], vec![50.0, 40.0]),
        ]
    }

    #[test]
    fn stroke3_round_trip() {
        let s3 = Stroke3::from_strokes(&face());
        assert_eq!(s3.len(), 6);
        assert_eq!(s3.pen, vec![0, 0, 1, 1, 0, 1]);
        assert_eq!((s3.dx[0], s3.dy[0]), (10.0, 5.0));
        assert_eq!(s3.n_strokes(), 3);
        assert_eq!(s3.to_strokes(), face());
    }

    #[test]
    fn empty_strokes_are_skipped() {
        let s3 = Stroke3::from_strokes(&[Stroke::default(), face()[0].clone()]);
        assert_eq!(s3.len(), 3);
        assert_eq!(s3.n_strokes(), 1);
    }

    #[test]
    fn bbox_and_unit_box() {
        let s3 = Stroke3::from_strokes(&face());
        let b = s3.bbox().unwrap();
        assert_eq!(
            (b.min_x, b.min_y, b.max_x, b.max_y),
            (0.0, 5.0, 60.0, 100.0)
        );
        let unit = s3.to_unit_strokes();
        let all: Vec<_> = unit
            .iter()
            .flat_map(|s| s.points().collect::<Vec<_>>())
            .collect();
        assert!(all
            .iter()
            .all(|&(x, y)| (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y)));
        assert!(all.iter().any(|&(_, y)| y == 1.0));
    }

    #[test]
    fn rdp_drops_collinear_points_and_keeps_corners() {
        let x = [0.0, 1.0, 2.0, 3.0, 3.0, 3.0];
        let y = [0.0, 0.1, 0.0, 0.0, 1.0, 5.0];
        let s = rdp(&x, &y, 2.0);
        assert_eq!(s.x, vec![0.0, 3.0, 3.0]);
        assert_eq!(s.y, vec![0.0, 0.0, 5.0]);
        let fine = rdp(&x, &y, 0.05);
        assert_eq!(
            fine.len(),
            4,
            "the 0.1 bump survives a small epsilon: {fine:?}"
        );
    }

    #[test]
    fn raster_draws_ink_on_the_lines_only() {
        let s3 = Stroke3::from_strokes(&[Stroke::new(vec![0.0, 10.0], vec![0.0, 0.0])]);
        let img = rasterise(&s3, 8);
        let ink: f32 = img.iter().sum();
        assert_eq!(
            ink, 6.0,
            "a horizontal line across the 6 inner pixels of the top row"
        );
        assert!(img[9..15].iter().all(|&v| v == 1.0));
    }
}
