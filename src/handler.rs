//! Handler traits: plain closures and async functions, with typed arguments.
//!
//! An event handler takes a [`Context`] and up to six arguments, each deserialized with serde
//! from the argument at its position; it returns anything [`HandlerOutput`]: `()`, a value, a
//! tuple (several ack arguments) or a `Result`. What it returns is the acknowledgement the client
//! asked for, if it asked. Sync closures run on the socket's task; async functions are awaited.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use sockio_protocol::{DisconnectReason, Payload};

use crate::args::{encode, from_arg, ArgsError, IntoArgs};
use crate::Context;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What went wrong in a handler: bad arguments, or an error the handler returned. Error
/// handlers receive it together with the [`Context`] (event name and arguments included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    kind: HandlerErrorKind,
    message: String,
}

/// The kind of a [`HandlerError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandlerErrorKind {
    /// The client's arguments did not deserialize into the handler's parameter types.
    BadArguments,
    /// The handler returned an error.
    Handler,
    /// The handler panicked.
    Panic,
}

impl HandlerError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        HandlerError {
            kind: HandlerErrorKind::Handler,
            message: message.into(),
        }
    }

    pub(crate) fn with_kind(kind: HandlerErrorKind, message: impl Into<String>) -> Self {
        HandlerError {
            kind,
            message: message.into(),
        }
    }

    /// The kind of error.
    pub fn kind(&self) -> HandlerErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(e: E) -> Self {
        HandlerError::new(e.to_string())
    }
}

fn bad_args(e: ArgsError) -> HandlerError {
    HandlerError::with_kind(HandlerErrorKind::BadArguments, e.0)
}

/// What a handler may return; becomes the acknowledgement arguments.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not something a handler can return",
    label = "a handler returns its acknowledgement: `()`, a value, a tuple, `Json(..)` or a `Result`",
    note = "return `()` for no acknowledgement, a value that implements `IntoArgs` (a struct goes \
            in `sockio::Json(..)`), a tuple for several arguments, or a `Result<T, E>` whose \
            `E: Into<HandlerError>`",
    note = "a function generic over what a handler returns must require `R: sockio::HandlerOutput`"
)]
pub trait HandlerOutput: Sized {
    /// The ack payload (`[args...]`), or the error.
    fn into_ack(self) -> Result<Payload, HandlerError>;

    /// The error only, when the client asked for no acknowledgement (nothing is encoded).
    fn into_outcome(self) -> Result<(), HandlerError> {
        self.into_ack().map(drop)
    }
}

impl<T: IntoArgs> HandlerOutput for T {
    fn into_ack(self) -> Result<Payload, HandlerError> {
        encode(None, self).map_err(bad_args)
    }

    fn into_outcome(self) -> Result<(), HandlerError> {
        Ok(())
    }
}

impl<T: IntoArgs, E: Into<HandlerError>> HandlerOutput for Result<T, E> {
    fn into_ack(self) -> Result<Payload, HandlerError> {
        self.map_err(Into::into)?.into_ack()
    }

    fn into_outcome(self) -> Result<(), HandlerError> {
        self.map(drop).map_err(Into::into)
    }
}

/// What a handler's output becomes: the encoded acknowledgement when the client asked for
/// one, otherwise only its error (the empty payload stands in, and is not sent).
fn outcome<R: HandlerOutput>(r: R, wants_ack: bool) -> Result<Payload, HandlerError> {
    if wants_ack {
        r.into_ack()
    } else {
        r.into_outcome()
            .map(|()| Payload::json(bytes::Bytes::from_static(b"[]")))
    }
}

/// The type-erased form every handler is stored as.
pub(crate) type Erased = Arc<dyn Fn(Context) -> Started + Send + Sync>;

