//! A validating JSON scanner: one pass over the text, no tree, no heap (below 256 levels of
//! nesting).
//!
//! [`scan`] checks that a text is exactly one JSON value (RFC 8259) with optional whitespace
//! around it, and, when that value is an array, reports where each of its elements is. It
//! accepts exactly what `serde_json::from_str::<&serde_json::value::RawValue>` accepts:
//!
//! - whitespace is space, `\t`, `\n` and `\r` only;
//! - numbers are `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`, of any length and
//!   magnitude (`1e400` and 30-digit integers are kept as text, never converted);
//! - strings hold no byte below 0x20 and no escape but `\" \\ \/ \b \f \n \r \t \uXXXX`;
//!   a `\u` escape needs four hex digits, of any value: lone UTF-16 surrogates (`"\ud800"`) are
//!   valid, as they are for serde_json when it keeps a value raw;
//! - nesting has no depth limit: serde_json skips a raw value with a heap stack of its own, not
//!   with the recursion its recursion limit of 128 guards (measured: 100,000 levels pass).
//!   Here each level costs one bit: the innermost 64 in a word, 192 more in an inline array,
//!   and only past 256 levels does a vector take the rest;
//! - anything after the value but whitespace is rejected.
//!
//! The element ranges are those of `serde_json::from_str::<Vec<&RawValue>>`: each element's
//! own text, from its first byte to its last, without the whitespace around it.
//!
//! The module is public (and hidden) only for the `json_scan` fuzz target, which runs
//! [`check_against_serde_json`] on arbitrary text.

use serde_json::value::RawValue;
use smallvec::SmallVec;

use super::json::{array_elements, RawJson};
use crate::str::Str;

/// The text is not exactly one JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidJson;

/// What kind of value a valid text holds at the top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopLevel {
    /// An array: its elements were reported.
    Array,
    /// Anything else (an object, a string, a number, `true`, `false` or `null`).
    Other,
}

/// Checks that `text` is exactly one JSON value with optional whitespace around it.
#[inline]
pub(crate) fn validate(text: &str) -> Result<TopLevel, InvalidJson> {
    scan(text, |_, _| {})
}

/// Checks that `text` is exactly one JSON value with optional whitespace around it and, when
/// it is an array, calls `on_element(start, end)` with the byte range of each element, in
/// order.
///
/// `on_element` is called as elements are met, before the rest of the text is checked: on an
/// error, discard what it was given.
#[inline]
pub(crate) fn scan(
    text: &str,
    mut on_element: impl FnMut(usize, usize),
) -> Result<TopLevel, InvalidJson> {
    scan_bytes(text.as_bytes(), &mut on_element)
}

/// The scanner itself: the top-level value, then nothing but whitespace.
#[inline(always)]
fn scan_bytes<F: FnMut(usize, usize)>(
    b: &[u8],
    on_element: &mut F,
) -> Result<TopLevel, InvalidJson> {
    let start = skip_whitespace(b, 0);
    let (end, top) = if b.get(start) == Some(&b'[') {
        (top_array(b, start + 1, on_element)?, TopLevel::Array)
    } else {
        (value(b, start)?, TopLevel::Other)
    };
    if skip_whitespace(b, end) == b.len() {
        Ok(top)
    } else {
        Err(InvalidJson)
    }
}

/// The elements of the top-level array, whose `[` is just before `b[i]`, each reported: the
/// index after its `]`.
#[inline(always)]
fn top_array<F: FnMut(usize, usize)>(
    b: &[u8],
    i: usize,
    on_element: &mut F,
) -> Result<usize, InvalidJson> {
    let mut i = skip_whitespace(b, i);
    if b.get(i) == Some(&b']') {
        return Ok(i + 1);
    }
    loop {
        let end = value(b, i)?;
        on_element(i, end);
        i = skip_whitespace(b, end);
        match b.get(i) {
            Some(b',') => i = skip_whitespace(b, i + 1),
            Some(b']') => return Ok(i + 1),
            _ => return Err(InvalidJson),
        }
    }
}

