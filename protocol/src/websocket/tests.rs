//! The decoder and encoders against hand-built frames: one test per rule of RFC 6455 that the
//! server side must enforce or honour (section 5 framing, section 7 closing, section 8 UTF-8),
//! then the limits. Every input goes through [`run`], which decodes it whole, split in two at
//! every byte boundary, and byte by byte, and checks that all give the same events, the same
//! error and the same control frames, with the decoder never holding more than its limits
//! allow (STYLE rule 21e).

use bytes::Bytes;

use super::*;
use crate::fuzzing::{ws_buffer_bound, ws_decode, WsOutcome};

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

// ---- Helpers ------------------------------------------------------------------------------------

/// The masking key of the examples in RFC 6455 section 5.7.
const MASK: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// Limits small enough that the tests reach them with short inputs.
const SMALL: WsLimits = WsLimits {
    max_frame: 300,
    max_message: 400,
};

/// A client frame masked with [`MASK`].
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    client_frame(fin, opcode, payload, MASK)
}

/// A client frame with its first byte and length field as given (any RSV bits, any opcode,
/// any length encoding), masked with [`MASK`].
fn raw_frame(b0: u8, len_field: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0, 0x80 | len_field[0]];
    out.extend_from_slice(&len_field[1..]);
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

fn concat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

/// The split points [`run`] tries: every one for inputs up to 2 KiB; for longer ones the first
/// and last 300, and 200 spread between.
fn split_points(len: usize) -> Vec<usize> {
    if len <= 2048 {
        return (0..=len).collect();
    }
    let mut at: Vec<usize> = (0..300).chain(len - 300..=len).collect();
    at.extend((1..200).map(|i| i * len / 200));
    at
}

/// Decodes `input` whole, split in two at every byte boundary, and byte by byte: all must give
/// the same outcome (and hold no more than the limits allow, which [`ws_decode`] checks).
fn run(limits: WsLimits, input: &[u8]) -> WsOutcome {
    let whole = ws_decode(limits, [input]);
    for at in split_points(input.len()) {
        let split = ws_decode(limits, [&input[..at], &input[at..]]);
        assert_eq!(split, whole, "split at {at} of {}", input.len());
    }
    assert_eq!(ws_decode(limits, input.chunks(1)), whole, "byte by byte");
    whole
}

/// The events of an input that must decode without error.
#[track_caller]
fn accepted(limits: WsLimits, input: &[u8]) -> Vec<WsEvent> {
    let out = run(limits, input);
    assert_eq!(out.end, Ok(()), "events before: {:?}", out.events);
    out.events
}

/// The error an input must fail with.
#[track_caller]
fn rejected(limits: WsLimits, input: &[u8]) -> WsError {
    run(limits, input).end.expect_err("must fail")
}

/// The error an input must fail with, and that it fails as soon as its first `prefix` bytes
/// arrived: from a frame's header, before its payload is buffered.
#[track_caller]
fn rejected_after(limits: WsLimits, input: &[u8], prefix: usize) -> WsError {
    let e = rejected(limits, input);
    let mut d = WsDecoder::new(limits);
    assert_eq!(
        d.receive(&input[..prefix], |_| {}),
        Err(e),
        "fails at byte {prefix}"
    );
    assert_eq!(d.buffered(), 0);
    e
}

fn binary(b: &[u8]) -> WsEvent {
    WsEvent::Message(Frame::Binary(Bytes::copy_from_slice(b)))
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

fn protocol_error(e: WsError) -> bool {
    matches!(e, WsError::Protocol(_))
}

// ---- Section 5: base framing --------------------------------------------------------------------

/// RFC 6455 5.2: FIN set means the frame is the final fragment, so a single final frame is a
/// whole message; FIN clear means more fragments follow, so nothing comes out yet.
#[test]
fn fin_set_makes_a_whole_message_and_fin_clear_waits_for_more() {
    assert_eq!(accepted(SMALL, &frame(true, 1, b"hello")), [text("hello")]);
    assert_eq!(
        accepted(SMALL, &frame(true, 2, b"\x00\xFF")),
        [binary(b"\x00\xFF")]
    );
    assert_eq!(accepted(SMALL, &frame(false, 1, b"hel")), []);
    assert_eq!(accepted(SMALL, &frame(false, 2, b"hel")), []);
}

/// RFC 6455 5.2: RSV1, RSV2 and RSV3 MUST be 0 unless an extension defines them; none is
/// negotiated, so any of them set fails the connection (1002), on every kind of frame, from the
/// first two bytes.
#[test]
fn rsv_bits_set_without_an_extension_fail() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        for op in [0x1, 0x2, 0x8, 0x9, 0xA] {
            let input = raw_frame(0x80 | rsv | op, &[0], b"");
            let e = rejected_after(SMALL, &input, 2);
            assert!(protocol_error(e), "rsv {rsv:#x} op {op:#x}: {e:?}");
        }
        // On a continuation too.
        let input = concat(&[frame(false, 1, b"a"), raw_frame(0x80 | rsv, &[1], b"b")]);
        assert!(protocol_error(rejected(SMALL, &input)));
    }
}

/// RFC 6455 5.2: opcodes 0x3-0x7 are reserved for further non-control frames; receiving one
/// fails the connection (1002), alone or inside a fragmented message.
#[test]
fn reserved_non_control_opcodes_fail() {
    for op in 0x3..=0x7 {
        for fin in [0x80, 0] {
            let e = rejected_after(SMALL, &raw_frame(fin | op, &[1], b"x"), 2);
            assert!(protocol_error(e), "opcode {op:#x}");
        }
        let input = concat(&[frame(false, 2, b"a"), raw_frame(0x80 | op, &[0], b"")]);
        assert!(protocol_error(rejected(SMALL, &input)));
    }
}

/// RFC 6455 5.2: opcodes 0xB-0xF are reserved for further control frames; receiving one fails
/// the connection (1002).
#[test]
fn reserved_control_opcodes_fail() {
    for op in 0xB..=0xF {
        let e = rejected_after(SMALL, &raw_frame(0x80 | op, &[0], b""), 2);
        assert!(protocol_error(e), "opcode {op:#x}");
        let input = concat(&[frame(false, 1, b"a"), raw_frame(0x80 | op, &[0], b"")]);
        assert!(protocol_error(rejected(SMALL, &input)));
    }
}

