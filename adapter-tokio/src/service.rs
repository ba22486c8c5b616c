//! tower integration: mount the engine path into axum or any tower stack served by hyper.

use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

use crate::engine::{status, BoxError, Shared};
use crate::{BoxFuture, Handlers, ServerConfig};

/// The response body of [`SocketIoService`]: boxed, so that engine responses and the inner
/// service's responses share one type. axum accepts it.
pub type BoxBody = UnsyncBoxBody<Bytes, BoxError>;

/// A [`tower_layer::Layer`] that answers requests under the engine path (WebSocket upgrades
/// included) and passes every other request to the service it wraps.
///
/// ```no_run
/// # async fn run(handlers: sockio_tokio::Handlers) -> std::io::Result<()> {
/// use axum::routing::get;
/// use sockio_tokio::{ServerConfig, SocketIoLayer};
///
/// let app = axum::Router::new()
///     .route("/hello", get(|| async { "hi" }))
///     .layer(SocketIoLayer::new(ServerConfig::default(), handlers));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
///
/// WebSocket upgrades need the service to run under hyper with upgrades enabled (as with
/// `axum::serve`). The peer address of requests is known only when the host framework
/// passes it in the request extensions: axum's `ConnectInfo<SocketAddr>` (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` and enable this crate's `axum`
/// feature), or a plain [`std::net::SocketAddr`], which a middleware of any other framework
/// can insert.
#[derive(Clone)]
pub struct SocketIoLayer {
    shared: Arc<Shared>,
}

impl SocketIoLayer {
    /// A layer serving `handlers` under `config.path`.
    pub fn new(config: ServerConfig, handlers: Handlers) -> Self {
        let shared = Shared {
            config,
            handlers,
            fallback: None,
            shutdown: None,
            ws_stop: Default::default(),
            connections: None,
        };
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl fmt::Debug for SocketIoLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIoLayer")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<S> tower_layer::Layer<S> for SocketIoLayer {
    type Service = SocketIoService<S>;

    fn layer(&self, inner: S) -> SocketIoService<S> {
        SocketIoService {
            shared: self.shared.clone(),
            inner,
        }
    }
}

/// A [`tower_service::Service`] answering requests under the engine path and passing the
/// rest to `S`; made by [`SocketIoLayer`], or standalone by [`SocketIoService::new`].
#[derive(Clone)]
pub struct SocketIoService<S = NotFound> {
    shared: Arc<Shared>,
    inner: S,
}

impl SocketIoService<NotFound> {
    /// A service of its own, answering 404 off the engine path.
    pub fn new(config: ServerConfig, handlers: Handlers) -> Self {
        tower_layer::Layer::layer(&SocketIoLayer::new(config, handlers), NotFound)
    }
}

impl<S: fmt::Debug> fmt::Debug for SocketIoService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIoService")
            .field("config", &self.shared.config)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResBody> tower_service::Service<Request<B>> for SocketIoService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>> + Clone,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<BoxBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<BoxBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.shared.config.serves(req.uri().path()) {
            let shared = self.shared.clone();
            return Box::pin(async move {
                let resp = shared.handle(req, None, None).await;
                Ok(resp.map(|body| body.map_err(|never| match never {}).boxed_unsync()))
            });
        }
        // Call the clone that was polled ready; keep a fresh one for next time.
        let fresh = self.inner.clone();
        let fut = std::mem::replace(&mut self.inner, fresh).call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|body| body.map_err(Into::into).boxed_unsync()))
        })
    }
}

/// The inner service of a standalone [`SocketIoService`]: answers 404 to everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotFound;

impl<B> tower_service::Service<Request<B>> for NotFound {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Full<Bytes>>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<B>) -> Self::Future {
        ready(Ok(status(StatusCode::NOT_FOUND)))
    }
}
