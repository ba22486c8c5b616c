#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sockio_protocol::fuzzing::json_scan(data);
});
