//! Criterion benchmarks of the sans-IO protocol core: the codecs, and a server with 10,000
//! WebSocket sessions (emit, broadcast, inbound messages, heartbeats), also with connection
//! state recovery on (emits and broadcasts logged for replay, and a recovery's replay).
//!
//! Run with `cargo bench -p sockio-benches --bench protocol`. Before the benchmarks, the binary
//! prints allocation counts measured with a counting global allocator around single operations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use sockio_benches::{distinct_buffers, drain, drain_collect, Fleet};
use sockio_protocol::engineio::{decode_payload, encode_payload, Packet as EioPacket, PacketType};
use sockio_protocol::http::{Frame, HttpRequest};
use sockio_protocol::socketio::packet::{encode_header, Limits};
use sockio_protocol::socketio::{Packet as SioPacket, PacketKind, Reassembly};
use sockio_protocol::{Bytes, Config, Input, Payload, RecoveryConfig, Room, Str, TransportHandle};

// ---- Allocation counting --------------------------------------------------------------------

/// The system allocator, counting allocations (and reallocations).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the number of allocations it made.
fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let out = f();
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    (out, after - before)
}

// ---- Inputs ---------------------------------------------------------------------------------

const SESSIONS: usize = 10_000;
const ROOMS: usize = 100;
const SMALL_EVENT: &[u8] = br#"42["chat",{"text":"hello","n":1}]"#;
const SMALL_EVENT_JSON: &[u8] = br#"["chat",{"text":"hello","n":1}]"#;
const BINARY_HEADER: &[u8] =
    br#"452-["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;

fn sio_decode(text: &Str) -> SioPacket {
    SioPacket::decode(text, Limits::default()).expect("valid packet")
}

/// Engine.IO then Socket.IO decode of one WebSocket text frame.
fn decode_frame(frame: Bytes) -> SioPacket {
    match EioPacket::decode_text_bytes(frame).expect("valid frame") {
        EioPacket::Text(PacketType::Message, text) => sio_decode(&text),
        other => panic!("not a message: {other:?}"),
    }
}

fn attachment(fill: u8) -> Bytes {
    Bytes::from(vec![fill; 1024])
}

