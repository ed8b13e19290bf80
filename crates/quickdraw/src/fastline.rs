//! A hand-written parser for the common shape of an ndjson line, several times faster than
//! going through serde (measured with `examples/parse_bench.rs`): it reads the numbers of
//! `"drawing"` into flat buffers reused from line to line and borrows the short strings.
//!
//! It is only a fast path. It accepts strict JSON and returns `None` for anything it does not
//! handle or finds malformed (a duplicate key, an escaped key, a bad number); the caller then
//! parses the line with serde, which gives the record or a precise error. So a line never
//! gets a different answer from the two paths, only a faster one.

use crate::fields::{Labels, StrokeRef};
use std::borrow::Cow;

/// The fields of one line, strings borrowed from it where they hold no escapes.
#[derive(Default)]
pub(crate) struct Fields<'a> {
    pub word: Option<Cow<'a, str>>,
    pub countrycode: Option<Cow<'a, str>>,
    pub timestamp: Option<Cow<'a, str>>,
    pub recognized: Option<bool>,
    pub key_id: Option<Cow<'a, str>>,
    /// Whether a `"drawing"` was read (into the [`Scratch`]).
    pub drawing: bool,
    /// Whether a `"labels"` object was read (into the [`Scratch`]).
    pub labels: bool,
}

/// Flat buffers for one line's strokes, reused from line to line.
#[derive(Default)]
pub(crate) struct Scratch {
    x: Vec<f32>,
    y: Vec<f32>,
    t: Vec<f64>,
    strokes: Vec<Span>,
    pub labels: LabelStore,
}

/// `(name, value)` label pairs whose strings keep their capacity from line to line.
#[derive(Default)]
pub(crate) struct LabelStore {
    pairs: Vec<(String, String)>,
    len: usize,
}

impl LabelStore {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn push(&mut self, name: &str, value: &str) {
        if let Some((n, v)) = self.pairs.get_mut(self.len) {
            n.clear();
            n.push_str(name);
            v.clear();
            v.push_str(value);
        } else {
            self.pairs.push((name.to_string(), value.to_string()));
        }
        self.len += 1;
    }

    pub fn as_slice(&self) -> &[(String, String)] {
        &self.pairs[..self.len]
    }
}

/// Where one stroke's lists lie in the scratch buffers.
struct Span {
    x: (usize, usize),
    y: (usize, usize),
    t: Option<(usize, usize)>,
    lists: usize,
}

impl Scratch {
    pub fn clear(&mut self) {
        self.x.clear();
        self.y.clear();
        self.t.clear();
        self.strokes.clear();
        self.labels.clear();
    }

    /// The strokes read, as views.
    pub fn strokes(&self) -> impl Iterator<Item = StrokeRef<'_>> + Clone {
        self.strokes.iter().map(|s| StrokeRef {
            x: &self.x[s.x.0..s.x.1],
            y: &self.y[s.y.0..s.y.1],
            t: s.t.map(|(a, b)| &self.t[a..b]),
            lists: s.lists,
        })
    }
}

struct P<'a> {
    /// The line, checked to be UTF-8 once (a check for each string made the parse of 200k
    /// faces 5% slower), as bytes to scan and as text to borrow strings from.
    b: &'a [u8],
    s: &'a str,
    i: usize,
}

/// Parses a whole line, or `None` (see the module doc).
pub(crate) fn parse<'a>(line: &'a [u8], sc: &mut Scratch) -> Option<Fields<'a>> {
    sc.clear();
    // a line that is not UTF-8 is serde's to judge (it may lie in a value the record skips)
    let mut p = P::new(std::str::from_utf8(line).ok()?);
    let mut f = Fields::default();
    p.ws();
    p.members(|p, key| {
        // a key seen twice is left to serde, which rejects it
        match key.as_bytes() {
            b"drawing" if !f.drawing => {
                p.drawing(sc)?;
                f.drawing = true;
            }
            b"key_id" if f.key_id.is_none() => {
                f.key_id = Some(if p.peek()? == b'"' {
                    p.string()?
                } else {
                    Cow::Borrowed(p.integer_text()?)
                })
            }
            b"word" if f.word.is_none() => f.word = p.opt_string()?,
            b"countrycode" if f.countrycode.is_none() => f.countrycode = p.opt_string()?,
            b"timestamp" if f.timestamp.is_none() => f.timestamp = p.opt_string()?,
            b"recognized" if f.recognized.is_none() => f.recognized = p.opt_bool()?,
            b"labels" if !f.labels => {
                let start = p.i;
                if p.plain_labels(&mut sc.labels).is_some() {
                    f.labels = true;
                } else {
                    // null, escapes, numbers, booleans: serde reads them
                    sc.labels.clear();
                    p.i = start;
                    p.skip_value(0)?;
                    if &p.b[start..p.i] != b"null" {
                        let labels: Labels = serde_json::from_slice(&p.b[start..p.i]).ok()?;
                        for (name, value) in &labels.0 {
                            sc.labels.push(name, value);
                        }
                        f.labels = true;
                    }
                }
            }
            b"drawing" | b"key_id" | b"word" | b"countrycode" | b"timestamp" | b"recognized"
            | b"labels" => return None,
            _ => p.skip_value(0)?,
        }
        Some(())
    })?;
    p.ws();
    (p.i == p.b.len()).then_some(f)
}

