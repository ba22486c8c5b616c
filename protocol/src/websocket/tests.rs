//! The decoder and encoders against hand-built frames (RFC 6455 section 5).

use bytes::Bytes;

use super::*;

/// A client frame: `opcode`, FIN as given, masked with `mask`.
pub(crate) fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn events(d: &mut WsDecoder, input: &[u8]) -> Result<Vec<WsEvent>, WsError> {
    let mut out = Vec::new();
    d.receive(input, |e| out.push(e))?;
    Ok(out)
}

fn text(s: &str) -> WsEvent {
    WsEvent::Message(Frame::Text(Bytes::copy_from_slice(s.as_bytes())))
}

#[test]
fn accept_key_of_the_rfc_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn messages_whole_and_byte_by_byte() {
    let mut input = client_frame(true, 1, b"hello", [1, 2, 3, 4]);
    input.extend(client_frame(true, 2, &[0u8; 300], [9, 8, 7, 6]));
    input.extend(client_frame(true, 1, &vec![b'x'; 70_000], [5, 5, 5, 5]));
    let mut d = WsDecoder::new(WsLimits::default());
    let whole = events(&mut d, &input).unwrap();
    assert_eq!(whole.len(), 3);
    assert_eq!(whole[0], text("hello"));
    assert!(d.is_idle());
    let mut d = WsDecoder::new(WsLimits::default());
    let mut split = Vec::new();
    for b in &input {
        split.extend(events(&mut d, std::slice::from_ref(b)).unwrap());
    }
    assert_eq!(split, whole);
    assert!(d.is_idle(), "nothing kept between frames");
}

#[test]
fn fragments_join_with_control_frames_between() {
    let mut input = client_frame(false, 1, "héllo ".as_bytes(), [1, 2, 3, 4]);
    input.extend(client_frame(true, 9, b"ping!", [4, 3, 2, 1]));
    // The é of "wörld" cut between two fragments.
    let w = "wörld".as_bytes();
    input.extend(client_frame(false, 0, &w[..2], [0, 0, 0, 1]));
    input.extend(client_frame(true, 0, &w[2..], [1, 1, 1, 1]));
    let mut d = WsDecoder::new(WsLimits::default());
    let ev = events(&mut d, &input).unwrap();
    assert_eq!(
        ev,
        vec![
            WsEvent::Ping(Bytes::from_static(b"ping!")),
            text("héllo wörld")
        ]
    );
    let mut out = Vec::new();
    assert!(!d.take_control(&mut out));
    assert_eq!(out, [0x8A, 5, b'p', b'i', b'n', b'g', b'!']);
}

#[test]
fn a_newer_ping_replaces_an_unanswered_pong() {
    let mut d = WsDecoder::new(WsLimits::default());
    for i in 0..1000u16 {
        events(
            &mut d,
            &client_frame(true, 9, &i.to_be_bytes(), [1, 2, 3, 4]),
        )
        .unwrap();
    }
    let mut out = Vec::new();
    d.take_control(&mut out);
    assert_eq!(out, [0x8A, 2, 0x03, 0xE7], "one pong, for the last ping");
    assert!(d.is_idle());
}

#[test]
fn close_is_answered_with_its_code_and_ends_reading() {
    let mut d = WsDecoder::new(WsLimits::default());
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    let mut input = client_frame(true, 8, &payload, [1, 2, 3, 4]);
    input.extend(client_frame(true, 1, b"after", [1, 2, 3, 4]));
    let ev = events(&mut d, &input).unwrap();
    assert_eq!(
        ev,
        vec![WsEvent::Close(Some(CloseFrame {
            code: 1000,
            reason: Bytes::from_static(b"bye")
        }))]
    );
    let mut out = Vec::new();
    assert!(d.take_control(&mut out));
    assert_eq!(out, [0x88, 2, 0x03, 0xE8]);
    assert!(d.close_received());
}

#[test]
fn protocol_errors() {
    let err = |input: &[u8]| {
        WsDecoder::new(WsLimits {
            max_frame: 100,
            max_message: 150,
        })
        .receive(input, |_| {})
        .unwrap_err()
    };
    let mut unmasked = client_frame(true, 1, b"x", [0; 4]);
    unmasked[1] &= 0x7F;
    unmasked.drain(2..6);
    assert_eq!(err(&unmasked).close_code(), 1002);
    assert_eq!(err(&[0xC1, 0x80]).close_code(), 1002, "RSV1");
    assert_eq!(err(&[0x83, 0x80]).close_code(), 1002, "reserved opcode");
    assert_eq!(err(&client_frame(false, 9, b"", [0; 4])).close_code(), 1002);
    assert_eq!(
        err(&client_frame(true, 9, &[0; 126], [0; 4])).close_code(),
        1002
    );
    assert_eq!(err(&client_frame(true, 0, b"x", [0; 4])).close_code(), 1002);
    let mut two = client_frame(false, 1, b"a", [0; 4]);
    two.extend(client_frame(true, 1, b"b", [0; 4]));
    assert_eq!(err(&two).close_code(), 1002, "a message inside a message");
    assert_eq!(
        err(&client_frame(true, 1, &[0xFF], [0; 4])).close_code(),
        1007
    );
    assert_eq!(
        err(&client_frame(true, 8, &[0x03], [0; 4])).close_code(),
        1002
    );
    assert_eq!(
        err(&client_frame(true, 8, &[0x03, 0xEC], [0; 4])).close_code(),
        1002
    );
    // Too large, from the header alone.
    assert_eq!(
        err(&[0x82, 0xFF, 0, 0, 0, 0, 0, 0, 1, 0]).close_code(),
        1009
    );
    let mut big = client_frame(false, 2, &[0; 100], [0; 4]);
    big.extend(client_frame(true, 0, &[0; 51], [0; 4]));
    assert_eq!(
        err(&big).close_code(),
        1009,
        "over max_message in fragments"
    );
}

#[test]
fn encoders() {
    let mut out = Vec::new();
    encode_message(&mut out, &Frame::Text(Bytes::from_static(b"hi")));
    assert_eq!(out, [0x81, 2, b'h', b'i']);
    out.clear();
    encode_frame(&mut out, OpCode::Binary, &[7; 300]);
    assert_eq!(&out[..4], [0x82, 126, 1, 44]);
    out.clear();
    encode_close(&mut out, Some(1001), &"é".repeat(100));
    assert_eq!(out[1] as usize, out.len() - 2);
    assert!(out.len() - 2 <= 125);
}
