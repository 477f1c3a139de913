//! Nothing here: this package exists for its examples (`examples/*.rs`,
//! registered in `examples/Cargo.toml`), so that `cargo run --example serve`
//! builds only what the examples need.
