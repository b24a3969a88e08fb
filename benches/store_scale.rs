//! What the key store costs PostgreSQL per 1,000 requests at steady state, before and after
//! the long listener TTL and the throttled last-use writes.
//!
//! Two nodes share one PostgreSQL (`KEYGATE_TEST_POSTGRES_URL`, e.g. from
//! `scripts/services.sh start`), each with its own `PostgresKeyStore`, invalidation listener
//! and `CachedKeyStore`. Requests pick a key from a Zipf distribution (s = 1.1) and a node at
//! random, and do what the layer does: one lookup through the cache and, on success, one
//! `touch`; every simulated second both stores flush their last uses. Time is simulated: the
//! caches and stores run on one `ManualClock`, so an hour of traffic takes seconds, but every
//! lookup that misses is a real `SELECT` and every flush a real `UPDATE`.
//!
//! Counted while measuring (after a warm-up longer than the longest TTL): PostgreSQL reads
//! (lookups reaching the store under the cache), row writes (what the flushes report), and
//! invalidations the listeners heard (none: last-use writes notify nobody).
//!
//! ```text
//! cargo bench --features postgres,cache --bench store_scale
//! ```
//!
//! Settings (environment): `KEYGATE_SCALE_KEYS` (default 5,000 keys),
//! `KEYGATE_SCALE_RATE` (requests per simulated second over both nodes, default 1,000),
//! `KEYGATE_SCALE_WARMUP` and `KEYGATE_SCALE_MEASURE` (simulated seconds, default 960 and
//! 600). `KEYGATE_SCALE_SMOKE=1` runs a few seconds' worth, to check that it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keygate::clock::ManualClock;
use keygate::key::{KeyId, KeyPrefix};
use keygate::store::cache::CachedKeyStore;
use keygate::store::postgres::PostgresKeyStore;
use keygate::store::{Invalidation, Invalidations};
use keygate::{KeyManager, KeyStore, NewKey, Workspace};

/// Counts the lookups that reach the store under the cache: PostgreSQL reads.
#[derive(Clone)]
struct Reads {
    inner: PostgresKeyStore,
    count: Arc<AtomicUsize>,
}

impl KeyStore for Reads {
    type Future = <PostgresKeyStore as KeyStore>::Future;

    fn get(&self, id: &KeyId) -> Self::Future {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inner.get(id)
    }

    fn touch(&self, id: &KeyId) {
        self.inner.touch(id);
    }

    fn prefix(&self) -> KeyPrefix {
        KeyStore::prefix(&self.inner)
    }
}

/// One configuration of both nodes.
struct Setting {
    name: &'static str,
    listener_ttl: Duration,
    last_use_interval: Duration,
}

const SETTINGS: [Setting; 2] = [
    Setting {
        name: "before: 30 s TTL, every use written each flush",
        listener_ttl: Duration::from_secs(30),
        last_use_interval: Duration::ZERO,
    },
    Setting {
        name: "after: 15 min listener TTL, last use every 5 min",
        listener_ttl: Duration::from_secs(15 * 60),
        last_use_interval: Duration::from_secs(5 * 60),
    },
];

struct Workload {
    keys: usize,
    rate: usize,
    warmup: u64,
    measure: u64,
}

impl Workload {
    fn from_env() -> Self {
        let smoke = std::env::var("KEYGATE_SCALE_SMOKE").as_deref() == Ok("1");
        let setting = |name: &str, default: u64, smoke_default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(if smoke { smoke_default } else { default })
        };
        Self {
            keys: setting("KEYGATE_SCALE_KEYS", 5_000, 50) as usize,
            rate: setting("KEYGATE_SCALE_RATE", 1_000, 20) as usize,
            warmup: setting("KEYGATE_SCALE_WARMUP", 960, 5),
            measure: setting("KEYGATE_SCALE_MEASURE", 600, 5),
        }
    }
}

/// A small deterministic generator (xorshift64*): the same workload for every setting.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// Zipf ranks over `n` keys with exponent `s`: the key of rank `r` is drawn with probability
/// proportional to `1 / r^s`.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        for c in &mut cumulative {
            *c /= total;
        }
        Self { cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cumulative
            .partition_point(|&c| c < u)
            .min(self.cumulative.len() - 1)
    }
}

struct Node {
    store: PostgresKeyStore,
    cache: CachedKeyStore<Reads>,
    reads: Arc<AtomicUsize>,
}