fn polling_body(n: usize) -> Bytes {
    let packets: Vec<String> = (0..n)
        .map(|i| format!(r#"42["chat",{{"text":"hello","n":{i}}}]"#))
        .collect();
    Bytes::from(packets.join("\x1e"))
}

fn small_payload() -> Payload {
    Payload::json(Bytes::from_static(SMALL_EVENT_JSON))
}

/// `["upload",<placeholder 0>,<placeholder 1>]` with two 1 KiB attachments.
fn binary_payload() -> Payload {
    Payload {
        json: Bytes::from_static(&BINARY_HEADER[4..]),
        attachments: [attachment(0xA0), attachment(0xA1)].into_iter().collect(),
    }
}

/// Rooms `r0`..`r99`: together every socket of the fleet, each exactly once.
fn all_rooms() -> Vec<Room> {
    (0..ROOMS).map(|i| Room::from(format!("r{i}"))).collect()
}

/// A broadcast to the union of `rooms` in `/`, drained.
fn broadcast_to_rooms(fleet: &mut Fleet, rooms: &[Room], payload: &Payload) -> usize {
    let mut b = fleet.server.broadcast("/");
    for r in rooms {
        b = b.to(r.clone());
    }
    let report = b.emit(payload);
    drain(&mut fleet.server);
    report.delivered
}

// ---- Codec benchmarks -----------------------------------------------------------------------

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));

    let frame = Bytes::from_static(SMALL_EVENT);
    g.bench_function("decode/small_event", |b| {
        b.iter_batched(
            || frame.clone(),
            |f| decode_frame(black_box(f)),
            BatchSize::SmallInput,
        )
    });

    let packet = decode_frame(frame.clone());
    g.bench_function("encode/small_event/encode_into", |b| {
        b.iter_batched(
            || BytesMut::with_capacity(64),
            |mut out| {
                black_box(&packet).encode_into(&mut out, true);
                out.freeze()
            },
            BatchSize::SmallInput,
        )
    });

    // What the server does for an emit: the JSON is already serialized, only the header is
    // written in front of it.
    g.bench_function("encode/small_event/header+raw_json", |b| {
        b.iter_batched(
            || BytesMut::with_capacity(64),
            |mut out| {
                encode_header(&mut out, true, PacketKind::Event, 0, "/", None);
                out.extend_from_slice(black_box(SMALL_EVENT_JSON));
                out.freeze()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn binary(c: &mut Criterion) {
    let mut g = c.benchmark_group("binary_event_2x1KiB");
    g.throughput(Throughput::Elements(1));
    let header = Bytes::from_static(BINARY_HEADER);
    let (a0, a1) = (attachment(0xA0), attachment(0xA1));

    g.bench_function("decode+reassemble", |b| {
        b.iter_batched(
            || (header.clone(), a0.clone(), a1.clone()),
            |(h, x, y)| {
                let packet = decode_frame(h);
                let mut r = match Reassembly::start(packet, 10_000_000) {
                    Ok(Err(r)) => r,
                    other => panic!("expected a reassembly, got {other:?}"),
                };
                assert!(r.push(x).expect("fits").is_none());
                r.push(y).expect("fits").expect("complete")
            },
            BatchSize::SmallInput,
        )
    });

    let packet = decode_frame(header.clone());
    g.bench_function("encode/websocket_frames", |b| {
        b.iter_batched(
            || BytesMut::with_capacity(128),
            |mut out| {
                black_box(&packet).encode_into(&mut out, true);
                [out.freeze(), a0.clone(), a1.clone()]
            },
            BatchSize::SmallInput,
        )
    });

    let EioPacket::Text(_, text) = EioPacket::decode_text_bytes(header.clone()).unwrap() else {
        unreachable!()
    };
    let eio = [
        EioPacket::Text(PacketType::Message, text),
        EioPacket::Binary(a0.clone()),
        EioPacket::Binary(a1.clone()),
    ];
    g.bench_function("encode/polling_body_base64", |b| {
        b.iter(|| encode_payload(black_box(&eio)))
    });
    g.finish();
}

fn polling(c: &mut Criterion) {
    const N: usize = 100;
    let mut g = c.benchmark_group("polling_payload_100");
    g.throughput(Throughput::Elements(N as u64));
    let body = polling_body(N);

    g.bench_function("decode/engineio", |b| {
        b.iter_batched(
            || body.clone(),
            |body| {
                decode_payload(body, 1000)
                    .expect("non-empty")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("valid")
            },
            BatchSize::SmallInput,
        )
    });

    g.bench_function("decode/engineio+socketio", |b| {
        b.iter_batched(
            || body.clone(),
            |body| {
                decode_payload(body, 1000)
                    .expect("non-empty")
                    .map(|p| match p.expect("valid") {
                        EioPacket::Text(PacketType::Message, text) => sio_decode(&text),
                        other => panic!("not a message: {other:?}"),
                    })
                    .collect::<Vec<_>>()
            },
            BatchSize::SmallInput,
        )
    });

    let packets: Vec<EioPacket> = decode_payload(body.clone(), 1000)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    g.bench_function("encode", |b| b.iter(|| encode_payload(black_box(&packets))));
    g.finish();
}

// ---- Server benchmarks ----------------------------------------------------------------------

fn server(c: &mut Criterion, fleet: &mut Fleet) {
    let mut g = c.benchmark_group("server_10k_ws");
    g.sample_size(20);
    let payload = small_payload();
    let first = fleet.sockets[0];

    g.throughput(Throughput::Elements(1));
    g.bench_function("emit/one_socket", |b| {
        b.iter_batched(
            || payload.clone(),
            |p| {
                fleet
                    .server
                    .socket(first)
                    .expect("live")
                    .emit(p)
                    .expect("fits");
                drain(&mut fleet.server)
            },
            BatchSize::SmallInput,
        )
    });

    let t = fleet.transports[0];
    g.bench_function("inbound/event_frame", |b| {
        b.iter(|| fleet.text(t, r#"42["chat",{"text":"hello","n":1}]"#))
    });

    g.throughput(Throughput::Elements((SESSIONS / ROOMS) as u64));
    g.bench_function("broadcast/room_r7_100_recipients", |b| {
        b.iter(|| {
            let report = fleet
                .server
                .broadcast("/")
                .to("r7")
                .emit(black_box(&payload));
            (report, drain(&mut fleet.server))
        })
    });

    g.throughput(Throughput::Elements(SESSIONS as u64));
    g.bench_function("broadcast/all_10k_recipients", |b| {
        b.iter(|| {
            let report = fleet.server.broadcast("/").emit(black_box(&payload));
            (report, drain(&mut fleet.server))
        })
    });

    let rooms = all_rooms();
    g.bench_function("broadcast/to_100_rooms_10k_recipients", |b| {
        b.iter(|| broadcast_to_rooms(fleet, black_box(&rooms), &payload))
    });

    let binary = binary_payload();
    g.bench_function(
        "broadcast/to_100_rooms_10k_recipients_2x1KiB_attachments",
        |b| b.iter(|| broadcast_to_rooms(fleet, black_box(&rooms), &binary)),
    );

    // One heartbeat round: every session's ping timer fires in one Input::Timeout (timed),
    // then every client answers (untimed here, timed in the next benchmark). Each round starts
    // and ends with every ping answered, so no session ever reaches its pong timeout.
    let interval = Config::default().ping_interval_value() + Duration::from_millis(1);
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("heartbeat/ping_tick_10k", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let d = fleet.advance(interval);
                timed += start.elapsed();
                assert_eq!(d.frames, SESSIONS, "one ping per session");
                fleet.pong_all();
            }
            timed
        })
    });
    // A timeout input when no deadline of the 10,000 sessions is due: must not scan them.
    g.sample_size(20);
    g.sampling_mode(SamplingMode::Auto);
    g.throughput(Throughput::Elements(1));
    g.bench_function("heartbeat/timeout_input_nothing_due_10k", |b| {
        b.iter(|| fleet.input(sockio_protocol::Input::Timeout(black_box(fleet.now))))
    });
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(SESSIONS as u64));
    g.bench_function("heartbeat/pong_inputs_10k", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                fleet.advance(interval);
                let start = Instant::now();
                fleet.pong_all();
                timed += start.elapsed();
            }
            timed
        })
    });
    g.finish();
    assert_eq!(
        fleet.server.session_count(),
        SESSIONS,
        "no session timed out"
    );
}

