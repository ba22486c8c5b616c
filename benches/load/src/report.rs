//! The results table: medians over rounds of the generator's lines, ratios of each sockio
//! runtime to node socket.io, to socketioxide and to the raw ceiling (each when the run has it),
//! allocation counts, and every round's figures, as Markdown for the marked section of
//! `benches/README.md`.
//!
//! Input lines (JSON, one per line) are the generator's scenario lines, plus:
//! `{"meta": {...}}` (how the run was made), `{"allocs": {...}, "server": ...}` (the bench
//! server's `--count-allocs` report) and `{"scenario", "server", "failed": "..."}` (a run
//! that produced no line).

use std::fmt::Write as _;

use serde_json::Value;

use crate::stats::median;

/// Where the table goes in the README.
pub const BEGIN: &str = "<!-- load-results:begin -->";
/// End of the generated section.
pub const END: &str = "<!-- load-results:end -->";

/// One row of the main table: a figure of a scenario.
struct Row {
    scenario: &'static str,
    title: &'static str,
    key: &'static str,
    /// Whether this row carries a target (ratios shown with a verdict).
    target: Option<Target>,
}

#[derive(Clone, Copy)]
enum Target {
    /// At least `node` times node, `socketioxide` times socketioxide and `ceiling` times the
    /// (tokio-tungstenite) ceiling.
    Throughput {
        node: f64,
        socketioxide: f64,
        ceiling: f64,
    },
    /// At most `node` times node.
    Memory { node: f64 },
}

const ROWS: &[Row] = &[
    Row {
        scenario: "echo",
        title: "round trips/s",
        key: "rate",
        target: Some(Target::Throughput {
            node: 2.0,
            socketioxide: 1.2,
            ceiling: 0.85,
        }),
    },
    Row {
        scenario: "echo",
        title: "round trips per server CPU-second",
        key: "per_cpu_s",
        target: Some(Target::Throughput {
            node: 2.0,
            socketioxide: 1.2,
            ceiling: 0.85,
        }),
    },
    Row {
        scenario: "echo",
        title: "latency p50 (µs)",
        key: "p50_us",
        target: None,
    },
    Row {
        scenario: "echo",
        title: "latency p99 (µs)",
        key: "p99_us",
        target: None,
    },
    Row {
        scenario: "fanout",
        title: "deliveries/s",
        key: "rate",
        target: Some(Target::Throughput {
            node: 2.0,
            socketioxide: 1.2,
            ceiling: 0.85,
        }),
    },
    Row {
        scenario: "fanout",
        title: "deliveries per server CPU-second",
        key: "per_cpu_s",
        target: Some(Target::Throughput {
            node: 2.0,
            socketioxide: 1.2,
            ceiling: 0.85,
        }),
    },
    Row {
        scenario: "fanout",
        title: "emit→receive p50 (µs)",
        key: "p50_us",
        target: None,
    },
    Row {
        scenario: "fanout",
        title: "emit→receive p99 (µs)",
        key: "p99_us",
        target: None,
    },
    Row {
        scenario: "idle",
        title: "server memory per connection (KiB)",
        key: "kib_per_conn",
        target: Some(Target::Memory { node: 0.5 }),
    },
    Row {
        scenario: "connect",
        title: "handshakes/s",
        key: "rate",
        target: None,
    },
    Row {
        scenario: "connect",
        title: "handshakes per server CPU-second",
        key: "per_cpu_s",
        target: None,
    },
    Row {
        scenario: "connect",
        title: "handshake p50 (µs)",
        key: "p50_us",
        target: None,
    },
    Row {
        scenario: "connect",
        title: "handshake p99 (µs)",
        key: "p99_us",
        target: None,
    },
];

const NODE: &str = "node";
const SOCKETIOXIDE: &str = "socketioxide";
const CEILING: &str = "ceiling";
/// The ceiling on sockio's own WebSocket layer.
const CEILING_CODEC: &str = "ceiling-codec";

/// The servers every sockio runtime is compared with, in the order of the ratio columns.
const REFERENCES: [&str; 4] = [NODE, SOCKETIOXIDE, CEILING, CEILING_CODEC];

