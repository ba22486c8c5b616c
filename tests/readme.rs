//! The README is the guide and the crate documentation (`#![doc = include_str!("../README.md")]`
//! in `src/lib.rs`), so `cargo test --doc` compiles its examples: none may opt out with
//! `ignore`. And while sockio is not on crates.io, no dependency line sends readers there.

const README: &str = include_str!("../README.md");

/// The fenced blocks of the README: (info string, body).
fn blocks() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut lines = README.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        out.push((info, body.join("\n")));
    }
    out
}

#[test]
fn the_readme_is_the_crate_documentation() {
    let lib = include_str!("../src/lib.rs");
    assert!(lib.contains("#![doc = include_str!(\"../README.md\")]"));
}

#[test]
fn every_rust_example_of_the_readme_is_compiled() {
    let rust: Vec<_> = blocks()
        .into_iter()
        .filter(|(info, _)| info.starts_with("rust"))
        .collect();
    assert!(rust.len() > 20, "{} Rust blocks", rust.len());
    for (info, body) in rust {
        assert!(
            info == "rust" || info == "rust,no_run",
            "a README example that is not compiled ({info}):\n{body}"
        );
    }
}

/// Until sockio is published (then this test goes), `sockio = "0.1"` does not resolve.
#[test]
fn dependency_lines_resolve_while_sockio_is_not_published() {
    for (info, body) in blocks().into_iter().filter(|(info, _)| *info == "toml") {
        for line in body
            .lines()
            .filter(|l| l.trim_start().starts_with("sockio"))
        {
            assert!(
                line.contains("path =") || line.contains("git ="),
                "a dependency on sockio from crates.io, where it is not published ({info}): {line}"
            );
        }
    }
}
