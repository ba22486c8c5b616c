#![no_main]

use libfuzzer_sys::fuzz_target;
use sockio_protocol::fuzzing::{run, Op};

fuzz_target!(|ops: Vec<Op>| {
    run(&ops);
});
