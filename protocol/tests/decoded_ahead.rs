//! Input decoded ahead (`Input::WebSocketDecoded`, `Input::HttpRequestDecoded`, as a driver
//! sharing a server between threads feeds it) gives exactly the outputs of the same input
//! undecoded.

use std::time::Instant;

use bytes::Bytes;
use proptest::prelude::*;
use sockio_protocol::fuzzing::TestEntropy;
use sockio_protocol::http::{Frame, HttpRequest, Method};
use sockio_protocol::{
    Config, Decoded, DecodedBody, Event, Input, Output, Server, Transmit, TransportHandle,
};

/// Everything a server put out, as text, accepting every namespace connection.
fn drain(server: &mut Server, log: &mut Vec<String>) {
    loop {
        match server.poll_output() {
            Output::Timeout(_) => return,
            Output::Event(Event::Connect { socket, .. }) => {
                log.push(format!("connect {socket:?}"));
                server.socket(socket).unwrap().accept();
            }
            Output::Transmit(Transmit::Http {
                transport,
                response,
            }) => log.push(format!(
                "http {transport:?} {} {:?}",
                response.status, response.body
            )),
            other => log.push(format!("{other:?}")),
        }
    }
}

/// Runs one WebSocket session and one polling session through `messages`, decoded ahead or
/// not, and returns the transcript.
fn run(messages: &[String], ahead: bool) -> Vec<String> {
    let config = Config::default().max_payload(4096).max_attachments(2);
    let limits = config.decode_limits();
    let now = Instant::now();
    let mut server = Server::new(config, Box::new(TestEntropy(7)), now);
    let mut log = Vec::new();
    let ws = TransportHandle(1);
    let open = |query: &str| HttpRequest {
        query: query.into(),
        ..Default::default()
    };
    server.handle_input(Input::WebSocketOpen {
        now,
        transport: ws,
        request: open("EIO=4&transport=websocket"),
    });
    drain(&mut server, &mut log);
    server.handle_input(Input::HttpRequest {
        now,
        transport: TransportHandle(2),
        request: open("EIO=4&transport=polling"),
    });
    let mut polling_sid = String::new();
    loop {
        match server.poll_output() {
            Output::Timeout(_) => break,
            Output::Transmit(Transmit::Http { response, .. }) => {
                let v: serde_json::Value = serde_json::from_slice(&response.body[1..]).unwrap();
                polling_sid = v["sid"].as_str().unwrap().to_string();
            }
            _ => {}
        }
    }
    for (i, m) in messages.iter().enumerate() {
        let frame = Frame::Text(Bytes::from(m.clone()));
        let input = if ahead {
            Input::WebSocketDecoded {
                now,
                transport: ws,
                message: Decoded::new(&limits, frame),
            }
        } else {
            Input::WebSocketMessage {
                now,
                transport: ws,
                frame,
            }
        };
        server.handle_input(input);
        drain(&mut server, &mut log);
        let request = HttpRequest {
            method: Method::Post,
            query: format!("EIO=4&transport=polling&sid={polling_sid}"),
            body: Bytes::from(m.clone()),
            ..Default::default()
        };
        let transport = TransportHandle(100 + i as u64);
        let input = if ahead {
            let body = DecodedBody::new(&limits, request.body.clone());
            Input::HttpRequestDecoded {
                now,
                transport,
                request,
                body,
            }
        } else {
            Input::HttpRequest {
                now,
                transport,
                request,
            }
        };
        server.handle_input(input);
        drain(&mut server, &mut log);
    }
    log
}

fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("40".to_string()),
        Just("40/chat,".to_string()),
        Just("42[\"ev\",1,\"a\\ud800\"]".to_string()),
        Just("421[\"ack me\"]".to_string()),
        Just("451-[\"bin\",{\"_placeholder\":true,\"num\":0}]".to_string()),
        Just("3".to_string()),
        Just("2probe".to_string()),
        Just("1".to_string()),
        "4[0-6][\\[\\]{}\",:a-z0-9/]{0,16}",
        "[0-9][a-z0-9]{0,6}",
        "4\\x1e42\\[\"a\"\\]",
    ]
}

proptest! {
    #[test]
    fn decoding_ahead_changes_nothing(messages in proptest::collection::vec(message(), 1..12)) {
        prop_assert_eq!(run(&messages, true), run(&messages, false));
    }
}

#[test]
fn a_known_sequence_is_the_same_both_ways() {
    let messages: Vec<String> = ["40", "42[\"ev\",1]", "421[\"x\"]", "bad", "3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let ahead = run(&messages, true);
    assert_eq!(ahead, run(&messages, false));
    assert!(ahead.iter().any(|l| l.contains("Message")), "{ahead:?}");
}
