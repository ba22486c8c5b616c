//! Identifier newtypes.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A source of random bytes for session ids. The core never reads randomness itself: drivers pass
/// a CSPRNG-backed implementation, tests a deterministic one.
pub trait Entropy: Send {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A session or socket id: 20 URL-safe base64 characters (120 random bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; 20]);

impl Sid {
    /// Draws a new id from `entropy`.
    pub fn random(entropy: &mut dyn Entropy) -> Sid {
        let mut raw = [0u8; 15];
        entropy.fill(&mut raw);
        let mut out = [0u8; 20];
        for (chunk, dst) in raw.chunks(3).zip(out.chunks_mut(4)) {
            let n = (chunk[0] as u32) << 16 | (chunk[1] as u32) << 8 | chunk[2] as u32;
            for (i, d) in dst.iter_mut().enumerate() {
                *d = URL_SAFE[(n >> (18 - 6 * i) & 63) as usize];
            }
        }
        Sid(out)
    }

    /// Draws a new id whose first character is tag `tag` (0 to 63; see [`tag`](Self::tag)),
    /// the other 19 random (114 bits): a driver that runs several servers side by side names
    /// the one that made an id, and routes by it.
    pub fn random_tagged(entropy: &mut dyn Entropy, tag: u8) -> Sid {
        let mut sid = Sid::random(entropy);
        sid.0[0] = URL_SAFE[(tag & 63) as usize];
        sid
    }

    /// The tag of an id: the value (0 to 63) of its first character in the URL-safe base64
    /// alphabet. Meaningful for ids drawn with [`random_tagged`](Self::random_tagged).
    pub fn tag(&self) -> u8 {
        tag_of(self.0[0])
    }

    /// The tag (see [`tag`](Self::tag)) of an id received as text, if it has the shape of one.
    pub fn tag_of_str(s: &str) -> Option<u8> {
        Sid::parse(s).map(|sid| sid.tag())
    }

    /// Parses an id received from a peer; `None` unless it has the shape of one of ours.
    pub fn parse(s: &str) -> Option<Sid> {
        let b = s.as_bytes();
        if b.len() != 20
            || !b
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        {
            return None;
        }
        let mut out = [0u8; 20];
        out.copy_from_slice(b);
        Some(Sid(out))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Every constructor writes only ASCII from URL_SAFE or checked ASCII.
        std::str::from_utf8(&self.0).expect("sid is ASCII")
    }
}

fn tag_of(c: u8) -> u8 {
    match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        _ => 63,
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! handle {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            pub(crate) index: u32,
            pub(crate) generation: u32,
        }

        impl $name {
            /// A number that identifies this handle among all live and past ones.
            pub fn as_u64(self) -> u64 {
                (self.generation as u64) << 32 | self.index as u64
            }

            /// Rebuilds a handle from [`as_u64`](Self::as_u64).
            pub fn from_u64(n: u64) -> Self {
                Self { index: n as u32, generation: (n >> 32) as u32 }
            }
        }
    };
}

handle!(
    /// An Engine.IO session inside a [`Server`](crate::Server).
    SessionHandle
);
handle!(
    /// A Socket.IO socket: one session connected to one namespace.
    SocketId
);

/// One HTTP request or WebSocket connection, numbered by the driver. Each polling request gets
/// its own handle; a WebSocket keeps its handle for its lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TransportHandle(pub u64);

/// The id of an acknowledgement requested by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AckId(pub u64);

macro_rules! name {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(Arc::from(s))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(Arc::from(s))
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name!(
    /// A namespace name such as `/` or `/chat`.
    Namespace
);
name!(
    /// A room name. Every socket is in the room named after its own sid.
    Room
);

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl Entropy for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(37);
                *b = self.0;
            }
        }
    }

    #[test]
    fn sids_are_url_safe_and_parse_back() {
        let mut e = Counter(0);
        let a = Sid::random(&mut e);
        let b = Sid::random(&mut e);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 20);
        assert_eq!(Sid::parse(a.as_str()), Some(a));
        assert_eq!(Sid::parse("short"), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaa!"), None);
    }

    #[test]
    fn tagged_sids_carry_their_tag() {
        let mut e = Counter(0);
        for tag in 0..64 {
            let sid = Sid::random_tagged(&mut e, tag);
            assert_eq!(sid.tag(), tag);
            assert_eq!(Sid::tag_of_str(sid.as_str()), Some(tag));
            assert_eq!(Sid::parse(sid.as_str()), Some(sid));
        }
    }

    #[test]
    fn handles_round_trip() {
        let h = SessionHandle {
            index: 7,
            generation: 3,
        };
        assert_eq!(SessionHandle::from_u64(h.as_u64()), h);
    }
}
