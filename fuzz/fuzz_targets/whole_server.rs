#![no_main]

use libfuzzer_sys::fuzz_target;
use sockio_protocol::fuzzing::{run_scenario, Scenario};

fuzz_target!(|scenario: Scenario| {
    run_scenario(&scenario);
});
