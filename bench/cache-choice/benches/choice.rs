//! Which concurrent cache for verified tokens? quick_cache vs moka vs
//! dashmap (a sharded map), keyed by SHA-256 of the token or by its exact
//! bytes. Run: cd bench/cache-choice && cargo bench
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CAP: usize = 10_000;

fn tokens(n: usize) -> Vec<String> {
    // RS256-sized tokens: ~120 B header+claims, 342 B signature.
    (0..n)
        .map(|i| {
            format!(
                "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
                format!("eyJzdWIiOiJ1c2VyLTEiLCJzY29wZSI6InJlYWQgd3JpdGUiLCJleHAiOjE3{i:010}"),
                "s".repeat(342)
            )
        })
        .collect()
}

fn claims() -> Arc<Value> {
    Arc::new(json!({"sub":"user-1","scope":"read write","iat":1,"exp":2}))
}

fn sha(t: &str) -> [u8; 32] {
    Sha256::digest(t.as_bytes()).into()
}

type QcSha = quick_cache::sync::Cache<[u8; 32], Arc<Value>>;
type QcExact = quick_cache::sync::Cache<Box<str>, Arc<Value>>;
type MokaSha = moka::sync::Cache<[u8; 32], Arc<Value>>;
type MokaExact = moka::sync::Cache<Box<str>, Arc<Value>>;
type DashExact = dashmap::DashMap<Box<str>, Arc<Value>>;

fn single(c: &mut Criterion) {
    let toks = tokens(CAP);
    let other = tokens(2 * CAP).split_off(CAP);
    let v = claims();
    let qs = QcSha::new(CAP);
    let qe = QcExact::new(CAP);
    let ms = MokaSha::new(CAP as u64);
    let me = MokaExact::new(CAP as u64);
    let de = DashExact::new();
    for t in &toks {
        qs.insert(sha(t), v.clone());
        qe.insert(t.as_str().into(), v.clone());
        ms.insert(sha(t), v.clone());
        me.insert(t.as_str().into(), v.clone());
        de.insert(t.as_str().into(), v.clone());
    }
    let t = &toks[77];
    let m = &other[77];
    let mut g = c.benchmark_group("hit");
    g.bench_function("sha256_only", |b| b.iter(|| sha(black_box(t))));
    g.bench_function("quick_cache_sha256", |b| {
        b.iter(|| qs.get(&sha(black_box(t))).unwrap())
    });
    g.bench_function("quick_cache_exact", |b| {
        b.iter(|| qe.get(black_box(t.as_str())).unwrap())
    });
    g.bench_function("moka_sha256", |b| {
        b.iter(|| ms.get(&sha(black_box(t))).unwrap())
    });
    g.bench_function("moka_exact", |b| {
        b.iter(|| me.get(black_box(t.as_str())).unwrap())
    });
    g.bench_function("dashmap_exact", |b| {
        b.iter(|| de.get(black_box(t.as_str())).map(|r| r.clone()).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("miss_lookup");
    g.bench_function("quick_cache_sha256", |b| {
        b.iter(|| qs.get(&sha(black_box(m))).is_none())
    });
    g.bench_function("quick_cache_exact", |b| {
        b.iter(|| qe.get(black_box(m.as_str())).is_none())
    });
    g.bench_function("moka_sha256", |b| {
        b.iter(|| ms.get(&sha(black_box(m))).is_none())
    });
    g.bench_function("moka_exact", |b| {
        b.iter(|| me.get(black_box(m.as_str())).is_none())
    });
    g.bench_function("dashmap_exact", |b| {
        b.iter(|| de.get(black_box(m.as_str())).is_none())
    });
    g.finish();
}

/// Inserts of new tokens into a full cache from `threads` threads at once;
/// reports the wall time per insert.
fn contended<F: Fn(&str) + Sync>(
    threads: usize,
    keys: &[String],
    iters: u64,
    insert: F,
) -> Duration {
    let per = keys.len() / threads;
    let start = Instant::now();
    for _ in 0..iters {
        std::thread::scope(|s| {
            for chunk in keys.chunks(per) {
                let insert = &insert;
                s.spawn(move || chunk.iter().for_each(|k| insert(k)));
            }
        });
    }
    start.elapsed() / keys.len() as u32
}

fn contention(c: &mut Criterion) {
    let keys = tokens(4 * CAP);
    let v = claims();
    let mut g = c.benchmark_group("insert_4_threads_full_cache");
    g.sample_size(10);
    let qs = QcSha::new(CAP);
    g.bench_function("quick_cache_sha256", |b| {
        b.iter_custom(|n| contended(4, &keys, n, |k| qs.insert(sha(k), v.clone())))
    });
    let qe = QcExact::new(CAP);
    g.bench_function("quick_cache_exact", |b| {
        b.iter_custom(|n| contended(4, &keys, n, |k| qe.insert(k.into(), v.clone())))
    });
    let ms = MokaSha::new(CAP as u64);
    g.bench_function("moka_sha256", |b| {
        b.iter_custom(|n| contended(4, &keys, n, |k| ms.insert(sha(k), v.clone())))
    });
    let me = MokaExact::new(CAP as u64);
    g.bench_function("moka_exact", |b| {
        b.iter_custom(|n| contended(4, &keys, n, |k| me.insert(k.into(), v.clone())))
    });
    let de = DashExact::new();
    g.bench_function("dashmap_exact_unbounded", |b| {
        b.iter_custom(|n| {
            contended(4, &keys, n, |k| {
                de.insert(k.into(), v.clone());
            })
        })
    });
    g.finish();
    let mut g = c.benchmark_group("get_hit_4_threads");
    g.sample_size(10);
    let hot = &keys[..CAP];
    for k in hot {
        qs.insert(sha(k), v.clone());
        qe.insert(k.as_str().into(), v.clone());
        ms.insert(sha(k), v.clone());
        me.insert(k.as_str().into(), v.clone());
    }
    ms.run_pending_tasks();
    me.run_pending_tasks();
    g.bench_function("quick_cache_sha256", |b| {
        b.iter_custom(|n| {
            contended(4, hot, n, |k| {
                black_box(qs.get(&sha(k)));
            })
        })
    });
    g.bench_function("quick_cache_exact", |b| {
        b.iter_custom(|n| {
            contended(4, hot, n, |k| {
                black_box(qe.get(k));
            })
        })
    });
    g.bench_function("moka_sha256", |b| {
        b.iter_custom(|n| {
            contended(4, hot, n, |k| {
                black_box(ms.get(&sha(k)));
            })
        })
    });
    g.bench_function("moka_exact", |b| {
        b.iter_custom(|n| {
            contended(4, hot, n, |k| {
                black_box(me.get(k));
            })
        })
    });
    g.finish();
}

criterion_group!(benches, single, contention);
criterion_main!(benches);
