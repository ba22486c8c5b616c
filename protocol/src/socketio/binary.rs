//! Binary attachments: placeholders in the JSON payload and reassembly of the attachments that
//! follow a binary packet as separate Engine.IO messages.

use bytes::Bytes;
use serde_json::{json, Value};
use smallvec::SmallVec;

use super::packet::Packet;
use crate::error::DecodeError;

/// The attachments of one packet; two fit inline.
pub type Attachments = SmallVec<[Bytes; 2]>;

/// The JSON placeholder for attachment `num`: `{"_placeholder":true,"num":num}`.
pub fn placeholder(num: usize) -> Value {
    json!({ "_placeholder": true, "num": num })
}

/// If `v` is an attachment placeholder, the attachment number it points at.
pub fn is_placeholder(v: &Value) -> Option<usize> {
    let obj = v.as_object()?;
    if obj.len() != 2 || obj.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    obj.get("num")?
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
}

/// Checks that every placeholder in `v` points at one of `count` attachments.
pub fn check_placeholders(v: &Value, count: usize) -> Result<(), DecodeError> {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        if let Some(n) = is_placeholder(v) {
            if n >= count {
                return Err(DecodeError::BadPlaceholder);
            }
            continue;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(o) => {
                if o.contains_key("_placeholder") {
                    return Err(DecodeError::BadPlaceholder);
                }
                stack.extend(o.values());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Collects the attachments of a binary packet.
///
/// Convention: [`push`](Self::push) returns `Ok(None)` while attachments are missing,
/// `Ok(Some(..))` once the packet is complete, and `Err` when the input is malformed.
#[derive(Debug)]
pub struct Reassembly {
    packet: Packet,
    attachments: Attachments,
    total: usize,
    max_total: usize,
}

impl Reassembly {
    /// Starts reassembling `packet`; `max_total` bounds the sum of the attachment sizes.
    ///
    /// Returns the finished packet at once when it declares no attachments.
    pub fn start(
        packet: Packet,
        max_total: usize,
    ) -> Result<Result<(Packet, Attachments), Self>, DecodeError> {
        if let Some(data) = &packet.data {
            let data = super::json::from_str_lossy::<Value>(data.as_str())
                .map_err(|_| DecodeError::InvalidJson)?;
            check_placeholders(&data, packet.attachments)?;
        }
        if packet.attachments == 0 {
            return Ok(Ok((packet, Attachments::new())));
        }
        Ok(Err(Reassembly {
            attachments: Attachments::with_capacity(packet.attachments),
            packet,
            total: 0,
            max_total,
        }))
    }

    /// Adds the next attachment.
    pub fn push(&mut self, data: Bytes) -> Result<Option<(Packet, Attachments)>, DecodeError> {
        self.total = self.total.saturating_add(data.len());
        if self.total > self.max_total {
            return Err(DecodeError::AttachmentsTooLarge);
        }
        self.attachments.push(data);
        if self.attachments.len() < self.packet.attachments {
            return Ok(None);
        }
        let packet = std::mem::replace(
            &mut self.packet,
            Packet {
                kind: super::PacketKind::Disconnect,
                namespace: crate::Str::from_static("/"),
                id: None,
                attachments: 0,
                data: None,
            },
        );
        Ok(Some((packet, std::mem::take(&mut self.attachments))))
    }

    /// Number of attachments still expected.
    pub fn missing(&self) -> usize {
        self.packet.attachments - self.attachments.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::socketio::packet::Limits;
    use crate::Str;

    fn binary_packet(n: usize) -> Packet {
        let args: Vec<Value> = (0..n).map(placeholder).collect();
        let text = format!(
            "5{n}-{}",
            serde_json::to_string(&json!(["up", args])).unwrap()
        );
        Packet::decode(&Str::from(text.as_str()), Limits::default()).unwrap()
    }

    #[test]
    fn placeholders() {
        assert_eq!(is_placeholder(&placeholder(3)), Some(3));
        assert_eq!(
            is_placeholder(&json!({"_placeholder": true, "num": -1})),
            None
        );
        assert_eq!(is_placeholder(&json!({"num": 1})), None);
        assert!(check_placeholders(&json!(["a", placeholder(0)]), 1).is_ok());
        assert_eq!(
            check_placeholders(&json!(["a", placeholder(1)]), 1),
            Err(DecodeError::BadPlaceholder)
        );
        assert_eq!(
            check_placeholders(&json!(["a", {"_placeholder": "x"}]), 1),
            Err(DecodeError::BadPlaceholder)
        );
    }

    #[test]
    fn reassembles_in_order() {
        let mut r = Reassembly::start(binary_packet(2), 100)
            .unwrap()
            .unwrap_err();
        assert_eq!(r.missing(), 2);
        assert!(r.push(Bytes::from_static(b"ab")).unwrap().is_none());
        let (p, att) = r.push(Bytes::from_static(b"cd")).unwrap().unwrap();
        assert_eq!(p.attachments, 2);
        assert_eq!(
            &att[..],
            &[Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]
        );
    }

    #[test]
    fn bounds_total_size() {
        let mut r = Reassembly::start(binary_packet(2), 3).unwrap().unwrap_err();
        assert!(r.push(Bytes::from_static(b"ab")).unwrap().is_none());
        assert_eq!(
            r.push(Bytes::from_static(b"cd")),
            Err(DecodeError::AttachmentsTooLarge)
        );
    }

    #[test]
    fn rejects_placeholder_out_of_range() {
        let text = "51-[\"up\",{\"_placeholder\":true,\"num\":1}]";
        let p = Packet::decode(&Str::from(text), Limits::default()).unwrap();
        assert_eq!(
            Reassembly::start(p, 100).unwrap_err(),
            DecodeError::BadPlaceholder
        );
    }

    proptest! {
        #[test]
        fn any_split_reassembles(parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..6)) {
            let mut r = Reassembly::start(binary_packet(parts.len()), 1 << 20).unwrap().unwrap_err();
            let mut done = None;
            for (i, part) in parts.iter().enumerate() {
                let out = r.push(Bytes::from(part.clone())).unwrap();
                prop_assert_eq!(out.is_some(), i + 1 == parts.len());
                done = out;
            }
            let (_, att) = done.unwrap();
            let back: Vec<Vec<u8>> = att.iter().map(|b| b.to_vec()).collect();
            prop_assert_eq!(back, parts);
        }
    }
}
