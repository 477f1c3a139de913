//! The cache-hit path allocates nothing: a counting global allocator.
//!
//! `Verifier::verify` on a hit clones two `Arc`s and allocates nothing; a
//! whole `JwtAuth` call on a hit allocates only what inserting its two
//! extension values costs (`http::Extensions` boxes each value), with or
//! without request rules (by method, header). Counted per
//! thread, so other tests running at the same time do not disturb the count.
//!
//! This file is a test binary, not the library: `#![forbid(unsafe_code)]`
//! covers the library, and a global allocator needs `unsafe impl`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{HeaderName, Method, Request, Response};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use tower::{service_fn, Layer, Service};
use tower_jwt_auth::{clock::FixedClock, rules::RequestRule, Authenticator, Claims, JwtAuthLayer};

use common::{public_pem, token, NOW, SECRET};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed on this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count() {
    // try_with: the thread-local may be gone while a thread exits.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

fn live(delta: isize) {
    let _ = LIVE.try_with(|c| c.set(c.get() + delta));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// only addition is a thread-local counter that itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        live(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        live(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        live(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        live(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `f`'s result and how many allocations it made on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

fn authenticators() -> Vec<(Algorithm, Authenticator)> {
    let pem = |alg| {
        Authenticator::builder()
            .public_key_pem(public_pem(alg))
            .unwrap()
            .clock(FixedClock::new(NOW))
            .build()
            .unwrap()
    };
    vec![
        (
            Algorithm::HS256,
            Authenticator::builder()
                .hmac_secret(SECRET)
                .clock(FixedClock::new(NOW))
                .build()
                .unwrap(),
        ),
        (Algorithm::RS256, pem(Algorithm::RS256)),
        (Algorithm::ES256, pem(Algorithm::ES256)),
        (Algorithm::EdDSA, pem(Algorithm::EdDSA)),
    ]
}

fn claims() -> Value {
    json!({"sub": "alloc", "scope": "read write", "iat": NOW, "exp": NOW + 600})
}

#[test]
fn a_cache_hit_in_the_verifier_allocates_nothing() {
    for (alg, auth) in authenticators() {
        let t = token(alg, None, &claims());
        let verifier = auth.verifier();
        let (first, on_miss) = allocations(|| verifier.verify(&t));
        assert!(first.is_ok(), "{alg:?}");
        assert!(on_miss > 0, "{alg:?}: a miss parses, so it allocates");
        let (hit, on_hit) = allocations(|| verifier.verify(&t));
        assert_eq!(hit.unwrap().as_ref(), &claims());
        assert_eq!(on_hit, 0, "{alg:?}: allocations on a hit");
    }
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Typed {
    sub: String,
    scope: String,
}

#[test]
fn a_cache_hit_with_typed_claims_allocates_nothing() {
    let auth = Authenticator::builder()
        .claims::<Typed>()
        .hmac_secret(SECRET)
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let t = token(Algorithm::HS256, None, &claims());
    assert!(auth.verifier().verify(&t).is_ok());
    let (hit, on_hit) = allocations(|| auth.verifier().verify(&t));
    assert_eq!(hit.unwrap().sub, "alloc");
    assert_eq!(on_hit, 0);
}

/// Polls a future that must be ready at once (no I/O anywhere below).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the future was not ready"),
    }
}

fn request(token: &str) -> Request<()> {
    Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
}

/// Stand-in for the layer's private marker: same kind of value.
#[derive(Clone)]
#[allow(dead_code)]
struct Marker(Option<Arc<str>>, &'static str);

#[test]
fn a_cache_hit_through_the_layer_allocates_only_the_extensions() {
    // What inserting two extension values into a fresh request costs.
    let mut req = request("x");
    let claims_value = Claims::new(claims());
    let ((), extensions) = allocations(|| {
        req.extensions_mut().insert(claims_value.clone());
        req.extensions_mut().insert(Marker(None, "m"));
    });
    assert!(extensions > 0);

    // Without request rules, and with some (a route's first 64 rules are
    // matched without allocating).
    let plain = |auth: &Authenticator| auth.layer();
    let with_rules = |auth: &Authenticator| {
        auth.layer()
            .require_scope_for([Method::GET], "read")
            .require_scope_for([Method::POST], "write")
            .require_when(
                RequestRule::any()
                    .header(HeaderName::from_static("x-mode"), |v| v == "sudo")
                    .require_scope("admin"),
            )
    };
    let layers: [&dyn Fn(&Authenticator) -> JwtAuthLayer; 2] = [&plain, &with_rules];
    for ((alg, auth), layer) in authenticators()
        .into_iter()
        .flat_map(|a| layers.iter().map(move |l| (a.clone(), l)))
    {
        let t = token(alg, None, &claims());
        let mut svc = layer(&auth).layer(service_fn(|req: Request<()>| async move {
            assert!(req.extensions().get::<Claims>().is_some());
            Ok::<_, Infallible>(Response::new(()))
        }));
        for round in 0..2 {
            let req = request(&t);
            let (res, n) = allocations(|| {
                ready(std::future::poll_fn(|cx| svc.poll_ready(cx))).unwrap();
                ready(svc.call(req)).unwrap()
            });
            assert_eq!(res.status(), 200, "{alg:?}");
            if round == 1 {
                assert!(
                    n <= extensions,
                    "{alg:?}: {n} allocations on a hit, the extensions alone make {extensions}"
                );
            }
        }
    }
}

/// What `f` leaves allocated on this thread, in bytes.
fn retained(f: impl FnOnce()) -> isize {
    let before = LIVE.with(Cell::get);
    f();
    LIVE.with(Cell::get) - before
}

#[test]
fn a_full_default_cache_holds_each_token_in_a_bounded_number_of_bytes() {
    // Entries a full default cache (10,000 tokens) holds, per algorithm: the
    // key, the parsed claims (the `Value` handlers receive) and the entry.
    // The bound guards against a regression; the figure is printed for
    // BENCHMARKS.md (`cargo test --test cache_alloc -- --nocapture`).
    const N: usize = 2_000;
    for (alg, auth) in authenticators() {
        let tokens: Vec<String> = (0..N)
            .map(|i| {
                let claims = json!({
                    "sub": format!("user-{i}"), "scope": "read write",
                    "iat": NOW, "exp": NOW + 600,
                });
                token(alg, None, &claims)
            })
            .collect();
        let verifier = auth.verifier();
        let bytes = retained(|| {
            for t in &tokens {
                assert!(verifier.verify(t).is_ok());
            }
        });
        assert_eq!(verifier.cache_stats().unwrap().entries, N);
        let per_entry = bytes / N as isize;
        let token_len = tokens[0].len();
        println!("{alg:?}: {per_entry} bytes per cached token ({token_len}-byte token)");
        assert!(
            per_entry <= BOUND,
            "{alg:?}: {per_entry} bytes per entry, above {BOUND}"
        );
    }
}

/// The most heap bytes one cached token may hold (the claims above).
const BOUND: isize = 2_048;
