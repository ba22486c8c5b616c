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
use serde_json::Value;
use smallvec::SmallVec;

use super::json_scan::{self, TopLevel};
use crate::error::DecodeError;
use crate::str::Str;

/// Valid JSON text, as received. An array checked with [`parse_array`](Self::parse_array)
/// remembers where its elements are, so that they are found without scanning it again.
#[derive(Clone)]
pub struct RawJson(Str, Index);

/// Where the elements of an array are, as byte ranges of its text.
#[derive(Clone)]
enum Index {
    /// Not known: the text is no array, or was not checked with
    /// [`parse_array`](RawJson::parse_array).
    None,
    /// An array of up to two elements (most events: a name and one argument), without
    /// allocating: the first `len` ranges.
    Inline {
        /// How many of `ranges` are elements (0 to 2).
        len: u8,
        /// The ranges; those past `len` are unused.
        ranges: [(u32, u32); 2],
    },
    /// An array of more elements.
    Boxed(Box<[(u32, u32)]>),
}

impl Index {
    /// The element ranges, when known.
    fn get(&self) -> Option<&[(u32, u32)]> {
        match self {
            Index::None => None,
            Index::Inline { len, ranges } => Some(&ranges[..usize::from(*len)]),
            Index::Boxed(ranges) => Some(ranges),
        }
    }
}

/// Element ranges as a scan reports them: the first two kept as for [`Index::Inline`], and
/// only from a third on all of them in a vector.
struct IndexBuilder {
    /// How many ranges were pushed.
    len: usize,
    /// The first two.
    first: [(u32, u32); 2],
    /// All of them, once there are more than two (no allocation until then).
    all: Vec<(u32, u32)>,
}

impl IndexBuilder {
    /// No ranges yet.
    fn new() -> Self {
        IndexBuilder {
            len: 0,
            first: [(0, 0); 2],
            all: Vec::new(),
        }
    }

    /// Adds the range of the next element.
    #[inline(always)]
    fn push(&mut self, range: (u32, u32)) {
        if self.len < 2 {
            self.first[self.len] = range;
        } else {
            self.push_more(range);
        }
        self.len += 1;
    }

    /// Adds the range of the third element or a later one.
    #[cold]
    fn push_more(&mut self, range: (u32, u32)) {
        if self.len == 2 {
            self.all.reserve(8);
            self.all.extend_from_slice(&self.first);
        }
        self.all.push(range);
    }