async fn node(url: &str, clock: &ManualClock, setting: &Setting) -> Node {
    let store = PostgresKeyStore::builder(url)
        .clock(clock.clone())
        .flush_interval(Duration::from_secs(3600))
        .last_use_interval(setting.last_use_interval)
        .build()
        .expect("store");
    let reads = Arc::new(AtomicUsize::new(0));
    let cache = CachedKeyStore::builder(Reads {
        inner: store.clone(),
        count: Arc::clone(&reads),
    })
    .listener_ttl(setting.listener_ttl)
    .clock(clock.clone())
    .invalidations(store.invalidations())
    .build()
    .expect("cache");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cache.is_listening() {
        assert!(Instant::now() < deadline, "the listener did not connect");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Node {
        store,
        cache,
        reads,
    }
}

/// Counts the invalidations a receiver hears, but for its stream's own state.
fn count_heard(mut invalidations: Invalidations) -> Arc<AtomicUsize> {
    let heard = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&heard);
    tokio::spawn(async move {
        while let Some(invalidation) = invalidations.recv().await {
            if !matches!(
                invalidation,
                Invalidation::Connected | Invalidation::Disconnected
            ) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    heard
}

struct Figures {
    requests: usize,
    reads: usize,
    writes: usize,
    heard: usize,
}

impl Figures {
    fn per_thousand(&self, n: usize) -> f64 {
        n as f64 * 1000.0 / self.requests as f64
    }
}

async fn run(
    url: &str,
    ids: &[KeyId],
    workload: &Workload,
    setting: &Setting,
    start: SystemTime,
) -> Figures {
    let clock = ManualClock::starting_at(start);
    let nodes = [
        node(url, &clock, setting).await,
        node(url, &clock, setting).await,
    ];
    let heard = count_heard(nodes[0].store.invalidations());
    // Both nodes' caches just forgot everything on connecting: what follows is traffic.
    let zipf = Zipf::new(ids.len(), 1.1);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut requests, mut writes) = (0, 0);
    let mut reads_before = 0;
    let mut heard_before = 0;
    for second in 0..workload.warmup + workload.measure {
        if second == workload.warmup {
            reads_before = nodes.iter().map(|n| n.reads.load(Ordering::Relaxed)).sum();
            heard_before = heard.load(Ordering::Relaxed);
        }
        let mut lookups = tokio::task::JoinSet::new();
        for _ in 0..workload.rate {
            let id = ids[zipf.sample(&mut rng)];
            let node = &nodes[(rng.next() & 1) as usize];
            let (lookup, cache) = (node.cache.get(&id), node.cache.clone());
            lookups.spawn(async move {
                if let Ok(Some(_)) = lookup.await {
                    cache.touch(&id);
                }
            });
        }
        while lookups.join_next().await.is_some() {}
        let mut written = 0;
        for node in &nodes {
            written += node.store.flush().await.expect("flush");
        }
        if second >= workload.warmup {
            requests += workload.rate;
            writes += written;
        }
        clock.advance(Duration::from_secs(1));
    }
    let reads: usize = nodes.iter().map(|n| n.reads.load(Ordering::Relaxed)).sum();
    Figures {
        requests,
        reads: reads - reads_before,
        writes,
        heard: heard.load(Ordering::Relaxed) - heard_before,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Ok(url) = std::env::var("KEYGATE_TEST_POSTGRES_URL") else {
        println!("set KEYGATE_TEST_POSTGRES_URL (scripts/services.sh start prints it) to run");
        return;
    };
    let workload = Workload::from_env();
    let setup = PostgresKeyStore::builder(&url).build().expect("store");
    setup.migrate().await.expect("migrations");
    let began = Instant::now();
    let workspace: Workspace = format!(
        "scale-{}",
        KeyId::random().unwrap().as_str().to_ascii_lowercase()
    )
    .parse()
    .unwrap();
    let mut ids = Vec::with_capacity(workload.keys);
    for n in 0..workload.keys {
        let new = NewKey::new(
            format!("scale-{n}").parse().unwrap(),
            "read:all".parse().unwrap(),
        )
        .workspace(workspace.clone());
        ids.push(setup.create(new).await.expect("create").info.id);
    }
    eprintln!(
        "store_scale: {} keys created in {:.1?}",
        ids.len(),
        began.elapsed()
    );
    println!(
        "{} keys (Zipf s = 1.1), {} requests per simulated second over 2 nodes, \
         {} s warm-up, {} s measured",
        workload.keys, workload.rate, workload.warmup, workload.measure
    );
    println!();
    println!(
        "| setting | requests measured | PostgreSQL reads / 1,000 | row writes / 1,000 | invalidations heard / 1,000 |"
    );
    println!("|---|---|---|---|---|");
    // Each setting starts a day after the last, so that no last use it writes is recent.
    let today = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let mut figures = Vec::new();
    for (day, setting) in SETTINGS.iter().enumerate() {
        let start = UNIX_EPOCH + Duration::from_secs(today.as_secs() + 86_400 * (day as u64 + 1));
        let began = Instant::now();
        let f = run(&url, &ids, &workload, setting, start).await;
        eprintln!("store_scale: {} in {:.1?}", setting.name, began.elapsed());
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} |",
            setting.name,
            f.requests,
            f.per_thousand(f.reads),
            f.per_thousand(f.writes),
            f.per_thousand(f.heard)
        );
        figures.push(f);
    }
    let ratio = |before: usize, after: usize| before as f64 / (after.max(1)) as f64;
    println!();
    println!(
        "reads: {:.1}x fewer; row writes: {:.1}x fewer",
        ratio(figures[0].reads, figures[1].reads),
        ratio(figures[0].writes, figures[1].writes)
    );
}