/// One value at `b[i]` (whitespace skipped): the index after it.
#[inline(always)]
fn value(b: &[u8], i: usize) -> Result<usize, InvalidJson> {
    match b.get(i) {
        Some(b'"') => string(b, i + 1),
        Some(b'-' | b'0'..=b'9') => number(b, i),
        Some(b't') => literal(b, i, b"true"),
        Some(b'f') => literal(b, i, b"false"),
        Some(b'n') => literal(b, i, b"null"),
        Some(b'[' | b'{') => container(b, i),
        _ => Err(InvalidJson),
    }
}

/// An array or an object at `b[i]`, with all it holds: the index after it.
///
/// A loop over values, each followed by the commas and closing brackets that come after it,
/// with the open containers in a [`Nesting`] (no recursion).
#[inline(never)]
fn container(b: &[u8], mut i: usize) -> Result<usize, InvalidJson> {
    let mut open = Nesting::new();
    'value: loop {
        // A value starts at `b[i]` (whitespace skipped).
        i = match b.get(i) {
            Some(b'[') => {
                let j = skip_whitespace(b, i + 1);
                if b.get(j) == Some(&b']') {
                    j + 1
                } else {
                    open.push(false);
                    i = j;
                    continue 'value;
                }
            }
            Some(b'{') => {
                let j = skip_whitespace(b, i + 1);
                if b.get(j) == Some(&b'}') {
                    j + 1
                } else {
                    open.push(true);
                    i = key(b, j)?;
                    continue 'value;
                }
            }
            Some(b'"') => string(b, i + 1)?,
            Some(b'-' | b'0'..=b'9') => number(b, i)?,
            Some(b't') => literal(b, i, b"true")?,
            Some(b'f') => literal(b, i, b"false")?,
            Some(b'n') => literal(b, i, b"null")?,
            _ => return Err(InvalidJson),
        };
        // A value ends just before `b[i]`: what follows is a comma or the end of the
        // container that holds it (when the outermost one ends, so does the scan).
        loop {
            if open.depth == 0 {
                return Ok(i);
            }
            i = skip_whitespace(b, i);
            let in_object = open.in_object();
            match b.get(i) {
                Some(b',') => {
                    i = skip_whitespace(b, i + 1);
                    if in_object {
                        i = key(b, i)?;
                    }
                    continue 'value;
                }
                Some(b']') if !in_object => {}
                Some(b'}') if in_object => {}
                _ => return Err(InvalidJson),
            }
            open.pop();
            i += 1;
        }
    }
}

/// The containers open around the scanner: one bit per level, set for an object.
///
/// The innermost 64 levels are a word kept in a register; the levels further out, only in
/// text nested deeper than that, are in [`FarLevels`].
struct Nesting {
    /// How many containers are open.
    depth: usize,
    /// The innermost 64 levels (or fewer), the innermost one in bit 0.
    near: u64,
    /// The levels beyond the innermost 64, the outermost first.
    far: FarLevels,
}

impl Nesting {
    /// Nothing open.
    #[inline(always)]
    fn new() -> Self {
        Nesting {
            depth: 0,
            near: 0,
            far: FarLevels::default(),
        }
    }

    /// Opens a container, an object when `object`.
    #[inline(always)]
    fn push(&mut self, object: bool) {
        if self.depth >= 64 {
            self.far.push(self.near >> 63);
        }
        self.near = self.near << 1 | u64::from(object);
        self.depth += 1;
    }

    /// Closes the innermost container (one must be open).
    #[inline(always)]
    fn pop(&mut self) {
        self.depth -= 1;
        self.near >>= 1;
        if self.depth >= 64 {
            self.near |= self.far.pop() << 63;
        }
    }

    /// Whether the innermost container is an object (one must be open).
    #[inline(always)]
    fn in_object(&self) -> bool {
        self.near & 1 == 1
    }
}

/// A stack of bits: the first 192 without allocating, then in a vector.
#[derive(Default)]
struct FarLevels {
    /// How many bits are on the stack.
    len: usize,
    /// The bits, bit `n % 64` of word `n / 64` for the `n`th from the bottom.
    words: SmallVec<[u64; 3]>,
}

