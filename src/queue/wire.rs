//! python-socketio's pub/sub messages (>= 5.14): JSON objects with a `method`.
//!
//! `emit`: `event`, `data` (the argument list), `binary`, `namespace`, `room` (string, list or
//! null), `skip_sid` (string, list or null), `callback` (`[sid, namespace, id]` or null),
//! `host_id`. With `binary: true`, `data` is `[arguments with placeholders, base64
//! attachments...]`. `callback`: `host_id` (the process that emitted), `sid`, `namespace`,
//! `id`, `args`. `disconnect`: `sid`, `namespace`; `enter_room` / `leave_room`: `sid`, `room`,
//! `namespace`; `close_room`: `room`, `namespace`.
//!
//! Readers also accept the Kombu manager's double encoding (a JSON string whose content is
//! the object). Pickled messages are recognised and refused, never unpickled.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sockio_protocol::socketio::binary::{check_placeholders, Attachments};
use sockio_protocol::Payload;

use super::{QueueError, QueueMessage, RemoteAck};

/// Why a message from the queue was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WireError {
    /// Python pickle: never unpickled.
    #[error("a pickled message (sockio reads JSON only; configure the sender's JSON serializer)")]
    Pickle,
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object with a `method`.
    #[error("not a message (no method)")]
    NoMethod,
    /// A method sockio does not know.
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// A field is missing or has the wrong type.
    #[error("bad {method} message: {reason}")]
    Bad {
        method: &'static str,
        reason: String,
    },
}

fn bad(method: &'static str, reason: impl Into<String>) -> WireError {
    WireError::Bad {
        method,
        reason: reason.into(),
    }
}

/// Encodes `message` as python-socketio does, from the process `host_id`.
pub(crate) fn encode(message: &QueueMessage, host_id: &str) -> Result<Vec<u8>, QueueError> {
    let v =
        match message {
            QueueMessage::Emit {
                namespace,
                rooms,
                except,
                skip,
                payload,
                volatile,
                callback,
            } => {
                let items: Vec<Value> = serde_json::from_slice(&payload.json)
                    .map_err(|e| QueueError::new(format!("unencodable emit: {e}")))?;
                let mut items = items.into_iter();
                let event = match items.next() {
                    Some(Value::String(e)) => e,
                    _ => return Err(QueueError::new("an emit without an event name")),
                };
                let args: Vec<Value> = items.collect();
                let binary = !payload.attachments.is_empty();
                let data = if binary {
                    let mut d = Vec::with_capacity(1 + payload.attachments.len());
                    d.push(Value::Array(args));
                    d.extend(
                        payload
                            .attachments
                            .iter()
                            .map(|a| Value::String(BASE64.encode(a))),
                    );
                    d
                } else {
                    args
                };
                let mut m = json!({
                    "method": "emit",
                    "event": event,
                    "data": data,
                    "binary": binary,
                    "namespace": namespace,
                    "room": one_or_many(rooms),
                    "skip_sid": one_or_many(skip),
                    "callback": callback.as_ref().map(|c| json!([c.sid, c.namespace, c.id])),
                    "host_id": host_id,
                });
                if !except.is_empty() {
                    m["except"] = json!(except);
                }
                if *volatile {
                    m["volatile"] = Value::Bool(true);
                }
                m
            }
            QueueMessage::EnterRoom {
                sid,
                namespace,
                room,
            } => json!({"method": "enter_room", "sid": sid, "room": room,
                    "namespace": namespace, "host_id": host_id}),
            QueueMessage::LeaveRoom {
                sid,
                namespace,
                room,
            } => json!({"method": "leave_room", "sid": sid, "room": room,
                    "namespace": namespace, "host_id": host_id}),
            QueueMessage::CloseRoom { namespace, room } => {
                json!({"method": "close_room", "room": room, "namespace": namespace,
                   "host_id": host_id})
            }
            QueueMessage::Disconnect { sid, namespace } => {
                json!({"method": "disconnect", "sid": sid, "namespace": namespace,
                   "host_id": host_id})
            }
            QueueMessage::JoinRooms { .. }
            | QueueMessage::LeaveRooms { .. }
            | QueueMessage::DisconnectSockets { .. } => return Err(QueueError::new(
                "python-socketio messages cannot carry room or disconnect requests by selection",
            )),
            QueueMessage::Callback {
                host_id: target,
                sid,
                namespace,
                id,
                args,
            } => {
                let values: Value = serde_json::from_slice(&args.json)
                    .map_err(|e| QueueError::new(format!("unencodable acknowledgement: {e}")))?;
                let binary = !args.attachments.is_empty();
                let args = if binary {
                    let mut d = vec![values];
                    d.extend(
                        args.attachments
                            .iter()
                            .map(|a| Value::String(BASE64.encode(a))),
                    );
                    Value::Array(d)
                } else {
                    values
                };
                let mut m = json!({"method": "callback", "host_id": target, "sid": sid,
                               "namespace": namespace, "id": id, "args": args});
                if binary {
                    m["binary"] = Value::Bool(true);
                }
                m
            }
        };
    serde_json::to_vec(&v).map_err(|e| QueueError::new(e.to_string()))
}

