//! Keys from identity providers over the network (feature `remote`): JWK
//! Set URLs and OIDC discovery, HTTPS with a private CA, per-tenant issuers,
//! SPIFFE trust bundles, and the demo server (examples/serve.rs) configured
//! from its environment.

#[path = "../common/mod.rs"]
mod common;

mod fetches;
mod forward;
mod remote;
mod serve;
mod spiffe;
mod tenants;
mod tls;
