//! Hostile JSON from a peer: payloads that are not JSON, or not of their packet's shape, are
//! parse errors that close that session only; deep nesting is valid JSON that the core checks
//! without building a tree (no recursion, no stack to exhaust) and hands on as it came.

mod common;

use common::{Client, Harness};
use sockio_protocol::{Config, DisconnectReason, Event};

fn closed_for_parse_error(h: &Harness) -> bool {
    h.events.iter().any(|e| {
        matches!(
            e,
            Event::SessionClosed {
                reason: DisconnectReason::ParseError,
                ..
            }
        )
    })
}

#[test]
fn deeply_nested_json_is_checked_without_a_tree_and_others_carry_on() {
    let mut h = Harness::new(Config::default());
    let mut bystander = Client::websocket(&mut h);
    bystander.connect(&mut h, "/", None);
    let mut c = Client::websocket(&mut h);
    c.connect(&mut h, "/", None);
    h.take_events();

    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let deep = format!("42[\"x\",{nested}]");
    c.send_text(&mut h, &[&deep]);
    assert!(!closed_for_parse_error(&h), "{:?}", h.events);
    let got = h.take_events().into_iter().find_map(|e| match e {
        Event::Message { data, .. } => Some(data),
        _ => None,
    });
    assert_eq!(
        got.map(|d| d.as_str().len()),
        Some(deep.len() - 2),
        "handed on as it came"
    );

    // Unbalanced, it is not JSON.
    c.send_text(&mut h, &[&format!("42[\"x\",{}]", "[".repeat(depth))]);
    assert!(closed_for_parse_error(&h), "{:?}", h.events);

    h.take_events();
    bystander.send_text(&mut h, &["42[\"still\",\"here\"]"]);
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::Message { .. })));
}

#[test]
fn event_payloads_that_are_not_arrays_are_rejected() {
    for bad in [
        "42{\"a\":1}",
        "42\"text\"",
        "42[]",
        "42[1,2]",
        "42[\"x\"",
        "4212[\"x\"]trailing",
    ] {
        let mut h = Harness::new(Config::default());
        let mut c = Client::websocket(&mut h);
        c.connect(&mut h, "/", None);
        h.take_events();
        c.send_text(&mut h, &[bad]);
        assert!(closed_for_parse_error(&h), "{bad}: {:?}", h.events);
    }
}
