//! Converting between Rust values and Socket.IO argument lists.
//!
//! Outgoing: anything implementing [`IntoArgs`] becomes the argument list of an emit or an
//! acknowledgement. `()` is no argument, a tuple is several arguments (as in Flask-SocketIO),
//! and a single value is one argument. Structs go through [`Json`].
//!
//! Incoming: each handler parameter after the [`Context`](crate::Context) is deserialized from
//! the argument at its position with serde; a missing argument deserializes from `null`, so
//! `Option<T>` parameters accept it.
//!
//! Binary data travels as [`Binary`], anywhere in a value: on the wire it becomes an attachment
//! with a placeholder, as the Socket.IO protocol wants.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sockio_protocol::socketio::binary::{is_placeholder, Attachments};
use sockio_protocol::Payload;

thread_local! {
    /// Attachments collected while serializing, or offered while deserializing.
    static ATTACHMENTS: RefCell<Option<Attachments>> = const { RefCell::new(None) };
}

/// Binary data as an argument or inside a value. Serializes to an attachment placeholder while
/// an emit is being encoded, and deserializes from one while a handler's arguments are read.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Binary(pub Bytes);

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Binary({} bytes)", self.0.len())
    }
}

impl From<Bytes> for Binary {
    fn from(b: Bytes) -> Self {
        Binary(b)
    }
}

impl From<Vec<u8>> for Binary {
    fn from(b: Vec<u8>) -> Self {
        Binary(Bytes::from(b))
    }
}

impl From<&'static [u8]> for Binary {
    fn from(b: &'static [u8]) -> Self {
        Binary(Bytes::from_static(b))
    }
}

impl std::ops::Deref for Binary {
    type Target = Bytes;

    fn deref(&self) -> &Bytes {
        &self.0
    }
}

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let num = ATTACHMENTS.with(|a| {
            a.borrow_mut().as_mut().map(|list| {
                list.push(self.0.clone());
                list.len() - 1
            })
        });
        match num {
            Some(num) => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("_placeholder", &true)?;
                m.serialize_entry("num", &num)?;
                m.end()
            }
            // Outside an emit (for instance into a plain serde_json::Value): a byte array.
            None => s.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if let Some(num) = is_placeholder(&v) {
            let found = ATTACHMENTS.with(|a| a.borrow().as_ref().and_then(|l| l.get(num).cloned()));
            return found
                .map(Binary)
                .ok_or_else(|| serde::de::Error::custom("no such attachment"));
        }
        match v {
            Value::Array(items) => items
                .into_iter()
                .map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect::<Option<Vec<u8>>>()
                .map(|v| Binary(Bytes::from(v)))
                .ok_or_else(|| serde::de::Error::custom("expected binary data")),
            Value::String(s) => Ok(Binary(Bytes::from(s.into_bytes()))),
            _ => Err(serde::de::Error::custom("expected binary data")),
        }
    }
}

/// Wraps any serializable value as one argument: `ctx.emit("ev", Json(my_struct))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> Serialize for Json<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Json<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Json)
    }
}

/// Writes the JSON array of an emit or ack, collecting binary attachments.
#[derive(Debug)]
pub struct ArgsWriter {
    json: Vec<u8>,
    count: usize,
}

/// Most bytes of the buffer a thread keeps for its next [`ArgsWriter`].
const SCRATCH_KEEP: usize = 16 * 1024;