fn one_or_many(list: &[String]) -> Value {
    match list {
        [] => Value::Null,
        [one] => Value::String(one.clone()),
        many => json!(many),
    }
}

/// Whether a body is Python pickle (by its content type, or protocol 2+'s first byte).
pub(crate) fn is_pickle(body: &[u8], content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.contains("python-serialize") || c.contains("pickle"))
        || body.first() == Some(&0x80)
}

/// Decodes a message: its sender's `host_id` (for a callback, the process it is for) and the
/// operation.
pub(crate) fn decode(
    body: &[u8],
    content_type: Option<&str>,
) -> Result<(Option<String>, QueueMessage), WireError> {
    if is_pickle(body, content_type) {
        return Err(WireError::Pickle);
    }
    let mut v: Value =
        serde_json::from_slice(body).map_err(|e| WireError::NotJson(e.to_string()))?;
    // Kombu's JSON serializer wraps the JSON text python-socketio made in a JSON string.
    if let Value::String(inner) = &v {
        v = serde_json::from_str(inner).map_err(|e| WireError::NotJson(e.to_string()))?;
    }
    let Value::Object(m) = v else {
        return Err(WireError::NoMethod);
    };
    let method = match m.get("method") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(WireError::NoMethod),
    };
    let host_id = m.get("host_id").and_then(Value::as_str).map(str::to_string);
    let msg = match method.as_str() {
        "emit" => decode_emit(&m, host_id.as_deref())?,
        "callback" => {
            let target = host_id
                .clone()
                .ok_or_else(|| bad("callback", "no host_id"))?;
            let sid = string_field(&m, "sid", "callback")?;
            let id = m
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("callback", "no id"))?;
            let raw = m.get("args").cloned().unwrap_or(Value::Array(Vec::new()));
            let (values, attachments) = unpack_binary(raw, truthy(m.get("binary")), "callback")?;
            QueueMessage::Callback {
                host_id: target,
                sid,
                namespace: namespace(&m),
                id,
                args: Payload {
                    json: serde_json::to_vec(&Value::Array(values))
                        .map_err(|e| bad("callback", e.to_string()))?
                        .into(),
                    attachments,
                },
            }
        }
        "disconnect" => QueueMessage::Disconnect {
            sid: string_field(&m, "sid", "disconnect")?,
            namespace: namespace(&m),
        },
        "enter_room" => QueueMessage::EnterRoom {
            sid: string_field(&m, "sid", "enter_room")?,
            namespace: namespace(&m),
            room: room_field(&m, "enter_room")?,
        },
        "leave_room" => QueueMessage::LeaveRoom {
            sid: string_field(&m, "sid", "leave_room")?,
            namespace: namespace(&m),
            room: room_field(&m, "leave_room")?,
        },
        "close_room" => QueueMessage::CloseRoom {
            namespace: namespace(&m),
            room: room_field(&m, "close_room")?,
        },
        _ => return Err(WireError::UnknownMethod(method)),
    };
    Ok((host_id, msg))
}