impl<'a> P<'a> {
    fn new(s: &'a str) -> Self {
        P {
            b: s.as_bytes(),
            s,
            i: 0,
        }
    }
    /// The text of `b[a..z]` (which the callers cut at ASCII bytes).
    fn text(&self, a: usize, z: usize) -> Option<&'a str> {
        self.s.get(a..z)
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn lit(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A key without escapes.
    fn key(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let len = self.b[start..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        self.i = start + len;
        self.eat(b'"')?;
        self.text(start, start + len)
    }

    /// A string value: borrowed when plain, decoded by serde_json when it has escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let open = self.i;
        self.eat(b'"')?;
        let start = self.i;
        let len = self.b[start..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        self.i = start + len;
        match self.next()? {
            b'"' => self.text(start, start + len).map(Cow::Borrowed),
            b'\\' => {
                self.i = open;
                self.skip_string()?;
                serde_json::from_slice::<String>(&self.b[open..self.i])
                    .ok()
                    .map(Cow::Owned)
            }
            _ => None,
        }
    }

    /// `open item, item, ... close` (JSON's arrays and objects), each item read by `item`;
    /// whitespace around the items is skipped.
    fn items(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.next()? {
                b',' => {}
                c if c == close => return Some(()),
                _ => return None,
            }
        }
    }

    /// `{"key": value, ...}` with keys without escapes, each value read by `value`, which is
    /// given the key.
    fn members(&mut self, mut value: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.items(b'{', b'}', |p| {
            let key = p.key()?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            value(p, key)
        })
    }

    /// `{"name": "value", ...}` with plain strings only (the synthetic faces' labels), into
    /// `out`; `None` for anything else, which the caller hands to serde.
    fn plain_labels(&mut self, out: &mut LabelStore) -> Option<()> {
        self.members(|p, name| {
            if p.peek()? != b'"' {
                return None;
            }
            out.push(name, &p.string()?);
            Some(())
        })
    }

    fn opt_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.peek()? == b'n' {
            self.lit(b"null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    fn opt_bool(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => self.lit(b"true").map(|_| Some(true)),
            b'f' => self.lit(b"false").map(|_| Some(false)),
            b'n' => self.lit(b"null").map(|_| None),
            _ => None,
        }
    }

    /// An integer's text (a numeric key_id).
    fn integer_text(&mut self) -> Option<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = self.b[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        // JSON forbids leading zeros; fractions and exponents are not integers
        if digits == 0 || (digits > 1 && self.b[self.i] == b'0') {
            return None;
        }
        self.i += digits;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.text(start, self.i)
    }

    /// A JSON number. Up to 15 significant digits without an exponent take a fast path
    /// (exact in f64, then one correctly rounded division by an exact power of ten: the
    /// same value the standard library computes); anything else is checked against the
    /// JSON grammar and converted by the standard library.
    fn number(&mut self) -> Option<f64> {
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        let b = self.b;
        let start = self.i;
        let mut i = start;
        let neg = b.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let first = i;
        let mut m: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = b.get(i) {
            m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            i += 1;
        }
        let int_digits = i - first;
        // JSON forbids leading zeros
        if int_digits == 0 || (int_digits > 1 && b[first] == b'0') {
            return None;
        }
        let mut frac_digits = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let frac = i;
            while let Some(&c @ b'0'..=b'9') = b.get(i) {
                m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                i += 1;
            }
            frac_digits = i - frac;
            if frac_digits == 0 {
                return None;
            }
        }
        let exponent = matches!(b.get(i), Some(b'e' | b'E'));
        if !exponent && int_digits + frac_digits <= 15 {
            self.i = i;
            // integers (nearly every coordinate) need no division
            let v = if frac_digits == 0 {
                m as f64
            } else {
                m as f64 / POW10[frac_digits]
            };
            return Some(if neg { -v } else { v });
        }
        if exponent {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let n = b[i.min(b.len())..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if n == 0 {
                return None;
            }
            i += n;
        }
        self.i = i;
        self.text(start, i)?.parse().ok()
    }

    /// `[n, n, ...]` into `out`.
    fn numbers<T>(&mut self, out: &mut Vec<T>, conv: impl Fn(f64) -> T) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            // the commonest token, up to three digits right before `,` or `]` (every
            // coordinate of a simplified drawing), read four bytes at once without a branch
            // on its length
            if let Some(word) = self.b.get(self.i..).and_then(|r| r.first_chunk::<4>()) {
                if let Some((v, len)) = short_integer(word) {
                    match word[len] {
                        b',' => {
                            out.push(conv(f64::from(v)));
                            self.i += len + 1;
                            continue;
                        }
                        b']' => {
                            out.push(conv(f64::from(v)));
                            self.i += len + 1;
                            return Some(());
                        }
                        _ => {}
                    }
                }
            }
            // a longer integer right before `,` or `]`, read in one pass; anything else
            // (signs, fractions, spaces, leading zeros) by `number`
            let b = self.b;
            let start = self.i;
            let mut j = start;
            let mut v: u32 = 0;
            while j - start < 9 {
                match b.get(j) {
                    Some(&c @ b'0'..=b'9') => {
                        v = v * 10 + u32::from(c - b'0');
                        j += 1;
                    }
                    _ => break,
                }
            }
            let plain = j > start && (j - start == 1 || b[start] != b'0');
            match b.get(j) {
                Some(b',') if plain => {
                    out.push(conv(f64::from(v)));
                    self.i = j + 1;
                    continue;
                }
                Some(b']') if plain => {
                    out.push(conv(f64::from(v)));
                    self.i = j + 1;
                    return Some(());
                }
                _ => {}
            }
            self.ws();
            out.push(conv(self.number()?));
            self.ws();
            match self.next()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    fn drawing(&mut self, sc: &mut Scratch) -> Option<()> {
        self.items(b'[', b']', |p| p.stroke(sc))
    }

    fn stroke(&mut self, sc: &mut Scratch) -> Option<()> {
        let (x0, y0) = (sc.x.len(), sc.y.len());
        let mut span = Span {
            x: (x0, x0),
            y: (y0, y0),
            t: None,
            lists: 0,
        };
        self.items(b'[', b']', |p| {
            match span.lists {
                0 => {
                    p.numbers(&mut sc.x, |v| v as f32)?;
                    span.x.1 = sc.x.len();
                }
                1 => {
                    p.numbers(&mut sc.y, |v| v as f32)?;
                    span.y.1 = sc.y.len();
                }
                2 => {
                    let t0 = sc.t.len();
                    p.numbers(&mut sc.t, |v| v)?;
                    span.t = Some((t0, sc.t.len()));
                }
                _ => p.skip_value(0)?,
            }
            span.lists += 1;
            Some(())
        })?;
        sc.strokes.push(span);
        Some(())
    }

    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        let hex = self.b.get(self.i..self.i + 4)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        self.i += 4;
                    }
                    _ => return None,
                },
                c if c < 0x20 => return None,
                _ => {}
            }
        }
    }

    /// Skips one JSON value, checking its grammar (nesting limited, as serde_json's is).
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > 100 {
            return None;
        }
        match self.peek()? {
            // the whole line is UTF-8 (checked once)
            b'"' => self.skip_string(),
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'[' => self.items(b'[', b']', |p| p.skip_value(depth + 1)),
            // keys here may hold escapes, which `members` leaves to serde
            b'{' => self.items(b'{', b'}', |p| {
                p.skip_value_string()?;
                p.ws();
                p.eat(b':')?;
                p.ws();
                p.skip_value(depth + 1)
            }),
            _ => self.number().map(drop),
        }
    }

    fn skip_value_string(&mut self) -> Option<()> {
        (self.peek()? == b'"').then_some(())?;
        self.skip_value(0)
    }
}