/// RFC 6455 5.1 and 5.3: a client MUST mask every frame it sends; a server MUST close the
/// connection on an unmasked frame (1002). It fails from the second byte, whatever the frame.
#[test]
fn unmasked_client_frames_fail() {
    for (b0, len) in [
        (0x81, 0u8),
        (0x82, 5),
        (0x01, 3),
        (0x89, 0),
        (0x8A, 1),
        (0x88, 2),
        (0x82, 126),
        (0x82, 127),
    ] {
        let mut input = vec![b0, len];
        input.extend(std::iter::repeat_n(0, 16));
        let e = rejected_after(SMALL, &input, 2);
        assert!(protocol_error(e), "{b0:#x} {len}: {e:?}");
    }
    let input = concat(&[frame(false, 1, b"a"), vec![0x80, 1, b'b']]);
    assert!(
        protocol_error(rejected(SMALL, &input)),
        "an unmasked continuation"
    );
}

/// RFC 6455 5.3: octet i of the payload is octet i XOR octet (i mod 4) of the masking key;
/// the key is per frame (each fragment unmasks from its own octet 0). The RFC's example
/// ("Hello" masked with 37 fa 21 3d), then every length up to 64 (around the decoder's 8-byte
/// steps) with several keys, one message in fragments of 1 to 9 bytes each with its own key.
#[test]
fn masking_xors_octet_i_with_key_octet_i_mod_4() {
    let rfc = [
        0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58,
    ];
    assert_eq!(accepted(SMALL, &rfc), [text("Hello")]);

    let payload: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
    for mask in [[0; 4], [0xFF; 4], MASK, [1, 2, 3, 4], [0x80, 0, 0, 0x01]] {
        for n in 0..=payload.len() {
            let input = client_frame(true, 2, &payload[..n], mask);
            assert_eq!(
                accepted(SMALL, &input),
                [binary(&payload[..n])],
                "{mask:?} {n}"
            );
        }
    }
    let mut input = Vec::new();
    let mut at = 0;
    for (i, n) in (1..=9).enumerate() {
        let (op, fin) = (if i == 0 { 2 } else { 0 }, n == 9);
        let mask = [i as u8, 0x11 * i as u8, !(i as u8), 0x5A];
        input.extend(client_frame(fin, op, &payload[at..at + n], mask));
        at += n;
    }
    assert_eq!(accepted(SMALL, &input), [binary(&payload[..at])]);
}

/// RFC 6455 5.2: a payload length of 0-125 is given in 7 bits.
#[test]
fn seven_bit_payload_lengths() {
    for n in [0, 1, 124, 125] {
        let input = frame(true, 2, &vec![0x42; n]);
        assert_eq!(input[1] & 0x7F, n as u8);
        assert_eq!(accepted(SMALL, &input), [binary(&vec![0x42; n])]);
    }
}

/// RFC 6455 5.2: 126 in the 7 bits means the next 2 bytes (network order) are the length.
#[test]
fn sixteen_bit_payload_lengths() {
    let big = WsLimits::default();
    for n in [126, 127, 300, 0xFFFF] {
        let input = frame(true, 2, &vec![7; n]);
        assert_eq!(input[1] & 0x7F, 126);
        assert_eq!(accepted(big, &input), [binary(&vec![7; n])], "{n}");
    }
}

/// RFC 6455 5.2: 127 means the next 8 bytes are the length.
#[test]
fn sixty_four_bit_payload_lengths() {
    let big = WsLimits::default();
    for n in [0x1_0000, 70_000] {
        let input = frame(true, 1, &vec![b'x'; n]);
        assert_eq!(input[1] & 0x7F, 127);
        assert_eq!(accepted(big, &input), [text(&"x".repeat(n))], "{n}");
    }
}

/// RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length". The MUST
/// binds the sender; on receipt a longer encoding is read for the length it gives, as
/// tungstenite, ws (node) and websockets (python) do (wsproto fails the connection instead).
/// Limits and the control-frame rule apply to the length given, however it is encoded.
#[test]
fn non_minimal_length_encodings_are_read_for_their_value() {
    for n in [0usize, 5, 125] {
        let sixteen = raw_frame(0x82, &[126, 0, n as u8], &vec![3; n]);
        assert_eq!(accepted(SMALL, &sixteen), [binary(&vec![3; n])]);
        let mut len = vec![127];
        len.extend_from_slice(&(n as u64).to_be_bytes());
        assert_eq!(
            accepted(SMALL, &raw_frame(0x82, &len, &vec![3; n])),
            [binary(&vec![3; n])]
        );
        // A ping of up to 125 bytes is a valid ping however its length is written.
        let ping = raw_frame(0x89, &len, &vec![9; n]);
        let out = run(SMALL, &ping);
        assert_eq!(out.events, [WsEvent::Ping(Bytes::from(vec![9; n]))]);
    }
    let mut len = vec![127];
    len.extend_from_slice(&300u64.to_be_bytes());
    assert_eq!(
        accepted(SMALL, &raw_frame(0x81, &len, &[b'a'; 300])),
        [text(&"a".repeat(300))]
    );
    let mut len = vec![127];
    len.extend_from_slice(&301u64.to_be_bytes());
    assert_eq!(
        rejected_after(SMALL, &raw_frame(0x81, &len, &[b'a'; 301]), 10),
        WsError::TooLarge
    );
}

/// RFC 6455 5.2: in the 64-bit form "the most significant bit MUST be 0"; a length with it set
/// fails the connection (1002), even under limits that would take any size, from the header.
#[test]
fn a_64_bit_length_with_its_top_bit_set_fails() {
    let unlimited = WsLimits {
        max_frame: usize::MAX,
        max_message: usize::MAX,
    };
    for len in [1u64 << 63, u64::MAX, (1 << 63) | 5] {
        let mut field = vec![127];
        field.extend_from_slice(&len.to_be_bytes());
        for limits in [unlimited, SMALL] {
            let input = raw_frame(0x82, &field, b"hello");
            assert!(
                protocol_error(rejected_after(limits, &input, 10)),
                "{len:#x}"
            );
        }
    }
}