fn decode_emit(m: &Map<String, Value>, host_id: Option<&str>) -> Result<QueueMessage, WireError> {
    let event = string_field(m, "event", "emit")?;
    let raw = m.get("data").cloned().unwrap_or(Value::Null);
    let (mut args, attachments) = unpack_binary(raw, truthy(m.get("binary")), "emit")?;
    // python-socketio publishes `emit('ev')` as `data: [null]` and its receivers send no
    // argument for it.
    if args.len() == 1 && args[0].is_null() {
        args.clear();
    }
    let mut items = Vec::with_capacity(args.len() + 1);
    items.push(Value::String(event));
    items.extend(args);
    let json = serde_json::to_vec(&Value::Array(items)).map_err(|e| bad("emit", e.to_string()))?;
    let namespace = namespace(m);
    let rooms = string_list(m.get("room")).map_err(|r| bad("emit", format!("room: {r}")))?;
    let callback = match m.get("callback") {
        None | Some(Value::Null) => None,
        Some(Value::Array(c)) if c.len() == 3 => {
            let host_id = host_id.ok_or_else(|| bad("emit", "a callback without host_id"))?;
            Some(RemoteAck {
                host_id: host_id.to_string(),
                sid: scalar_string(&c[0]).ok_or_else(|| bad("emit", "callback sid"))?,
                namespace: c[1].as_str().unwrap_or(&namespace).to_string(),
                id: c[2].as_u64().ok_or_else(|| bad("emit", "callback id"))?,
            })
        }
        Some(_) => return Err(bad("emit", "callback is not [sid, namespace, id]")),
    };
    Ok(QueueMessage::Emit {
        rooms,
        except: string_list(m.get("except")).map_err(|r| bad("emit", format!("except: {r}")))?,
        skip: string_list(m.get("skip_sid")).map_err(|r| bad("emit", format!("skip_sid: {r}")))?,
        payload: Payload {
            json: json.into(),
            attachments,
        },
        volatile: truthy(m.get("volatile")),
        callback,
        namespace,
    })
}

