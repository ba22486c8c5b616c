//! Shared helpers for the sockio benchmarks.