std::thread_local! {
    /// The buffer emits of this thread encode into: the payload is then copied into an
    /// allocation of its exact size, which `Bytes` takes over without another one.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl ArgsWriter {
    fn new(event: Option<&str>) -> Self {
        // An emit from inside an argument's `Serialize` finds the buffer taken: it gets a new one.
        let mut json = SCRATCH.try_with(std::cell::Cell::take).unwrap_or_default();
        json.clear();
        json.reserve(64);
        json.push(b'[');
        let mut count = 0;
        if let Some(e) = event {
            let plain = e
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
            if plain {
                json.push(b'"');
                json.extend_from_slice(e.as_bytes());
                json.push(b'"');
            } else {
                // A string always serializes.
                serde_json::to_writer(&mut json, e).expect("string serializes");
            }
            count = 1;
        }
        ArgsWriter { json, count }
    }

    /// Closes the array and gives its text; the buffer stays with the thread.
    fn finish(mut self) -> Bytes {
        self.json.push(b']');
        if self.json.capacity() > SCRATCH_KEEP {
            return Bytes::from(self.json);
        }
        let text = Bytes::copy_from_slice(&self.json);
        let _ = SCRATCH.try_with(|s| s.set(self.json));
        text
    }

    /// Appends `count` arguments given as the JSON text of consecutive elements of one
    /// array, from the first one's start to the last one's end (the commas between them
    /// included). The text must be valid, and its placeholders, if any, must point at
    /// attachments of this packet.
    pub(crate) fn raw_args(&mut self, joined: &str, count: usize) {
        if count == 0 {
            return;
        }
        if self.count > 0 {
            self.json.push(b',');
        }
        self.json.extend_from_slice(joined.as_bytes());
        self.count += count;
    }

    /// Makes `attachments` this packet's attachments, numbered as they are, when it has none
    /// yet (or when `attachments` is empty); false otherwise.
    pub(crate) fn take_attachments_as_they_are(&mut self, attachments: &Attachments) -> bool {
        if attachments.is_empty() {
            return true;
        }
        ATTACHMENTS.with(|a| match a.borrow_mut().as_mut() {
            Some(list) if list.is_empty() => {
                list.extend(attachments.iter().cloned());
                true
            }
            _ => false,
        })
    }

    /// Appends one argument.
    pub fn arg<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ArgsError> {
        if self.count > 0 {
            self.json.push(b',');
        }
        serde_json::to_writer(&mut self.json, value).map_err(|e| ArgsError(e.to_string()))?;
        self.count += 1;
        Ok(())
    }
}

/// An argument list could not be serialized or deserialized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad arguments: {0}")]
pub struct ArgsError(pub String);

/// Encodes `["event", args...]` (or `[args...]` without an event) with attachments.
pub(crate) fn encode(event: Option<&str>, args: impl IntoArgs) -> Result<Payload, ArgsError> {
    ATTACHMENTS.with(|a| *a.borrow_mut() = Some(Attachments::new()));
    let mut w = ArgsWriter::new(event);
    let r = args.write_args(&mut w);
    let attachments = ATTACHMENTS
        .with(|a| a.borrow_mut().take())
        .unwrap_or_default();
    r?;
    Ok(Payload {
        json: w.finish(),
        attachments,
    })
}

/// Runs `f` with `attachments` available to [`Binary`]'s deserializer.
pub(crate) fn with_attachments<R>(attachments: &Attachments, f: impl FnOnce() -> R) -> R {
    let prev = ATTACHMENTS.with(|a| a.borrow_mut().replace(attachments.clone()));
    let r = f();
    ATTACHMENTS.with(|a| *a.borrow_mut() = prev);
    r
}

/// Deserializes one handler argument (a missing one reads as `null`).
pub fn from_arg<T: DeserializeOwned>(
    args: &[Value],
    index: usize,
    attachments: &Attachments,
) -> Result<T, ArgsError> {
    let v = args.get(index).unwrap_or(&Value::Null);
    with_attachments(attachments, || T::deserialize(v)).map_err(|e| ArgsError(e.to_string()))
}

/// Values that make an argument list: `()` none, tuples several, single values one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as event arguments",
    label = "not sendable as arguments: a struct goes in `Json(..)`",
    note = "a struct or enum that implements `serde::Serialize` goes in `sockio::Json(value)`; \
            `()` sends no argument, a tuple several, a string, number, bool, `Value`, `Vec`, \
            `Option`, map or `Binary` one",
    note = "a handler's return value is sent the same way (its acknowledgement): return \
            `Json(value)`, or a `Result<Json<T>, E>`"
)]
pub trait IntoArgs {
    /// Writes the arguments.
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError>;
}

