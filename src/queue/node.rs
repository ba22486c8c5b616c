//! node `@socket.io/redis-emitter` (and `@socket.io/redis-adapter` broadcast) messages:
//! msgpack `[uid, packet, opts]` with `packet = {type, data: [event, args...], nsp}` and
//! `opts = {rooms, except, flags}`, published on `<key>#<nsp>#` or, for one room,
//! `<key>#<nsp>#<room>#`. Buffers are msgpack `bin`; they become attachments.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::{Map, Number, Value};
use sockio_protocol::socketio::binary::{placeholder, Attachments};
use sockio_protocol::Payload;

use super::wire::WireError;
use super::QueueMessage;

fn bad(reason: impl Into<String>) -> WireError {
    WireError::Bad {
        method: "redis-emitter",
        reason: reason.into(),
    }
}

/// Deepest nesting accepted (msgpack from the network must not exhaust the stack).
const MAX_DEPTH: usize = 64;

/// The pattern to subscribe to for emitter messages of every namespace and room.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn pattern(key: &str) -> String {
    format!("{key}#*")
}

/// The pattern to subscribe to for emitter requests (`socketsJoin` and the like).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn request_pattern(key: &str) -> String {
    format!("{key}-request#*")
}

/// Decodes an emitter request published on `<key>-request#<nsp>#`: `socketsJoin` (type 2),
/// `socketsLeave` (3) and `disconnectSockets` (4). Other requests (a node adapter's queries
/// to its peers, which expect answers) are not for sockio: `Ok(None)`.
pub(crate) fn decode_request(
    channel: &str,
    body: &[u8],
) -> Result<Option<QueueMessage>, WireError> {
    let namespace = channel
        .split_once("-request#")
        .and_then(|(_, rest)| rest.strip_suffix('#'))
        .filter(|ns| ns.starts_with('/'))
        .ok_or_else(|| bad(format!("not a request channel: {channel}")))?
        .to_string();
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("request is not JSON: {e}")))?;
    let list = |v: Option<&Value>| -> Result<Vec<String>, WireError> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|r| match r {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(bad("a room is not a string")),
                })
                .collect(),
            Some(_) => Err(bad("rooms is not a list")),
        }
    };
    let opts = v.get("opts");
    let rooms = list(opts.and_then(|o| o.get("rooms")))?;
    let except = list(opts.and_then(|o| o.get("except")))?;
    Ok(match v.get("type").and_then(Value::as_u64) {
        Some(2) => Some(QueueMessage::JoinRooms {
            namespace,
            rooms,
            except,
            join: list(v.get("rooms"))?,
        }),
        Some(3) => Some(QueueMessage::LeaveRooms {
            namespace,
            rooms,
            except,
            leave: list(v.get("rooms"))?,
        }),
        Some(4) => Some(QueueMessage::DisconnectSockets {
            namespace,
            rooms,
            except,
            close: v.get("close").and_then(Value::as_bool).unwrap_or(false),
        }),
        _ => None,
    })
}

/// Decodes an emitter message into an emit.
pub(crate) fn decode(body: &[u8]) -> Result<QueueMessage, WireError> {
    let mut rd = body;
    let v = rmpv::decode::read_value_with_max_depth(&mut rd, MAX_DEPTH)
        .map_err(|e| bad(format!("not msgpack: {e}")))?;
    let Mp::Array(parts) = v else {
        return Err(bad("not [uid, packet, opts]"));
    };
    let mut parts = parts.into_iter();
    let _uid = parts.next();
    let packet = parts.next().ok_or_else(|| bad("no packet"))?;
    let opts = parts.next().unwrap_or(Mp::Nil);
    let kind = get(&packet, "type").and_then(Mp::as_u64);
    // 2 EVENT, 5 BINARY_EVENT; the emitter sends 2 even with buffers.
    if !matches!(kind, Some(2) | Some(5)) {
        return Err(bad(format!("packet type {kind:?} is not an event")));
    }
    let namespace = match get(&packet, "nsp").and_then(Mp::as_str) {
        Some(ns) if !ns.is_empty() => ns.to_string(),
        _ => "/".to_string(),
    };
    let data = get(&packet, "data").ok_or_else(|| bad("no data"))?;
    let Mp::Array(items) = data else {
        return Err(bad("data is not [event, args...]"));
    };
    if !matches!(items.first(), Some(Mp::String(s)) if s.as_str().is_some()) {
        return Err(bad("no event name"));
    }
    let mut attachments = Attachments::new();
    let items: Vec<Value> = items
        .iter()
        .map(|i| to_json(i, &mut attachments))
        .collect::<Result<_, _>>()?;
    let json = serde_json::to_vec(&Value::Array(items)).map_err(|e| bad(e.to_string()))?;
    let flags = get(&opts, "flags");
    let flag = |name: &str| {
        flags
            .and_then(|f| get(f, name))
            .and_then(Mp::as_bool)
            .unwrap_or(false)
    };
    Ok(QueueMessage::Emit {
        namespace,
        rooms: strings(get(&opts, "rooms"))?,
        except: strings(get(&opts, "except"))?,
        skip: Vec::new(),
        payload: Payload {
            json: json.into(),
            attachments,
        },
        volatile: flag("volatile"),
        callback: None,
    })
}

