//! JWT bearer authentication for any [tower] service: axum routers, tonic
//! gRPC servers, plain hyper.
//!
//! A [`JwtAuthLayer`] pulls the token from `Authorization: Bearer` (RFC 6750)
//! or the [`TokenSource`]s you choose, verifies it against your keys and
//! rules, and puts the decoded [`Claims`] into the request extensions, where
//! handlers read them (an axum extractor with the `axum` feature). Every
//! rejection is an RFC 6750 response (401, 403, 400, or 503 when the keys are
//! unavailable), and a gRPC status for gRPC calls.
//!
//! This page: a quickstart, a map of the modules, the external crates whose
//! types you meet in this API, then one section per thing you will want to
//! do.
//!
//! # Quickstart
//!
//! Build an [`Authenticator`] once (keys and the rules every token must
//! pass), then make one layer per route from it:
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
//!     .claims::<MyClaims>()                      // or keep serde_json::Value
//!     .hmac_secret("a secret of at least thirty-two bytes")
//!     .issuer(["https://issuer.example"])        // `iss` required and checked
//!     .audience(["api"])                         // `aud` required and checked
//!     .build()?;
//! Ok(Router::new()
//!     .route("/me", get(me).layer(auth.layer()))
//!     .route("/admin", get(me).layer(auth.layer().require_scope("admin"))))
//! # }
//! ```
//!
//! Keys: [`hmac_secret`](AuthenticatorBuilder::hmac_secret) (32+ bytes),
//! [`public_key_pem`](AuthenticatorBuilder::public_key_pem) (RSA 2048+, EC
//! P-256/P-384, Ed25519), [`jwk_set`](AuthenticatorBuilder::jwk_set) /
//! [`jwk_set_file`](AuthenticatorBuilder::jwk_set_file); anything that can fail
//! makes [`build`](AuthenticatorBuilder::build) return a [`ConfigError`],
//! never a panic. The same token, verified without tower:
//!
//! ```
//! use tower_jwt_auth::{testing::TestIssuer, AuthErrorKind};
//!
//! let issuer = TestIssuer::es256();                  // a throwaway key pair
//! let auth = issuer.authenticator().build()?;        // keys, iss, aud of that issuer
//! let claims = auth.verifier().verify(&issuer.token().subject("ada").sign())?;
//! assert_eq!(claims["sub"], "ada");
//! let expired = auth.verifier().verify(&issuer.token().expired().sign());
//! assert_eq!(expired.unwrap_err().kind(), AuthErrorKind::Expired);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! The crate root holds what every application uses: [`Authenticator`] and
//! its builder, the layer ([`JwtAuthLayer`], [`JwtAuth`]), [`Claims`], the
//! errors, and the request decision ([`Gate`], [`Verifier`]). The rest:
//!
//! | module | what |
//! |---|---|
//! | [`keys`] | keys, key sets and the algorithms each key may verify; key files read again, key handles |
//! | [`clock`] | the time every check reads; a fixed clock for tests |
//! | [`rules`] | what a token must say beyond its signature: roles, custom checks, rules by method, path or header, SPIFFE IDs |
//! | [`dpop`] | sender-constrained tokens (DPoP, RFC 9449) and replay stores |
//! | [`issue`] | signing access and refresh tokens, with rotation and reuse detection |
//! | [`revocation`] | revocation lists: in memory, or shared through Redis |
//! | [`resource`] | the protected resource and its RFC 9728 metadata |
//! | [`forward`] | behind a gateway: claims as headers for the upstream, a forward-auth service for nginx, Traefik, Envoy |
//! | [`response`] | rendering a rejection: HTTP challenges, gRPC statuses, your own responder |
//! | `remote` | keys, discovery and introspection over the network; the HTTP client's settings (feature `remote`) |
//! | `mcp` | MCP Streamable HTTP endpoints: scopes per method and per tool, prompt or resource (feature `mcp`) |
//! | `tonic` | a tonic interceptor (feature `tonic`) |
//! | [`axum`] | the axum extractors (feature `axum`) |
//! | `testing` | throwaway keys and one-line tokens for your tests (feature `test-util`) |
//! | [`future`] | the layer's response future |
//!
//! # Public dependencies
//!
//! Types of these crates appear in this crate's API (the repository's
//! `public-api.txt` lists every use), so your project shares them: it must
//! use a version inside each range below, and this crate moving one past its
//! range is a breaking change. Each is a deliberate choice:
//!
//! | crate | versions | in the API | feature |
//! |---|---|---|---|
//! | `http` | 1.x | requests, responses, `HeaderMap`, `Method`, `Uri`, `StatusCode`, `Extensions` | always |
//! | `tower-service`, `tower-layer` | 0.3.x | [`JwtAuth`] is a `Service`, [`JwtAuthLayer`] a `Layer` | always |
//! | `serde` | 1.x | `DeserializeOwned` bounds of typed claims, `Serialize` bounds of issued claims | always |
//! | `serde_json` | 1.x | `serde_json::Value`, the default claims type; `serde_json::Error` | always |
//! | `jsonwebtoken` | 11.x (11.1 or later) | [`keys::Algorithm`] is its `Algorithm`, re-exported | always |
//! | `axum-core` | 0.5.x | `IntoResponse` for the errors, `FromRequestParts` for [`Claims`] | `axum` |
//! | `axum` | 0.8.x | `ResourceMetadata::router` returns an `axum::Router` | `axum` |
//! | `tonic` | 0.14.x | `tonic::JwtInterceptor` is a tonic `Interceptor`; `tonic::to_status` returns a `tonic::Status` | `tonic` |
//! | `reqwest` | 0.13.x | `HttpClientOptions::reqwest_client` takes your own `reqwest::Client` | `remote` |
//! | `http-body` | 1.x | `mcp::McpAuth` is a `Service` for any request body implementing its `Body` | `mcp` |
//! | `bytes` | 1.x | `mcp::McpAuth` hands the body on rebuilt `From<Bytes>` (axum's `Body` is) | `mcp` |
//! | `pin-project-lite` | 0.2.x | only the `Unpin` bound of [`future::ResponseFuture`]: generated code no caller names | always |
//!
//! The other dependencies (`redis`, `tracing`, `metrics`, the crypto
//! backends ...) are used inside: none of their types is in the API, so
//! their versions are not yours to match.
//!
//! # axum
//!
//! With the `axum` feature (default), `Claims<C>` is an extractor and
//! `Option<Claims<C>>` one for optional routes ([`Authenticator::optional`]).
//! A handler that extracts claims on a route without the layer answers 500
//! naming the missing layer: a bug, not a client error. Typed claims that do
//! not deserialize are a 401. See the [`axum`] module.
//!
//! # tonic
//!
//! The same layer in front of a tonic server; rejections are gRPC statuses
//! (`UNAUTHENTICATED`, `PERMISSION_DENIED`, `UNAVAILABLE`):
//!
//! ```no_run
//! # async fn run(auth: tower_jwt_auth::Authenticator) -> Result<(), Box<dyn std::error::Error>> {
//! let (_reporter, health) = tonic_health::server::health_reporter();
//! tonic::transport::Server::builder()
//!     .layer(auth.layer().require_scope("health"))
//!     .add_service(health)
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Handlers read `request.extensions().get::<Claims>()`. With the `tonic`
//! feature, `auth.layer().interceptor()` is a [`JwtInterceptor`](tonic::JwtInterceptor) for
//! `with_interceptor`.
//!
//! # hyper
//!
//! Any `Service<Request<B>>` takes the layer; with hyper 1, wrap it in
//! `hyper_util`'s `TowerToHyperService`:
//!
//! ```no_run
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use tower::ServiceBuilder;
//! use tower_jwt_auth::Claims;
//!
//! async fn hello(req: Request<hyper::body::Incoming>) -> Result<Response<String>, Infallible> {
//!     let sub = req.extensions().get::<Claims>().and_then(|c| c["sub"].as_str().map(str::to_owned));
//!     Ok(Response::new(format!("hello {}", sub.unwrap_or_default())))
//! }
//!
//! # async fn run(auth: tower_jwt_auth::Authenticator) -> Result<(), Box<dyn std::error::Error>> {
//! let svc = ServiceBuilder::new().layer(auth.layer()).service_fn(hello);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let (stream, _) = listener.accept().await?;
//! hyper::server::conn::http1::Builder::new()
//!     .serve_connection(
//!         hyper_util::rt::TokioIo::new(stream),
//!         hyper_util::service::TowerToHyperService::new(svc),
//!     )
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Per-route rules
//!
//! An [`Authenticator`] is cheap to clone (an `Arc`): keys, the
//! verified-token cache and revocation are held once, and each route's layer adds its own rules on
//! top of a valid token: `require_scope`, `require_any_scope`,
//! `require_all_scopes`, `require_role` (with a [`RoleClaim`](rules::RoleClaim) for Keycloak,
//! Entra ID, Okta...), `require(|claims| ...)` for your own check, and
//! `audience([..])`, and rules by method, path or header:
//! `require_scope_for([Method::GET], "read")`,
//! `require_when(`[`RequestRule`](rules::RequestRule)`)`. A token that fails
//! one gets 403 `insufficient_scope`.
//! [`Authenticator::optional`] lets anonymous requests through without
//! claims, but still rejects a bad token. Several issuers:
//! [`Authenticator::by_issuer`], one authenticator per issuer, picked by the
//! token's `iss`. See [`JwtAuthLayer`] and [`RoleClaim`](rules::RoleClaim).
//!
//! ```
//! # use tower_jwt_auth::testing::TestIssuer;
//! # let auth = TestIssuer::hs256().authenticator().build()?;
//! let user = auth.layer();                                  // any valid token
//! let admin = auth.layer().require_scope("admin");          // and a scope
//! let billing = auth.layer().audience(["billing"]);         // another audience
//! let maybe = auth.optional();                              // token optional
//! # let _ = (user, admin, billing, maybe);
//! # Ok::<(), tower_jwt_auth::ConfigError>(())
//! ```
//!
//! # Keys from an identity provider
//!
//! An identity provider (Keycloak, Auth0, Entra ID, Okta, Cognito...)
//! publishes its public keys as a JWK Set. Load one from a file or a string
//! with [`jwk_set_file`](AuthenticatorBuilder::jwk_set_file) /
//! [`jwk_set`](AuthenticatorBuilder::jwk_set); keys are looked up by `kid`,
//! each bound to the algorithms its type allows (no algorithm confusion).
//! Key files are read again when they change (every 10 s by default; a bad
//! version keeps the last good keys with a warning; see
//! [`KeyFileOptions`](keys::KeyFileOptions)), and keys you manage yourself
//! can be replaced whole through a [`KeyHandle`](keys::KeyHandle).
//! With the `remote` feature the authenticator fetches the set itself, from
//! [`jwks_url`](AuthenticatorBuilder::jwks_url) or through OIDC discovery
//! ([`oidc_issuer`](AuthenticatorBuilder::oidc_issuer), which also pins
//! `iss`), at [`build_async`](AuthenticatorBuilder::build_async) and then in
//! the background. A token naming an unknown `kid` triggers one refetch that
//! all concurrent requests share (at most one per cooldown); when the
//! provider is down the last good keys keep serving up to a maximum stale
//! age, then requests get 503, never an accept. See [`RemoteOptions`](remote::RemoteOptions); the
//! timeouts, size limit, a private CA, a client certificate, a proxy or an
//! own `reqwest::Client` of every fetch, set once, through `HttpClientOptions`
//! ([`http_client`](AuthenticatorBuilder::http_client)); the tenants of a multi-tenant issuer (Entra
//! ID) through `TenantIssuers` (both feature `remote`). SPIFFE JWT-SVIDs
//! verify against a trust bundle
//! ([`spiffe_bundle`](AuthenticatorBuilder::spiffe_bundle),
//! [`spiffe`](AuthenticatorBuilder::spiffe)).
//!
//! ```no_run
//! # #[cfg(feature = "remote")]
//! # async fn run() -> Result<(), tower_jwt_auth::ConfigError> {
//! let auth = tower_jwt_auth::Authenticator::builder()
//!     .oidc_issuer("https://idp.example/realms/main")   // discovery, then its JWK Set
//!     .audience(["api"])
//!     .build_async()
//!     .await?;
//! # let _ = auth; Ok(()) }
//! ```
//!
//! A local JWK Set:
//!
//! ```
//! use tower_jwt_auth::Authenticator;
//! # let jwks = tower_jwt_auth::testing::TestIssuer::rs256().jwks();
//! let auth = Authenticator::builder()
//!     .jwk_set(&jwks)?                               // {"keys": [{"kty": "RSA", "kid": ...}]}
//!     .issuer(["https://idp.example/realms/main"])
//!     .audience(["api"])
//!     .build()?;
//! # let _ = auth;
//! # Ok::<(), tower_jwt_auth::ConfigError>(())
//! ```
//!
//! # Revocation and issuing tokens
//!
//! [`revocation`](AuthenticatorBuilder::revocation) checks every verified
//! token against a blacklist (by `jti`, by session `sid`, or "every token of
//! this `sub` issued before"): [`revocation::MemoryRevocation`] in one
//! process, `RedisRevocation` (feature `redis`) across a fleet. A list that
//! cannot answer fails closed (503). [`TokenIssuer`](issue::TokenIssuer) signs access and refresh
//! token pairs with rotation and reuse detection, and hands you the matching
//! authenticator; see [`TokenIssuer`](issue::TokenIssuer).
//!
//! ```
//! use tower_jwt_auth::revocation::{MemoryRevocation, Revocation};
//! # use tower_jwt_auth::testing::TestIssuer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let issuer = TestIssuer::hs256();
//! let revoked = std::sync::Arc::new(MemoryRevocation::new());
//! let auth = issuer.authenticator().revocation_shared(revoked.clone()).build()?;
//! let token = issuer.token().claim("jti", "t-1").sign();
//! assert!(auth.verifier().verify(&token).is_ok());
//! revoked.revoke_token("t-1", 4_000_000_000).await?;             // logout
//! assert!(auth.verifier().verify(&token).is_err());
//! # Ok(()) }
//! ```
//!
//! Sender-constrained tokens: [`DpopConfig`](dpop::DpopConfig) (RFC 9449) checks DPoP proofs and
//! `cnf.jkt` bindings, with replay protection and server nonces.
//!
//! # Resource server (RFC 9728, RFC 8707, RFC 9470)
//!
//! [`AuthenticatorBuilder::resource`] names the protected resource (an MCP
//! server, an API): tokens must then carry it in `aud` (RFC 8707), every
//! 401 and 403 challenge points at its metadata (`resource_metadata`), and
//! [`Authenticator::resource_metadata`] serves the RFC 9728 document derived
//! from the configuration ([`ResourceMetadata`](resource::ResourceMetadata): a JSON value, a tower
//! service, an axum router). Step-up route rules
//! ([`JwtAuthLayer::require_acr`], [`JwtAuthLayer::max_auth_age`]) answer a
//! token from too weak or too old an authentication with 401
//! `insufficient_user_authentication` ([`AuthErrorKind::InsufficientUserAuthentication`]).
//! An MCP server's scopes per tool, prompt or resource (one endpoint, many
//! tools; 403 `insufficient_scope` naming what each call needs) are the
//! `mcp` module's `McpScopes` (feature `mcp`).
//!
//! ```
//! use std::time::Duration;
//! use axum::{routing::post, Router};
//! use tower_jwt_auth::{Authenticator, resource::ProtectedResource};
//! # use tower_jwt_auth::testing::TestIssuer;
//!
//! # async fn mcp() {}
//! # async fn transfer() {}
//! # let issuer = TestIssuer::hs256().with_audience("https://api.example/mcp");
//! let auth = issuer
//!     .authenticator()                       // or .oidc_issuer(..) + build_async()
//!     .resource(ProtectedResource::new("https://api.example/mcp").name("Example tools"))
//!     .build()?;
//! let tools = auth.layer().require_scope("tools");
//! // `scopes_supported`: the scopes of the layers given (none by default).
//! let metadata = auth
//!     .resource_metadata()
//!     .expect("a resource is configured")
//!     .with_scopes_of(&tools);
//! let app: Router = Router::new()
//!     .route("/mcp", post(mcp).layer(tools))
//!     .route(
//!         "/transfer",
//!         post(transfer).layer(
//!             auth.layer()
//!                 .require_acr(["urn:mace:incommon:iap:silver"])
//!                 .max_auth_age(Duration::from_secs(300)),
//!         ),
//!     )
//!     .merge(metadata.router()); // GET /.well-known/oauth-protected-resource/mcp
//! assert_eq!(metadata.document()["scopes_supported"][0], "tools");
//! # let _ = app;
//! # Ok::<(), tower_jwt_auth::ConfigError>(())
//! ```
//!
//! # Testing your app
//!
//! With the `test-util` feature (in your `[dev-dependencies]`),
//! [`testing::TestIssuer`] generates a throwaway key (HMAC, RSA, EC,
//! Ed25519), mints valid, expired, not-yet-valid, wrong-audience or
//! other-issuer tokens in one line, and configures the authenticator that
//! accepts them; [`FixedClock::advance`](clock::FixedClock::advance) moves time without sleeping. No key
//! files, no network. With `remote` too, `testing::JwksServer` plays the
//! identity provider on 127.0.0.1 (JWK Set, OIDC discovery, rotation,
//! outages). See [`testing`].
//!
//! # Observability
//!
//! With `tracing`: a DEBUG span `jwt_verify` per verification, with the
//! header's `alg` and `kid`, the verified `iss` and the `outcome`; one event
//! per rejected request (DEBUG, or WARN when keys or the revocation list are
//! unavailable). With `metrics` (the [`metrics`] facade, any exporter):
//! `tower_jwt_auth_requests_total` by `outcome` (`accepted`, `anonymous`,
//! `rejected`) and `reason` (`expired`, `invalid_signature`, `missing`,
//! ...), the histogram `tower_jwt_auth_verification_seconds`,
//! `tower_jwt_auth_cache_total` (`hit`, `miss`) and
//! `tower_jwt_auth_key_fetches_total` (`ok`, `error`). Neither ever records
//! a token, a secret or key material.
//!
//! # Other frameworks
//!
//! The layer and the tonic interceptor are thin adapters around one
//! request decision, [`Gate::decide`]: method, URI and headers in,
//! [`Decision::Accept`] / [`Decision::Reject`] / [`Decision::Pending`] out.
//! Any framework's middleware can ask it the same way (see [`Gate`]), and
//! gets every capability the layer has: token sources, DPoP, route rules,
//! remote keys, revocation. A [`Rejection`](response::Rejection) renders as the RFC 6750 (and
//! RFC 9449) response or a gRPC status.
//!
//! # Pieces
//! A request meets, in order: the credentials (the [`TokenSource`]s, read
//! once), the [`Gate`] (the route's decision: a DPoP proof first, when the
//! request uses DPoP), the [`Verifier`] (picking the issuer with
//! [`Authenticator::by_issuer`], the JWS header, the [`KeySet`](keys::KeySet) lookup and
//! the signature, or the verified-token cache; then one security sequence
//! for a miss and a hit: claim rules, the key's issuer, the sender binding,
//! the route rules with step-up, revocation), the route's own checks on the typed
//! claims, and the adapter ([`JwtAuthLayer`], [`JwtInterceptor`](tonic::JwtInterceptor) or yours)
//! forwards the request with its [`Claims`] or renders the [`Rejection`](response::Rejection).
//!
//! # Verified-token cache
//! A token verified once is kept (up to 10,000 tokens by default, shared
//! by every layer of an authenticator; see
//! [`cache_capacity`](AuthenticatorBuilder::cache_capacity)), keyed by its
//! exact text (compared in constant time), never past its `exp` nor a
//! maximum age (10 minutes). A hit skips the signature and the parsing
//! only: the key is selected again from the current key set and must be
//! the one that verified the token, and the whole security sequence
//! (time, issuer, audience, binding, the route's rules, revocation) runs
//! again. Failures are never cached.
//!
//! ```
//! use tower_jwt_auth::testing::TestIssuer;
//!
//! let issuer = TestIssuer::hs256();
//! let auth = issuer.authenticator().build()?;
//! let token = issuer.token().sign();
//! auth.verifier().verify(&token)?;                 // verified, then cached
//! auth.verifier().verify(&token)?;                 // a hit
//! let stats = auth.verifier().cache_stats().expect("on by default");
//! assert_eq!(stats.entries, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security defaults
//! `exp` required, `nbf`/`iat` checked, 60 s leeway, `iss`/`aud` required
//! once configured, `alg` bound to each key (no algorithm confusion, never
//! `none`), `crit`/`b64:false`/JWE rejected, 8 KiB token limit, HMAC secrets
//! of 32+ bytes, RSA of 2048+ bits, no key ever taken from the token
//! (`jku`, `x5u`, `jwk` ignored). See [RFC 7519], [RFC 6750] and [RFC 8725].
//!
//! # Weakening a check: every `danger_*` in one place
//! Each default above is safe; an opt-out that weakens one is named
//! `danger_*`, so a review finds them all with one search. This table lists
//! every one (a unit test fails when a public `danger_*` method is missing
//! from it):
//!
//! | opt-out | what it weakens |
//! |---|---|
//! | [`AuthenticatorBuilder::danger_allow_missing_exp`] | tokens without `exp` never expire |
//! | [`AuthenticatorBuilder::danger_hmac_short_secret`], [`Key::danger_hmac_short_secret`](keys::Key::danger_hmac_short_secret) | HMAC secrets shorter than their hash (RFC 7518 §3.2) |
//! | [`TokenSource::danger_query`] | a token in the URL (logs, history, `Referer`) |
//! | [`AuthenticatorBuilder::danger_accept_unverified_confirmation`] | tokens bound by a `cnf` method the crate does not check (mTLS `x5t#S256`, ...) accepted without that check |
//! | `HttpClientOptions::danger_allow_http` (feature `remote`) | every fetch (key sets, discovery, tenants, SPIFFE bundles, introspection: the token and client secret) over plain `http` to a host that is not loopback |
//! | `RedisRevocationBuilder::danger_fail_open` (feature `redis`) | tokens accepted while the revocation list is unreachable |
//! | `TenantIssuers::danger_any_tenant_without_audience` (feature `remote`) | any tenant of a multi-tenant provider accepted without an audience: anyone's app of that provider, with the roles its owner gave it |
//!
//! # Features
//! | feature | default | what |
//! |---|---|---|
//! | `aws-lc-rs` | yes | crypto backend: aws-lc-rs; TLS (`remote`, `rediss://`) is rustls with aws-lc-rs too: one crypto library, no ring |
//! | `rust-crypto` | no | crypto backend: RustCrypto (pure Rust) for tokens; TLS (`remote`, `rediss://`) is rustls with ring (no aws-lc-rs, no cmake); aws-lc-rs wins when both are on |
//! | `axum` | yes | `Claims` and `Option<Claims>` extractors |
//! | `tonic` | no | [`JwtInterceptor`](tonic::JwtInterceptor), a tonic interceptor asking the same [`Gate`] |
//! | `remote` | no | keys from a JWKS URL, OIDC discovery, the tenants of an issuer pattern or a SPIFFE bundle endpoint, refreshed in the background ([`RemoteOptions`](remote::RemoteOptions)); RFC 7662 introspection; trust, transport and limits of every fetch, set once (`HttpClientOptions`) |
//! | `redis` | no | [`revocation::RedisRevocation`]: a revocation list shared through Redis; `dpop::RedisReplayStore`: one DPoP replay store for a fleet |
//! | `mcp` | no | `mcp::McpScopes`: scopes per JSON-RPC method and per tool, prompt or resource of an MCP endpoint; `Mcp-Method` / `Mcp-Name` checked against the body |
//! | `tracing` | no | a span per verification (`alg`, `kid`, `iss`, outcome); one event per rejection |
//! | `metrics` | no | request counters by outcome and reason, a histogram of verification time |
//! | `test-util` | no | [`testing`]: `TestIssuer` (throwaway keys, one-line tokens) for your app's tests |
//!
//! On docs.rs, items that need a feature say which.
//!
//! [tower]: https://docs.rs/tower
//! [`metrics`]: https://docs.rs/metrics
//! [RFC 7519]: https://www.rfc-editor.org/rfc/rfc7519
//! [RFC 6750]: https://www.rfc-editor.org/rfc/rfc6750
//! [RFC 8725]: https://www.rfc-editor.org/rfc/rfc8725

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

