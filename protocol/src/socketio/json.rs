//! [`RawJson`]: a packet's JSON payload kept as the peer sent it.
//!
//! The core checks that a payload is valid JSON of the right shape, but builds no tree of it:
//! an event is relayed, logged for recovery or handed to the application as the bytes that
//! arrived, and each handler deserializes only what it asks for, straight from them.
//!
//! JSON text may hold escapes of lone UTF-16 surrogates (`"\ud83d"`), which is what
//! `JSON.stringify` and Python's `json.dumps` produce for a string cut in the middle of an
//! emoji. Such text is valid JSON, but no Rust `String` can hold it: where it must become one
//! ([`RawJson::to_value`], [`from_str_lossy`]) each lone surrogate reads as U+FFFD; everywhere
//! else the escape travels unchanged.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;
use smallvec::SmallVec;

use crate::error::DecodeError;
use crate::str::Str;

/// Valid JSON text, as received. An array checked with [`parse_array`](Self::parse_array)
/// remembers where its elements are, so that they are found without scanning it again.
#[derive(Clone)]
pub struct RawJson(Str, Option<Box<[(u32, u32)]>>);

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for RawJson {}

impl std::hash::Hash for RawJson {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl RawJson {
    /// Checks that `text` is one valid JSON value (surrounding whitespace allowed).
    pub fn parse(text: Str) -> Result<Self, DecodeError> {
        serde_json::from_str::<&RawValue>(&text).map_err(|_| DecodeError::InvalidJson)?;
        Ok(RawJson(text, None))
    }

    /// Checks that `text` is one valid JSON value and, when it is an array, notes where its
    /// elements are (one scan for both).
    pub fn parse_array(text: Str) -> Result<Self, DecodeError> {
        let first = text.bytes().find(|b| !b.is_ascii_whitespace());
        if first != Some(b'[') || text.len() > u32::MAX as usize {
            return RawJson::parse(text);
        }
        let items: Vec<&RawValue> =
            serde_json::from_str(&text).map_err(|_| DecodeError::InvalidJson)?;
        let base = text.as_ptr() as usize;
        let index = items
            .iter()
            .map(|item| {
                let start = item.get().as_ptr() as usize - base;
                (start as u32, (start + item.get().len()) as u32)
            })
            .collect();
        Ok(RawJson(text, Some(index)))
    }

    /// Wraps text the caller knows to be valid JSON (for instance, serialized by serde_json).
    pub fn from_trusted(text: Str) -> Self {
        RawJson(text, None)
    }

    /// Serializes `v`.
    pub fn from_value(v: &Value) -> Self {
        RawJson(Str::from(v.to_string()), None)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The shared buffer underneath.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// The text, as a [`Str`].
    pub fn as_text(&self) -> &Str {
        &self.0
    }

    /// Length of the text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty (never, for text that parsed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value as a tree; lone surrogates read as U+FFFD.
    pub fn to_value(&self) -> Value {
        from_str_lossy(&self.0).unwrap_or(Value::Null)
    }

    /// Deserializes the value as `T`; lone surrogates read as U+FFFD.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        from_str_lossy(&self.0)
    }

    /// The first non-whitespace byte: `[` for an array, `{` for an object, `"` for a string.
    pub fn first_byte(&self) -> Option<u8> {
        self.0.bytes().find(|b| !b.is_ascii_whitespace())
    }

    /// The elements of an array, as text slices of this one; `None` when it is not an array.
    pub fn elements(&self) -> Option<SmallVec<[RawJson; 4]>> {
        let slice = |start: usize, end: usize| {
            RawJson(self.0.slice_from(start).slice_to(end - start), None)
        };
        if let Some(index) = &self.1 {
            let items = index.iter().map(|&(s, e)| slice(s as usize, e as usize));
            return Some(items.collect());
        }
        let items = array_elements(&self.0)?;
        let base = self.0.as_ptr() as usize;
        Some(
            items
                .into_iter()
                .map(|item| {
                    let start = item.as_ptr() as usize - base;
                    slice(start, start + item.len())
                })
                .collect(),
        )
    }

    /// Where the elements of an array are (byte ranges of [`as_str`](Self::as_str)); `None`
    /// when it is not an array. Free after [`parse_array`](Self::parse_array).
    pub fn element_ranges(&self) -> Option<SmallVec<[(u32, u32); 4]>> {
        if let Some(index) = &self.1 {
            return Some(index.iter().copied().collect());
        }
        let base = self.0.as_ptr() as usize;
        let items = array_elements(&self.0)?;
        Some(
            items
                .into_iter()
                .map(|item| {
                    let start = item.as_ptr() as usize - base;
                    (start as u32, (start + item.len()) as u32)
                })
                .collect(),
        )
    }