/// RFC 6455 5.4: a fragmented message is a first frame with FIN clear and its opcode, then
/// zero or more continuations with FIN clear, then one with FIN set; the message is its
/// fragments' payloads joined in order. Fragments may be empty.
#[test]
fn fragments_join_into_one_message() {
    let input = concat(&[frame(false, 1, b"Hel"), frame(true, 0, b"lo")]);
    assert_eq!(accepted(SMALL, &input), [text("Hello")]);
    let input = concat(&[
        frame(false, 2, b""),
        frame(false, 0, b"\x01"),
        frame(false, 0, b""),
        frame(false, 0, b"\x02\x03"),
        frame(true, 0, b""),
    ]);
    assert_eq!(accepted(SMALL, &input), [binary(b"\x01\x02\x03")]);
    let input = concat(&[frame(false, 1, b""), frame(true, 0, b"")]);
    assert_eq!(accepted(SMALL, &input), [text("")]);
    // Two fragmented messages back to back, then a whole one.
    let input = concat(&[
        frame(false, 2, b"a"),
        frame(true, 0, b"b"),
        frame(false, 1, b"c"),
        frame(true, 0, b"d"),
        frame(true, 1, b"e"),
    ]);
    assert_eq!(
        accepted(SMALL, &input),
        [binary(b"ab"), text("cd"), text("e")]
    );
}

/// RFC 6455 5.4: a continuation frame continues a message; with no message started (at the
/// start, or after a message ended) it fails the connection (1002), from its header.
#[test]
fn a_continuation_with_no_message_to_continue_fails() {
    for fin in [true, false] {
        let e = rejected_after(SMALL, &frame(fin, 0, b"abc"), 6);
        assert!(protocol_error(e));
        let input = concat(&[frame(true, 1, b"x"), frame(fin, 0, b"abc")]);
        assert!(protocol_error(rejected(SMALL, &input)));
        let input = concat(&[
            frame(false, 1, b"x"),
            frame(true, 0, b"y"),
            frame(fin, 0, b"z"),
        ]);
        assert!(protocol_error(rejected(SMALL, &input)));
    }
}

/// RFC 6455 5.4: the fragments of one message are not interleaved with another message: a
/// text or binary frame before the final continuation fails the connection (1002), from its
/// header.
#[test]
fn a_data_frame_inside_a_fragmented_message_fails() {
    for (first, second) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
        for fin in [true, false] {
            let head = frame(false, first, b"a");
            let input = concat(&[head.clone(), frame(fin, second, b"bcd")]);
            let e = rejected_after(SMALL, &input, head.len() + 6);
            assert!(protocol_error(e));
        }
    }
}

/// RFC 6455 5.4 and 5.5: control frames MAY be injected between the fragments of a message;
/// they are handled at once (the ping's pong is queued before the message ends) and the
/// message goes on.
#[test]
fn control_frames_may_come_between_fragments() {
    let input = concat(&[
        frame(false, 1, b"a"),
        frame(true, 9, b"p1"),
        frame(false, 0, b"b"),
        frame(true, 10, b"q"),
        frame(true, 9, b"p2"),
        frame(true, 0, b"c"),
    ]);
    let out = run(SMALL, &input);
    assert_eq!(
        out.events,
        [
            WsEvent::Ping(Bytes::from_static(b"p1")),
            WsEvent::Pong(Bytes::from_static(b"q")),
            WsEvent::Ping(Bytes::from_static(b"p2")),
            text("abc"),
        ]
    );
    assert_eq!(out.control, [0x8A, 2, b'p', b'2']);

    // The pong is ready while the message is still arriving.
    let mut d = WsDecoder::new(SMALL);
    let partial = concat(&[frame(false, 1, b"a"), frame(true, 9, b"p")]);
    d.receive(&partial, |_| {}).unwrap();
    assert!(d.has_control());
    let mut out = Vec::new();
    assert!(!d.take_control(&mut out));
    assert_eq!(out, [0x8A, 1, b'p']);
}

/// RFC 6455 5.5: a control frame's payload is at most 125 bytes; a longer one (in any length
/// encoding) fails the connection (1002) from its header. 125 bytes are fine.
#[test]
fn control_frames_carry_at_most_125_bytes() {
    let big = WsLimits::default();
    for op in [8, 9, 10] {
        let payload = if op == 8 {
            close_payload(1000, &[b'r'; 123])
        } else {
            vec![b'r'; 125]
        };
        assert_eq!(run(big, &frame(true, op, &payload)).end, Ok(()), "op {op}");
        for n in [126usize, 127, 0xFFFF, 0x1_0000] {
            let input = frame(true, op, &vec![0; n]);
            let header = if n < 0x1_0000 { 8 } else { 14 };
            let e = rejected_after(big, &input, header);
            assert!(protocol_error(e), "op {op}, {n} bytes");
        }
    }
}

/// RFC 6455 5.5: control frames MUST NOT be fragmented: a ping, pong or close with FIN clear
/// fails the connection (1002), from its header, also between a message's fragments.
#[test]
fn fragmented_control_frames_fail() {
    for op in [8, 9, 10] {
        assert!(protocol_error(rejected_after(
            SMALL,
            &frame(false, op, b""),
            6
        )));
        assert!(protocol_error(rejected_after(
            SMALL,
            &frame(false, op, b"\x03\xE8"),
            6
        )));
        let input = concat(&[frame(false, 1, b"a"), frame(false, op, b"")]);
        assert!(protocol_error(rejected(SMALL, &input)));
    }
}

/// RFC 6455 5.5.2 and 5.5.3: a ping is answered by a pong with "identical Application data":
/// empty, one byte, 125 bytes, any bytes.
#[test]
fn a_ping_is_answered_by_a_pong_with_the_same_payload() {
    for n in [0usize, 1, 2, 124, 125] {
        let payload: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
        let out = run(SMALL, &frame(true, 9, &payload));
        assert_eq!(out.events, [WsEvent::Ping(Bytes::from(payload.clone()))]);
        let mut pong = vec![0x8A, n as u8];
        pong.extend_from_slice(&payload);
        assert_eq!(out.control, pong, "{n} bytes");
    }
    // The RFC's example pong (5.7) echoes "Hello".
    let out = run(SMALL, &frame(true, 9, b"Hello"));
    assert_eq!(out.control, [0x8A, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]);
}

