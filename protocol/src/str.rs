//! A cheaply clonable, UTF-8 validated byte string.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

use crate::error::DecodeError;

/// UTF-8 text backed by [`Bytes`]: validated once, then sliced without copying.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Str(Bytes);

impl Str {
    /// Validates `bytes` as UTF-8.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        std::str::from_utf8(&bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        Ok(Str(bytes))
    }

    /// Wraps a static string.
    pub const fn from_static(s: &'static str) -> Self {
        Str(Bytes::from_static(s.as_bytes()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor validates or starts from a `str`, and slicing only happens
        // at char boundaries (checked in `slice_from`/`slice_to`).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The bytes underneath.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The shared buffer underneath.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The text from byte offset `at` on.
    ///
    /// # Panics
    /// When `at` is not on a char boundary; callers slice at ASCII delimiters.
    pub fn slice_from(&self, at: usize) -> Str {
        assert!(
            self.as_str().is_char_boundary(at),
            "slice off a char boundary"
        );
        Str(self.0.slice(at..))
    }

    /// The text in the byte range `range`.
    ///
    /// # Panics
    /// When the range is out of bounds or off a char boundary; callers slice at ASCII
    /// delimiters.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Str {
        assert!(
            self.as_str().get(range.clone()).is_some(),
            "slice off a char boundary"
        );
        Str(self.0.slice(range))
    }

    /// The text up to byte offset `at`.
    ///
    /// # Panics
    /// When `at` is not on a char boundary; callers slice at ASCII delimiters.
    pub fn slice_to(&self, at: usize) -> Str {
        assert!(
            self.as_str().is_char_boundary(at),
            "slice off a char boundary"
        );
        Str(self.0.slice(..at))
    }
}

impl Deref for Str {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Self {
        Str(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str(Bytes::from(s))
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len() <= 64 {
            fmt::Debug::fmt(self.as_str(), f)
        } else {
            write!(f, "<{} bytes>", self.len())
        }
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
