//! Arbitrary operation sequences against the whole server, with the same driver and invariant
//! checks as the `whole_server` fuzz target: no panic, every drain terminates, no request
//! answered twice, consistent indexes after every step, nothing left after shutdown.

use proptest::prelude::*;
use sockio_protocol::fuzzing::{run_scenario, BroadcastOp, Op, Scenario, Setup};
use sockio_protocol::Method;

fn op() -> impl Strategy<Value = Op> {
    let text = prop_oneof![
        Just("0".to_string()),
        Just("0/admin,".to_string()),
        Just("0{\"pending\":1}".to_string()),
        Just("0{\"reject\":1}".to_string()),
        Just("0{\"pid\":\"$pid\",\"offset\":\"$offset\"}".to_string()),
        Just("0{\"pid\":\"$pid\"}".to_string()),
        Just("0/admin,{\"pid\":\"$pid\",\"offset\":\"$offset\"}".to_string()),
        Just("2[\"e\",1]".to_string()),
        Just("21[\"e\"]".to_string()),
        Just("30[]".to_string()),
        Just("1".to_string()),
        Just("51-[\"b\",{\"_placeholder\":true,\"num\":0}]".to_string()),
        "[0-6][0-9/a-z,\\[\\]\"{}:-]{0,12}",
    ];
    let eio = prop_oneof![
        text.clone().prop_map(|t| format!("4{t}")),
        Just("2probe".to_string()),
        Just("3".to_string()),
        Just("5".to_string()),
        Just("1".to_string()),
        ".{0,8}",
    ];
    let method = prop_oneof![
        Just(Method::Get),
        Just(Method::Post),
        Just(Method::Options),
        Just(Method::Other),
    ];
    let broadcast = (
        any::<bool>(),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(admin, to, except, skip, volatile, binary)| BroadcastOp {
            admin,
            to,
            except,
            skip,
            volatile,
            binary,
        });
    prop_oneof![
        Just(Op::Handshake),
        any::<u8>().prop_map(Op::Get),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(n, b)| Op::Post(n, b)),
        (any::<u8>(), text).prop_map(|(n, t)| Op::PostText(n, t)),
        (method, any::<bool>(), "[A-Za-z=&0-9]{0,30}").prop_map(|(m, f, q)| Op::RawHttp(m, f, q)),
        proptest::option::of(any::<u8>()).prop_map(Op::WsOpen),
        (any::<u8>(), eio).prop_map(|(n, t)| Op::WsText(n, t)),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(n, b)| Op::WsBinary(n, b)),
        any::<u8>().prop_map(Op::Close),
        (0u16..1000).prop_map(Op::Advance),
        (any::<u8>(), any::<bool>(), any::<u8>()).prop_map(|(n, a, k)| Op::Emit(n, a, k)),
        broadcast.prop_map(Op::Broadcast),
        (any::<u8>(), any::<u8>()).prop_map(|(n, r)| Op::Join(n, r)),
        (any::<u8>(), any::<u8>()).prop_map(|(n, r)| Op::Leave(n, r)),
        any::<u8>().prop_map(Op::CloseRoom),
        (any::<u8>(), any::<bool>()).prop_map(|(n, a)| Op::Decide(n, a)),
        any::<u8>().prop_map(Op::Disconnect),
        any::<u8>().prop_map(Op::CloseSession),
        Just(Op::Shutdown),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (any::<bool>(), any::<u8>(), any::<bool>(), any::<bool>()).prop_map(
        |(drop_slow, queue, cookie, cors_any)| Setup {
            drop_slow,
            queue,
            cookie,
            cors_any,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn arbitrary_sequences_keep_invariants(
        setup in setup(),
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        run_scenario(&Scenario { setup, ops });
    }
}

/// The `recovery` seed of the fuzz corpus: a socket loses its WebSocket, recovers with its pid
/// and offset, loses it again and recovers over polling without an offset, then everything
/// expires; the application keeps data with it and gets it back each time.
#[test]
fn recovery_scenario_reaches_the_recovery_outcomes() {
    let ops = vec![
        Op::WsOpen(None),
        Op::WsText(0, "40".into()),
        Op::Join(0, 1),
        Op::Broadcast(BroadcastOp {
            admin: false,
            to: None,
            except: None,
            skip: None,
            volatile: false,
            binary: false,
        }),
        Op::Emit(0, false, 1),
        Op::Close(0),
        Op::Broadcast(BroadcastOp {
            admin: false,
            to: Some(1),
            except: None,
            skip: None,
            volatile: false,
            binary: false,
        }),
        Op::WsOpen(None),
        Op::WsText(0, r#"40{"pid":"$pid","offset":"$offset"}"#.into()),
        Op::Close(1),
        Op::Broadcast(BroadcastOp {
            admin: false,
            to: None,
            except: None,
            skip: None,
            volatile: false,
            binary: true,
        }),
        Op::Handshake,
        Op::PostText(0, r#"0{"pid":"$pid"}"#.into()),
        Op::Get(0),
        Op::Advance(2100),
    ];
    let setup = Setup {
        queue: 0x80 | 60,
        ..Setup::default()
    };
    let stats = run_scenario(&Scenario { setup, ops });
    assert_eq!(stats.count("event: connect recovered"), 2, "{stats}");
    // twice by dropped transports, once more by the final shutdown
    assert_eq!(stats.count("app: recovery data kept"), 3, "{stats}");
    assert_eq!(stats.count("app: recovery data restored"), 2, "{stats}");
}
