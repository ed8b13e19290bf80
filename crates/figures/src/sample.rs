//! Deterministic choices of what to show: samples of a cluster, thumbnails on the map, and
//! short labels. Nothing here uses a random generator: the same input gives the same picture.

/// FNV-1a 64-bit hash of a string: a fixed, platform-independent order for sampling (std's
/// hasher is randomly seeded per process).
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A key_id shortened for a label: keys longer than 10 characters keep their first and last
/// four (`5152530285723648` → `5152…3648`).
pub fn short_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 10 {
        return key.to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// One member of a cluster, as [`pick_samples`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member<'a> {
    pub key: &'a str,
    /// How typical of its cluster the member is (e.g. HDBSCAN's membership probability);
    /// higher first. `None` or NaN ranks last.
    pub score: Option<f32>,
}

/// Picks up to `k` members to show for a cluster: the highest scores first, ties (and
/// members without a score) ordered by [`stable_hash`] of the key, which is an arbitrary but
/// fixed shuffle. Returns indices into `members`.
pub fn pick_samples(members: &[Member<'_>], k: usize) -> Vec<usize> {
    let rank = |m: &Member<'_>| match m.score {
        Some(s) if s.is_finite() => s,
        _ => f32::NEG_INFINITY,
    };
    let mut idx: Vec<usize> = (0..members.len()).collect();
    idx.sort_by(|&a, &b| {
        let (ma, mb) = (&members[a], &members[b]);
        rank(mb)
            .total_cmp(&rank(ma))
            .then_with(|| stable_hash(ma.key).cmp(&stable_hash(mb.key)))
            .then_with(|| ma.key.cmp(mb.key))
            .then_with(|| a.cmp(&b))
    });
    idx.truncate(k);
    idx
}

/// Spreads thumbnails over a 2-D scatter: the plane `[x0,x1]×[y0,y1]` is cut into
/// `cols × rows` cells and each occupied cell offers the point nearest its centre; these are
/// taken in a fixed shuffled order (by [`stable_hash`] of the index), skipping any closer
/// than one cell on both axes to one already taken, up to `max`. So a thumbnail no larger
/// than a cell overlaps no other. Non-finite points are ignored. Returns sorted indices.
pub fn pick_thumbnails(
    points: &[(f32, f32)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    (cols, rows): (u32, u32),
    max: usize,
) -> Vec<usize> {
    if cols == 0 || rows == 0 || max == 0 || x1 <= x0 || y1 <= y0 {
        return Vec::new();
    }
    let (cw, ch) = ((x1 - x0) / cols as f64, (y1 - y0) / rows as f64);
    let mut best: Vec<Option<(f64, usize)>> = vec![None; cols as usize * rows as usize];
    for (i, &(x, y)) in points.iter().enumerate() {
        let (x, y) = (x as f64, y as f64);
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let cx = (((x - x0) / cw).floor() as i64).clamp(0, cols as i64 - 1) as usize;
        let cy = (((y - y0) / ch).floor() as i64).clamp(0, rows as i64 - 1) as usize;
        let (mx, my) = (x0 + (cx as f64 + 0.5) * cw, y0 + (cy as f64 + 0.5) * ch);
        let d = ((x - mx) / cw).powi(2) + ((y - my) / ch).powi(2);
        let slot = &mut best[cy * cols as usize + cx];
        if slot.is_none_or(|(bd, _)| d < bd) {
            *slot = Some((d, i));
        }
    }
    // a point off its cell's centre can still crowd a neighbour's: accept points in a fixed
    // shuffled order, each only if it is a whole cell away from those accepted on some axis
    let mut order: Vec<usize> = best.into_iter().flatten().map(|(_, i)| i).collect();
    order.sort_by_key(|&i| (stable_hash(&i.to_string()), i));
    let mut chosen: Vec<usize> = Vec::new();
    for i in order {
        if chosen.len() == max {
            break;
        }
        let (x, y) = (points[i].0 as f64, points[i].1 as f64);
        let clear = chosen.iter().all(|&j| {
            let (xj, yj) = (points[j].0 as f64, points[j].1 as f64);
            (x - xj).abs() >= cw || (y - yj).abs() >= ch
        });
        if clear {
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys() {
        assert_eq!(short_key("5152530285723648"), "5152…3648");
        assert_eq!(short_key("abc"), "abc");
        assert_eq!(short_key(""), "");
        assert_eq!(short_key("ééééééééééééé"), "éééé…éééé");
    }

    #[test]
    fn samples_prefer_high_scores_and_are_deterministic() {
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        let members: Vec<Member> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Member {
                key: k,
                score: if i == 37 {
                    Some(2.0)
                } else if i == 3 {
                    Some(f32::NAN)
                } else {
                    Some(1.0)
                },
            })
            .collect();
        let a = pick_samples(&members, 5);
        assert_eq!(a.len(), 5);
        assert_eq!(a[0], 37, "the most typical member comes first");
        assert!(!a.contains(&3), "NaN ranks last");
        assert_eq!(a, pick_samples(&members, 5));
        // the order does not depend on the input order
        let mut rev = members.clone();
        rev.reverse();
        let b: Vec<&str> = pick_samples(&rev, 5).iter().map(|&i| rev[i].key).collect();
        let a: Vec<&str> = a.iter().map(|&i| members[i].key).collect();
        assert_eq!(a, b);
        assert_eq!(pick_samples(&members, 500).len(), 50);
        assert!(pick_samples(&[], 3).is_empty());
    }

    #[test]
    fn thumbnails_spread_over_the_plane() {
        // a dense blob at the origin and a few far points
        let mut pts: Vec<(f32, f32)> = (0..400)
            .map(|i| ((i % 20) as f32 * 0.01, (i / 20) as f32 * 0.01))
            .collect();
        pts.push((9.9, 9.9));
        pts.push((9.9, 0.1));
        pts.push((f32::NAN, 1.0));
        let chosen = pick_thumbnails(&pts, (0.0, 10.0), (0.0, 10.0), (4, 4), 16);
        assert_eq!(chosen.len(), 3, "the blob fills one cell: {chosen:?}");
        assert!(chosen.contains(&400) && chosen.contains(&401));
        let capped = pick_thumbnails(&pts, (0.0, 10.0), (0.0, 10.0), (4, 4), 2);
        assert_eq!(capped.len(), 2);
        assert!(pick_thumbnails(&pts, (0.0, 0.0), (0.0, 10.0), (4, 4), 2).is_empty());
    }
}
