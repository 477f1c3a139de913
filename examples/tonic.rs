//! A tonic gRPC greeter behind the JWT layer; the handler reads the claims.
//!
//! Run with: `JWT_SECRET=a-secret-of-at-least-thirty-two-bytes cargo run --example tonic`
//! (`BIND` sets the address, default `127.0.0.1:50051`)
//! (it prints a token and a `grpcurl` line; without `JWT_SECRET` it makes up
//! a secret). The generated code (`proto/greeter.rs`) is checked in:
//! no `protoc` and no build script needed (see `proto/regenerate.sh`).
//!
//! Calls need `authorization: Bearer <token>` metadata and the `greet` scope:
//! no token is `UNAUTHENTICATED`, a token without the scope
//! `PERMISSION_DENIED`.

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use tower_jwt_auth::{Authenticator, Claims};

/// The code tonic-prost-build generated from `proto/greeter.proto`.
pub mod greeter {
    include!("proto/greeter.rs");
}

use greeter::greeter_server::{Greeter, GreeterServer};
use greeter::{HelloReply, HelloRequest};

/// The service: greets the caller by name and by the token's `sub`.
#[derive(Debug, Default)]
pub struct MyGreeter;

#[tonic::async_trait]
impl Greeter for MyGreeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        // The layer put the verified claims into the request extensions.
        let sub = request
            .extensions()
            .get::<Claims>()
            .and_then(|c| c["sub"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let name = &request.get_ref().name;
        Ok(Response::new(HelloReply {
            message: format!("hello {name}, signed in as {sub}"),
        }))
    }
}

/// Serves the greeter on `listener`, every call behind the JWT layer.
pub async fn serve(
    listener: TcpListener,
    auth: Authenticator,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .layer(auth.layer().require_scope("greet"))
        .add_service(GreeterServer::new(MyGreeter))
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
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
        TcpListener::bind(std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:50051".into()))
            .await?;
    let now = jsonwebtoken::get_current_timestamp();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "demo-user", "scope": "greet", "exp": now + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?;
    let addr = listener.local_addr()?;
    println!("token (scope \"greet\", valid 1 h): {token}");
    println!(
        "try: grpcurl -plaintext -import-path examples/proto -proto greeter.proto \
         -H 'authorization: Bearer {token}' -d '{{\"name\":\"ada\"}}' \
         {addr} greeter.Greeter/SayHello"
    );
    println!("listening on http://{addr}");
    serve(listener, auth).await?;
    Ok(())
}
