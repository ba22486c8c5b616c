//! Handshake validation: the open packet, error codes 0-5, CORS, cookies.

mod common;

use bytes::Bytes;
use common::{Client, Harness};
use sockio_protocol::http::Method;
use sockio_protocol::{Config, Cookie, Cors, HttpRequest, Input, TransportHandle};

fn error_of(h: &mut Harness, t: TransportHandle) -> (u16, serde_json::Value) {
    let r = h.http.remove(&t).unwrap();
    (r.status, serde_json::from_slice(&r.body).unwrap())
}

#[test]
fn open_packet_has_the_configured_values() {
    let mut h = Harness::new(Config::default());
    let t = h.request(Method::Get, "EIO=4&transport=polling&t=abc", Bytes::new());
    let r = h.http.remove(&t).unwrap();
    assert_eq!(r.status, 200);
    let body = std::str::from_utf8(&r.body).unwrap();
    assert!(body.starts_with("0{"), "{body}");
    let v: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
    assert_eq!(v["sid"].as_str().unwrap().len(), 20);
    assert_eq!(v["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(v["pingInterval"], 25000);
    assert_eq!(v["pingTimeout"], 20000);
    assert_eq!(v["maxPayload"], 1000000);
}

#[test]
fn error_codes() {
    let mut h = Harness::new(Config::default());
    let t = h.request(Method::Get, "EIO=4&transport=carrier-pigeon", Bytes::new());
    assert_eq!(
        error_of(&mut h, t),
        (
            400,
            serde_json::json!({"code": 0, "message": "Transport unknown"})
        )
    );
    let t = h.request(
        Method::Get,
        "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA",
        Bytes::new(),
    );
    assert_eq!(error_of(&mut h, t).1["code"], 1);
    let t = h.request(Method::Post, "EIO=4&transport=polling", Bytes::new());
    assert_eq!(error_of(&mut h, t).1["code"], 2);
    let t = h.request(Method::Get, "EIO=4&transport=websocket", Bytes::new());
    assert_eq!(error_of(&mut h, t).1["code"], 3);
    let t = h.request(Method::Get, "EIO=3&transport=polling", Bytes::new());
    assert_eq!(error_of(&mut h, t).1["code"], 5);
    let t = h.request(Method::Get, "transport=polling", Bytes::new());
    assert_eq!(error_of(&mut h, t).1["code"], 5);
}

#[test]
fn transports_can_be_disabled() {
    let mut h = Harness::new(Config::default().polling(false));
    let t = h.request(Method::Get, "EIO=4&transport=polling", Bytes::new());
    assert_eq!(error_of(&mut h, t).1["code"], 0);
    let c = Client::websocket(&mut h);
    assert_eq!(c.sid.len(), 20);

    let mut h = Harness::new(Config::default().websocket(false));
    let t = h.request(Method::Get, "EIO=4&transport=polling", Bytes::new());
    let body = h.http.remove(&t).unwrap().body;
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .contains("\"upgrades\":[]"));
}

fn with_origin(h: &mut Harness, method: Method, origin: &str, host: &str) -> TransportHandle {
    let t = h.handle();
    let request = HttpRequest {
        method,
        query: "EIO=4&transport=polling".into(),
        headers: vec![
            ("origin".into(), origin.into()),
            ("host".into(), host.into()),
        ],
        ..Default::default()
    };
    h.input(Input::HttpRequest {
        now: h.now,
        transport: t,
        request,
    });
    t
}

#[test]
fn cors_same_origin_by_default() {
    let mut h = Harness::new(Config::default());
    let t = with_origin(
        &mut h,
        Method::Get,
        "http://localhost:5000",
        "localhost:5000",
    );
    let r = h.http.remove(&t).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.headers.contains(&(
        "Access-Control-Allow-Origin",
        "http://localhost:5000".into()
    )));
    let t = with_origin(&mut h, Method::Get, "http://evil.example", "localhost:5000");
    assert_eq!(
        error_of(&mut h, t),
        (403, serde_json::json!({"code": 4, "message": "Forbidden"}))
    );
}

#[test]
fn cors_lists_and_preflight() {
    let cors = Cors::List(vec!["https://app.example".into()]);
    let mut h = Harness::new(Config::default().cors(cors));
    let t = with_origin(
        &mut h,
        Method::Options,
        "https://app.example",
        "api.example",
    );
    let r = h.http.remove(&t).unwrap();
    assert_eq!(r.status, 204);
    assert!(r
        .headers
        .iter()
        .any(|(k, _)| *k == "Access-Control-Allow-Methods"));
    let t = with_origin(&mut h, Method::Get, "https://other.example", "api.example");
    assert_eq!(h.http.remove(&t).unwrap().status, 403);

    let mut h = Harness::new(Config::default().cors(Cors::Any));
    let t = with_origin(
        &mut h,
        Method::Get,
        "https://anything.example",
        "api.example",
    );
    assert_eq!(h.http.remove(&t).unwrap().status, 200);
}

#[test]
fn cookie_is_http_only_and_same_site() {
    let mut h = Harness::new(Config::default().cookie(Some(Cookie::default())));
    let t = h.request(Method::Get, "EIO=4&transport=polling", Bytes::new());
    let r = h.http.remove(&t).unwrap();
    let cookie = r.headers.iter().find(|(k, _)| *k == "Set-Cookie").unwrap();
    assert!(cookie.1.starts_with("io="));
    assert!(cookie.1.contains("HttpOnly"));
    assert!(cookie.1.contains("SameSite=Lax"));
}

#[test]
fn websocket_upgrades_are_checked_before_they_are_accepted() {
    let mut h = Harness::new(Config::default());
    let c = Client::polling(&mut h);
    let ws = |query: &str| HttpRequest {
        query: query.to_string(),
        ..Default::default()
    };
    let status = |h: &Harness, q: &str| h.server.websocket_refusal(&ws(q)).map(|r| r.status);
    assert_eq!(status(&h, "EIO=4&transport=websocket"), None);
    assert_eq!(
        status(&h, &format!("EIO=4&transport=websocket&sid={}", c.sid)),
        None
    );
    assert_eq!(status(&h, "EIO=3&transport=websocket"), Some(400));
    assert_eq!(status(&h, "EIO=4&transport=polling"), Some(400));
    assert_eq!(
        status(&h, "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA"),
        Some(400)
    );
    let foreign = HttpRequest {
        query: "EIO=4&transport=websocket".into(),
        headers: vec![
            ("origin".into(), "https://evil.example".into()),
            ("host".into(), "app.example".into()),
        ],
        ..Default::default()
    };
    assert_eq!(
        h.server.websocket_refusal(&foreign).map(|r| r.status),
        Some(403)
    );
    h.drain();
}