/// What calling an erased event handler gives: its outcome when it had nothing to wait for
/// (a plain function: no future is allocated), or the rest of it to await.
#[doc(hidden)]
pub enum Started {
    /// It ran to the end.
    Done(Result<Payload, HandlerError>),
    /// It waits for something: the rest of it.
    Waits(BoxFuture<Result<Payload, HandlerError>>),
}

impl fmt::Debug for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Started::Done(r) => f.debug_tuple("Done").field(r).finish(),
            Started::Waits(_) => f.write_str("Waits(..)"),
        }
    }
}

/// Marker for handlers that are plain functions or closures.
#[derive(Debug)]
pub struct IsSync;
/// Marker for handlers that are async functions or closures returning futures.
#[derive(Debug)]
pub struct IsAsync;

/// An event handler. Implemented for `Fn(Context, A1, .., An) -> R` (n ≤ 6) where each `Ai`
/// deserializes and `R` is a [`HandlerOutput`], and for the same returning a future of `R`.
/// The marker `M` only tells the two shapes apart; it is inferred.
///
/// When a closure is refused, check each part in turn (the compiler cannot tell which one is
/// wrong): the first parameter is [`Context`] (by value); each further parameter implements
/// `serde::Deserialize` (`#[derive(Deserialize)]` on a struct); there are at most six; it
/// returns a [`HandlerOutput`] (a struct goes in [`Json`](crate::Json)), or a future of one
/// that is `Send`; and it is `Send + Sync + 'static` (`move` what it captures, share state in
/// an `Arc`). A function that wraps handlers and is generic over their return type must
/// bound it by `R: HandlerOutput` (and `Fut: Future<Output = R> + Send + 'static`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event handler",
    label = "not a handler: `Fn(Context, A1, ..) -> R` (or `-> impl Future<Output = R>`)",
    note = "the first parameter is `sockio::Context` (by value), then at most six arguments that \
            implement `serde::Deserialize` (a struct: `#[derive(Deserialize)]`)",
    note = "`R` is `()`, a value (a struct goes in `sockio::Json(..)`), a tuple, or a \
            `Result<T, E>` whose `E: Into<sockio::HandlerError>`; a wrapper generic over it must \
            require `R: sockio::HandlerOutput`",
    note = "the handler is `Send + Sync + 'static`, and so is an async handler's future: `move` \
            what it captures, share state through an `Arc`"
)]
pub trait Handler<M>: Send + Sync + 'static {
    /// Erases the handler's type.
    fn into_erased(self) -> Erased;
}

