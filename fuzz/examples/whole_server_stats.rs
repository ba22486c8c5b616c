//! Replays whole_server inputs (files or directories of them) and prints which server outcomes
//! they reach, with counts, then the outcomes none of them reached. Shows how deep a corpus goes:
//!
//!     cargo run --release --example whole_server_stats -- seeds/whole_server corpus/whole_server

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use sockio_protocol::fuzzing::{run_scenario, Scenario, Stats, OUTCOMES};

fn replay(path: &Path, total: &mut Stats, inputs: &mut usize) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .expect("readable directory")
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            replay(&p, total, inputs);
        }
        return;
    }
    let data = std::fs::read(path).expect("readable file");
    // The same decoding as libfuzzer-sys' `fuzz_target!` with a typed input.
    if let Ok(scenario) = Scenario::arbitrary_take_rest(Unstructured::new(&data)) {
        total.merge(&run_scenario(&scenario));
        *inputs += 1;
    }
}

fn main() {
    let mut total = Stats::default();
    let mut inputs = 0;
    for arg in std::env::args().skip(1) {
        replay(Path::new(&arg), &mut total, &mut inputs);
    }
    println!("{inputs} inputs replayed\n\n{total}");
    let missing: Vec<&str> = OUTCOMES
        .iter()
        .copied()
        .filter(|o| total.count(o) == 0)
        .collect();
    println!("{} of {} outcomes reached", OUTCOMES.len() - missing.len(), OUTCOMES.len());
    for m in missing {
        println!("  never: {m}");
    }
}