impl FarLevels {
    /// Pushes `bit` (0 or 1).
    #[cold]
    #[inline(never)]
    fn push(&mut self, bit: u64) {
        let (word, shift) = (self.len / 64, self.len % 64);
        if word == self.words.len() {
            self.words.push(0);
        }
        let w = &mut self.words[word];
        *w = *w & !(1 << shift) | bit << shift;
        self.len += 1;
    }

    /// Pops the top bit (there must be one).
    #[cold]
    #[inline(never)]
    fn pop(&mut self) -> u64 {
        self.len -= 1;
        self.words[self.len / 64] >> (self.len % 64) & 1
    }
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
#[inline(always)]
fn skip_whitespace(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        // Most often no whitespace at all: one comparison for every byte above the space.
        if c > b' ' || !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            break;
        }
        i += 1;
    }
    i
}

/// An object key and its colon, from `b[i]` (whitespace skipped): the index of the value.
#[inline(always)]
fn key(b: &[u8], i: usize) -> Result<usize, InvalidJson> {
    if b.get(i) != Some(&b'"') {
        return Err(InvalidJson);
    }
    let i = skip_whitespace(b, string(b, i + 1)?);
    if b.get(i) != Some(&b':') {
        return Err(InvalidJson);
    }
    Ok(skip_whitespace(b, i + 1))
}

/// The literal `word` at `b[i]`: the index after it.
#[inline(always)]
fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, InvalidJson> {
    let end = i + word.len();
    if b.get(i..end) == Some(word) {
        Ok(end)
    } else {
        Err(InvalidJson)
    }
}

/// A number starting at `b[i]` (a digit or `-`): the index after it.
///
/// A leading zero ends the integer part: in `01` the number is `0`, and the `1` after it is
/// then refused by the caller, as anything else that cannot follow a value.
#[inline(always)]
fn number(b: &[u8], mut i: usize) -> Result<usize, InvalidJson> {
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i + 1),
        _ => return Err(InvalidJson),
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(b, i + 1);
        if end == i + 1 {
            return Err(InvalidJson);
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(b, i);
        if end == i {
            return Err(InvalidJson);
        }
        i = end;
    }
    Ok(i)
}

/// The index of the first byte at or after `i` that is not an ASCII digit.
#[inline(always)]
fn digits(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// The rest of a string whose opening quote is just before `b[i]`: the index after its closing
/// quote.
#[inline(always)]
fn string(b: &[u8], mut i: usize) -> Result<usize, InvalidJson> {
    loop {
        i = skip_plain(b, i);
        match b.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => match b.get(i + 2..i + 6) {
                    Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => i += 6,
                    _ => return Err(InvalidJson),
                },
                _ => return Err(InvalidJson),
            },
            // A control character, or the end of the text.
            _ => return Err(InvalidJson),
        }
    }
}

/// Eight copies of the byte 1.
const ONES: u64 = u64::from_le_bytes([1; 8]);
/// The top bit of each of eight bytes.
const HIGH_BITS: u64 = ONES * 0x80;

