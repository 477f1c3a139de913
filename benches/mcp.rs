//! What the MCP layer ([`McpScopes`]) adds to a cache hit: one HS256 token
//! (cached after the first request), the same small `tools/call` body, sent
//! through the auth layer alone and through the auth layer with
//! `McpScopes` inside it, on the same runtime, to a service that only
//! answers. `cargo bench --bench mcp --features mcp`.

use std::convert::Infallible;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response};
use http_body_util::Full;
use serde_json::json;
use tower::{service_fn, Layer, ServiceExt};
use tower_jwt_auth::mcp::McpScopes;
use tower_jwt_auth::Authenticator;

const SECRET: &str = "a secret of at least thirty-two bytes";

/// A `tools/call` of the kind an MCP client sends (125 bytes).
const BODY: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search","arguments":{"query":"tower middleware","limit":10}}}"#;

fn noop() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<()>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<()>, Infallible>>,
> + Clone {
    service_fn(|_req: Request<Full<Bytes>>| {
        std::future::ready(Ok::<_, Infallible>(Response::new(())))
    })
}

/// One request through a clone of `svc`, as a server sends it; it must be
/// let through (200), or the bench would time a refusal.
fn call<S, B>(rt: &tokio::runtime::Runtime, svc: &S, authorization: &str)
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    let req = Request::post("/mcp")
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "search")
        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
        .unwrap();
    let res = rt.block_on(svc.clone().oneshot(req)).unwrap();
    assert_eq!(res.status(), 200);
}

fn mcp(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "u", "scope": "mcp:read", "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let bearer = format!("Bearer {token}");
    let scopes = McpScopes::new()
        .tool("search", ["mcp:read"])
        .tool("delete_repo", ["mcp:admin"]);
    let alone = auth.layer().layer(noop());
    let with_mcp = auth.layer().layer(scopes.layer(noop()));
    // Both answer 200 (the read token may call `search`) and the token is
    // in the cache from here on.
    call(&rt, &alone, &bearer);
    call(&rt, &with_mcp, &bearer);
    let mut group = c.benchmark_group("mcp");
    group.bench_function("layer_hit", |b| b.iter(|| call(&rt, &alone, &bearer)));
    group.bench_function("layer_hit_with_mcp_scopes", |b| {
        b.iter(|| call(&rt, &with_mcp, &bearer))
    });
    group.finish();
}

criterion_group!(benches, mcp);
criterion_main!(benches);