macro_rules! handler {
    ($($a:ident),*) => {
        impl<F, R, $($a,)*> Handler<(IsSync, $($a,)*)> for F
        where
            F: Fn(Context, $($a,)*) -> R + Send + Sync + 'static,
            R: HandlerOutput,
            $($a: DeserializeOwned + Send + 'static,)*
        {
            #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
            fn into_erased(self) -> Erased {
                Arc::new(move |ctx: Context| {
                    let run = || {
                        let mut i = 0;
                        $(let $a: $a = from_arg(ctx.args(), i, ctx.attachments()).map_err(bad_args)?; i += 1;)*
                        let wants_ack = ctx.wants_ack();
                        outcome((self)(ctx.clone(), $($a,)*), wants_ack)
                    };
                    Started::Done(run())
                })
            }
        }

        impl<F, Fut, R, $($a,)*> Handler<(IsAsync, $($a,)*)> for F
        where
            F: Fn(Context, $($a,)*) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: HandlerOutput,
            $($a: DeserializeOwned + Send + 'static,)*
        {
            #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
            #[allow(clippy::redundant_closure_call)] // the closure scopes the `?` of each argument
            fn into_erased(self) -> Erased {
                Arc::new(move |ctx: Context| {
                    let extracted = (|| {
                        let mut i = 0;
                        $(let $a: $a = from_arg(ctx.args(), i, ctx.attachments()).map_err(bad_args)?; i += 1;)*
                        Ok::<_, HandlerError>(($($a,)*))
                    })();
                    match extracted {
                        Ok(($($a,)*)) => {
                            let wants_ack = ctx.wants_ack();
                            let fut = (self)(ctx, $($a,)*);
                            Started::Waits(Box::pin(async move { outcome(fut.await, wants_ack) }))
                        }
                        Err(e) => Started::Done(Err(e)),
                    }
                })
            }
        }
    };
}

handler!();
handler!(A1);
handler!(A1, A2);
handler!(A1, A2, A3);
handler!(A1, A2, A3, A4);
handler!(A1, A2, A3, A4, A5);
handler!(A1, A2, A3, A4, A5, A6);

/// An event method of a class-style [`Namespace`](crate::Namespace), bound with
/// [`Events::on`](crate::Events::on): `Fn(&N, Context, A1, .., An) -> R` for a plain method
/// (`fn on_chat(&self, ctx: Context, text: String) -> usize`), or
/// `Fn(Arc<N>, Context, A1, .., An) -> impl Future<Output = R>` for an async one
/// (`async fn on_slow(self: Arc<Self>, ctx: Context, n: u64)`). Arguments and return values
/// work as for [`Handler`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event method of `{N}`",
    label = "not a method: `fn(&self, Context, A1, ..) -> R` or \
             `async fn(self: Arc<Self>, Context, A1, ..) -> R`",
    note = "arguments implement `serde::Deserialize` (at most six); `R` is `()`, a value (a \
            struct goes in `sockio::Json(..)`), a tuple, or a `Result<T, E>` whose \
            `E: Into<sockio::HandlerError>`"
)]
pub trait Method<N, M>: Send + Sync + 'static {
    /// Binds the method to its namespace object and erases its type.
    fn bind(self, namespace: Arc<N>) -> Erased;
}

macro_rules! method {
    ($($a:ident),*) => {
        impl<N, F, R, $($a,)*> Method<N, (IsSync, $($a,)*)> for F
        where
            N: Send + Sync + 'static,
            F: Fn(&N, Context, $($a,)*) -> R + Send + Sync + 'static,
            R: HandlerOutput,
            $($a: DeserializeOwned + Send + 'static,)*
        {
            #[allow(non_snake_case)]
            fn bind(self, namespace: Arc<N>) -> Erased {
                let f = move |ctx: Context, $($a: $a,)*| (self)(&namespace, ctx, $($a,)*);
                <_ as Handler<(IsSync, $($a,)*)>>::into_erased(f)
            }
        }

        impl<N, F, Fut, R, $($a,)*> Method<N, (IsAsync, $($a,)*)> for F
        where
            N: Send + Sync + 'static,
            F: Fn(Arc<N>, Context, $($a,)*) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: HandlerOutput,
            $($a: DeserializeOwned + Send + 'static,)*
        {
            #[allow(non_snake_case)]
            fn bind(self, namespace: Arc<N>) -> Erased {
                let f = move |ctx: Context, $($a: $a,)*| (self)(namespace.clone(), ctx, $($a,)*);
                <_ as Handler<(IsAsync, $($a,)*)>>::into_erased(f)
            }
        }
    };
}

method!();
method!(A1);
method!(A1, A2);
method!(A1, A2, A3);
method!(A1, A2, A3, A4);
method!(A1, A2, A3, A4, A5);
method!(A1, A2, A3, A4, A5, A6);

/// A refused namespace connection: the client receives CONNECT_ERROR with this message and
/// data (`socket.on("connect_error", err => err.message, err.data)`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// The message.
    pub message: String,
    /// Optional data for the client.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds data for the client.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

impl<T: Into<String>> From<T> for ConnectError {
    fn from(message: T) -> Self {
        ConnectError::new(message)
    }
}

impl From<crate::EmitError> for ConnectError {
    fn from(e: crate::EmitError) -> Self {
        ConnectError::new(e.to_string())
    }
}

impl From<ArgsError> for ConnectError {
    fn from(e: ArgsError) -> Self {
        ConnectError::new(e.to_string())
    }
}

/// What a connect handler may return: `()` or `true` to accept, `false` to refuse, or a
/// `Result` whose error is the refusal.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not something a connect handler can return",
    label = "return `()`, a `bool`, or `Result<(), E>` with `E: Into<ConnectError>`"
)]
pub trait ConnectOutput {
    /// Accept, or refuse with an error.
    fn into_decision(self) -> Result<(), ConnectError>;
}