fn get<'a>(map: &'a Mp, key: &str) -> Option<&'a Mp> {
    match map {
        Mp::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn strings(v: Option<&Mp>) -> Result<Vec<String>, WireError> {
    match v {
        None | Some(Mp::Nil) => Ok(Vec::new()),
        Some(Mp::Array(a)) => a
            .iter()
            .map(|r| match r {
                Mp::String(s) => s
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("a room is not UTF-8")),
                Mp::Integer(i) => Ok(i.to_string()),
                _ => Err(bad("a room is not a string")),
            })
            .collect(),
        Some(_) => Err(bad("rooms is not a list")),
    }
}

/// msgpack to JSON as socket.io's parser would see it; binary becomes placeholders.
fn to_json(v: &Mp, attachments: &mut Attachments) -> Result<Value, WireError> {
    Ok(match v {
        Mp::Nil => Value::Null,
        Mp::Boolean(b) => Value::Bool(*b),
        Mp::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(n), _) => Value::from(n),
            (_, Some(n)) => Value::from(n),
            _ => Value::Null,
        },
        Mp::F32(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        Mp::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Mp::String(s) => Value::String(
            s.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad("a string is not UTF-8"))?,
        ),
        Mp::Binary(b) => {
            attachments.push(Bytes::copy_from_slice(b));
            placeholder(attachments.len() - 1)
        }
        Mp::Array(a) => Value::Array(
            a.iter()
                .map(|x| to_json(x, attachments))
                .collect::<Result<_, _>>()?,
        ),
        Mp::Map(entries) => {
            let mut m = Map::new();
            for (k, x) in entries {
                let key = match k {
                    Mp::String(s) => s
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad("a key is not UTF-8"))?,
                    Mp::Integer(i) => i.to_string(),
                    _ => return Err(bad("a map key is not a string")),
                };
                m.insert(key, to_json(x, attachments)?);
            }
            Value::Object(m)
        }
        // msgpack timestamps (JavaScript Dates): JSON.stringify gives an ISO string.
        Mp::Ext(-1, data) => timestamp(data).map_or(Value::Null, Value::String),
        Mp::Ext(..) => Value::Null,
    })
}