/// RFC 6455 5.5.3: "A Pong frame MAY be sent unsolicited ... A response to an unsolicited Pong
/// frame is not expected": it is reported and nothing is queued.
#[test]
fn an_unsolicited_pong_is_reported_and_not_answered() {
    let out = run(SMALL, &frame(true, 10, b"beat"));
    assert_eq!(out.events, [WsEvent::Pong(Bytes::from_static(b"beat"))]);
    assert!(out.control.is_empty());
    let mut d = WsDecoder::new(SMALL);
    d.receive(&frame(true, 10, b""), |_| {}).unwrap();
    assert!(!d.has_control() && d.is_idle());
}

/// RFC 6455 5.5.2: "If an endpoint receives a Ping frame and has not yet sent Pong frame(s) in
/// response to previous Ping frame(s), the endpoint MAY elect to send a Pong frame for only the
/// most recently processed Ping frame": one pong waits at most.
#[test]
fn only_the_latest_unanswered_ping_is_answered() {
    let input = concat(&[
        frame(true, 9, b"1"),
        frame(true, 9, b"22"),
        frame(true, 9, b"333"),
    ]);
    let out = run(SMALL, &input);
    assert_eq!(out.events.len(), 3);
    assert_eq!(out.control, [0x8A, 3, b'3', b'3', b'3']);
}

/// RFC 6455 5.5.2: a pong is sent "unless it already received a Close frame": a ping followed
/// by a close gets the close answered and no pong.
#[test]
fn no_pong_once_the_close_arrived() {
    let input = concat(&[
        frame(true, 9, b"ping"),
        frame(true, 8, &close_payload(1000, b"")),
    ]);
    let out = run(SMALL, &input);
    assert_eq!(out.control, [0x88, 2, 0x03, 0xE8], "the close answer alone");
}

/// RFC 6455 5.5.1 and 1.4: after the peer's close frame nothing more is read: data, pings,
/// another close or bytes that would fail the connection are all ignored, in the same read and
/// in later ones.
#[test]
fn nothing_is_read_after_the_close() {
    let close = frame(true, 8, &close_payload(1001, b"going"));
    let after = [
        frame(true, 1, b"data"),
        frame(true, 9, b"ping"),
        frame(true, 8, b""),
        frame(true, 0, b"lost"),
        frame(true, 1, b"\xFF"),
        vec![0xFF; 20],
        frame(false, 2, b"partial"),
    ];
    let expected = [WsEvent::Close(Some(CloseFrame {
        code: 1001,
        reason: Bytes::from_static(b"going"),
    }))];
    for tail in &after {
        let out = run(SMALL, &concat(&[close.clone(), tail.clone()]));
        assert_eq!(out.end, Ok(()));
        assert_eq!(out.events, expected);
        assert_eq!(out.control, [0x88, 2, 0x03, 0xE9]);
    }
    let mut d = WsDecoder::new(SMALL);
    d.receive(&close, |_| {}).unwrap();
    assert!(d.close_received());
    let mut later = Vec::new();
    d.receive(&concat(&after), |e| later.push(e)).unwrap();
    assert_eq!(later, []);
    assert_eq!(d.buffered(), 0);
}

// ---- Section 7: closing -------------------------------------------------------------------------

/// RFC 6455 5.5.1 and 7.1.2: a close is answered with a close, "typically echoing the status
/// code it received"; the reason comes out with the event; the answer is written once.
#[test]
fn a_close_is_answered_with_its_status_code() {
    let out = run(
        SMALL,
        &frame(true, 8, &close_payload(4321, "au revoir ✓".as_bytes())),
    );
    assert_eq!(
        out.events,
        [WsEvent::Close(Some(CloseFrame {
            code: 4321,
            reason: Bytes::from("au revoir ✓".as_bytes()),
        }))]
    );
    assert_eq!(out.control, [0x88, 2, 0x10, 0xE1]);

    let mut d = WsDecoder::new(SMALL);
    d.receive(&frame(true, 8, &close_payload(1000, b"")), |_| {})
        .unwrap();
    let mut out = Vec::new();
    assert!(d.has_control());
    assert!(d.take_control(&mut out), "the close goes out");
    assert!(!d.has_control());
    assert!(!d.take_control(&mut out), "once");
    assert_eq!(out, [0x88, 2, 0x03, 0xE8]);
}

/// RFC 6455 5.5.1 and 7.1.5: a close with no payload carries no status code (1005 for the
/// application); it is answered with a close with no payload.
#[test]
fn an_empty_close_is_answered_with_an_empty_close() {
    let out = run(SMALL, &frame(true, 8, b""));
    assert_eq!(out.events, [WsEvent::Close(None)]);
    assert_eq!(out.control, [0x88, 0]);
}