    /// The text of the first element of an array, when it was checked with
    /// [`parse_array`](Self::parse_array) and has one.
    pub fn first_element(&self) -> Option<&str> {
        let &(start, end) = self.1.as_ref()?.first()?;
        self.0.get(start as usize..end as usize)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The elements of a JSON array as slices of `text`, without building them; `None` when
/// `text` is not an array.
pub fn array_elements(text: &str) -> Option<SmallVec<[&str; 4]>> {
    let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
    Some(items.into_iter().map(RawValue::get).collect())
}

/// Deserializes `text` as `T`; should it hold lone surrogate escapes that `T` cannot take, they
/// read as U+FFFD.
pub fn from_str_lossy<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(e) => match replace_lone_surrogates(text) {
            Some(fixed) => serde_json::from_str(&fixed),
            None => Err(e),
        },
    }
}

/// `text` with every `\u` escape of a lone UTF-16 surrogate replaced by `\ufffd` (the same
/// length), or `None` when it has none. Pairs (a high surrogate escape followed by a low one)
/// are kept.
pub fn replace_lone_surrogates(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut lone: SmallVec<[usize; 4]> = SmallVec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2; // another escape: skip the escaped character
            continue;
        }
        let Some(unit) = hex4(b, i + 2) else {
            i += 2;
            continue;
        };
        match unit {
            0xD800..=0xDBFF => {
                let low = (b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u'))
                    .then(|| hex4(b, i + 8))
                    .flatten();
                if matches!(low, Some(0xDC00..=0xDFFF)) {
                    i += 12;
                } else {
                    lone.push(i);
                    i += 6;
                }
            }
            0xDC00..=0xDFFF => {
                lone.push(i);
                i += 6;
            }
            _ => i += 6,
        }
    }
    if lone.is_empty() {
        return None;
    }
    let mut out = text.as_bytes().to_vec();
    for at in lone {
        out[at + 2..at + 6].copy_from_slice(b"fffd");
    }
    // Only ASCII hex digits were replaced by ASCII hex digits.
    String::from_utf8(out).ok()
}

fn hex4(b: &[u8], at: usize) -> Option<u16> {
    let digits = b.get(at..at + 4)?;
    let s = std::str::from_utf8(digits).ok()?;
    u16::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lone_surrogates_read_as_replacement_characters() {
        assert_eq!(
            replace_lone_surrogates(r#"["a\ud800b"]"#).as_deref(),
            Some(r#"["a\ufffdb"]"#)
        );
        assert_eq!(
            replace_lone_surrogates(r#""\udc00\ud83d\ude00\ud83d""#).as_deref(),
            Some(r#""\ufffd\ud83d\ude00\ufffd""#),
            "a pair is kept, lone halves around it are not"
        );
        assert_eq!(
            replace_lone_surrogates(r#""\\ud800""#),
            None,
            "an escaped backslash"
        );
        assert_eq!(replace_lone_surrogates(r#""\ud83d\ude00""#), None);
        let v: Value = from_str_lossy(r#"["chat","a\ud800b"]"#).unwrap();
        assert_eq!(v, json!(["chat", "a\u{fffd}b"]));
        let s: String = from_str_lossy(r#""\ud83d""#).unwrap();
        assert_eq!(s, "\u{fffd}");
    }

    #[test]
    fn raw_text_is_kept_and_split_without_a_tree() {
        let text = r#" ["ev", {"a":[1,2]}, "x\ud800", 3 ] "#;
        for raw in [
            RawJson::parse(Str::from(text)).unwrap(),
            RawJson::parse_array(Str::from(text)).unwrap(),
        ] {
            assert_eq!(raw.first_byte(), Some(b'['));
            let items = raw.elements().unwrap();
            let texts: Vec<&str> = items.iter().map(RawJson::as_str).collect();
            assert_eq!(texts, [r#""ev""#, r#"{"a":[1,2]}"#, r#""x\ud800""#, "3"]);
            assert_eq!(items[2].to_value(), json!("x\u{fffd}"));
        }
        let indexed = RawJson::parse_array(Str::from(text)).unwrap();
        assert_eq!(indexed.first_element(), Some(r#""ev""#));
        assert!(RawJson::parse_array(Str::from("[1,")).is_err());
        assert!(RawJson::parse(Str::from("[1,")).is_err());
        assert!(RawJson::parse(Str::from("{} {}")).is_err());
        assert!(RawJson::parse(Str::from(r#"{"a":1}"#))
            .unwrap()
            .elements()
            .is_none());
    }
}
