//! The layer and the authenticator with keys given at build time: HTTP
//! through axum, hyper and tonic, every rejection reason, the known attacks,
//! the verified-token cache, key files read again and key handles, token
//! sources, authorization rules, request rules (by method, header), CORS
//! with tower-http, several issuers, the gate, resource metadata, in-memory
//! revocation, the examples and the `testing` utilities. One test binary
//! (each binary links the crate
//! and its dependencies again); `cargo test --test core -- attacks::` runs
//! one file's tests.

#[path = "../common/mod.rs"]
mod common;

mod attacks;
mod authorization;
mod cache;
mod cors;
mod examples;
mod forward;
mod gate;
mod http;
mod hyper;
mod issuers;
mod keyfiles;
#[cfg(feature = "mcp")]
mod mcp;
mod request_rules;
mod resource;
mod revocation;
mod rfc9864;
mod sources;
mod testing;
mod tonic;
