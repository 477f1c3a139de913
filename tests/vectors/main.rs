//! Conformance and robustness, with no fixture code but the key files:
//! Wycheproof and RFC 7515/7520 vectors, and property tests that no input
//! panics. CI also runs this binary with the pure-Rust backend alone
//! (`--no-default-features --features rust-crypto`), so it needs no other
//! feature.

mod no_panic;
mod vectors;
