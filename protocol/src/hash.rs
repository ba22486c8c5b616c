//! A fast hasher for maps keyed by handles the server or its driver numbers itself
//! ([`SocketId`](crate::SocketId), [`SessionHandle`](crate::SessionHandle),
//! [`TransportHandle`](crate::TransportHandle)).
//!
//! Handles are small integers nobody outside chooses, so hash flooding is not a concern and
//! SipHash's cost buys nothing. Maps keyed by what a peer chooses or sees (sids, namespace and
//! room names) keep std's randomized SipHash; maps whose keys only the application inserts
//! (handler names, which a peer can only look up) may use this one too.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiplicative hashing of the integer words a handle is made of.
#[derive(Clone, Copy, Debug, Default)]
pub struct HandleHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        // The high bits of a product mix best; hashbrown takes its control bits from the top.
        self.0.rotate_left(26)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.write_u64(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            // Byte by byte: a copy of a length known only at run time would call `memcpy`.
            let word = rest.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b));
            self.write_u64(word);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A map keyed by handles.
pub type HandleMap<K, V> = HashMap<K, V, BuildHasherDefault<HandleHasher>>;

/// A set of handles.
pub type HandleSet<K> = HashSet<K, BuildHasherDefault<HandleHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SocketId, TransportHandle};

    #[test]
    fn handles_spread() {
        let mut seen = HashSet::new();
        for i in 0..10_000u64 {
            let mut h = HandleHasher::default();
            std::hash::Hash::hash(&SocketId::from_u64(i << 32 | (i % 7)), &mut h);
            seen.insert(h.finish() >> 57);
        }
        assert_eq!(seen.len(), 128, "the top 7 bits take every value");
        let mut m: HandleMap<TransportHandle, u32> = HandleMap::default();
        for i in 0..1000 {
            m.insert(TransportHandle(i), i as u32);
        }
        assert_eq!(m.get(&TransportHandle(999)), Some(&999));
    }

    #[test]
    fn every_byte_of_a_string_counts() {
        let hash = |s: &str| {
            let mut h = HandleHasher::default();
            std::hash::Hash::hash(s, &mut h);
            h.finish()
        };
        let names = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "message",
            "messagf",
            "12345678",
            "123456789",
        ];
        let hashes: HashSet<u64> = names.iter().map(|n| hash(n)).collect();
        assert_eq!(hashes.len(), names.len());
    }
}