/// The polling-to-WebSocket upgrade of one session on the 10,000-session server: the WebSocket
/// opens with the sid, `2probe` is answered with `3probe`, the parked GET is released with a
/// noop, and `5` switches the session. The polling handshake and connection before it, and the
/// close after it, are outside the timed part.
fn upgrade(c: &mut Criterion, fleet: &mut Fleet) {
    let mut g = c.benchmark_group("upgrade_on_10k_server");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.bench_function("polling_handshake+connect", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let sid = fleet.parked_polling_session();
                timed += start.elapsed();
                let (ws, _, _) = fleet.upgrade(&sid);
                fleet.close(ws);
            }
            timed
        })
    });
    g.bench_function("polling_to_websocket", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let sid = fleet.parked_polling_session();
                let start = Instant::now();
                let (ws, frames, http) = fleet.upgrade(black_box(&sid));
                timed += start.elapsed();
                assert_eq!(
                    (frames, http),
                    (1, 1),
                    "3probe, then the noop releasing the GET"
                );
                fleet.close(ws);
            }
            timed
        })
    });
    g.finish();
    assert_eq!(
        fleet.server.session_count(),
        SESSIONS,
        "upgraded sessions closed"
    );
}

// ---- Allocation report ----------------------------------------------------------------------

/// Counts the allocations of `f` in steady state: one untimed warm-up call first, so that
/// queues and scratch buffers have grown to size, then the counted call.
fn steady<T>(mut f: impl FnMut() -> T) -> (T, u64) {
    f();
    count_allocations(f)
}