/// The servers present, sockio runtimes first (in sockio's order), then node, socketioxide,
/// the ceiling, and anything else.
fn servers(lines: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for l in lines {
        if let Some(s) = l["server"].as_str() {
            if l["scenario"].is_string() && !names.iter().any(|n| n == s) {
                names.push(s.to_owned());
            }
        }
    }
    let rank = |s: &str| -> (usize, String) {
        let order = [
            "sockio-tokio",
            "sockio-async-std",
            "sockio-threaded",
            NODE,
            SOCKETIOXIDE,
            CEILING,
            CEILING_CODEC,
        ];
        match order.iter().position(|o| *o == s) {
            Some(i) => (i, String::new()),
            None if s.starts_with("sockio-") => (2, s.to_owned()),
            None => (order.len(), s.to_owned()),
        }
    };
    names.sort_by_key(|s| rank(s));
    names
}

/// Every value of `key` in the successful lines of `scenario` × `server`.
fn values(lines: &[Value], scenario: &str, server: &str, key: &str) -> Vec<f64> {
    lines
        .iter()
        .filter(|l| l["scenario"] == scenario && l["server"] == server && !l["failed"].is_string())
        .filter_map(|l| l[key].as_f64())
        .collect()
}

fn med(lines: &[Value], scenario: &str, server: &str, key: &str) -> Option<f64> {
    median(&values(lines, scenario, server, key))
}