/// Whether a status code may appear in a close frame (RFC 6455 7.4.1 and 7.4.2, and the IANA
/// registry for 1012-1014).
fn code_may_be_sent(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// RFC 6455 7.4.1 and 7.4.2: codes defined by the RFC to be sent (1000-1003, 1007-1011), those
/// registered with IANA since (1012 service restart, 1013 try again later, 1014 bad gateway),
/// and the registered and private ranges 3000-4999 are accepted (every one of them).
#[test]
fn close_codes_that_may_be_sent_are_accepted() {
    for code in (0..=u16::MAX).filter(|&c| code_may_be_sent(c)) {
        let out = ws_decode(SMALL, [&frame(true, 8, &close_payload(code, b"r"))[..]]);
        assert_eq!(out.end, Ok(()), "code {code}");
        assert_eq!(out.control, [0x88, 2, (code >> 8) as u8, code as u8]);
    }
    for code in [1000, 1003, 1007, 1011, 1012, 1014, 3000, 4999] {
        assert_eq!(
            run(SMALL, &frame(true, 8, &close_payload(code, b""))).end,
            Ok(())
        );
    }
}

/// RFC 6455 7.4.1 and 7.4.2: codes below 1000, 1004 (reserved), 1005, 1006 and 1015 (never
/// sent in a close frame), 1016-2999 (reserved for future revisions) and 5000 and up (no range
/// is defined there) fail the connection (1002). Every such code.
#[test]
fn close_codes_that_must_not_be_sent_fail() {
    for code in (0..=u16::MAX).filter(|&c| !code_may_be_sent(c)) {
        let out = ws_decode(SMALL, [&frame(true, 8, &close_payload(code, b""))[..]]);
        assert!(matches!(out.end, Err(WsError::Protocol(_))), "code {code}");
        assert_eq!(out.events, []);
    }
    for code in [
        0,
        999,
        1004,
        1005,
        1006,
        1015,
        1016,
        2000,
        2999,
        5000,
        u16::MAX,
    ] {
        assert!(protocol_error(rejected(
            SMALL,
            &frame(true, 8, &close_payload(code, b"x"))
        )));
    }
}

/// RFC 6455 5.5.1: if a close frame has a body, "the first two bytes of the body MUST be" the
/// status code: a one-byte body fails the connection (1002).
#[test]
fn a_one_byte_close_payload_fails() {
    for b in [0x03, 0xE8, 0] {
        assert!(protocol_error(rejected(SMALL, &frame(true, 8, &[b]))));
    }
}

/// RFC 6455 5.5.1 and 8.1: the close reason is UTF-8; invalid UTF-8 fails the connection with
/// 1007 (7.4.1). The longest reason (123 bytes) is fine, multi-byte characters included.
#[test]
fn a_close_reason_must_be_utf8() {
    for bad in [
        &b"\xFF"[..],
        b"ab\xC0\x80",
        b"\xED\xA0\x80",
        b"\xF4\x90\x80\x80",
        b"\xE2\x82",
    ] {
        let e = rejected(SMALL, &frame(true, 8, &close_payload(1000, bad)));
        assert_eq!(e, WsError::InvalidUtf8, "{bad:?}");
        assert_eq!(e.close_code(), 1007);
    }
    let reason = "é".repeat(61) + "x";
    assert_eq!(reason.len(), 123);
    let out = run(
        SMALL,
        &frame(true, 8, &close_payload(1000, reason.as_bytes())),
    );
    assert_eq!(
        out.events,
        [WsEvent::Close(Some(CloseFrame {
            code: 1000,
            reason: Bytes::from(reason),
        }))]
    );
}

/// RFC 6455 5.4 and 7.1: a close may come between a message's fragments; the connection is
/// closing, so the unfinished message is dropped and nothing after the close is read.
#[test]
fn a_close_between_fragments_drops_the_unfinished_message() {
    let input = concat(&[
        frame(false, 1, b"never "),
        frame(true, 8, &close_payload(1000, b"")),
        frame(true, 0, b"finished"),
    ]);
    let out = run(SMALL, &input);
    assert_eq!(out.end, Ok(()));
    assert_eq!(
        out.events,
        [WsEvent::Close(Some(CloseFrame {
            code: 1000,
            reason: Bytes::new()
        }))]
    );
    let mut d = WsDecoder::new(SMALL);
    d.receive(&input, |_| {}).unwrap();
    assert_eq!(d.buffered(), 0, "the unfinished message is freed");
}

/// RFC 6455 7.4.1: failing the connection sends 1002 for a protocol error, 1007 for data that
/// is not consistent with its type (invalid UTF-8 in text), 1009 for a message too big.
#[test]
fn failures_carry_their_close_codes() {
    assert_eq!(rejected(SMALL, &[0xC1, 0x80]).close_code(), 1002);
    assert_eq!(rejected(SMALL, &frame(true, 1, b"\xFF")).close_code(), 1007);
    assert_eq!(
        rejected(SMALL, &frame(true, 2, &[0; 301])).close_code(),
        1009
    );
}

/// RFC 6455 5.5.1 and 7.4: what the server writes to close: the code in network order, then
/// the reason, within a control frame's 125 bytes (the reason is cut at a character boundary);
/// or an empty body. Unmasked, FIN set, opcode 0x8.
#[test]
fn encode_close_writes_the_code_then_the_reason_within_125_bytes() {
    let mut out = Vec::new();
    encode_close(&mut out, Some(1000), "bye");
    assert_eq!(out, [0x88, 5, 0x03, 0xE8, b'b', b'y', b'e']);
    out.clear();
    encode_close(&mut out, None, "ignored");
    assert_eq!(out, [0x88, 0]);
    for reason in [
        "x".repeat(200),
        "é".repeat(100),
        "✓".repeat(60),
        "😀".repeat(40),
    ] {
        out.clear();
        encode_close(&mut out, Some(4000), &reason);
        assert!(out[1] as usize <= 125 && out[1] as usize == out.len() - 2);
        let r = std::str::from_utf8(&out[4..]).expect("cut at a char boundary");
        assert!(
            reason.starts_with(r) && r.len() > 119,
            "{} bytes kept",
            r.len()
        );
    }
}

// ---- Section 8: UTF-8 ---------------------------------------------------------------------------

/// Why a byte sequence is not UTF-8 (RFC 3629).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bad {
    /// Bytes that never appear in UTF-8, or out of place.
    Bytes,
    /// A character in more bytes than it needs.
    Overlong,
    /// A UTF-16 surrogate, U+D800-DFFF.
    Surrogate,
    /// Beyond U+10FFFF.
    AboveMax,
}

/// Byte sequences that are not UTF-8: (why, what, bytes).
const INVALID_UTF8: &[(Bad, &str, &[u8])] = &[
    (Bad::Bytes, "lone continuation", b"\x80"),
    (Bad::Bytes, "continuation run", b"\xBF\x80"),
    (Bad::Bytes, "FE", b"\xFE"),
    (Bad::Bytes, "FF", b"\xFF"),
    (Bad::Bytes, "start byte then ASCII", b"\xC3A"),
    (
        Bad::Bytes,
        "3-byte start, 1 continuation, ASCII",
        b"\xE2\x82A",
    ),
    (Bad::Overlong, "overlong NUL, 2 bytes", b"\xC0\x80"),
    (Bad::Overlong, "overlong '/', 2 bytes", b"\xC0\xAF"),
    (Bad::Overlong, "overlong U+007F, C1", b"\xC1\xBF"),
    (Bad::Overlong, "overlong NUL, 3 bytes", b"\xE0\x80\x80"),
    (Bad::Overlong, "overlong U+07FF, 3 bytes", b"\xE0\x9F\xBF"),
    (Bad::Overlong, "overlong NUL, 4 bytes", b"\xF0\x80\x80\x80"),
    (
        Bad::Overlong,
        "overlong U+FFFF, 4 bytes",
        b"\xF0\x8F\xBF\xBF",
    ),
    (Bad::Surrogate, "U+D800", b"\xED\xA0\x80"),
    (Bad::Surrogate, "U+DBFF", b"\xED\xAF\xBF"),
    (Bad::Surrogate, "U+DC00", b"\xED\xB0\x80"),
    (Bad::Surrogate, "U+DFFF", b"\xED\xBF\xBF"),
    (
        Bad::Surrogate,
        "a pair (CESU-8)",
        b"\xED\xA0\xBD\xED\xB8\x80",
    ),
    (Bad::AboveMax, "U+110000", b"\xF4\x90\x80\x80"),
    (Bad::AboveMax, "U+1FFFFF", b"\xF7\xBF\xBF\xBF"),
    (Bad::AboveMax, "F5 start", b"\xF5\x80\x80\x80"),
    (Bad::AboveMax, "5-byte form", b"\xF8\x88\x80\x80\x80"),
    (Bad::AboveMax, "6-byte form", b"\xFC\x84\x80\x80\x80\x80"),
];