mod authenticator;
mod cache;
mod claim_rules;
mod claims;
pub mod clock;
mod crypto;
#[cfg(test)]
mod doc_checks;
pub mod dpop;
mod error;
pub mod forward;
mod gate;
// Entry points for the fuzz targets (`--cfg fuzzing`); not public API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "remote")]
mod http_client;
#[cfg(feature = "remote")]
mod introspection;
pub mod issue;
mod jws;
pub mod keys;
mod layer;
#[cfg(feature = "mcp")]
pub mod mcp;
mod observe;
pub mod resource;
pub mod response;
pub mod revocation;
mod route_rules;
mod settings;
mod spiffe;
mod token;
mod verifier;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "tonic")]
pub mod tonic;

#[cfg(feature = "test-util")]
pub mod testing;

/// The future of the [`JwtAuth`] service.
pub mod future {
    pub use crate::layer::future::ResponseFuture;
}

/// Keys from the network: remote JWK Sets and OIDC discovery, token
/// introspection, the tenants of a multi-tenant issuer, and the transport
/// of every outgoing fetch.
///
/// [`RemoteOptions`](remote::RemoteOptions) sets how key sets are refreshed; [`HttpClientOptions`](remote::HttpClientOptions)
/// sets, once, how every fetch (keys, discovery, tenants, SPIFFE bundles,
/// introspection) connects: timeouts, size limits, trusted roots, a client
/// certificate, a proxy, your own `reqwest::Client`.
#[cfg(feature = "remote")]
pub mod remote {
    pub use crate::authenticator::TenantIssuers;
    pub use crate::error::{FetchError, FetchErrorKind};
    pub use crate::http_client::HttpClientOptions;
    pub use crate::introspection::Introspection;
    pub use crate::keys::remote::RemoteOptions;
}

/// What a token must say beyond a valid signature, on a route and per request.
///
/// Where roles are read ([`RoleClaim`](rules::RoleClaim)), a custom check's
/// refusal ([`Denied`](rules::Denied)), rules by method, path or header
/// ([`RequestRule`](rules::RequestRule)), SPIFFE IDs
/// ([`SpiffeIds`](rules::SpiffeIds)).
pub mod rules {
    pub use crate::route_rules::{Denied, RequestRule, RoleClaim};
    pub use crate::spiffe::SpiffeIds;
}

pub use authenticator::{Authenticator, AuthenticatorBuilder};
pub use cache::CacheStats;
pub use claims::{Claims, RawClaims};
pub use error::{AuthError, AuthErrorKind, ConfigError};
pub use gate::{Accepted, Decision, Gate, Pending};
pub use layer::{JwtAuth, JwtAuthLayer};
pub use token::{TokenSource, DEFAULT_MAX_TOKEN_LEN};
pub use verifier::Verifier;

/// The request parsers, public for the crate's fuzz targets and no-panic
/// tests only: not part of the API.
#[doc(hidden)]
pub mod parsers {
    pub use crate::token::{bearer_token, find_token, parse_authorization, Credentials};
}
