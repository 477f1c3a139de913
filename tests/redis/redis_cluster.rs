//! The revocation list on a real Redis Cluster (three masters started by
//! the test on 127.0.0.1, created with `redis-cli --cluster create`),
//! through a real axum server: keys spread over the nodes, one node killed
//! mid-run (503 for the tokens with a key on it, never 200 for a revoked
//! token), then brought back (same port, same nodes.conf): recovery.

use crate::common;
use crate::common::redis_server;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};
use common::*;
use redis_server::RedisCluster;
use serde_json::Value;
use tower_jwt_auth::revocation::{RedisRevocation, RedisStore};
use tower_jwt_auth::{issue::TokenIssuer, Claims};

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

struct Token {
    access: String,
    keys: [String; 3],
    revoked: bool,
}

impl Token {
    /// The answer expected with the nodes in `down` stopped.
    fn expected(&self, owners: &[usize; 3], down: Option<usize>) -> u16 {
        if down.is_some_and(|d| owners.contains(&d)) {
            503
        } else if self.revoked {
            401
        } else {
            200
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_on_a_redis_cluster_survives_losing_a_node() {
    let mut cluster = RedisCluster::start(3);
    let store = RedisStore::cluster(cluster.urls()).build().unwrap();
    let issuer = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer("https://auth.example")
        .revocation(
            RedisRevocation::builder(store)
                .local_cache(Duration::ZERO)
                .build(),
        )
        .build()
        .unwrap();
    let auth = issuer.authenticator_builder().build().unwrap();
    let addr: SocketAddr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;

    // Revocations and lookups through the cluster.
    let mut tokens = Vec::new();
    for i in 0..12 {
        let pair = issuer.issue(&format!("user-{i}"), &()).unwrap();
        let claims = segment(&pair.access_token, 1);
        let field = |name: &str| claims[name].as_str().unwrap().to_owned();
        let revoked = i % 2 == 0;
        if revoked {
            issuer.revoke_session(&field("sid")).await.unwrap();
        }
        tokens.push(Token {
            keys: [
                format!("tower-jwt-auth:jti:{}", field("jti")),
                format!("tower-jwt-auth:sid:{}", field("sid")),
                format!("tower-jwt-auth:sub:{}", field("sub")),
            ],
            access: pair.access_token,
            revoked,
        });
    }
    let owners: Vec<[usize; 3]> = tokens
        .iter()
        .map(|t| t.keys.each_ref().map(|k| cluster.owner(k)))
        .collect();
    let used: std::collections::BTreeSet<usize> = owners.iter().flatten().copied().collect();
    assert!(used.len() > 1, "keys spread over the nodes: {owners:?}");
    for t in &tokens {
        let status = fetch_bearer(addr, "/me", &t.access).await.status;
        assert_eq!(status, t.expected(&[usize::MAX; 3], None));
    }

    // The node to kill: one that some tokens need and some do not.
    let down = (0..3)
        .find(|&n| {
            let hit = owners.iter().filter(|o| o.contains(&n)).count();
            hit > 0 && hit < tokens.len()
        })
        .expect("a node holding some tokens' keys but not all");
    cluster.kill(down);
    for round in 0..3 {
        for (t, o) in tokens.iter().zip(&owners) {
            let status = fetch_bearer(addr, "/me", &t.access).await.status;
            assert_ne!((t.revoked, status), (true, 200), "a revoked token accepted");
            assert_eq!(
                status,
                t.expected(o, Some(down)),
                "round {round}, keys on nodes {o:?}, node {down} down"
            );
        }
    }

    // Back (same port, same nodes.conf, its data in its AOF): recovery.
    cluster.restart(down);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut all = true;
        for (t, o) in tokens.iter().zip(&owners) {
            let status = fetch_bearer(addr, "/me", &t.access).await.status;
            assert_ne!((t.revoked, status), (true, 200), "a revoked token accepted");
            all &= status == t.expected(o, None);
        }
        if all {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // New revocations land on every node again.
    for t in tokens.iter().filter(|t| !t.revoked) {
        let sid = segment(&t.access, 1)["sid"].as_str().unwrap().to_owned();
        issuer.revoke_session(&sid).await.unwrap();
        assert_eq!(fetch_bearer(addr, "/me", &t.access).await.status, 401);
    }
}