/// The edge code points of each UTF-8 length (all valid).
const EDGE_CHARS: &[char] = &[
    '\u{0}',
    '\u{7F}',
    '\u{80}',
    '\u{7FF}',
    '\u{800}',
    '\u{D7FF}',
    '\u{E000}',
    '\u{FFFD}',
    '\u{FFFF}',
    '\u{10000}',
    '\u{10FFFF}',
];

/// Text made of `bad` (alone, after ASCII, after multi-byte text) in one frame must fail the
/// connection with 1007.
#[track_caller]
fn text_fails(why: Bad) {
    let cases: Vec<_> = INVALID_UTF8.iter().filter(|c| c.0 == why).collect();
    assert!(cases.len() >= 4);
    for (_, what, bad) in cases {
        for before in [&b""[..], b"ok ", "é✓".as_bytes()] {
            let payload = [before, bad, b" after"].concat();
            let e = rejected(SMALL, &frame(true, 1, &payload));
            assert_eq!(e, WsError::InvalidUtf8, "{what}");
            assert_eq!(e.close_code(), 1007);
        }
    }
}

/// RFC 6455 8.1: text data MUST be UTF-8 (RFC 3629); bytes that never appear in UTF-8 (FE,
/// FF), a continuation byte with no start, a start byte with too few continuations, fail the
/// connection with 1007 (7.4.1).
#[test]
fn text_with_invalid_bytes_fails() {
    text_fails(Bad::Bytes);
}

/// RFC 6455 8.1 with RFC 3629 section 3 ("implementations ... MUST protect against decoding
/// invalid sequences", overlong forms among them): 1007.
#[test]
fn text_with_overlong_encodings_fails() {
    text_fails(Bad::Overlong);
}

/// RFC 6455 8.1 with RFC 3629 section 3: the UTF-16 surrogates U+D800-DFFF are not characters,
/// alone or in pairs: 1007.
#[test]
fn text_with_surrogates_fails() {
    text_fails(Bad::Surrogate);
}

/// RFC 6455 8.1 with RFC 3629 section 3: nothing above U+10FFFF (F4 90 and up, F5-FF starts,
/// the old 5- and 6-byte forms): 1007.
#[test]
fn text_with_code_points_above_u10ffff_fails() {
    text_fails(Bad::AboveMax);
}

/// RFC 6455 8.1 with RFC 3629: the edge code points of every length are valid text, alone and
/// together.
#[test]
fn edge_code_points_are_valid_text() {
    for c in EDGE_CHARS {
        let s = c.to_string();
        assert_eq!(accepted(SMALL, &frame(true, 1, s.as_bytes())), [text(&s)]);
    }
    let all: String = EDGE_CHARS.iter().collect();
    assert_eq!(
        accepted(SMALL, &frame(true, 1, all.as_bytes())),
        [text(&all)]
    );
}

/// RFC 6455 5.6 and 8.1: a character may be cut across fragments ("the whole message will
/// contain valid UTF-8"): every multi-byte edge character cut at every point, and with each of
/// its bytes in a fragment of its own.
#[test]
fn a_character_cut_across_fragments_is_valid() {
    for c in EDGE_CHARS.iter().filter(|c| c.len_utf8() > 1) {
        let s = format!("a{c}b");
        let b = s.as_bytes();
        for cut in 2..=c.len_utf8() {
            let input = concat(&[frame(false, 1, &b[..cut]), frame(true, 0, &b[cut..])]);
            assert_eq!(accepted(SMALL, &input), [text(&s)], "{c:?} cut at {cut}");
        }
        let mut input = frame(false, 1, b"");
        for byte in b {
            input.extend(frame(false, 0, std::slice::from_ref(byte)));
        }
        input.extend(frame(true, 0, b""));
        assert_eq!(accepted(SMALL, &input), [text(&s)], "{c:?} byte by byte");
    }
}

/// RFC 6455 8.1: an invalid sequence cut across fragments fails (1007), whatever the cut.
#[test]
fn an_invalid_sequence_cut_across_fragments_fails() {
    for (_, what, bad) in INVALID_UTF8.iter().filter(|(_, _, b)| b.len() > 1) {
        for cut in 1..bad.len() {
            let input = concat(&[
                frame(false, 1, &[b"x", &bad[..cut]].concat()),
                frame(true, 0, &[&bad[cut..], b"y"].concat()),
            ]);
            assert_eq!(
                rejected(SMALL, &input),
                WsError::InvalidUtf8,
                "{what} cut at {cut}"
            );
        }
    }
}

/// RFC 6455 8.1: the final fragment is checked as well: valid fragments, then invalid UTF-8 in
/// the last one only, fail (1007); so does a message that ends inside a character.
#[test]
fn invalid_utf8_in_the_last_fragment_only_fails() {
    for (_, what, bad) in INVALID_UTF8 {
        let input = concat(&[
            frame(false, 1, b"valid "),
            frame(false, 0, "fragments ✓ ".as_bytes()),
            frame(true, 0, bad),
        ]);
        assert_eq!(rejected(SMALL, &input), WsError::InvalidUtf8, "{what}");
    }
    for end in [&b"\xC3"[..], b"\xE2\x82", b"\xF0\x9F\x98"] {
        let input = concat(&[frame(false, 1, b"ends inside "), frame(true, 0, end)]);
        assert_eq!(rejected(SMALL, &input), WsError::InvalidUtf8, "{end:?}");
        let cut = concat(&[frame(false, 1, end), frame(true, 0, b"")]);
        assert_eq!(
            rejected(SMALL, &cut),
            WsError::InvalidUtf8,
            "{end:?} then empty"
        );
        assert_eq!(rejected(SMALL, &frame(true, 1, end)), WsError::InvalidUtf8);
    }
}

