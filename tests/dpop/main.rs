//! DPoP (RFC 9449) sender-constrained tokens: the layer's proof checks, and
//! the demo server (examples/serve.rs) configured for DPoP.

#[path = "../common/mod.rs"]
mod common;

mod dpop;
mod dpop_serve;
