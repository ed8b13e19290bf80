//! What both ndjson parsers (the fast scanner in `fastline` and serde's in `ndjson`) read a
//! line into: a stroke's lists and the synthetic faces' labels. Their own file, so that the two
//! parsers share them without importing each other.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// One stroke's lists as read, whichever parser read them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StrokeRef<'a> {
    pub x: &'a [f32],
    pub y: &'a [f32],
    pub t: Option<&'a [f64]>,
    /// Lists in the stroke, counting any beyond the third.
    pub lists: usize,
}

/// `"labels": {"factor": "level", ...}`; numbers and booleans become their JSON text.
pub(crate) struct Labels(pub(crate) Vec<(String, String)>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Labels;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of label names to strings, numbers or booleans")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, LabelValue>()? {
                    out.push((k, v.0));
                }
                Ok(Labels(out))
            }
        }
        d.deserialize_map(V)
    }
}

struct LabelValue(String);

impl<'de> Deserialize<'de> for LabelValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LabelValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a label value (string, number or boolean)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LabelValue, E> {
                Ok(LabelValue(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LabelValue, E> {
                Ok(LabelValue(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LabelValue, E> {
                Ok(LabelValue(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LabelValue, E> {
                Ok(LabelValue(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LabelValue, E> {
                Ok(LabelValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