/// A msgpack timestamp extension as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn timestamp(data: &[u8]) -> Option<String> {
    let (secs, nanos): (i64, u32) = match data.len() {
        4 => (i64::from(u32::from_be_bytes(data.try_into().ok()?)), 0),
        8 => {
            let x = u64::from_be_bytes(data.try_into().ok()?);
            ((x & 0x3_ffff_ffff) as i64, (x >> 34) as u32)
        }
        12 => (
            i64::from_be_bytes(data[4..12].try_into().ok()?),
            u32::from_be_bytes(data[..4].try_into().ok()?),
        ),
        _ => return None,
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        nanos / 1_000_000
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mp(v: Mp) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &v).unwrap();
        out
    }

    fn s(x: &str) -> Mp {
        Mp::String(x.into())
    }

    fn message(data: Vec<Mp>, rooms: &[&str], except: &[&str], volatile: bool) -> Vec<u8> {
        let list = |l: &[&str]| Mp::Array(l.iter().map(|r| s(r)).collect());
        mp(Mp::Array(vec![
            s("emitter"),
            Mp::Map(vec![
                (s("type"), Mp::from(2)),
                (s("data"), Mp::Array(data)),
                (s("nsp"), s("/chat")),
            ]),
            Mp::Map(vec![
                (s("rooms"), list(rooms)),
                (
                    s("flags"),
                    Mp::Map(vec![(s("volatile"), Mp::Boolean(volatile))]),
                ),
                (s("except"), list(except)),
            ]),
        ]))
    }

    #[test]
    fn emitter_messages_become_emits() {
        let body = message(
            vec![s("news"), Mp::from(1), Mp::Map(vec![(s("a"), s("b"))])],
            &["r1"],
            &["r2"],
            true,
        );
        let QueueMessage::Emit {
            namespace,
            rooms,
            except,
            payload,
            volatile,
            ..
        } = decode(&body).unwrap()
        else {
            panic!("not an emit")
        };
        assert_eq!(namespace, "/chat");
        assert_eq!(rooms, ["r1"]);
        assert_eq!(except, ["r2"]);
        assert!(volatile);
        let v: Value = serde_json::from_slice(&payload.json).unwrap();
        assert_eq!(v, json!(["news", 1, {"a": "b"}]));
    }

    #[test]
    fn buffers_become_attachments() {
        let body = message(
            vec![
                s("file"),
                Mp::Binary(b"\x01\x02".to_vec()),
                Mp::Map(vec![(s("inner"), Mp::Binary(b"z".to_vec()))]),
            ],
            &[],
            &[],
            false,
        );
        let QueueMessage::Emit { payload, .. } = decode(&body).unwrap() else {
            panic!("not an emit")
        };
        let v: Value = serde_json::from_slice(&payload.json).unwrap();
        assert_eq!(
            v,
            json!(["file", {"_placeholder": true, "num": 0},
                   {"inner": {"_placeholder": true, "num": 1}}])
        );
        assert_eq!(&payload.attachments[0][..], b"\x01\x02");
        assert_eq!(&payload.attachments[1][..], b"z");
    }

    #[test]
    fn requests_select_sockets_by_rooms() {
        let body = br#"{"type":2,"opts":{"rooms":["a"],"except":["b"]},"rooms":["c","d"]}"#;
        assert_eq!(
            decode_request("socket.io-request#/chat#", body).unwrap(),
            Some(QueueMessage::JoinRooms {
                namespace: "/chat".into(),
                rooms: vec!["a".into()],
                except: vec!["b".into()],
                join: vec!["c".into(), "d".into()],
            })
        );
        let body = br#"{"type":3,"opts":{"rooms":[],"except":[]},"rooms":["c"]}"#;
        assert!(matches!(
            decode_request("socket.io-request#/#", body).unwrap(),
            Some(QueueMessage::LeaveRooms { .. })
        ));
        let body = br#"{"type":4,"opts":{"rooms":["x"],"except":[]},"close":true}"#;
        assert_eq!(
            decode_request("socket.io-request#/#", body).unwrap(),
            Some(QueueMessage::DisconnectSockets {
                namespace: "/".into(),
                rooms: vec!["x".into()],
                except: vec![],
                close: true,
            })
        );
        // serverSideEmit and a node adapter's queries are not for sockio.
        let body = br#"{"uid":"emitter","type":6,"data":["x"]}"#;
        assert_eq!(decode_request("socket.io-request#/#", body).unwrap(), None);
        assert!(decode_request("socket.io-request#/#", b"\x93").is_err());
        assert!(decode_request("elsewhere", b"{}").is_err());
    }

    #[test]
    fn dates_become_iso_strings() {
        // 2021-01-01T00:00:00.000Z as timestamp 32.
        let t = 1_609_459_200u32.to_be_bytes().to_vec();
        assert_eq!(timestamp(&t).as_deref(), Some("2021-01-01T00:00:00.000Z"));
        // timestamp 64 with 5 ms.
        let x: u64 = (5_000_000u64 << 34) | 951_782_400;
        assert_eq!(
            timestamp(&x.to_be_bytes()).as_deref(),
            Some("2000-02-29T00:00:00.005Z")
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"").is_err());
        assert!(decode(b"\xc1").is_err());
        assert!(decode(&mp(Mp::from(3))).is_err());
        assert!(decode(&mp(Mp::Array(vec![s("emitter"), Mp::Nil]))).is_err());
        // Deep nesting stops at the limit.
        let mut deep = vec![0x91u8; 10_000];
        deep.push(0xc0);
        assert!(decode(&deep).is_err());
        // Not an event (a CONNECT packet).
        let body = mp(Mp::Array(vec![
            s("emitter"),
            Mp::Map(vec![(s("type"), Mp::from(0)), (s("nsp"), s("/"))]),
            Mp::Nil,
        ]));
        assert!(decode(&body).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode(&body);
        }
    }
}