impl IntoArgs for () {
    fn write_args(self, _: &mut ArgsWriter) -> Result<(), ArgsError> {
        Ok(())
    }
}

impl<T: Serialize> IntoArgs for Json<T> {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        w.arg(&self.0)
    }
}

/// Already-decoded arguments, passed on as they are (each element one argument).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawArgs(pub Vec<Value>);

impl IntoArgs for RawArgs {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        self.0.iter().try_for_each(|v| w.arg(v))
    }
}

macro_rules! single {
    ($($t:ty),*) => {$(
        impl IntoArgs for $t {
            fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
                w.arg(&self)
            }
        }
    )*};
}

single!(
    Value, String, &str, bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64,
    Binary, char
);

impl IntoArgs for &Value {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        w.arg(self)
    }
}

impl IntoArgs for &String {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        w.arg(self)
    }
}

impl IntoArgs for Bytes {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        w.arg(&Binary(self))
    }
}

impl<T: Serialize> IntoArgs for Vec<T> {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        w.arg(&self)
    }
}

impl<T: Serialize> IntoArgs for Option<T> {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        w.arg(&self)
    }
}

impl<K: Serialize + Eq + std::hash::Hash, V: Serialize> IntoArgs for HashMap<K, V> {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        w.arg(&self)
    }
}

impl<K: Serialize + Ord, V: Serialize> IntoArgs for BTreeMap<K, V> {
    fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
        w.arg(&self)
    }
}

macro_rules! tuple {
    ($($n:ident),+) => {
        impl<$($n: Serialize),+> IntoArgs for ($($n,)+) {
            #[allow(non_snake_case)]
            fn write_args(self, w: &mut ArgsWriter) -> Result<(), ArgsError> {
                let ($($n,)+) = self;
                $(w.arg(&$n)?;)+
                Ok(())
            }
        }
    };
}

tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);