impl ConnectOutput for () {
    fn into_decision(self) -> Result<(), ConnectError> {
        Ok(())
    }
}

impl ConnectOutput for bool {
    fn into_decision(self) -> Result<(), ConnectError> {
        if self {
            Ok(())
        } else {
            Err(ConnectError::new("Connection rejected by server"))
        }
    }
}

impl<E: Into<ConnectError>> ConnectOutput for Result<(), E> {
    fn into_decision(self) -> Result<(), ConnectError> {
        self.map_err(Into::into)
    }
}

/// The typed auth parameter of a connect handler, from the client's auth payload.
///
/// No payload, `null` and `{}` all mean "no auth": python-socketio sends `{}` when its
/// `connect()` got no `auth`, the JavaScript client sends nothing. So a payload that is absent
/// or empty reads as `null` when it does not deserialize as it is, which makes an `Option<T>`
/// parameter `None` (and a `T` whose fields all have defaults still gets them). A payload that
/// does not fit refuses the connection with `invalid auth payload: ...`.
fn auth_arg<A: DeserializeOwned>(auth: Option<Value>) -> Result<A, ConnectError> {
    let empty = match &auth {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(_) => false,
    };
    let e = match serde_json::from_value::<A>(auth.unwrap_or(Value::Null)) {
        Ok(a) => return Ok(a),
        Err(e) => e,
    };
    if empty {
        if let Ok(a) = serde_json::from_value::<A>(Value::Null) {
            return Ok(a);
        }
    }
    Err(ConnectError::new(format!("invalid auth payload: {e}")))
}

pub(crate) type ErasedConnect =
    Arc<dyn Fn(Context, Option<Value>) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;

/// A connect handler: `Fn(Context) -> R`, or `Fn(Context, Auth) -> R` where `Auth`
/// deserializes from the client's auth payload (`Option<T>` when it may be absent), sync or
/// async, `R` a [`ConnectOutput`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a connect handler",
    label = "not a connect handler: `Fn(Context) -> R` or `Fn(Context, Auth) -> R`",
    note = "`Auth` implements `serde::Deserialize` (`Option<T>` when the client may send none); \
            `R` is `()`, a `bool`, or `Result<(), E>` with `E: Into<sockio::ConnectError>`; \
            sync or async, `Send + Sync + 'static`"
)]
pub trait ConnectHandler<M>: Send + Sync + 'static {
    /// Erases the handler's type.
    fn into_erased(self) -> ErasedConnect;
}

impl<F, R> ConnectHandler<(IsSync,)> for F
where
    F: Fn(Context) -> R + Send + Sync + 'static,
    R: ConnectOutput,
{
    fn into_erased(self) -> ErasedConnect {
        Arc::new(move |ctx, _| Box::pin(std::future::ready((self)(ctx).into_decision())))
    }
}

impl<F, R, A> ConnectHandler<(IsSync, A)> for F
where
    F: Fn(Context, A) -> R + Send + Sync + 'static,
    R: ConnectOutput,
    A: DeserializeOwned,
{
    fn into_erased(self) -> ErasedConnect {
        Arc::new(move |ctx, auth| {
            let r = match auth_arg::<A>(auth) {
                Ok(a) => (self)(ctx, a).into_decision(),
                Err(e) => Err(e),
            };
            Box::pin(std::future::ready(r))
        })
    }
}