/// A figure with at most three significant digits and thousands separators.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let x = crate::stats::sig3(x);
    if x.abs() >= 1000.0 {
        let s = format!("{:.0}", x);
        let (sign, digits) = s.split_at(usize::from(s.starts_with('-')));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if x.abs() >= 100.0 || x == x.trunc() {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{r:.2}x"))
}

/// Renders the whole generated section (without the markers).
pub fn render(lines: &[Value]) -> String {
    let servers = servers(lines);
    let sockios: Vec<&String> = servers
        .iter()
        .filter(|s| s.starts_with("sockio-"))
        .collect();
    // A ratio column per sockio runtime and reference server the run has.
    let references: Vec<&str> = REFERENCES
        .into_iter()
        .filter(|r| servers.iter().any(|s| s == r))
        .collect();
    let mut out = String::new();

    if let Some(meta) = lines.iter().find_map(|l| l.get("meta")) {
        let get = |k: &str| meta[k].as_str().map(str::to_owned).unwrap_or_default();
        let _ = writeln!(
            out,
            "Run of {} ({} mode, {} round(s), median shown), {}.",
            get("date"),
            get("mode"),
            meta["rounds"],
            get("machine")
        );
        let _ = writeln!(out, "Command: `{}`.", get("command"));
        let _ = writeln!(out);
    }

    // Main table.
    let mut header = String::from("| scenario | figure |");
    let mut rule = String::from("|---|---|");
    for s in &servers {
        let _ = write!(header, " {s} |");
        rule.push_str("---:|");
    }
    for s in &sockios {
        for r in &references {
            let _ = write!(header, " {s}/{r} |");
            rule.push_str("---:|");
        }
    }
    header.push_str(" target (sockio-tokio) |");
    rule.push_str("---|");
    let _ = writeln!(out, "{header}\n{rule}");
    for row in ROWS {
        if !servers
            .iter()
            .any(|s| med(lines, row.scenario, s, row.key).is_some())
        {
            continue;
        }
        let _ = write!(out, "| {} | {} |", row.scenario, row.title);
        for s in &servers {
            let v = med(lines, row.scenario, s, row.key);
            let _ = write!(out, " {} |", v.map_or("–".into(), fmt_num));
        }
        let node = med(lines, row.scenario, NODE, row.key);
        let ceiling = med(lines, row.scenario, CEILING, row.key);
        for s in &sockios {
            let v = med(lines, row.scenario, s, row.key);
            for r in &references {
                let reference = med(lines, row.scenario, r, row.key);
                let _ = write!(out, " {} |", fmt_ratio(ratio(v, reference)));
            }
        }
        let tokio = med(lines, row.scenario, "sockio-tokio", row.key);
        let verdict = match row.target {
            None => String::new(),
            Some(Target::Throughput {
                node: n,
                socketioxide: x,
                ceiling: c,
            }) => {
                let socketioxide = med(lines, row.scenario, SOCKETIOXIDE, row.key);
                let a = ratio(tokio, node).map(|r| r >= n);
                let b = ratio(tokio, socketioxide).map(|r| r >= x);
                let d = ratio(tokio, ceiling).map(|r| r >= c);
                format!(
                    "≥ {n}x node: {}; ≥ {x}x socketioxide: {}; ≥ {c}x ceiling: {}",
                    verdict(a),
                    verdict(b),
                    verdict(d)
                )
            }
            Some(Target::Memory { node: n }) => {
                let a = ratio(tokio, node).map(|r| r <= n);
                format!("≤ {n}x node: {}", verdict(a))
            }
        };
        let _ = writeln!(out, " {verdict} |");
    }
    // Read by tools: the idle figures of sockio-tokio and its two peers, on one line.
    let idle = |s: &str| med(lines, "idle", s, "kib_per_conn");
    if let (Some(t), Some(n), Some(x)) = (idle("sockio-tokio"), idle(NODE), idle(SOCKETIOXIDE)) {
        let _ = writeln!(
            out,
            "\nidle KiB per connection: sockio-tokio {t:.1}, node {n:.1}, socketioxide {x:.1}"
        );
    }
    let _ = writeln!(
        out,
        "\nRatios are sockio's figure divided by the other server's: above 1 is better for \
         rates, below 1 is better for latencies and memory. The rows *per server CPU-second* \
         divide the operations by the CPU time the server process used in the measured \
         window: what one fully used core would do. On a machine shared with other work a \
         server rarely gets its whole core (see *server waiting* under every round), so those \
         rows compare the servers' efficiency more reliably than the raw rates."
    );

    // Allocations.
    let allocs: Vec<&Value> = lines.iter().filter(|l| l["allocs"].is_object()).collect();
    if !allocs.is_empty() {
        let _ = writeln!(
            out,
            "\n**Allocations** (`sockio-load-server --count-allocs`, whole process, between \
             the first and the last handler call):\n"
        );
        let _ = writeln!(
            out,
            "| server | per echo round trip | per broadcast | recipients | per broadcast \
             and recipient | bytes per echo | bytes per broadcast |\n|---|---:|---:|---:|---:|---:|---:|"
        );
        for a in allocs {
            let e = &a["allocs"]["echo"];
            let b = &a["allocs"]["bcast"];
            let f = |v: &Value| v.as_f64().map_or("–".into(), fmt_num);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                a["server"].as_str().unwrap_or("?"),
                f(&e["allocs"]),
                f(&b["allocs"]),
                b["recipients"]
                    .as_u64()
                    .map_or("–".into(), |n| n.to_string()),
                f(&b["allocs_per_recipient"]),
                f(&e["bytes"]),
                f(&b["bytes"]),
            );
        }
    }

    // Every round.
    let _ = writeln!(
        out,
        "\n<details><summary>Every round (CPU in cores over the measured window: used, \
         and waiting for a CPU held by other processes; errors)</summary>\n"
    );
    let _ = writeln!(
        out,
        "| scenario | server | figure per round | server CPU | server waiting | generator CPU \
         | generator waiting | errors |\n|---|---|---|---|---|---|---|---|"
    );
    for scenario in crate::scenario::SCENARIOS {
        for s in &servers {
            let runs: Vec<&Value> = lines
                .iter()
                .filter(|l| l["scenario"] == scenario && l["server"] == s.as_str())
                .collect();
            if runs.is_empty() {
                continue;
            }
            let key = if scenario == "idle" {
                "kib_per_conn"
            } else {
                "rate"
            };
            let join = |k: &str| -> String {
                let cpu = k.ends_with("_cpu") || k.ends_with("_wait");
                runs.iter()
                    .map(|l| {
                        if l["failed"].is_string() {
                            "failed".into()
                        } else if cpu {
                            l[k].as_f64().map_or("–".into(), |c| format!("{c:.2}"))
                        } else {
                            l[k].as_f64().map_or("–".into(), fmt_num)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            let errors: u64 = runs.iter().filter_map(|l| l["errors"].as_u64()).sum();
            let unit = runs
                .iter()
                .find_map(|l| l["unit"].as_str())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {scenario} | {s} | {} {unit} | {} | {} | {} | {} | {errors} |",
                join(key),
                join("server_cpu"),
                join("server_wait"),
                join("gen_cpu"),
                join("gen_wait"),
            );
        }
    }
    let _ = writeln!(out, "\n</details>");

    // Failures and errors.
    let failed: Vec<&Value> = lines.iter().filter(|l| l["failed"].is_string()).collect();
    let erring: Vec<&Value> = lines
        .iter()
        .filter(|l| l["errors"].as_u64().unwrap_or(0) > 0)
        .collect();
    if !failed.is_empty() || !erring.is_empty() {
        let _ = writeln!(out, "\nProblems during the run:\n");
        for l in failed {
            let _ = writeln!(
                out,
                "- {} against {} failed: {}",
                l["scenario"].as_str().unwrap_or("?"),
                l["server"].as_str().unwrap_or("?"),
                l["failed"].as_str().unwrap_or("?")
            );
        }
        for l in erring {
            let _ = writeln!(
                out,
                "- {} against {}: {} error(s), last: {}",
                l["scenario"].as_str().unwrap_or("?"),
                l["server"].as_str().unwrap_or("?"),
                l["errors"],
                l["last_error"].as_str().unwrap_or("–")
            );
        }
    }
    out
}

fn verdict(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "n/a",
    }
}

/// `readme` with the text between [`BEGIN`] and [`END`] replaced by `section`.
pub fn replace_section(readme: &str, section: &str) -> Result<String, String> {
    let b = readme
        .find(BEGIN)
        .ok_or_else(|| format!("no {BEGIN} marker"))?;
    let e = readme.find(END).ok_or_else(|| format!("no {END} marker"))?;
    if e < b {
        return Err("the end marker comes before the begin marker".into());
    }
    Ok(format!(
        "{}{BEGIN}\n{}{}",
        &readme[..b],
        section.trim_end().to_owned() + "\n",
        &readme[e..]
    ))
}

/// Parses JSON lines, skipping blank ones; fails on anything that is not JSON.
pub fn parse_lines(text: &str) -> Result<Vec<Value>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Vec<Value> {
        let mut v = vec![
            json!({"meta": {"date": "2026-01-01", "mode": "full", "rounds": 3,
            "machine": "2 cores", "command": "benches/load/run"}}),
        ];
        for (server, rate, mem) in [
            ("sockio-tokio", [30_000.0, 31_000.0, 29_000.0], 10.0),
            ("node", [10_000.0, 12_000.0, 11_000.0], 30.0),
            ("ceiling", [40_000.0, 41_000.0, 39_000.0], 8.0),
        ] {
            for r in rate {
                v.push(json!({"scenario": "echo", "server": server, "rate": r,
                    "p50_us": 100.0, "p99_us": 900.0, "errors": 0, "unit": "round trips/s",
                    "server_cpu": 1.0, "gen_cpu": 0.8}));
            }
            v.push(
                json!({"scenario": "idle", "server": server, "kib_per_conn": mem,
                "errors": 0, "failed_conns": 0, "failed": 0}),
            );
        }
        v.push(json!({"scenario": "fanout", "server": "node", "failed": "boom"}));
        v.push(json!({"server": "sockio-tokio", "allocs": {
            "echo": {"allocs": 40.0, "bytes": 3000.0},
            "bcast": {"allocs": 1100.0, "recipients": 1001, "allocs_per_recipient": 1.1,
                      "bytes": 90000.0}}}));
        v
    }

    #[test]
    fn medians_ratios_and_verdicts() {
        let out = render(&sample());
        assert!(
            out.contains("| echo | round trips/s | 30,000 | 11,000 | 40,000 | 2.73x | 0.75x |"),
            "{out}"
        );
        assert!(
            out.contains(
                "≥ 2x node: **met**; ≥ 1.2x socketioxide: n/a; ≥ 0.85x ceiling: **not met**"
            ),
            "{out}"
        );
        assert!(out.contains("| idle | server memory per connection (KiB) | 10 | 30 | 8 | 0.33x | 1.25x | ≤ 0.5x node: **met** |"), "{out}");
        assert!(out.contains("fanout against node failed: boom"), "{out}");
        assert!(
            out.contains("| sockio-tokio | 40 | 1,100 | 1001 | 1.10 |"),
            "{out}"
        );
        assert!(
            out.contains(
                "30,000 / 31,000 / 29,000 round trips/s | 1.00 / 1.00 / 1.00 | – / – / – |"
            ),
            "{out}"
        );
        assert!(
            out.contains("Run of 2026-01-01 (full mode, 3 round(s)"),
            "{out}"
        );
    }

    #[test]
    fn socketioxide_ratios_sit_between_node_and_the_ceiling() {
        let mut lines = sample();
        for r in [20_000.0, 25_000.0, 15_000.0] {
            lines.push(
                json!({"scenario": "echo", "server": "socketioxide", "rate": r,
                "errors": 0, "unit": "round trips/s"}),
            );
        }
        lines.push(
            json!({"scenario": "idle", "server": "socketioxide", "kib_per_conn": 5.0,
            "errors": 0}),
        );
        let out = render(&lines);
        assert!(
            out.contains(
                "| scenario | figure | sockio-tokio | node | socketioxide | ceiling | \
                 sockio-tokio/node | sockio-tokio/socketioxide | sockio-tokio/ceiling | \
                 target (sockio-tokio) |"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "| echo | round trips/s | 30,000 | 11,000 | 20,000 | 40,000 | 2.73x | 1.50x | \
                 0.75x |"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "| idle | server memory per connection (KiB) | 10 | 30 | 5 | 8 | 0.33x | 2.00x | \
                 1.25x |"
            ),
            "{out}"
        );
        assert!(out.contains("| echo | socketioxide | 20,000 / 25,000 / 15,000 round trips/s |"));
        assert!(
            out.contains(
                "\nidle KiB per connection: sockio-tokio 10.0, node 30.0, socketioxide 5.0\n"
            ),
            "{out}"
        );
        assert!(
            !render(&sample()).contains("idle KiB per connection"),
            "only with all three figures"
        );
    }

    #[test]
    fn ratio_columns_only_for_the_servers_the_run_has() {
        let lines = vec![
            json!({"scenario": "echo", "server": "socketioxide", "rate": 20_000.0}),
            json!({"scenario": "echo", "server": "sockio-tokio", "rate": 30_000.0}),
        ];
        let out = render(&lines);
        assert!(
            out.contains(
                "| scenario | figure | sockio-tokio | socketioxide | sockio-tokio/socketioxide | \
                 target (sockio-tokio) |\n|---|---|---:|---:|---:|---|\n\
                 | echo | round trips/s | 30,000 | 20,000 | 1.50x | \
                 ≥ 2x node: n/a; ≥ 1.2x socketioxide: **met**; ≥ 0.85x ceiling: n/a |"
            ),
            "{out}"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(1_234_567.0), "1,230,000");
        assert_eq!(fmt_num(-4_321.0), "-4,320");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.234), "1.23");
        assert_eq!(fmt_num(7.0), "7");
    }

    #[test]
    fn section_replacement() {
        let readme = format!("intro\n{BEGIN}\nold\n{END}\nrest\n");
        let new = replace_section(&readme, "new table\n").unwrap();
        assert_eq!(new, format!("intro\n{BEGIN}\nnew table\n{END}\nrest\n"));
        assert!(replace_section("no markers", "x").is_err());
        assert!(parse_lines("{\"a\":1}\n\n{\"b\":2}").unwrap().len() == 2);
        assert!(parse_lines("nope").is_err());
    }
}