/// Turns received arguments with placeholders back into plain JSON, binary data becoming arrays
/// of byte values (for the test client and for logging).
pub fn resolve_placeholders(v: &Value, attachments: &Attachments) -> Value {
    if let Some(num) = is_placeholder(v) {
        if let Some(b) = attachments.get(num) {
            return Value::Array(b.iter().map(|x| Value::from(*x)).collect());
        }
    }
    match v {
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| resolve_placeholders(x, attachments))
                .collect(),
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), resolve_placeholders(x, attachments)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use smallvec::smallvec;

    use super::*;

    fn text(p: &Payload) -> &str {
        std::str::from_utf8(&p.json).unwrap()
    }

    #[test]
    fn tuples_are_several_arguments_and_values_one() {
        assert_eq!(text(&encode(Some("e"), ()).unwrap()), "[\"e\"]");
        assert_eq!(text(&encode(Some("e"), "hi").unwrap()), "[\"e\",\"hi\"]");
        assert_eq!(
            text(&encode(Some("e"), ("a", 1, true)).unwrap()),
            "[\"e\",\"a\",1,true]"
        );
        assert_eq!(
            text(&encode(Some("e"), vec![1, 2]).unwrap()),
            "[\"e\",[1,2]]"
        );
        assert_eq!(
            text(&encode(None, (json!({"k": 1}),)).unwrap()),
            "[{\"k\":1}]"
        );
        #[derive(Serialize)]
        struct S {
            x: u8,
        }
        assert_eq!(
            text(&encode(Some("e"), Json(S { x: 3 })).unwrap()),
            "[\"e\",{\"x\":3}]"
        );
    }

    #[test]
    fn event_names_are_escaped_unless_plain() {
        assert_eq!(text(&encode(Some("a b~"), ()).unwrap()), r#"["a b~"]"#);
        assert_eq!(text(&encode(Some("q\"s\\"), ()).unwrap()), r#"["q\"s\\"]"#);
        assert_eq!(text(&encode(Some("é\n"), ()).unwrap()), r#"["é\n"]"#);
        assert_eq!(text(&encode(Some("\u{7f}"), ()).unwrap()), "[\"\u{7f}\"]");
    }

    #[test]
    fn received_arguments_are_passed_on_as_they_came() {
        use crate::Args;
        use sockio_protocol::socketio::RawJson;
        use sockio_protocol::Str;
        // As the core hands an event over: indexed, the name first.
        let event = |text: &'static str| {
            let json = RawJson::parse_array(Str::from_static(text)).unwrap();
            Args::from_raw(json, 1, Attachments::new())
        };
        let args = event(r#"[ "ev" , 1 ,{"a" : "\ud800"}, [2] ]"#);
        assert_eq!(args.leading_str().as_deref(), Some("ev"));
        assert_eq!(
            text(&encode(Some("back"), args.clone()).unwrap()),
            r#"["back",1 ,{"a" : "\ud800"}, [2]]"#
        );
        assert_eq!(
            text(&encode(None, args).unwrap()),
            r#"[1 ,{"a" : "\ud800"}, [2]]"#
        );
        assert_eq!(
            text(&encode(Some("e"), event(r#"["ev"]"#)).unwrap()),
            r#"["e"]"#
        );
        // A plain name is a slice of what was received; an escaped one is decoded.
        let plain = event(r#"["echo",1]"#);
        let name = plain.leading_str().unwrap();
        assert_eq!(&*name, "echo");
        let escaped = event(r#"["\u0065cho\"",1]"#);
        assert_eq!(escaped.leading_str().as_deref(), Some("echo\""));
    }

    #[test]
    fn a_clone_keeps_what_was_worked_out() {
        use crate::Args;
        use sockio_protocol::socketio::RawJson;
        use sockio_protocol::Str;
        let json = RawJson::parse_array(Str::from_static(r#"["ev",{"k":1},2]"#)).unwrap();
        let args = Args::from_raw(json, 1, Attachments::new());
        let fresh = args.clone();
        assert_eq!(args.values(), [json!({"k": 1}), json!(2)]);
        let worked = args.clone();
        assert_eq!(fresh.values(), args.values());
        assert_eq!(worked.values(), args.values());
        assert_eq!(worked.len(), 2);
        assert_eq!(worked.raw_json(1), Some("2"));
    }

    #[test]
    fn binary_becomes_attachments_anywhere() {
        #[derive(Serialize)]
        struct File {
            name: &'static str,
            data: Binary,
        }
        let p = encode(
            Some("up"),
            (
                Binary::from(&b"ab"[..]),
                Json(File {
                    name: "f",
                    data: Binary::from(&b"cd"[..]),
                }),
            ),
        )
        .unwrap();
        assert_eq!(
            text(&p),
            "[\"up\",{\"_placeholder\":true,\"num\":0},{\"name\":\"f\",\"data\":{\"_placeholder\":true,\"num\":1}}]"
        );
        assert_eq!(p.attachments.len(), 2);
        assert_eq!(&p.attachments[1][..], b"cd");
    }

    #[test]
    fn arguments_deserialize_with_attachments() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct File {
            data: Binary,
        }
        let args = vec![
            json!("x"),
            json!({"data": {"_placeholder": true, "num": 0}}),
        ];
        let att: Attachments = smallvec![Bytes::from_static(b"zz")];
        assert_eq!(from_arg::<String>(&args, 0, &att).unwrap(), "x");
        assert_eq!(
            from_arg::<File>(&args, 1, &att).unwrap().data,
            Binary(Bytes::from_static(b"zz"))
        );
        assert_eq!(from_arg::<Option<u8>>(&args, 5, &att).unwrap(), None);
        assert!(from_arg::<u8>(&args, 0, &att).is_err());
        assert_eq!(
            resolve_placeholders(&args[1], &att),
            json!({"data": [122, 122]})
        );
    }
}
