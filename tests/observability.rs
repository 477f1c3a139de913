//! Metrics and tracing through a real axum server on 127.0.0.1: the counters
//! are read back from metrics-util's debugging recorder, the spans and
//! events from a captured tracing subscriber. One test in this binary, as the
//! metrics recorder is process-global.

mod common;

use std::collections::HashMap;

use axum::routing::get;
use axum::Router;
use common::logs::capture;
use common::{fetch, fetch_bearer, serve};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::Claims;
use tracing_subscriber::fmt::format::FmtSpan;

async fn me(_: Claims) -> &'static str {
    "ok"
}

type Snapshot = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// Counter values by (name, sorted labels).
fn counters(snapshot: &Snapshot) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for (key, _, _, value) in snapshot {
        let (kind, key) = key.clone().into_parts();
        if let (MetricKind::Counter, DebugValue::Counter(n)) = (kind, value) {
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            out.insert(format!("{}{{{}}}", key.name(), labels.join(",")), *n);
        }
    }
    out
}

fn histogram_len(snapshot: &Snapshot, name: &str) -> usize {
    snapshot
        .iter()
        .filter(|(k, ..)| k.key().name() == name)
        .map(|(.., v)| match v {
            DebugValue::Histogram(values) => values.len(),
            _ => 0,
        })
        .sum()
}

// current_thread: the server runs on this thread, where the tracing
// subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn requests_are_counted_by_outcome_and_verifications_traced_without_tokens() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let (out, _guard) = capture(tracing::Level::DEBUG, FmtSpan::CLOSE);

    let issuer = TestIssuer::es256();
    let auth = issuer.authenticator().build().unwrap();
    let app = Router::new()
        .route("/me", get(me).layer(auth.layer()))
        .route("/admin", get(me).layer(auth.layer().require_scope("admin")))
        .route("/optional", get(|| async { "hi" }).layer(auth.optional()));
    let addr = serve(app).await;

    let good = issuer.token().scope("read").sign();
    let expired = issuer.token().expired().sign();
    let stranger = TestIssuer::es256().with_kid(issuer.kid()).token().sign();
    assert_eq!(fetch_bearer(addr, "/me", &good).await.status, 200);
    assert_eq!(fetch_bearer(addr, "/me", &good).await.status, 200);
    assert_eq!(fetch_bearer(addr, "/me", &expired).await.status, 401);
    assert_eq!(fetch_bearer(addr, "/me", &stranger).await.status, 401);
    assert_eq!(fetch_bearer(addr, "/admin", &good).await.status, 403);
    assert_eq!(fetch(addr, "/me", None).await.status, 401);
    assert_eq!(fetch(addr, "/optional", None).await.status, 200);

    // Remote key set fetches: one good (at build), one failing.
    #[cfg(feature = "remote")]
    {
        use tower_jwt_auth::testing::JwksServer;
        let idp = JwksServer::start().await.unwrap();
        let remote = TestIssuer::es256();
        idp.publish(&remote);
        let build = || {
            tower_jwt_auth::Authenticator::builder()
                .jwks_url(idp.jwks_url())
                .build_async()
        };
        assert!(build().await.is_ok());
        idp.fail_with(Some(500));
        assert!(build().await.is_err());
    }

    // One snapshot: taking one drains the histograms.
    let snapshot = snapshotter.snapshot().into_vec();
    let c = counters(&snapshot);
    let n = |k: &str| c.get(k).copied().unwrap_or(0);
    let requests = "tower_jwt_auth_requests_total";
    assert_eq!(n(&format!("{requests}{{outcome=accepted}}")), 2, "{c:?}");
    assert_eq!(n(&format!("{requests}{{outcome=anonymous}}")), 1, "{c:?}");
    for reason in [
        "expired",
        "invalid_signature",
        "insufficient_scope",
        "missing",
    ] {
        assert_eq!(
            n(&format!("{requests}{{outcome=rejected,reason={reason}}}")),
            1,
            "{reason}: {c:?}"
        );
    }
    assert_eq!(
        c.keys().filter(|k| k.starts_with(requests)).count(),
        6,
        "no other outcome: {c:?}"
    );
    #[cfg(feature = "remote")]
    for result in ["ok", "error"] {
        assert_eq!(
            n(&format!(
                "tower_jwt_auth_key_fetches_total{{result={result}}}"
            )),
            1,
            "{c:?}"
        );
    }
    // The good token was verified once, then found in the cache twice (the
    // 403 on /admin is a route rule, checked again on the hit); the others
    // were never cached.
    assert_eq!(n("tower_jwt_auth_cache_total{result=hit}"), 2, "{c:?}");
    assert_eq!(n("tower_jwt_auth_cache_total{result=miss}"), 3, "{c:?}");
    // One timing per verification: five requests carried a token.
    assert_eq!(
        histogram_len(&snapshot, "tower_jwt_auth_verification_seconds"),
        5
    );

    let text = out.text();
    let spans: Vec<&str> = text.lines().filter(|l| l.contains("jwt_verify")).collect();
    assert_eq!(spans.len(), 5, "{text}");

    let kid = issuer.kid();
    assert!(
        spans.iter().any(|l| l.contains("alg=ES256")
            && l.contains(&format!("kid=\"{kid}\""))
            && l.contains("iss=\"https://issuer.test\"")
            && l.contains("outcome=\"accepted\"")),
        "{text}"
    );
    assert!(
        spans.iter().any(|l| l.contains("outcome=Expired")),
        "{text}"
    );
    assert!(
        spans
            .iter()
            .any(|l| l.contains("outcome=InvalidSignature") && !l.contains("iss=")),
        "an unverified iss is not recorded: {text}"
    );
    let rejections = text
        .lines()
        .filter(|l| l.contains("DEBUG") && l.contains("rejected the request"))
        .count();
    assert_eq!(rejections, 4, "{text}");
    for token in [&good, &expired, &stranger] {
        for part in token.split('.') {
            assert!(!text.contains(part), "the log holds a token segment");
        }
    }
}