/// RFC 6455 8.1 ("MUST _Fail the WebSocket Connection_" when invalid UTF-8 is received): the
/// text is checked fragment by fragment, so the connection fails on the fragment where the
/// text becomes invalid, without waiting for the message's end; a fragment ending in the
/// valid start of a character is not an error yet.
#[test]
fn utf8_fails_on_the_fragment_where_it_becomes_invalid() {
    for (_, what, bad) in INVALID_UTF8 {
        let mut d = WsDecoder::new(SMALL);
        d.receive(&frame(false, 1, b"fine so far"), |_| {}).unwrap();
        let e = d.receive(&frame(false, 0, &[b"x", *bad].concat()), |_| {});
        assert_eq!(
            e,
            Err(WsError::InvalidUtf8),
            "{what}: before the final fragment"
        );
        assert_eq!(
            rejected(SMALL, &frame(false, 1, bad)),
            WsError::InvalidUtf8,
            "{what}"
        );
    }
    // Invalid as soon as the byte after the cut arrives.
    for (start, next) in [
        (&b"\xE0"[..], &b"\x80"[..]),
        (b"\xED", b"\xA0"),
        (b"\xF4", b"\x90"),
    ] {
        let mut d = WsDecoder::new(SMALL);
        d.receive(&frame(false, 1, start), |_| {}).unwrap();
        let e = d.receive(&frame(false, 0, next), |_| {});
        assert_eq!(e, Err(WsError::InvalidUtf8), "{start:?} then {next:?}");
    }
    // A valid prefix waits.
    for start in [&b"\xC3"[..], b"\xE2\x82", b"\xF0\x9F\x98", b"\xF4\x8F"] {
        let mut d = WsDecoder::new(SMALL);
        assert_eq!(
            d.receive(&frame(false, 1, start), |_| {}),
            Ok(()),
            "{start:?}"
        );
    }
}

/// RFC 6455 5.6: binary data is not interpreted: any bytes, invalid UTF-8 included, pass.
#[test]
fn binary_messages_are_not_checked_for_utf8() {
    for (_, _, bad) in INVALID_UTF8 {
        assert_eq!(accepted(SMALL, &frame(true, 2, bad)), [binary(bad)]);
        let input = concat(&[frame(false, 2, &bad[..1]), frame(true, 0, &bad[1..])]);
        assert_eq!(accepted(SMALL, &input), [binary(bad)]);
    }
}

// ---- Limits -------------------------------------------------------------------------------------

/// A frame over `max_frame` fails (1009) as soon as its length field arrived, in each length
/// encoding: nothing of it is buffered.
#[test]
fn the_frame_limit_is_checked_from_the_header() {
    let limits = WsLimits {
        max_frame: 200,
        max_message: 1000,
    };
    let input = frame(true, 2, &[0; 201]);
    assert_eq!(rejected_after(limits, &input, 4), WsError::TooLarge);
    let input = frame(false, 2, &[0; 201]);
    assert_eq!(rejected_after(limits, &input, 4), WsError::TooLarge);
    let input = concat(&[frame(false, 2, &[0; 200]), frame(true, 0, &[0; 201])]);
    assert_eq!(rejected_after(limits, &input, 208 + 4), WsError::TooLarge);
    let mut field = vec![127];
    field.extend_from_slice(&(1u64 << 40).to_be_bytes());
    let input = raw_frame(0x82, &field, b"");
    assert_eq!(rejected_after(limits, &input, 10), WsError::TooLarge);
    let tiny = WsLimits {
        max_frame: 100,
        max_message: 1000,
    };
    assert_eq!(
        rejected_after(tiny, &frame(true, 1, &[b'a'; 101]), 2),
        WsError::TooLarge
    );
    assert_eq!(
        accepted(limits, &frame(true, 2, &[0; 200])),
        [binary(&[0; 200])]
    );
}

/// A message over `max_message` fails (1009) from the header of the frame that would take it
/// over the limit: a whole message's frame, a first fragment, or a continuation (counting the
/// fragments before it), before that frame's payload is buffered.
#[test]
fn the_message_limit_is_checked_from_the_header_of_each_fragment() {
    let limits = WsLimits {
        max_frame: 100,
        max_message: 150,
    };
    assert_eq!(
        rejected_after(limits, &frame(true, 1, &[b'a'; 151]), 4),
        WsError::TooLarge
    );
    let head = concat(&[frame(false, 2, &[1; 100]), frame(false, 0, &[2; 50])]);
    assert_eq!(accepted(limits, &head), []);
    let input = concat(&[head.clone(), frame(true, 0, &[3; 1])]);
    assert_eq!(
        rejected_after(limits, &input, head.len() + 2),
        WsError::TooLarge
    );
    let input = concat(&[frame(false, 2, &[1; 100]), frame(true, 0, &[2; 51])]);
    assert_eq!(rejected_after(limits, &input, 106 + 2), WsError::TooLarge);
    let input = concat(&[head.clone(), frame(true, 0, b"")]);
    let mut full = vec![1; 100];
    full.extend([2; 50]);
    assert_eq!(
        accepted(limits, &input),
        [binary(&full)],
        "exactly at the limit"
    );
    // Control frames between fragments do not count towards the message.
    let input = concat(&[
        frame(false, 2, &[1; 100]),
        frame(true, 9, &[9; 100]),
        frame(true, 0, &[2; 50]),
    ]);
    assert_eq!(accepted(limits, &input).len(), 2);
}