/// The integer that the first bytes of `word` spell, when they are one to three digits
/// (without a leading zero) followed by something else: its value and its digit count.
fn short_integer(word: &[u8; 4]) -> Option<(u32, usize)> {
    let w = u32::from_le_bytes(*word);
    // a byte is a digit when its high nibble is 3 and, 6 added, still 3 (0x30..=0x39); a carry
    // out of a byte (0xFA and up) only changes bytes after it, past the first non-digit
    let high = |x: u32| (x & 0xF0F0_F0F0) ^ 0x3030_3030;
    let not_digit = high(w) | high(w.wrapping_add(0x0606_0606));
    let len = (not_digit.trailing_zeros() / 8) as usize;
    if len == 0 || len == 4 || (len > 1 && word[0] == b'0') {
        return None;
    }
    // the digits, most significant in the lowest byte, moved up so that the number ends in
    // the top byte (zeros, as leading digits, below), then summed in pairs
    let x = (w & 0x0F0F_0F0F) << (8 * (4 - len));
    let x = (x & 0x00FF_00FF) * 10 + ((x >> 8) & 0x00FF_00FF);
    Some(((x & 0xFFFF) * 100 + (x >> 16), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_common_shape() {
        let mut sc = Scratch::default();
        let f = parse(
            br#"{"word":"face","countrycode":"CH","timestamp":"2017-03-19 15:52:39.229 UTC","recognized":true,"key_id":"51","drawing":[[[1,2.5],[3,-4e1]],[[5],[6],[7]]],"x":{"a":[1,{"b":null}]}}"#,
            &mut sc,
        )
        .unwrap();
        assert_eq!(f.word.as_deref(), Some("face"));
        assert!(matches!(f.word, Some(Cow::Borrowed(_))));
        assert_eq!(f.key_id.as_deref(), Some("51"));
        assert_eq!(f.recognized, Some(true));
        assert!(f.drawing);
        let d: Vec<StrokeRef> = sc.strokes().collect();
        assert_eq!(
            (d[0].x, d[0].y, d[0].t, d[0].lists),
            (&[1.0, 2.5][..], &[3.0, -40.0][..], None, 2)
        );
        assert_eq!(
            (d[1].x, d[1].t, d[1].lists),
            (&[5.0][..], Some(&[7.0][..]), 3)
        );
    }

    #[test]
    fn escapes_and_numeric_keys() {
        let mut sc = Scratch::default();
        let f = parse(
            br#" {"word":"sm\u00efle \"x\"","key_id":-12,"drawing":[]} "#,
            &mut sc,
        )
        .unwrap();
        assert_eq!(f.word.as_deref(), Some("sm\u{ef}le \"x\""));
        assert_eq!(f.key_id.as_deref(), Some("-12"));
        assert!(f.drawing);
        assert_eq!(sc.strokes().count(), 0);
    }

    #[test]
    fn leaves_the_doubtful_to_serde() {
        for bad in [
            &br#"{"key_id":"1","drawing":[[[01],[2]]]}"#[..],
            br#"{"key_id":"1","drawing":[[[1,],[2]]]}"#,
            br#"{"key_id":"1","key_id":"2","drawing":[]}"#,
            br#"{"key_id":"1","drawing":[[[1],[2]]]} x"#,
            br#"{"key_id":"1","drawing":[[[1.],[2]]]}"#,
            br#"{"key_id":"1","drawing":[[[1],[2]]],"z":[1 2]}"#,
            br#"{"k\"ey":"1"}"#,
            b"{\"key_id\":\"\xff\",\"drawing\":[[[1],[2]]]}",
            b"{\"key_id\":\"1\",\"drawing\":[[[1],[2]]],\"z\":\"\xc3\"}",
            br#"{"key_id":"1","drawing":[[[1],[2]]]"#,
            br#"{"key_id":"1","drawing":[[[1],[2]]],"labels":{"a":[1]}}"#,
            br#"{"key_id":"1","drawing":[[[12345678901234567890123],[2]]]}"#,
        ] {
            let mut sc = Scratch::default();
            let r = parse(bad, &mut sc).map(|f| f.drawing);
            // the long number is valid JSON: only it may parse
            if bad.windows(5).any(|w| w == b"12345") {
                assert_eq!(r, Some(true));
                assert_eq!(sc.x, vec![12345678901234567890123f64 as f32]);
            } else {
                assert!(r.is_none(), "{}", String::from_utf8_lossy(bad));
            }
        }
    }

    #[test]
    fn labels_equal_serdes_whichever_path_reads_them() {
        for labels in [
            r#"{"eyes":"dots","mouth":"smile"}"#,
            r#"{ "eyes" : "dots" , "eyes":"cross" }"#,
            r#"{}"#,
            r#"{"eyes":"sm\u00efle","n":3,"ok":true,"x":1.5}"#,
            r#"{"mouth":"open","n":-2}"#,
        ] {
            let line = format!(r#"{{"key_id":"1","drawing":[[[1],[2]]],"labels":{labels}}}"#);
            let mut sc = Scratch::default();
            assert!(parse(line.as_bytes(), &mut sc).unwrap().labels);
            let want = serde_json::from_str::<Labels>(labels).unwrap().0;
            assert_eq!(sc.labels.as_slice(), want, "{labels}");
        }
        let mut sc = Scratch::default();
        let line = br#"{"key_id":"1","drawing":[[[1],[2]]],"labels":null}"#;
        assert!(!parse(line, &mut sc).unwrap().labels);
        // a shorter set on the next line leaves nothing of the longer one behind
        let line = br#"{"key_id":"1","drawing":[[[1],[2]]],"labels":{"x":"y","z":"w"}}"#;
        parse(line, &mut sc).unwrap();
        let line = br#"{"key_id":"1","drawing":[[[1],[2]]],"labels":{"a":"b"}}"#;
        parse(line, &mut sc).unwrap();
        assert_eq!(sc.labels.as_slice(), [("a".to_string(), "b".to_string())]);
    }

    #[test]
    fn short_integers_read_four_bytes_at_once() {
        let got = |s: &[u8; 4]| short_integer(s);
        assert_eq!(got(b"7,12"), Some((7, 1)));
        assert_eq!(got(b"0]  "), Some((0, 1)));
        assert_eq!(got(b"42,1"), Some((42, 2)));
        assert_eq!(got(b"255]"), Some((255, 3)));
        assert_eq!(got(b"999,"), Some((999, 3)));
        assert_eq!(got(b"100,"), Some((100, 3)));
        assert_eq!(got(b"1234"), None, "four digits and more go the long way");
        assert_eq!(got(b"01,2"), None, "a leading zero is not JSON");
        assert_eq!(got(b"-1,2"), None);
        assert_eq!(got(b",1,2"), None);
        // every byte after the digits stops them, whatever it is
        for c in 0..=255u8 {
            let want = if c.is_ascii_digit() {
                None
            } else {
                Some((5, 1))
            };
            assert_eq!(got(&[b'5', c, b'9', b'9']), want, "{c}");
            let want = c.is_ascii_digit().then(|| (u32::from(c - b'0'), 1));
            assert_eq!(got(&[c, b',', b'9', b'9']), want, "{c}");
        }
        for n in 0..1000u32 {
            let text = format!("{n},xyz");
            let word = text.as_bytes()[..4].try_into().unwrap();
            assert_eq!(short_integer(word), Some((n, text.len() - 4)), "{text}");
        }
    }

    #[test]
    fn number_lists_read_the_same_on_either_path() {
        for (text, want) in [
            ("[1,22,333]", Some(vec![1.0, 22.0, 333.0])),
            (
                "[0,255,123456789,1234567890]",
                Some(vec![0.0, 255.0, 123456789.0, 1234567890.0]),
            ),
            ("[ 1 , 2 ]", Some(vec![1.0, 2.0])),
            ("[1.5,-2,3e1,0.25]", Some(vec![1.5, -2.0, 30.0, 0.25])),
            ("[7]", Some(vec![7.0])),
            ("[]", Some(vec![])),
            ("[01]", None),
            ("[1,]", None),
            ("[1 2]", None),
            ("[00,1]", None),
        ] {
            let mut p = P::new(text);
            let mut out: Vec<f64> = Vec::new();
            let got = p.numbers(&mut out, |v| v).map(|_| out);
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn numbers_equal_the_standard_library() {
        for text in [
            "0",
            "-0.5",
            "255",
            "318.5",
            "2755.123456789",
            "0.1",
            "-1013.25",
            "1e3",
            "1.5E-3",
            "123456789012345",
            "1234567890123456789",
            "9007199254740993",
            "0.000001",
            "-7",
        ] {
            let mut p = P::new(text);
            let want: f64 = text.parse().unwrap();
            assert_eq!(p.number(), Some(want), "{text}");
            assert_eq!(p.i, text.len());
        }
        for bad in ["-", "01", "1.", ".5", "1e", "1e+", "+1"] {
            let mut p = P::new(bad);
            assert_eq!(p.number(), None, "{bad}");
        }
    }
}