/// An argument list, unpacked from `[args, base64...]` when binary. A single non-list value
/// is one argument and null none, as python-socketio's manager reads them.
fn unpack_binary(
    raw: Value,
    binary: bool,
    method: &'static str,
) -> Result<(Vec<Value>, Attachments), WireError> {
    let as_args = |v: Value| match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    if !binary {
        return Ok((as_args(raw), Attachments::new()));
    }
    let Value::Array(mut parts) = raw else {
        return Err(bad(method, "binary data is not [data, attachments...]"));
    };
    if parts.is_empty() {
        return Err(bad(method, "binary data is empty"));
    }
    let rest = parts.split_off(1);
    let args = parts.pop().map(as_args).unwrap_or_default();
    let mut attachments = Attachments::new();
    for p in rest {
        let s = p
            .as_str()
            .ok_or_else(|| bad(method, "an attachment is not a base64 string"))?;
        let b = BASE64
            .decode(s)
            .map_err(|e| bad(method, format!("attachment: {e}")))?;
        attachments.push(b.into());
    }
    for a in &args {
        check_placeholders(a, attachments.len())
            .map_err(|_| bad(method, "a placeholder points past the attachments"))?;
    }
    Ok((args, attachments))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

fn namespace(m: &Map<String, Value>) -> String {
    match m.get("namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => ns.to_string(),
        _ => "/".to_string(),
    }
}

fn string_field(
    m: &Map<String, Value>,
    key: &str,
    method: &'static str,
) -> Result<String, WireError> {
    m.get(key)
        .and_then(scalar_string)
        .ok_or_else(|| bad(method, format!("no {key}")))
}

fn room_field(m: &Map<String, Value>, method: &'static str) -> Result<String, WireError> {
    string_field(m, "room", method)
}

/// A room or sid: python rooms may be any hashable; strings and numbers carry over.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `room` and `skip_sid`: a string, a list of them, or null.
fn string_list(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| scalar_string(x).ok_or_else(|| format!("{x} is not a string")))
            .collect(),
        Some(x) => scalar_string(x)
            .map(|s| vec![s])
            .ok_or_else(|| format!("{x} is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use smallvec::smallvec;

    use super::*;

    fn emit(rooms: &[&str], skip: &[&str], json: &str, att: Attachments) -> QueueMessage {
        QueueMessage::Emit {
            namespace: "/chat".into(),
            rooms: rooms.iter().map(|s| s.to_string()).collect(),
            except: Vec::new(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
            payload: Payload {
                json: Bytes::copy_from_slice(json.as_bytes()),
                attachments: att,
            },
            volatile: false,
            callback: None,
        }
    }

    fn as_value(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn emits_are_python_socketio_objects() {
        let m = emit(
            &["room1"],
            &[],
            r#"["news",1,{"a":"b"}]"#,
            Attachments::new(),
        );
        let v = as_value(&encode(&m, "h1").unwrap());
        assert_eq!(
            v,
            json!({"method": "emit", "event": "news", "data": [1, {"a": "b"}],
                   "binary": false, "namespace": "/chat", "room": "room1",
                   "skip_sid": null, "callback": null, "host_id": "h1"})
        );
        let (host, back) = decode(&encode(&m, "h1").unwrap(), None).unwrap();
        assert_eq!(host.as_deref(), Some("h1"));
        assert_eq!(back, m);
    }

    #[test]
    fn several_rooms_and_sids_are_lists_and_none_is_null() {
        let m = emit(&["a", "b"], &["s1", "s2"], r#"["e"]"#, Attachments::new());
        let v = as_value(&encode(&m, "h").unwrap());
        assert_eq!(v["room"], json!(["a", "b"]));
        assert_eq!(v["skip_sid"], json!(["s1", "s2"]));
        assert_eq!(v["data"], json!([]));
        assert_eq!(decode(&encode(&m, "h").unwrap(), None).unwrap().1, m);
        let all = emit(&[], &["s1"], r#"["e"]"#, Attachments::new());
        let v = as_value(&encode(&all, "h").unwrap());
        assert_eq!(v["room"], Value::Null);
        assert_eq!(v["skip_sid"], json!("s1"));
    }

    #[test]
    fn binary_is_base64_after_the_deconstructed_data() {
        let m = emit(
            &[],
            &[],
            r#"["file",{"_placeholder":true,"num":0},"x"]"#,
            smallvec![Bytes::from_static(b"\x00\x01\xff")],
        );
        let v = as_value(&encode(&m, "h").unwrap());
        assert_eq!(v["binary"], json!(true));
        assert_eq!(
            v["data"],
            json!([[{"_placeholder": true, "num": 0}, "x"], "AAH/"])
        );
        assert_eq!(decode(&encode(&m, "h").unwrap(), None).unwrap().1, m);
    }

    #[test]
    fn python_messages_decode() {
        // What python-socketio 5.14's RedisManager publishes for
        // emit('ev', {'n': 1}, room='r', skip_sid=['x', 'y']).
        let body = br#"{"method": "emit", "event": "ev", "data": [{"n": 1}], "binary": false,
            "namespace": "/", "room": "r", "skip_sid": ["x", "y"], "callback": null,
            "host_id": "abc"}"#;
        let (host, m) = decode(body, Some("application/json")).unwrap();
        assert_eq!(host.as_deref(), Some("abc"));
        let QueueMessage::Emit {
            namespace,
            rooms,
            skip,
            payload,
            ..
        } = m
        else {
            panic!("not an emit")
        };
        assert_eq!(namespace, "/");
        assert_eq!(rooms, ["r"]);
        assert_eq!(skip, ["x", "y"]);
        assert_eq!(as_value(&payload.json), json!(["ev", {"n": 1}]));
        // A binary emit.
        let body = br#"{"method": "emit", "event": "bin", "data": [[{"_placeholder": true,
            "num": 0}], "aGk="], "binary": true, "namespace": null, "room": null,
            "skip_sid": null, "callback": null, "host_id": "abc"}"#;
        let (_, m) = decode(body, None).unwrap();
        let QueueMessage::Emit {
            namespace, payload, ..
        } = m
        else {
            panic!("not an emit")
        };
        assert_eq!(namespace, "/");
        assert_eq!(&payload.attachments[0][..], b"hi");
    }

    #[test]
    fn a_python_emit_without_data_has_no_arguments() {
        let body = br#"{"method": "emit", "event": "ping", "data": [null], "binary": false,
            "namespace": "/", "room": null, "skip_sid": null, "callback": null, "host_id": "p"}"#;
        let (_, m) = decode(body, None).unwrap();
        let QueueMessage::Emit { payload, .. } = m else {
            panic!("not an emit")
        };
        assert_eq!(as_value(&payload.json), json!(["ping"]));
    }

    #[test]
    fn kombu_double_encoding_is_read() {
        let inner = r#"{"method": "close_room", "room": "r", "namespace": "/", "host_id": "k"}"#;
        let body = serde_json::to_vec(&Value::String(inner.into())).unwrap();
        let (host, m) = decode(&body, Some("application/json")).unwrap();
        assert_eq!(host.as_deref(), Some("k"));
        assert_eq!(
            m,
            QueueMessage::CloseRoom {
                namespace: "/".into(),
                room: "r".into()
            }
        );
    }

    #[test]
    fn pickle_is_refused() {
        let pickled = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.";
        assert_eq!(decode(pickled, None), Err(WireError::Pickle));
        assert_eq!(
            decode(b"{}", Some("application/x-python-serialize")),
            Err(WireError::Pickle)
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [
            &b""[..],
            b"null",
            b"[1,2]",
            b"{\"method\": 3}",
            b"{\"method\": \"fly\"}",
            b"{\"method\": \"emit\"}",
            b"{\"method\": \"emit\", \"event\": \"e\", \"binary\": true, \"data\": 5}",
            b"{\"method\": \"emit\", \"event\": \"e\", \"binary\": true, \"data\": [[], 5]}",
            b"{\"method\": \"emit\", \"event\": \"e\", \"binary\": true, \"data\": [[{\"_placeholder\": true, \"num\": 1}], \"aGk=\"]}",
            b"{\"method\": \"emit\", \"event\": \"e\", \"room\": {}}",
            b"{\"method\": \"emit\", \"event\": \"e\", \"callback\": 7}",
            b"{\"method\": \"callback\", \"sid\": \"s\", \"id\": 1}",
            b"{\"method\": \"enter_room\", \"sid\": \"s\"}",
            b"\"not json inside\"",
        ] {
            assert!(decode(body, None).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn the_other_methods_round_trip() {
        let msgs = [
            QueueMessage::EnterRoom {
                sid: "s".into(),
                namespace: "/".into(),
                room: "r".into(),
            },
            QueueMessage::LeaveRoom {
                sid: "s".into(),
                namespace: "/n".into(),
                room: "r".into(),
            },
            QueueMessage::Disconnect {
                sid: "s".into(),
                namespace: "/".into(),
            },
            QueueMessage::Callback {
                host_id: "origin".into(),
                sid: "s".into(),
                namespace: "/".into(),
                id: 7,
                args: Payload::json(&b"[1,\"two\"]"[..]),
            },
            QueueMessage::Callback {
                host_id: "origin".into(),
                sid: "s".into(),
                namespace: "/".into(),
                id: 8,
                args: Payload {
                    json: Bytes::from_static(br#"[{"_placeholder":true,"num":0}]"#),
                    attachments: smallvec![Bytes::from_static(b"ok")],
                },
            },
        ];
        for m in msgs {
            let (host, back) = decode(&encode(&m, "me").unwrap(), None).unwrap();
            assert_eq!(back, m);
            if let QueueMessage::Callback { host_id, .. } = &m {
                assert_eq!(host.as_deref(), Some(host_id.as_str()));
            } else {
                assert_eq!(host.as_deref(), Some("me"));
            }
        }
    }

    #[test]
    fn callbacks_carry_the_emitting_host() {
        let body = br#"{"method": "emit", "event": "q", "data": [1], "namespace": "/",
            "room": "sid1", "skip_sid": null, "callback": ["sid1", "/", 3], "host_id": "py"}"#;
        let (_, m) = decode(body, None).unwrap();
        let QueueMessage::Emit { callback, .. } = m else {
            panic!("not an emit")
        };
        assert_eq!(
            callback,
            Some(RemoteAck {
                host_id: "py".into(),
                sid: "sid1".into(),
                namespace: "/".into(),
                id: 3
            })
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn name() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9 _/#\\\"\u{e9}\u{1F600}-]{0,12}"
        }

        fn arg() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
                name().prop_map(Value::from),
                Just(Value::Null),
                prop::collection::vec(name(), 0..3).prop_map(|v| json!({"list": v})),
            ]
        }

        fn emit() -> impl Strategy<Value = QueueMessage> {
            (
                name(),
                name(),
                prop::collection::vec(name(), 0..3),
                prop::collection::vec(name(), 0..3),
                prop::collection::vec(name(), 0..3),
                prop::collection::vec(arg(), 0..4),
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..3),
                any::<bool>(),
                prop::option::of((name(), 0u64..1_000_000)),
            )
                .prop_map(
                    |(event, namespace, rooms, except, skip, mut args, att, volatile, cb)| {
                        // A lone null argument reads as none, as python-socketio reads it.
                        if args.len() == 1 && args[0].is_null() && att.is_empty() {
                            args.clear();
                        }
                        // Each attachment is referenced from the arguments.
                        for i in 0..att.len() {
                            args.push(json!({"_placeholder": true, "num": i}));
                        }
                        let mut items = vec![Value::String(event)];
                        items.extend(args);
                        let namespace = if namespace.is_empty() {
                            "/".to_string()
                        } else {
                            namespace
                        };
                        QueueMessage::Emit {
                            callback: cb.map(|(sid, id)| RemoteAck {
                                host_id: "me".into(),
                                sid,
                                namespace: namespace.clone(),
                                id,
                            }),
                            namespace,
                            rooms,
                            except,
                            skip,
                            payload: Payload {
                                json: serde_json::to_vec(&items).unwrap().into(),
                                attachments: att.into_iter().map(Bytes::from).collect(),
                            },
                            volatile,
                        }
                    },
                )
        }

        proptest! {
            #[test]
            fn emits_round_trip(m in emit()) {
                let (host, back) = decode(&encode(&m, "me").unwrap(), None).unwrap();
                prop_assert_eq!(host.as_deref(), Some("me"));
                prop_assert_eq!(back, m);
            }

            #[test]
            fn kombu_wrapping_changes_nothing(m in emit()) {
                let body = encode(&m, "me").unwrap();
                let wrapped = serde_json::to_vec(
                    &Value::String(String::from_utf8(body.clone()).unwrap())
                ).unwrap();
                prop_assert_eq!(decode(&wrapped, None), decode(&body, None));
            }

            #[test]
            fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
                let _ = decode(&body, None);
            }
        }
    }
}