fn allocation_report(fleet: &mut Fleet) {
    let payload = small_payload();
    let binary = binary_payload();
    let rooms = all_rooms();
    let first = fleet.sockets[0];
    let per = |n: u64, d: usize| n as f64 / d as f64;
    println!("allocations (counting global allocator; steady state after one warm-up call):");

    let (_, decode) = steady(|| decode_frame(Bytes::from_static(SMALL_EVENT)));
    println!("  decode of a small event frame (Engine.IO + Socket.IO, JSON to Value): {decode}");

    let (_, inbound) =
        steady(|| fleet.text(fleet.transports[0], r#"42["chat",{"text":"hello","n":1}]"#));
    println!("  inbound small event frame (handle_input + drain): {inbound}");

    let (d, emit) = steady(|| {
        fleet
            .server
            .socket(first)
            .unwrap()
            .emit(payload.clone())
            .unwrap();
        drain(&mut fleet.server)
    });
    assert_eq!(d.frames, 1);
    println!("  emit to one socket (emit + drain): {emit}");

    let (d, room) = steady(|| {
        fleet.server.broadcast("/").to("r7").emit(&payload);
        drain(&mut fleet.server)
    });
    assert_eq!(d.frames, SESSIONS / ROOMS);
    println!(
        "  broadcast to room r7 ({} recipients): {room} per broadcast, {:.4} per recipient",
        d.frames,
        per(room, d.frames)
    );

    let (n, all) = steady(|| broadcast_to_rooms(fleet, &rooms, &payload));
    assert_eq!(n, SESSIONS);
    println!(
        "  broadcast to 100 rooms ({n} recipients): {all} per broadcast, {:.4} per recipient",
        per(all, n)
    );

    let (n, bin) = steady(|| broadcast_to_rooms(fleet, &rooms, &binary));
    assert_eq!(n, SESSIONS);
    println!(
        "  broadcast to 100 rooms with 2 attachments ({n} recipients, 3 frames each): {bin} per \
         broadcast, {:.4} per recipient",
        per(bin, n)
    );

    // Encode-once: every recipient's frame points into the same buffer.
    let mut b = fleet.server.broadcast("/");
    for r in &rooms {
        b = b.to(r.clone());
    }
    b.emit(&binary);
    let (frames, _) = drain_collect(&mut fleet.server);
    assert_eq!(frames.len(), 3 * SESSIONS);
    assert_eq!(
        distinct_buffers(&frames),
        3,
        "header and 2 attachments, shared"
    );
    println!(
        "  encode-once: {} frames to {SESSIONS} recipients share {} buffers",
        frames.len(),
        distinct_buffers(&frames)
    );

    let interval = Config::default().ping_interval_value() + Duration::from_millis(1);
    let (d, tick) = steady(|| {
        let d = fleet.advance(interval);
        fleet.pong_all();
        d
    });
    assert_eq!(d.frames, SESSIONS);
    println!(
        "  heartbeat tick + 10k pongs: {tick} total, {:.4} per session",
        per(tick, SESSIONS)
    );
    let (d, tick) = count_allocations(|| fleet.advance(interval));
    assert_eq!(d.frames, SESSIONS);
    println!(
        "  heartbeat tick alone (10k pings): {tick} total, {:.4} per session",
        per(tick, SESSIONS)
    );
    let ((), pongs) = count_allocations(|| fleet.pong_all());
    println!(
        "  pong inputs (handle_input + drain): {:.4} per pong ({pongs} total)",
        per(pongs, SESSIONS)
    );

    let sid = fleet.parked_polling_session();
    let ((ws, _, _), up) = count_allocations(|| fleet.upgrade(&sid));
    fleet.close(ws);
    println!("  polling-to-WebSocket upgrade (open, 2probe, 5, drains): {up}");
}

fn recovery_config() -> Config {
    Config::default().connection_state_recovery(Some(RecoveryConfig::default()))
}

/// The same emits and broadcasts as [`server`], with connection state recovery on: each one
/// also gets an offset and goes into the namespace's log (at its 10,000-event cap, so every
/// one also drops the oldest).
fn recovery(c: &mut Criterion, fleet: &mut Fleet) {
    let mut g = c.benchmark_group("server_10k_ws_recovery");
    g.sample_size(20);
    let payload = small_payload();
    let first = fleet.sockets[0];
    for _ in 0..10_000 {
        let _ = fleet.server.broadcast("/").to("r7").emit(&payload);
        drain(&mut fleet.server);
    }

    g.throughput(Throughput::Elements(1));
    g.bench_function("emit/one_socket", |b| {
        b.iter_batched(
            || payload.clone(),
            |p| {
                fleet
                    .server
                    .socket(first)
                    .expect("live")
                    .emit(p)
                    .expect("fits");
                drain(&mut fleet.server)
            },
            BatchSize::SmallInput,
        )
    });

    g.throughput(Throughput::Elements((SESSIONS / ROOMS) as u64));
    g.bench_function("broadcast/room_r7_100_recipients", |b| {
        b.iter(|| {
            let report = fleet
                .server
                .broadcast("/")
                .to("r7")
                .emit(black_box(&payload));
            (report, drain(&mut fleet.server))
        })
    });

    g.throughput(Throughput::Elements(SESSIONS as u64));
    g.bench_function("broadcast/all_10k_recipients", |b| {
        b.iter(|| {
            let report = fleet.server.broadcast("/").emit(black_box(&payload));
            (report, drain(&mut fleet.server))
        })
    });

    // A client that missed `MISSED` broadcasts comes back: WebSocket open, CONNECT with its
    // pid and offset, accept, the replay queued and written (setup untimed).
    const MISSED: usize = 1000;
    g.throughput(Throughput::Elements(MISSED as u64));
    g.bench_function("replay/reconnect_after_1000_missed_broadcasts", |b| {
        b.iter_batched(
            || {
                let mut one = Fleet::new(recovery_config(), 0, 0);
                let ws = TransportHandle(1);
                let reply = ws_session(&mut one, ws, "40".into());
                let pid = json_field(&reply[1], "pid");
                let _ = one.server.broadcast("/").emit(&payload);
                let offset = last_offset(&drain_frames(&mut one.server)[0]);
                one.close(ws);
                for _ in 0..MISSED {
                    let _ = one.server.broadcast("/").emit(&payload);
                    drain(&mut one.server);
                }
                let connect = format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#);
                (one, connect)
            },
            |(mut one, connect)| {
                let frames = ws_session(&mut one, TransportHandle(2), connect);
                assert_eq!(frames.len(), MISSED + 2, "open, CONNECT, the replay");
                one
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Drains, accepting every connection; the WebSocket frames transmitted.
fn drain_frames(server: &mut sockio_protocol::Server) -> Vec<Frame> {
    use sockio_protocol::{Event, Output, Transmit};
    let mut frames = Vec::new();
    loop {
        match server.poll_output() {
            Output::Timeout(_) => return frames,
            Output::Transmit(Transmit::WebSocket { frame, .. }) => frames.push(frame),
            Output::Event(Event::Connect { socket, .. }) => {
                if let Some(s) = server.socket(socket) {
                    s.accept();
                }
            }
            _ => {}
        }
    }
}

/// Opens WebSocket `ws` as a new session and sends `first` on it; every frame it got.
fn ws_session(fleet: &mut Fleet, ws: TransportHandle, first: String) -> Vec<Frame> {
    let now = fleet.now;
    fleet.server.handle_input(Input::WebSocketOpen {
        now,
        transport: ws,
        request: HttpRequest {
            path: "/socket.io/".into(),
            query: "EIO=4&transport=websocket".into(),
            ..Default::default()
        },
    });
    let mut frames = drain_frames(&mut fleet.server);
    fleet.server.handle_input(Input::WebSocketMessage {
        now,
        transport: ws,
        frame: Frame::Text(Bytes::from(first)),
    });
    frames.extend(drain_frames(&mut fleet.server));
    frames
}

fn frame_text(frame: &Frame) -> &str {
    match frame {
        Frame::Text(t) => std::str::from_utf8(t).expect("UTF-8"),
        Frame::Binary(_) => panic!("a text frame"),
    }
}

/// A string field of the JSON object in a CONNECT reply (`40{...}`).
fn json_field(frame: &Frame, name: &str) -> String {
    let text = frame_text(frame);
    let key = format!("\"{name}\":\"");
    let start = text.find(&key).expect("the field") + key.len();
    let end = start + text[start..].find('"').expect("its end");
    text[start..end].to_string()
}

/// The offset at the end of an event frame.
fn last_offset(frame: &Frame) -> String {
    let text = frame_text(frame);
    let end = text.rfind('"').expect("offset");
    let start = text[..end].rfind('"').expect("offset");
    text[start + 1..end].to_string()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    codec(&mut c);
    binary(&mut c);
    polling(&mut c);

    let start = Instant::now();
    let mut fleet = Fleet::new(Config::default(), SESSIONS, ROOMS);
    println!(
        "built a server with {SESSIONS} WebSocket sessions in {ROOMS} rooms in {:?}",
        start.elapsed()
    );
    allocation_report(&mut fleet);
    server(&mut c, &mut fleet);
    upgrade(&mut c, &mut fleet);
    drop(fleet);

    let start = Instant::now();
    let mut fleet = Fleet::new(recovery_config(), SESSIONS, ROOMS);
    println!(
        "built a server with {SESSIONS} WebSocket sessions in {ROOMS} rooms, recovery on, in {:?}",
        start.elapsed()
    );
    recovery(&mut c, &mut fleet);

    c.final_summary();
}
