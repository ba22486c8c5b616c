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

/// Valid JSON text, as received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(Str);

impl RawJson {
    /// Checks that `text` is one valid JSON value (surrounding whitespace allowed).
    pub fn parse(text: Str) -> Result<Self, DecodeError> {
        serde_json::from_str::<&RawValue>(&text).map_err(|_| DecodeError::InvalidJson)?;
        Ok(RawJson(text))
    }

    /// Wraps text the caller knows to be valid JSON (for instance, serialized by serde_json).
    pub fn from_trusted(text: Str) -> Self {
        RawJson(text)
    }

    /// Serializes `v`.
    pub fn from_value(v: &Value) -> Self {
        RawJson(Str::from(v.to_string()))
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
        let items = array_elements(&self.0)?;
        let base = self.0.as_ptr() as usize;
        Some(
            items
                .into_iter()
                .map(|item| {
                    let start = item.as_ptr() as usize - base;
                    let end = start + item.len();
                    RawJson(self.0.slice_from(start).slice_to(end - start))
                })
                .collect(),
        )
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
        let raw = RawJson::parse(Str::from(r#" ["ev", {"a":[1,2]}, "x\ud800", 3 ] "#)).unwrap();
        assert_eq!(raw.first_byte(), Some(b'['));
        let items = raw.elements().unwrap();
        let texts: Vec<&str> = items.iter().map(RawJson::as_str).collect();
        assert_eq!(texts, [r#""ev""#, r#"{"a":[1,2]}"#, r#""x\ud800""#, "3"]);
        assert_eq!(items[2].to_value(), json!("x\u{fffd}"));
        assert!(RawJson::parse(Str::from("[1,")).is_err());
        assert!(RawJson::parse(Str::from("{} {}")).is_err());
        assert!(RawJson::parse(Str::from(r#"{"a":1}"#))
            .unwrap()
            .elements()
            .is_none());
    }
}
