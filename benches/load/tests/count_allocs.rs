//! The allocation probes count allocations per echo and per broadcast, end to end.

use std::sync::Arc;

use sockio_load::alloc::{self, CountingAlloc};
use sockio_load::server::Probes;

mod common;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_report_allocations_per_event() {
    let probes = Arc::new(Probes::default());
    let addr = common::sockio(Some(probes.clone())).await;
    alloc::enable();
    let before = alloc::counts();
    let v = vec![1u8; 10];
    assert!(alloc::counts().allocs > before.allocs);
    drop(v);

    common::run("echo", addr, "--clients 1 --duration 0.3 --warmup 0").await;
    common::run("fanout", addr, "--clients 5 --duration 0.3 --warmup 0").await;
    let echo = probes.echo.report();
    let bcast = probes.bcast.report();
    assert!(echo["allocs"].as_f64().unwrap() > 0.0, "{echo}");
    assert!(bcast["allocs"].as_f64().unwrap() > 0.0, "{bcast}");
    assert!(bcast["recipients"].as_u64().unwrap() >= 6, "{bcast}");
}
