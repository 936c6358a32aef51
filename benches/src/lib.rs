//! Benchmarks only: see `benches/` and the README beside this crate.
