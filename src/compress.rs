//! HTTP compression of long-polling responses (Flask-SocketIO's `http_compression` and
//! `compression_threshold`): gzip or deflate, as the client's `Accept-Encoding` allows.

use std::io::Write as _;

use sockio_protocol::{HttpRequest, HttpResponse, Method};

use crate::handler::BoxFuture;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Gzip,
    Deflate,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }
}

/// How to compress the answer to one request.
#[derive(Debug)]
pub(crate) struct Compress {
    encoding: Encoding,
    threshold: usize,
}

impl Compress {
    /// For a request, with the server's `http_compression` and `compression_threshold`.
    pub(crate) fn for_options(
        options: &crate::engine::EngineOptions,
        request: &HttpRequest,
    ) -> Option<Compress> {
        if !options.http_compression {
            return None;
        }
        Compress::for_request(request, options.compression_threshold)
    }

    /// For a polling GET whose client accepts gzip or deflate (the first it lists, not
    /// refused with `q=0`); `None` otherwise.
    pub(crate) fn for_request(request: &HttpRequest, threshold: usize) -> Option<Compress> {
        if request.method != Method::Get {
            return None;
        }
        let accepted = request.header("accept-encoding")?;
        let encoding = accepted.split(',').find_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?;
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match name {
                _ if refused => None,
                n if n.eq_ignore_ascii_case("gzip") => Some(Encoding::Gzip),
                n if n.eq_ignore_ascii_case("deflate") => Some(Encoding::Deflate),
                _ => None,
            }
        })?;
        Some(Compress {
            encoding,
            threshold,
        })
    }

    /// The response, compressed when it is a success of at least the threshold's size.
    pub(crate) fn wrap(self, response: BoxFuture<HttpResponse>) -> BoxFuture<HttpResponse> {
        Box::pin(async move { self.apply(response.await) })
    }

    fn apply(self, mut r: HttpResponse) -> HttpResponse {
        let encoded = r
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-encoding"));
        if r.status != 200 || r.body.len() < self.threshold || encoded {
            return r;
        }
        let level = flate2::Compression::default();
        let body = match self.encoding {
            Encoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
                e.write_all(&r.body).and_then(|()| e.finish())
            }
            Encoding::Deflate => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
                e.write_all(&r.body).and_then(|()| e.finish())
            }
        };
        // Writing to a Vec does not fail; if it did, the body goes out as it was.
        if let Ok(body) = body {
            r.body = body.into();
            r.headers
                .push(("Content-Encoding", self.encoding.name().to_string()));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(accept: &str) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            headers: vec![("accept-encoding".into(), accept.into())],
            ..Default::default()
        }
    }

    #[test]
    fn picks_what_the_client_accepts() {
        let pick = |a| Compress::for_request(&request(a), 0).map(|c| c.encoding);
        assert_eq!(pick("gzip, deflate, br"), Some(Encoding::Gzip));
        assert_eq!(pick("br, deflate"), Some(Encoding::Deflate));
        assert_eq!(pick("gzip;q=0, deflate"), Some(Encoding::Deflate));
        assert_eq!(pick("br"), None);
    }
}