    /// The index of the array.
    fn finish(self) -> Index {
        match self.len {
            0..=2 => Index::Inline {
                len: self.len as u8,
                ranges: self.first,
            },
            _ => Index::Boxed(self.all.into_boxed_slice()),
        }
    }
}

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
    /// Checks that `text` is one valid JSON value (surrounding whitespace allowed; escapes of
    /// lone surrogates are valid). Accepts exactly what serde_json accepts as a raw value.
    pub fn parse(text: Str) -> Result<Self, DecodeError> {
        json_scan::validate(&text).map_err(|_| DecodeError::InvalidJson)?;
        Ok(RawJson(text, Index::None))
    }

    /// Checks that `text` is one valid JSON value and, when it is an array, notes where its
    /// elements are (one scan for both; no allocation for up to two elements).
    pub fn parse_array(text: Str) -> Result<Self, DecodeError> {
        if text.len() > u32::MAX as usize {
            return RawJson::parse(text);
        }
        let mut ranges = IndexBuilder::new();
        let top = json_scan::scan(&text, |start, end| ranges.push((start as u32, end as u32)))
            .map_err(|_| DecodeError::InvalidJson)?;
        let index = match top {
            TopLevel::Array => ranges.finish(),
            TopLevel::Other => Index::None,
        };
        Ok(RawJson(text, index))
    }

    /// Wraps text the caller knows to be valid JSON (for instance, serialized by serde_json).
    pub fn from_trusted(text: Str) -> Self {
        RawJson(text, Index::None)
    }

    /// Serializes `v`.
    pub fn from_value(v: &Value) -> Self {
        RawJson(Str::from(v.to_string()), Index::None)
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
        let ranges = self.element_ranges()?;
        let slice = |&(start, end): &(u32, u32)| {
            RawJson(self.0.slice(start as usize..end as usize), Index::None)
        };
        Some(ranges.iter().map(slice).collect())
    }

    /// Where the elements of an array are (byte ranges of [`as_str`](Self::as_str)); `None`
    /// when it is not an array. Free after [`parse_array`](Self::parse_array).
    pub fn element_ranges(&self) -> Option<SmallVec<[(u32, u32); 4]>> {
        if let Some(index) = self.1.get() {
            return Some(SmallVec::from_slice(index));
        }
        let mut ranges = SmallVec::new();
        let top = json_scan::scan(&self.0, |start, end| {
            ranges.push((start as u32, end as u32));
        });
        (top == Ok(TopLevel::Array)).then_some(ranges)
    }

    /// Where the elements of an array are, when it was checked with
    /// [`parse_array`](Self::parse_array) (nothing is scanned or copied).
    pub fn indexed_elements(&self) -> Option<&[(u32, u32)]> {
        self.1.get()
    }

    /// The text of the first element of an array, when it was checked with
    /// [`parse_array`](Self::parse_array) and has one.
    pub fn first_element(&self) -> Option<&str> {
        let &(start, end) = self.1.get()?.first()?;
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
/// `text` is not an array, or not valid JSON.
pub fn array_elements(text: &str) -> Option<SmallVec<[&str; 4]>> {
    let mut items = SmallVec::new();
    // Elements start and end at ASCII bytes (a value's first byte; a closing quote or bracket,
    // a digit or a letter of a literal last), so these slices are on char boundaries.
    let top = json_scan::scan(text, |start, end| items.push(&text[start..end]));
    (top == Ok(TopLevel::Array)).then_some(items)
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

    #[test]
    fn up_to_two_elements_are_indexed_inline() {
        // The text (32 bytes) and the index (24: two ranges inline, or a boxed slice).
        assert!(
            std::mem::size_of::<RawJson>() <= 56,
            "{}",
            std::mem::size_of::<RawJson>()
        );
        let cases: [(&str, &[&str]); 6] = [
            ("[]", &[]),
            (" [ ] ", &[]),
            (r#"["a"]"#, &[r#""a""#]),
            (r#"["a", {"b":[1]}]"#, &[r#""a""#, r#"{"b":[1]}"#]),
            (r#"["a",1,[2]]"#, &[r#""a""#, "1", "[2]"]),
            (
                "[1,2,3,4,5,6,7,8,9,10]",
                &["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
            ),
        ];
        for (text, want) in cases {
            let indexed = RawJson::parse_array(Str::from(text)).unwrap();
            let inline = matches!(indexed.1, Index::Inline { .. });
            assert_eq!(inline, want.len() <= 2, "{text}");
            assert_eq!(indexed.first_element(), want.first().copied(), "{text}");
            let unindexed = RawJson::from_trusted(Str::from(text));
            assert_eq!(unindexed.first_element(), None);
            for raw in [&indexed, &unindexed] {
                let items = raw.elements().unwrap();
                let texts: Vec<&str> = items.iter().map(RawJson::as_str).collect();
                assert_eq!(texts, want, "{text}");
                let ranges = raw.element_ranges().unwrap();
                let texts: Vec<&str> = ranges
                    .iter()
                    .map(|&(s, e)| &text[s as usize..e as usize])
                    .collect();
                assert_eq!(texts, want, "{text}");
            }
            assert_eq!(array_elements(text).unwrap().as_slice(), want);
        }
        for text in [r#"{"a":[1]}"#, "1", r#""[1]""#, " null "] {
            let raw = RawJson::parse_array(Str::from(text)).unwrap();
            assert!(matches!(raw.1, Index::None), "{text}");
            assert!(raw.elements().is_none() && raw.element_ranges().is_none());
            assert_eq!(raw.first_element(), None);
            assert_eq!(array_elements(text), None);
        }
        for text in ["[1,]", "", "\x0c[1]", "[\"\\x\"]", "[1] 2"] {
            assert!(RawJson::parse_array(Str::from(text)).is_err(), "{text:?}");
            assert_eq!(array_elements(text), None);
        }
    }
}
