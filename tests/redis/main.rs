//! Everything that talks to a real `redis-server` (feature `redis`;
//! `common::redis_server` starts one per test on 127.0.0.1): revocation,
//! TLS, cluster, DPoP replay, the login example, and the tonic interceptor
//! (with feature `tonic` too).

#[path = "../common/mod.rs"]
mod common;

mod dpop_redis;
#[cfg(feature = "tonic")]
mod interceptor;
mod login;
mod redis_cluster;
mod redis_tls;
mod revocation_redis;
