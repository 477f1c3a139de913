//! JWT bearer authentication for any [tower] service: axum routers, tonic
//! gRPC servers, plain hyper.
//!
//! A [`JwtAuthLayer`] pulls the token from `Authorization: Bearer` (RFC 6750)
//! or the [`TokenSource`]s you choose, verifies it against configured keys
//! and rules, and puts the decoded [`Claims`] into the request extensions,
//! where handlers read them (an axum extractor with the `axum` feature).
//! Rejections are RFC 6750 responses.
//!
//! ```no_run
//! use axum::{routing::get, Json, Router};
//! use tower_jwt_auth::{Authenticator, Claims};
//!
//! #[derive(serde::Deserialize, serde::Serialize, Clone)]
//! struct MyClaims { sub: String, scope: Option<String> }
//!
//! async fn me(Claims(c): Claims<MyClaims>) -> Json<MyClaims> { Json(c.as_ref().clone()) }
//!
//! # fn app() -> Result<Router, tower_jwt_auth::ConfigError> {
//! let auth = Authenticator::builder()
//!     .claims::<MyClaims>()
//!     .hmac_secret("a secret of at least thirty-two bytes")
//!     .issuer(["https://issuer.example"])
//!     .audience(["api"])
//!     .build()?;
//! Ok(Router::new()
//!     .route("/me", get(me).layer(auth.layer()))
//!     .route("/admin", get(me).layer(auth.layer().require_scope("admin"))))
//! # }
//! ```
//!
//! Sender-constrained tokens: [`dpop`] (RFC 9449) checks DPoP proofs and
//! `cnf.jkt` bindings, with replay protection and server nonces.
//!
//! # Pieces
//! A request meets, in order: [`token`] (find the token), [`verifier`]
//! (picking the issuer with [`Authenticator::by_issuer`], header checks,
//! [`keys`] lookup, signature, [`rules`]), then the route's [`policy`]
//! (scopes, roles, your checks), and [`layer`] turns the outcome into the
//! inner call or an [`error`] response.
//!
//! # Security defaults
//! `exp` required, `nbf`/`iat` checked, 60 s leeway, `iss`/`aud` required
//! once configured, `alg` bound to each key (no algorithm confusion, never
//! `none`), `crit`/`b64:false`/JWE rejected, 8 KiB token limit, HMAC secrets
//! of 32+ bytes, RSA of 2048+ bits. See RFC 7519, RFC 6750 and RFC 8725.
//!
//! # Features
//! | feature | default | what |
//! |---|---|---|
//! | `aws-lc-rs` | yes | crypto backend: aws-lc-rs |
//! | `rust-crypto` | no | crypto backend: RustCrypto (pure Rust); aws-lc-rs wins when both are on |
//! | `axum` | yes | `Claims` and `Option<Claims>` extractors |
//! | `tracing` | no | a span per verification (`alg`, `kid`, `iss`, outcome); one event per rejection (DEBUG; WARN when keys or the revocation list are unavailable) |
//! | `metrics` | no | counters of accepted and rejected requests by reason, a histogram of verification time, through the `metrics` facade |
//! | `test-util` | no | [`testing`]: `TestIssuer` (throwaway keys, one-line tokens) for your app's tests |
//! | `remote` | no | keys from a JWKS URL or OIDC discovery, refreshed in the background ([`keys::remote`]) |
//! | `redis` | no | [`revocation::RedisRevocation`]: a revocation list shared through Redis |
//! | `tonic` | no | [`JwtInterceptor`], a tonic interceptor on the same verifier |
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

mod authenticator;
pub mod claims;
mod crypto;
pub mod dpop;
pub mod error;
pub mod issue;
pub mod keys;
pub mod layer;
mod observe;
pub mod policy;
pub mod revocation;
pub mod rules;
pub mod token;
pub mod verifier;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "tonic")]
pub mod tonic;

#[cfg(feature = "test-util")]
pub mod testing;

#[cfg(feature = "tonic")]
pub use crate::tonic::JwtInterceptor;
pub use authenticator::{Authenticator, AuthenticatorBuilder};
pub use claims::{Claims, RawClaims};
pub use dpop::{DpopBound, DpopConfig, DpopMode};
pub use error::{AuthError, AuthErrorKind, ConfigError, KeyError};
pub use issue::{TokenIssuer, TokenPair};
pub use jsonwebtoken::Algorithm;
#[cfg(feature = "remote")]
pub use keys::remote::RemoteOptions;
pub use keys::{AlgorithmSet, Key, KeySet};
pub use layer::{DefaultErrorResponse, ErrorResponder, JwtAuth, JwtAuthLayer};
pub use policy::{Denied, RoleClaim, RouteRules};
pub use rules::{Clock, FixedClock, SystemClock};
pub use token::TokenSource;
pub use verifier::Verifier;
