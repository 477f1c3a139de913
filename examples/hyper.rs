//! Plain hyper 1 (no framework): a `service_fn` behind the JWT layer, served
//! by hyper's HTTP/1.1 connection builder through hyper-util's tokio and
//! tower adapters.
//!
//! Run with: `JWT_SECRET=a-secret-of-at-least-thirty-two-bytes cargo run --example hyper`
//! (`BIND` sets the address, default `127.0.0.1:3000`)
//! then `curl -i http://127.0.0.1:3000/ -H "Authorization: Bearer $TOKEN"`
//! (a token signed with `JWT_SECRET`; without it, the example makes up a
//! secret and prints a token).

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_jwt_auth::{Authenticator, Claims};

/// The handler: only reached with a valid token, whose claims it reads.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let sub = req
        .extensions()
        .get::<Claims>()
        .and_then(|c| c["sub"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello {sub}\n"
    )))))
}

/// Accepts connections on `listener` forever; each one is served (HTTP/1.1)
/// by the handler behind the layer.
pub async fn serve(listener: TcpListener, auth: Authenticator) -> std::io::Result<()> {
    // `Full<Bytes>` is `Default`, so the layer's rejections need no mapping.
    let svc = ServiceBuilder::new().layer(auth.layer()).service_fn(hello);
    loop {
        let (stream, _) = listener.accept().await?;
        let svc = TowerToHyperService::new(svc.clone());
        tokio::spawn(async move {
            // A client that goes away mid-request is not the server's error.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    let auth = Authenticator::builder().hmac_secret(&secret).build()?;
    let listener =
        TcpListener::bind(std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into()))
            .await?;
    let now = jsonwebtoken::get_current_timestamp();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "demo-user", "exp": now + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?;
    println!(
        "try: curl -i http://{}/ -H 'Authorization: Bearer {token}'",
        listener.local_addr()?
    );
    serve(listener, auth).await?;
    Ok(())
}
