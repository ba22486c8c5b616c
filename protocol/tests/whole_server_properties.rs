//! Arbitrary operation sequences against the whole server: no panic, every drain terminates,
//! no request answered twice (the same driver the fuzz target uses).

use proptest::prelude::*;
use sockio_protocol::fuzzing::{run, Op};

fn op() -> impl Strategy<Value = Op> {
    let text = prop_oneof![
        Just("0".to_string()),
        Just("0/chat,".to_string()),
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
    prop_oneof![
        Just(Op::Handshake),
        any::<u8>().prop_map(Op::Get),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(n, b)| Op::Post(n, b)),
        (any::<u8>(), text).prop_map(|(n, t)| Op::PostText(n, t)),
        (any::<bool>(), "[A-Za-z=&0-9]{0,30}").prop_map(|(p, q)| Op::RawHttp(p, q)),
        proptest::option::of(any::<u8>()).prop_map(Op::WsOpen),
        (any::<u8>(), eio).prop_map(|(n, t)| Op::WsText(n, t)),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(n, b)| Op::WsBinary(n, b)),
        any::<u8>().prop_map(Op::Close),
        (0u16..1000).prop_map(Op::Advance),
        (any::<u8>(), any::<bool>()).prop_map(|(n, a)| Op::Emit(n, a)),
        proptest::option::of(any::<u8>()).prop_map(Op::Broadcast),
        (any::<u8>(), any::<u8>()).prop_map(|(n, r)| Op::Join(n, r)),
        any::<u8>().prop_map(Op::Disconnect),
        Just(Op::Shutdown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn arbitrary_sequences_keep_invariants(ops in proptest::collection::vec(op(), 0..60)) {
        run(&ops);
    }
}