/// The index of the first byte at or after `i` that a string cannot hold as it is: `"`, `\`
/// or a control character (below 0x20); `b.len()` when there is none.
///
/// Eight bytes at a time while there are eight left. In a word `w`, subtracting 0x01 from
/// each byte of `w ^ 0x22..22` borrows into the top bit of a byte that was a quote, likewise
/// with `w ^ 0x5c..5c` for a backslash, and subtracting 0x20 from each byte of `w` borrows
/// into the top bit of a byte below 0x20; masking with `!w` keeps only bytes below 0x80 (the
/// three tests look for such bytes, and `w ^ 0x22..22` and `w ^ 0x5c..5c` have the top bits
/// of `w`). A borrow running on can flag a byte above a true hit, never one below, so the
/// lowest flag, the first byte in memory of a little-endian word, is exact.
#[inline(always)]
fn skip_plain(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = (w ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
        let backslash = (w ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
        let control = w.wrapping_sub(ONES * 0x20);
        let hits = (quote | backslash | control) & !w & HIGH_BITS;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Checks the scanner against serde_json on `text` (the `json_scan` fuzz target, and the
/// property tests): panics unless [`scan`] accepts exactly when
/// `serde_json::from_str::<&RawValue>` does, reports an array exactly when the value is one,
/// and reports the element ranges of `serde_json::from_str::<Vec<&RawValue>>`; and unless
/// [`RawJson::parse`], [`RawJson::parse_array`] (with its element index) and
/// [`array_elements`] agree.
pub(crate) fn check_against_serde_json(text: &str) {
    let mut ranges: SmallVec<[(usize, usize); 8]> = SmallVec::new();
    let ours = scan(text, |start, end| ranges.push((start, end)));
    let theirs = serde_json::from_str::<&RawValue>(text);
    assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "{text:?}: scan gives {ours:?}, serde_json {theirs:?}"
    );
    assert_eq!(validate(text), ours, "{text:?}: validate and scan differ");
    let parsed = RawJson::parse(Str::from(text));
    let indexed = RawJson::parse_array(Str::from(text));
    assert_eq!(parsed.is_ok(), ours.is_ok(), "{text:?}: RawJson::parse");
    assert_eq!(
        indexed.is_ok(),
        ours.is_ok(),
        "{text:?}: RawJson::parse_array"
    );
    let Ok(raw) = theirs else {
        assert_eq!(array_elements(text), None, "{text:?}: array_elements");
        return;
    };
    let offset = |item: &str| item.as_ptr() as usize - text.as_ptr() as usize;
    let start = offset(raw.get());
    assert!(
        text[..start]
            .bytes()
            .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')),
        "{text:?}: serde_json's raw value starts after whitespace only"
    );
    let is_array = raw.get().starts_with('[');
    assert_eq!(ours == Ok(TopLevel::Array), is_array, "{text:?}: top level");
    let want: Vec<(usize, usize)> = if is_array {
        let items: Vec<&RawValue> = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{text:?}: a raw array is no Vec<&RawValue>: {e}"));
        items
            .iter()
            .map(|item| (offset(item.get()), offset(item.get()) + item.get().len()))
            .collect()
    } else {
        Vec::new()
    };
    assert_eq!(
        ranges.as_slice(),
        want.as_slice(),
        "{text:?}: element ranges"
    );

    let as_u32: Vec<(u32, u32)> = want.iter().map(|&(s, e)| (s as u32, e as u32)).collect();
    let slices: Vec<&str> = want.iter().map(|&(s, e)| &text[s..e]).collect();
    let indexed = indexed.expect("checked above");
    for raw in [parsed.expect("checked above"), indexed.clone()] {
        let ranges = raw.element_ranges();
        let elements = raw.elements();
        if is_array {
            assert_eq!(ranges.as_deref(), Some(as_u32.as_slice()), "{text:?}");
            let elements = elements.expect("an array has elements");
            let texts: Vec<&str> = elements.iter().map(RawJson::as_str).collect();
            assert_eq!(texts, slices, "{text:?}: elements");
        } else {
            assert_eq!(ranges, None, "{text:?}");
            assert!(elements.is_none(), "{text:?}");
        }
    }
    assert_eq!(
        indexed.first_element(),
        slices.first().copied(),
        "{text:?}: first element"
    );
    let split = array_elements(text);
    if is_array {
        assert_eq!(split.as_deref(), Some(slices.as_slice()), "{text:?}");
    } else {
        assert_eq!(split, None, "{text:?}");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Whether `text` is accepted, after checking it against serde_json.
    fn accepts(text: &str) -> bool {
        check_against_serde_json(text);
        validate(text).is_ok()
    }

    /// The element ranges of `text`, which must be a valid array.
    fn elements(text: &str) -> Vec<&str> {
        check_against_serde_json(text);
        let mut out = Vec::new();
        assert_eq!(
            scan(text, |s, e| out.push(&text[s..e])),
            Ok(TopLevel::Array)
        );
        out
    }

    /// Asserts that each of `texts` is accepted (and agrees with serde_json).
    #[track_caller]
    fn all_accepted(texts: &[&str]) {
        for text in texts {
            assert!(accepts(text), "{text:?} refused");
        }
    }

    /// Asserts that each of `texts` is refused (and agrees with serde_json).
    #[track_caller]
    fn all_refused(texts: &[&str]) {
        for text in texts {
            assert!(!accepts(text), "{text:?} accepted");
        }
    }

    #[test]
    fn whitespace_is_space_tab_newline_and_return_only() {
        all_accepted(&["1", " 1", "1 ", "\t\n\r 1 \r\n\t", "[ ]", "[\n1\t,\r2 ]"]);
        all_accepted(&["{ \"a\" : 1 , \"b\" : [ ] }"]);
        all_refused(&["", " ", "\t\n\r "]);
        all_refused(&[
            "\x0c1",
            "1\x0c",
            "[1,\x0b2]",
            "\u{a0}1",
            "1\u{a0}",
            "\u{feff}1",
        ]);
        all_refused(&["[\u{2028}]", "\x001", "1\x00"]);
    }

    #[test]
    fn literals() {
        all_accepted(&["true", "false", "null", "[true,false,null]"]);
        all_refused(&[
            "t", "tru", "nul", "fals", "True", "NULL", "truex", "nulll", "true1",
        ]);
        all_refused(&[
            "[tru]",
            "[nulls]",
            "undefined",
            "NaN",
            "Infinity",
            "-Infinity",
        ]);
    }

    #[test]
    fn numbers() {
        all_accepted(&[
            "0",
            "-0",
            "1",
            "-1",
            "10",
            "1234567890",
            "0.5",
            "-0.0",
            "1.25",
        ]);
        all_accepted(&[
            "1e5", "1E5", "1e+5", "1e-5", "1E-0", "0e0", "-0.0e-00", "1.5e10",
        ]);
        // Huge or tiny ones are kept as text: no range check.
        all_accepted(&[
            "1e400",
            "-1e-400",
            "123456789012345678901234567890123456789",
        ]);
        all_accepted(&["[0,-0,1e1]", "{\"a\":-1.5E+3}"]);
        all_refused(&[
            "-", "+1", "01", "-01", "00", "1.", "-1.", ".5", "-.5", "1.e5",
        ]);
        all_refused(&[
            "1e", "1e+", "1E-", "1e5.5", "0x10", "1_0", "1 2", "--1", "1-",
        ]);
        all_refused(&[
            "[01]",
            "[1.]",
            "[-]",
            "{\"a\":1e}",
            "[1e+]",
            "0.5.5",
            "1ee5",
        ]);
    }

    #[test]
    fn strings() {
        all_accepted(&[
            r#""""#,
            r#""a""#,
            r#""é漢🎉""#,
            "\"\x7f\"",
            "\"\u{80}\u{10ffff}\"",
        ]);
        all_accepted(&[r#""\"\\\/\b\f\n\r\t""#, r#""\u0000\u12aB\uFFFF\uffff""#]);
        // Lone surrogates, either half, and pairs.
        all_accepted(&[r#""\ud800""#, r#""\udfff""#, r#""\udc00\ud800""#]);
        all_accepted(&[r#""\ud83d\ude00""#, r#"["x\ud800", "\uDBFF"]"#]);
        // Long strings take the eight-bytes-at-a-time path: hits at every offset of a word.
        for at in 0..20 {
            let plain = "x".repeat(at);
            all_accepted(&[&format!("\"{plain}\\n{plain}\""), &format!("[\"{plain}\"]")]);
            all_refused(&[
                &format!("\"{plain}\x01{plain}\""),
                &format!("\"{plain}\x1f\""),
                &format!("\"{plain}"),
                &format!("\"{plain}\\"),
                &format!("\"{plain}\\u12\""),
            ]);
        }
        for c in (0u8..0x20).map(char::from) {
            all_refused(&[&format!("\"{c}\""), &format!("[\"a{c}b\"]")]);
        }
        all_refused(&[
            "\"",
            "\"abc",
            r#""\""#,
            r#""\x""#,
            r#""\a""#,
            r#""\'""#,
            r#""\U0041""#,
        ]);
        all_refused(&[
            r#""\u""#,
            r#""\u1""#,
            r#""\u12""#,
            r#""\u123""#,
            r#""\u123g""#,
        ]);
        all_refused(&[r#""\uGGGG""#, r#""\u 123""#, r#""\u+123""#, r#""\u-123""#]);
        all_refused(&["'a'", r#""a"b""#, r#""\"#, "\"\\\u{e9}\""]);
    }

    #[test]
    fn arrays_and_objects() {
        all_accepted(&[
            "[]",
            "{}",
            "[[]]",
            "[{}]",
            "{\"a\":{}}",
            "{\"\":[]}",
            "[[],[[]],{}]",
        ]);
        all_accepted(&[
            r#"{"a":1,"a":2}"#,
            r#"{"\u0000":"\ud800"}"#,
            "[\"]\",\"[\"]",
        ]);
        all_refused(&[
            "[", "]", "{", "}", "[1", "[1,", "[1,]", "[,1]", "[,]", "[1,,2]",
        ]);
        all_refused(&["[1 2]", "[}", "{]", "[1}", "{\"a\":1]", "[[]", "[]]", "{}}"]);
        all_refused(&[
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            r#"{,"a":1}"#,
        ]);
        all_refused(&[
            r#"{"a":1 "b":2}"#,
            r#"{a:1}"#,
            r#"{1:1}"#,
            r#"{"a"::1}"#,
            r#"{:1}"#,
        ]);
        all_refused(&["{null:1}", "{\"a\";1}", "{\"a\":1;\"b\":2}", "[1;2]"]);
    }

    #[test]
    fn exactly_one_value() {
        all_refused(&[
            "1 2",
            "[] []",
            "{}{}",
            "\"a\"\"b\"",
            "[]1",
            "1[]",
            "null null",
        ]);
        all_refused(&["[],", "[] ,", "{}:", "1,", "\"a\":1"]);
    }

    #[test]
    fn element_ranges_are_the_elements_own_text() {
        assert_eq!(elements("[]"), Vec::<&str>::new());
        assert_eq!(elements(" [ ] "), Vec::<&str>::new());
        assert_eq!(elements("[1]"), ["1"]);
        assert_eq!(
            elements(" [ \"a\" , -1.5e3 ,\n[ 2 ,[]] ,{ \"k\" : [3] } , true,null ] "),
            [
                "\"a\"",
                "-1.5e3",
                "[ 2 ,[]]",
                "{ \"k\" : [3] }",
                "true",
                "null"
            ]
        );
        assert_eq!(elements(r#"[[1],[2,[3]],{}]"#), ["[1]", "[2,[3]]", "{}"]);
        assert_eq!(
            elements(r#"["echo",{"n":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]"#),
            [
                "\"echo\"",
                r#"{"n":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#
            ]
        );
        let mut calls = 0;
        assert_eq!(
            scan(r#"{"a":[1,2]}"#, |_, _| calls += 1),
            Ok(TopLevel::Other)
        );
        assert_eq!(scan("\"[1]\"", |_, _| calls += 1), Ok(TopLevel::Other));
        assert_eq!(calls, 0, "only a top-level array reports elements");
    }

    /// `depth` arrays or objects (alternating from `first_object`) around `null`.
    fn nested(depth: usize, first_object: bool) -> String {
        let mut open = String::new();
        let mut close = String::new();
        for level in 0..depth {
            if (level % 2 == 0) == first_object {
                open.push_str("{\"k\":");
                close.insert(0, '}');
            } else {
                open.push('[');
                close.insert(0, ']');
            }
        }
        open + "null" + &close
    }

    #[test]
    fn nesting_has_no_depth_limit_as_for_serde_json_raw_values() {
        // serde_json's recursion limit (128) does not apply to raw values: it skips them with
        // a heap stack of its own. Around 128, around the 256 levels held inline, and far
        // beyond.
        for depth in [
            1, 2, 63, 64, 65, 127, 128, 129, 130, 255, 256, 257, 258, 320, 1000,
        ] {
            for first_object in [false, true] {
                let text = nested(depth, first_object);
                assert!(accepts(&text), "depth {depth}");
                let arrays = "[".repeat(depth) + &"]".repeat(depth);
                assert!(accepts(&arrays), "{depth} arrays");
                // A closing bracket of the wrong kind, at each level, is refused.
                for at in 0..depth.min(300) {
                    let mut bytes = text.clone().into_bytes();
                    let closer = bytes.len() - depth + at;
                    bytes[closer] = if bytes[closer] == b']' { b'}' } else { b']' };
                    let wrong = String::from_utf8(bytes).unwrap();
                    assert!(!accepts(&wrong), "depth {depth}, wrong closer at {at}");
                }
                let unclosed = &text[..text.len() - 1];
                assert!(!accepts(unclosed), "depth {depth}, unclosed");
            }
        }
        let deep = nested(100_000, false);
        assert!(accepts(&deep));
        assert!(!accepts(&deep[..deep.len() - 1]));
        assert_eq!(elements(&deep).len(), 1);
    }

    // ---- Differential property tests against serde_json --------------------------------------

    /// Optional JSON whitespace.
    fn ws() -> impl Strategy<Value = String> {
        "[ \t\n\r]{0,2}"
    }

    /// A JSON string literal with plain text, every escape, and surrogate escapes (lone ones,
    /// pairs, and pairs out of order).
    fn json_string() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => "[a-z0-9 ]{1,12}",
            2 => "[^\"\\\\\\x00-\\x1f]{1,4}",
            2 => r#"\\["\\/bfnrt]"#,
            1 => r"\\u[0-9a-fA-F]{4}",
            1 => r"\\u[dD][89abAB][0-9a-fA-F]{2}",
            1 => r"\\u[dD][c-fC-F][0-9a-fA-F]{2}",
            1 => r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}",
        ];
        proptest::collection::vec(piece, 0..5).prop_map(|p| format!("\"{}\"", p.concat()))
    }

    /// A JSON number: leading zeros, signs, fractions and exponents, small and huge.
    fn json_number() -> impl Strategy<Value = String> {
        prop_oneof![
            "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
            "-?[1-9][0-9]{18,40}",
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap()),
            any::<i64>().prop_map(|i| i.to_string()),
        ]
    }

    /// JSON text: nested arrays and objects with whitespace around every token.
    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            json_string(),
            json_number(),
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("null".to_owned()),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let item = (ws(), inner.clone(), ws()).prop_map(|(a, v, b)| a + &v + &b);
            let member = (ws(), json_string(), ws(), ws(), inner, ws())
                .prop_map(|(a, k, b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"));
            prop_oneof![
                (proptest::collection::vec(item, 0..6), ws()).prop_map(|(items, w)| {
                    if items.is_empty() {
                        format!("[{w}]")
                    } else {
                        format!("[{}]", items.join(","))
                    }
                }),
                (proptest::collection::vec(member, 0..6), ws()).prop_map(|(members, w)| {
                    if members.is_empty() {
                        format!("{{{w}}}")
                    } else {
                        format!("{{{}}}", members.join(","))
                    }
                }),
            ]
        })
        .prop_flat_map(|v| (ws(), Just(v), ws()).prop_map(|(a, v, b)| a + &v + &b))
    }

    /// Text shaped like JSON with a mistake here and there: numbers with leading zeros or
    /// missing digits, strings with bad escapes or control characters or no end, truncated
    /// literals, keys without colons, missing or doubled commas, closers of the wrong kind.
    fn sloppy_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            "[-+]?[0-9]{0,3}(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?",
            "\"([a-z]|\\\\[\"\\\\/bfnrtux0-9a-fA-F]{1,5}|[\\x00-\\x1f\\x7f])*\"?",
            "true|false|null|tru|nul|fals|t|n|truee|nulll",
            json_string(),
            json_number(),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            let key = prop_oneof![
                6 => (json_string(), ws()).prop_map(|(k, w)| format!("{k}{w}:")),
                1 => json_string(),
                1 => Just(":".to_owned()),
                1 => Just(String::new()),
            ];
            let item = (ws(), proptest::option::of(key), inner, ws())
                .prop_map(|(a, k, v, b)| format!("{a}{}{v}{b}", k.unwrap_or_default()));
            let separator = prop_oneof![8 => Just(","), 1 => Just(""), 1 => Just(",,")];
            let closer = prop_oneof![
                8 => Just(None),
                1 => proptest::sample::select(&["]", "}", ",]", ",}", ""][..]).prop_map(Some),
            ];
            (
                any::<bool>(),
                proptest::collection::vec(item, 0..5),
                separator,
                closer,
            )
                .prop_map(|(object, items, separator, closer)| {
                    let (open, close) = if object { ("{", "}") } else { ("[", "]") };
                    format!("{open}{}{}", items.join(separator), closer.unwrap_or(close))
                })
        })
        .prop_flat_map(|v| (ws(), Just(v), ws()).prop_map(|(a, v, b)| a + &v + &b))
    }

    /// Characters that matter to JSON, and a few that do not.
    const ALPHABET: &[char] = &[
        '[', ']', '{', '}', '"', ',', ':', '\\', '/', ' ', '\t', '\n', '\r', '\x0c', '\0', '\x1f',
        '\x7f', '0', '1', '9', '-', '+', '.', 'e', 'E', 'u', 'd', '8', 'c', 'f', 'F', 'b', 'n',
        'r', 't', 'a', 'l', 's', 'x', 'é', '\u{a0}', '\u{feff}', '🎉',
    ];

    /// One edit of a text: insert, delete or replace the character at a position.
    #[derive(Debug, Clone)]
    enum Edit {
        /// Insert a character before the one at a position.
        Insert(usize, char),
        /// Delete the character at a position.
        Delete(usize),
        /// Replace the character at a position.
        Replace(usize, char),
    }

    /// An [`Edit`], with characters that matter to JSON more often than others.
    fn edit() -> impl Strategy<Value = Edit> {
        let c = prop_oneof![
            4 => proptest::sample::select(ALPHABET),
            1 => any::<char>(),
        ];
        prop_oneof![
            (any::<usize>(), c.clone()).prop_map(|(at, c)| Edit::Insert(at, c)),
            any::<usize>().prop_map(Edit::Delete),
            (any::<usize>(), c).prop_map(|(at, c)| Edit::Replace(at, c)),
        ]
    }

    /// `text` with `edits` applied (positions taken modulo its length in characters).
    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for e in edits {
            match *e {
                Edit::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
                Edit::Delete(at) if !chars.is_empty() => {
                    chars.remove(at % chars.len());
                }
                Edit::Replace(at, c) if !chars.is_empty() => {
                    let at = at % chars.len();
                    chars[at] = c;
                }
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn valid_json_is_accepted_with_serde_json_element_ranges(text in json_text()) {
            check_against_serde_json(&text);
            prop_assert!(validate(&text).is_ok(), "{:?} refused", text);
        }

        #[test]
        fn edited_json_agrees_with_serde_json(
            text in json_text(),
            edits in proptest::collection::vec(edit(), 1..4),
        ) {
            check_against_serde_json(&apply(&text, &edits));
        }

        #[test]
        fn sloppy_json_agrees_with_serde_json(text in sloppy_text()) {
            check_against_serde_json(&text);
        }

        #[test]
        fn short_strings_agree_with_serde_json(
            chars in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..16),
        ) {
            check_against_serde_json(&chars.into_iter().collect::<String>());
        }

        #[test]
        fn arbitrary_strings_agree_with_serde_json(text in any::<String>()) {
            check_against_serde_json(&text);
        }

        #[test]
        fn serialized_values_agree_with_serde_json(v in any_value()) {
            let text = serde_json::to_string(&v).unwrap();
            check_against_serde_json(&text);
            prop_assert!(validate(&text).is_ok());
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            check_against_serde_json(&pretty);
        }
    }

    /// A `serde_json::Value`, serialized by serde_json itself in the test above.
    fn any_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