/// A peer that announces a big frame and sends it slowly holds only what it sent (at most
/// twice that, as the buffer doubles), and never more than the frame itself.
#[test]
fn a_trickled_frame_holds_only_what_arrived() {
    let limits = WsLimits::default();
    let len = limits.max_frame;
    let input = frame(true, 2, &vec![0xAB; len]);
    for step in [1000, 4096, 65_536, 99_999] {
        let mut d = WsDecoder::new(limits);
        let mut sent = 0;
        let mut got = Vec::new();
        for chunk in input.chunks(step) {
            d.receive(chunk, |e| got.push(e)).unwrap();
            sent += chunk.len();
            if sent < input.len() {
                assert!(
                    d.buffered() <= 2 * sent.max(8),
                    "{} held, {sent} sent",
                    d.buffered()
                );
                assert!(
                    d.buffered() <= input.len(),
                    "{} held for {}",
                    d.buffered(),
                    len
                );
            }
        }
        assert_eq!(got, [binary(&vec![0xAB; len])]);
        assert!(d.is_idle());
    }
}

/// While a message's fragments arrive, the decoder holds at most the message limit for them
/// (plus the frame arriving), however small the fragments.
#[test]
fn an_assembling_message_holds_at_most_the_message_limit() {
    for (max_frame, max_message, piece) in [(16, 1000, 16), (1, 100, 1), (300, 1000, 7)] {
        let limits = WsLimits {
            max_frame,
            max_message,
        };
        let mut d = WsDecoder::new(limits);
        let mut total = 0;
        let mut first = true;
        while total + piece <= max_message {
            let f = frame(false, if first { 2 } else { 0 }, &vec![5; piece]);
            d.receive(&f, |_| unreachable!()).unwrap();
            first = false;
            total += piece;
            let held = d.buffered();
            assert!(
                held <= max_message,
                "{held} held for a {total}-byte message ({limits:?})"
            );
        }
        let mut got = Vec::new();
        d.receive(&frame(true, 0, b""), |e| got.push(e)).unwrap();
        assert_eq!(got, [binary(&vec![5; total])]);
        assert!(d.is_idle());
    }
}

/// Between frames the decoder holds nothing (no allocation), after a fragmented message too.
#[test]
fn nothing_is_held_between_frames() {
    let mut d = WsDecoder::new(SMALL);
    assert!(d.is_idle());
    let input = concat(&[
        frame(false, 1, b"a"),
        frame(true, 9, b"p"),
        frame(true, 0, b"b"),
        frame(true, 2, &[0; 300]),
    ]);
    for b in &input[..input.len() - 1] {
        d.receive(std::slice::from_ref(b), |_| {}).unwrap();
        assert!(!d.is_idle());
    }
    d.receive(&input[input.len() - 1..], |_| {}).unwrap();
    d.take_control(&mut Vec::new());
    assert!(d.is_idle());
    assert_eq!(d.buffered(), 0);
}

/// After an error the decoder is failed for good: it frees what it held and gives the same
/// error to anything more it is fed.
#[test]
fn an_error_is_sticky_and_frees_what_was_held() {
    let mut d = WsDecoder::new(SMALL);
    let mut input = frame(false, 2, b"held");
    input.extend(&frame(false, 0, &[0; 100])[..50]);
    d.receive(&input, |_| {}).unwrap();
    assert!(d.buffered() > 0);
    let e = d.receive(&[0; 60], |_| {});
    assert!(matches!(e, Err(WsError::Protocol(_))), "{e:?}");
    assert_eq!(d.buffered(), 0);
    assert_eq!(
        d.receive(&frame(true, 1, b"valid"), |_| panic!("an event")),
        e
    );
    assert_eq!(d.receive(&[], |_| {}), e);
}

// ---- Server frames (section 5, server side) -----------------------------------------------------

/// RFC 6455 5.1, 5.2: server frames are not masked, carry FIN (the encoders write whole
/// messages), and use the shortest length encoding: 7 bits up to 125, 16 bits up to 65535,
/// 64 bits (top bit clear) beyond.
#[test]
fn server_frames_are_final_unmasked_and_shortest() {
    for (n, header) in [
        (0usize, vec![0x82, 0]),
        (125, vec![0x82, 125]),
        (126, vec![0x82, 126, 0, 126]),
        (0xFFFF, vec![0x82, 126, 0xFF, 0xFF]),
        (0x1_0000, vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ] {
        let payload = vec![0x5A; n];
        let mut out = Vec::new();
        encode_message(&mut out, &Frame::Binary(Bytes::from(payload.clone())));
        assert_eq!(out[..header.len()], header[..], "{n} bytes");
        assert_eq!(out[header.len()..], payload[..]);
    }
    let mut out = Vec::new();
    encode_frame(&mut out, OpCode::Ping, b"hb");
    assert_eq!(out, [0x89, 2, b'h', b'b']);
    out.clear();
    encode_frame(&mut out, OpCode::Pong, b"");
    assert_eq!(out, [0x8A, 0]);
}

/// RFC 6455 5.7: the examples a server can send, byte for byte.
#[test]
fn the_server_examples_of_section_5_7() {
    let mut out = Vec::new();
    encode_message(&mut out, &Frame::Text(Bytes::from_static(b"Hello")));
    assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]);
    out.clear();
    encode_frame(&mut out, OpCode::Ping, b"Hello");
    assert_eq!(out, [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]);
    out.clear();
    encode_frame(&mut out, OpCode::Binary, &[0; 256]);
    assert_eq!(out[..4], [0x82, 0x7E, 0x01, 0x00]);
    out.clear();
    encode_frame(&mut out, OpCode::Binary, &vec![0; 65_536]);
    assert_eq!(out[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
}

/// The limits' bound used by the checks above is what the module promises: an incomplete frame
/// and a message being assembled, each within its limit.
#[test]
fn the_buffer_bound_is_a_frame_and_a_message() {
    assert_eq!(ws_buffer_bound(&SMALL), MAX_HEADER + 300 + 400);
}

/// The `websocket_decoder` fuzz target's checks hold on its committed seeds and regression
/// inputs (`fuzz/seeds/websocket_decoder`, `fuzz/regressions/websocket_decoder`).
#[test]
fn the_fuzz_seeds_and_regressions_hold() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut n = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join("websocket_decoder")) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let run = std::panic::catch_unwind(|| crate::fuzzing::websocket_decoder(&data));
            assert!(run.is_ok(), "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 30, "{n} inputs found");
}