impl<F, Fut, R> ConnectHandler<(IsAsync,)> for F
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: ConnectOutput,
{
    fn into_erased(self) -> ErasedConnect {
        Arc::new(move |ctx, _| {
            let fut = (self)(ctx);
            Box::pin(async move { fut.await.into_decision() })
        })
    }
}

impl<F, Fut, R, A> ConnectHandler<(IsAsync, A)> for F
where
    F: Fn(Context, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: ConnectOutput,
    A: DeserializeOwned,
{
    fn into_erased(self) -> ErasedConnect {
        Arc::new(move |ctx, auth| match auth_arg::<A>(auth) {
            Ok(a) => {
                let fut = (self)(ctx, a);
                Box::pin(async move { fut.await.into_decision() })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        })
    }
}

pub(crate) type ErasedDisconnect =
    Arc<dyn Fn(Context, DisconnectReason) -> BoxFuture<()> + Send + Sync>;

/// A disconnect handler: `Fn(Context)` or `Fn(Context, DisconnectReason)`, sync or async.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a disconnect handler",
    label = "not a disconnect handler: `Fn(Context)` or `Fn(Context, DisconnectReason)`, \
             returning `()` (or a future of `()`)"
)]
pub trait DisconnectHandler<M>: Send + Sync + 'static {
    /// Erases the handler's type.
    fn into_erased(self) -> ErasedDisconnect;
}

impl<F: Fn(Context) + Send + Sync + 'static> DisconnectHandler<(IsSync,)> for F {
    fn into_erased(self) -> ErasedDisconnect {
        Arc::new(move |ctx, _| {
            (self)(ctx);
            Box::pin(std::future::ready(()))
        })
    }
}

impl<F: Fn(Context, DisconnectReason) + Send + Sync + 'static>
    DisconnectHandler<(IsSync, DisconnectReason)> for F
{
    fn into_erased(self) -> ErasedDisconnect {
        Arc::new(move |ctx, reason| {
            (self)(ctx, reason);
            Box::pin(std::future::ready(()))
        })
    }
}

impl<F, Fut> DisconnectHandler<(IsAsync,)> for F
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn into_erased(self) -> ErasedDisconnect {
        Arc::new(move |ctx, _| Box::pin((self)(ctx)))
    }
}

impl<F, Fut> DisconnectHandler<(IsAsync, DisconnectReason)> for F
where
    F: Fn(Context, DisconnectReason) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn into_erased(self) -> ErasedDisconnect {
        Arc::new(move |ctx, reason| Box::pin((self)(ctx, reason)))
    }
}

pub(crate) type ErasedError =
    Arc<dyn Fn(Context, HandlerError) -> BoxFuture<Result<Payload, HandlerError>> + Send + Sync>;

/// An error handler: `Fn(Context, HandlerError) -> R`, sync or async. The context carries the
/// failed event's name and arguments; what it returns becomes the acknowledgement.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an error handler",
    label = "not an error handler: `Fn(Context, HandlerError) -> R`, `R` what an event handler \
             may return"
)]
pub trait ErrorHandler<M>: Send + Sync + 'static {
    /// Erases the handler's type.
    fn into_erased(self) -> ErasedError;
}

impl<F, R> ErrorHandler<(IsSync,)> for F
where
    F: Fn(Context, HandlerError) -> R + Send + Sync + 'static,
    R: HandlerOutput,
{
    fn into_erased(self) -> ErasedError {
        Arc::new(move |ctx, e| Box::pin(std::future::ready((self)(ctx, e).into_ack())))
    }
}

impl<F, Fut, R> ErrorHandler<(IsAsync,)> for F
where
    F: Fn(Context, HandlerError) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: HandlerOutput,
{
    fn into_erased(self) -> ErasedError {
        Arc::new(move |ctx, e| {
            let fut = (self)(ctx, e);
            Box::pin(async move { fut.await.into_ack() })
        })
    }
}
