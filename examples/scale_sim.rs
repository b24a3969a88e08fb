//! A scale simulation: two nodes (two `ApiKeyLayer`s, each with its own PostgreSQL pool,
//! cache, LISTEN connection and Redis connection) serving a Zipf-distributed workload over
//! many keys, against the real PostgreSQL and Redis that `scripts/services.sh` starts.
//!
//! It reports, per 1,000 requests at steady state (after a warm-up of the same length):
//! PostgreSQL reads (lookups that reached the database), PostgreSQL row writes, NOTIFY
//! messages, Redis calls, and, for the hot keys, requests admitted beyond each limit.
//!
//! ```text
//! scripts/scale-sim.sh                       # both settings, the README's figures
//! cargo run --release --example scale_sim --features postgres,redis,cache -- \
//!     --keys 50000 --requests 400000 --settings scaled
//! ```
//!
//! Settings:
//! - `baseline`: the defaults before the internet-scale changes: the cache's 30 s TTL whether
//!   or not invalidations arrive, every key's last use written at every flush, one Redis call
//!   per request.
//! - `scaled`: records live 15 minutes while the LISTEN connection is up, last use written at
//!   most once per 5 minutes per key across the fleet, and leases of 100 units for hot keys.
//!
//! A run lasts seconds, not the hours the real TTLs and intervals are made for, so every TTL
//! and interval is divided by `--time-scale` (default 10) in both settings: the fleet's ratio
//! of requests per key to TTL is kept by giving each simulated second fewer keys.
//!
//! The URLs come from `KEYGATE_TEST_POSTGRES_URL` and `KEYGATE_TEST_REDIS_URL`. The keys live
//! in a workspace of their own (`scale-sim`), removed and made again at each start; the Redis
//! counters in a namespace of their own for each run.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use keygate::key::KeyId;
use keygate::limit::lease::{LeaseConfig, LeasedLimiter};
use keygate::limit::redis::RedisRateLimiter;
use keygate::plan::{Limit, Period, Plan};
use keygate::store::cache::CachedKeyStore;
use keygate::store::postgres::PostgresKeyStore;
use keygate::{
    ApiKeyLayer, KeyManager, KeyStore, KeyUpdate, NewKey, PlanManager, Quota, Workspace,
};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt, service_fn};

/// The workspace the simulation's keys live in.
const WORKSPACE: &str = "scale-sim";

/// What one run does.
#[derive(Debug, Clone)]
struct Config {
    keys: usize,
    hot: usize,
    requests: u64,
    zipf: f64,
    tasks: usize,
    time_scale: u32,
    changes_per_second: u32,
    settings: Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settings {
    Baseline,
    Scaled,
}

impl Settings {
    fn name(self) -> &'static str {
        match self {
            Settings::Baseline => "baseline",
            Settings::Scaled => "scaled",
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: scale_sim [--keys N] [--hot N] [--requests N] [--zipf S] [--tasks N] \
         [--time-scale N] [--changes-per-second N] [--settings baseline|scaled|both]"
    );
    std::process::exit(2)
}

fn parse_args() -> Vec<Config> {
    let mut config = Config {
        keys: 20_000,
        hot: 4,
        requests: 200_000,
        zipf: 1.1,
        tasks: 32,
        time_scale: 10,
        changes_per_second: 5,
        settings: Settings::Scaled,
    };
    let mut both = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        fn num<T: std::str::FromStr>(v: String) -> T {
            v.parse().unwrap_or_else(|_| usage())
        }
        match flag.as_str() {
            "--keys" => config.keys = num(value()),
            "--hot" => config.hot = num(value()),
            "--requests" => config.requests = num(value()),
            "--zipf" => config.zipf = num(value()),
            "--tasks" => config.tasks = num(value()),
            "--time-scale" => config.time_scale = num(value()),
            "--changes-per-second" => config.changes_per_second = num(value()),
            "--settings" => match value().as_str() {
                "baseline" => config.settings = Settings::Baseline,
                "scaled" => config.settings = Settings::Scaled,
                "both" => both = true,
                _ => usage(),
            },
            _ => usage(),
        }
    }
    if config.keys < config.hot.max(1) || config.requests < 2 || config.tasks == 0 {
        usage();
    }
    if both {
        let mut baseline = config.clone();
        baseline.settings = Settings::Baseline;
        let mut scaled = config;
        scaled.settings = Settings::Scaled;
        vec![baseline, scaled]
    } else {
        vec![config]
    }
}

/// Ranks drawn with probability proportional to `1 / rank^s` (rank 0 the most requested).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for rank in 1..=n {
            sum += 1.0 / (rank as f64).powf(s);
            cdf.push(sum);
        }
        for p in &mut cdf {
            *p /= sum;
        }
        Self { cdf }
    }

    fn sample(&self, rng: &mut SplitMix) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&p| p < u).min(self.cdf.len() - 1)
    }
}

/// A small, seeded generator: the workload is the same in every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A store that counts the lookups reaching it: under a cache, the reads that reached
/// PostgreSQL.
#[derive(Clone)]
struct Counting<S> {
    inner: S,
    reads: Arc<AtomicU64>,
}

impl<S: KeyStore> KeyStore for Counting<S> {
    type Future = S::Future;

    fn get(&self, id: &KeyId) -> Self::Future {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.get(id)
    }

    fn touch(&self, id: &KeyId) {
        self.inner.touch(id);
    }

    fn prefix(&self) -> keygate::key::KeyPrefix {
        self.inner.prefix()
    }
}

/// The figures a phase is measured by, read from the servers and the nodes.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    pg_reads: u64,
    pg_writes: u64,
    notifies: u64,
    redis_calls: u64,
}

impl std::ops::Sub for Counters {
    type Output = Counters;
    fn sub(self, o: Counters) -> Counters {
        Counters {
            pg_reads: self.pg_reads - o.pg_reads,
            pg_writes: self.pg_writes - o.pg_writes,
            notifies: self.notifies - o.notifies,
            redis_calls: self.redis_calls - o.redis_calls,
        }
    }
}

/// A node's service, answering the status only.
type NodeService = BoxCloneService<Request<String>, StatusCode, Infallible>;

/// One node: its store, its service, its limiter's leases (scaled settings), and its
/// counters of PostgreSQL reads and row writes.
struct Node {
    store: PostgresKeyStore,
    service: NodeService,
    leases: Option<LeasedLimiter>,
    reads: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    flusher: tokio::task::JoinHandle<()>,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("scale_sim: set {name} (scripts/services.sh start prints it)");
        std::process::exit(2)
    })
}

fn scaled(d: Duration, config: &Config) -> Duration {
    d / config.time_scale.max(1)
}

async fn node(pg_url: &str, redis_url: &str, namespace: &str, config: &Config) -> Node {
    let scaled_settings = config.settings == Settings::Scaled;
    let last_use = if scaled_settings {
        scaled(Duration::from_secs(300), config)
    } else {
        Duration::ZERO
    };
    // The node's last-use flushes are made here, once a (scaled) second, so that the rows
    // each writes are counted.
    let store = PostgresKeyStore::builder(pg_url)
        .pool_size(8)
        .timeout(Duration::from_secs(5))
        .flush_interval(Duration::from_secs(3600))
        .last_use_interval(last_use)
        .build()
        .expect("the PostgreSQL store");
    let writes = Arc::new(AtomicU64::new(0));
    let flusher = {
        let (store, writes) = (store.clone(), Arc::clone(&writes));
        let every = scaled(Duration::from_secs(1), config).max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                if let Ok(n) = store.flush().await {
                    writes.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        })
    };
    let reads = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: store.clone(),
        reads: Arc::clone(&reads),
    };
    let ttl = scaled(Duration::from_secs(30), config);
    // Before: one TTL whether or not invalidations arrive.
    let listener_ttl = if scaled_settings {
        scaled(Duration::from_secs(15 * 60), config)
    } else {
        ttl
    };
    let cache = CachedKeyStore::builder(counting)
        .ttl(ttl)
        .listener_ttl(listener_ttl)
        .invalidations(store.invalidations())
        .build()
        .expect("the cache");
    let redis = RedisRateLimiter::builder()
        .namespace(namespace)
        .connect(redis_url)
        .await
        .expect("the Redis limiter");
    let handler = service_fn(|_request: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let (service, leases) = if scaled_settings {
        let leased = LeasedLimiter::new(redis, LeaseConfig::default()).expect("lease settings");
        let service = ApiKeyLayer::new(cache, leased.clone())
            .layer(handler)
            .map_response(|response| response.status());
        (BoxCloneService::new(service), Some(leased))
    } else {
        let service = ApiKeyLayer::new(cache, redis)
            .layer(handler)
            .map_response(|response| response.status());
        (BoxCloneService::new(service), None)
    };
    Node {
        store,
        service,
        leases,
        reads,
        writes,
        flusher,
    }
}

/// Reads the counters: the nodes' PostgreSQL reads and row writes (with the changes made
/// meanwhile), the NOTIFY messages a listener saw, and the script calls Redis served.
async fn counters(
    redis: &mut redis::aio::MultiplexedConnection,
    nodes: &[Node],
    notifies: &AtomicU64,
    changes: &AtomicU64,
) -> Counters {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .expect("INFO commandstats");
    // Round trips the limiters make: script calls (the commands a script runs inside Redis
    // are counted apart by INFO, and are not round trips).
    let redis_calls = info
        .lines()
        .filter(|l| {
            ["cmdstat_evalsha:", "cmdstat_eval:", "cmdstat_script|load:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    Counters {
        pg_reads: nodes.iter().map(|n| n.reads.load(Ordering::Relaxed)).sum(),
        pg_writes: nodes
            .iter()
            .map(|n| n.writes.load(Ordering::Relaxed))
            .sum::<u64>()
            + changes.load(Ordering::Relaxed),
        notifies: notifies.load(Ordering::Relaxed),
        redis_calls,
    }
}

/// The plans: hot keys are on a tight one (its daily quota, `hot_daily`, is reached during the
/// run), the others on a generous one.
fn plans(hot_daily: u64) -> (Plan, Plan) {
    fn name<T: std::str::FromStr<Err: std::fmt::Debug>>(s: &str) -> T {
        s.parse().expect("valid name")
    }
    let hot = Plan::new(
        name("sim-hot"),
        vec![
            // 10,000 a second, 1,000 at once: the daily quota is what refuses them.
            Limit::rate(
                name("burst"),
                Quota::new(1_000, Duration::from_micros(100)).expect("quota"),
            ),
            Limit::quota(name("daily"), hot_daily, Period::Day),
        ],
    )
    .expect("plan");
    let standard = Plan::new(
        name("sim-standard"),
        vec![Limit::quota(name("daily"), 1_000_000, Period::Day)],
    )
    .expect("plan");
    (hot, standard)
}

async fn run(config: &Config, pg_url: &str, redis_url: &str) {
    let (pg, connection) = tokio_postgres::connect(pg_url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL");
    tokio::spawn(connection);
    let admin = PostgresKeyStore::builder(pg_url).build().expect("store");
    admin.migrate().await.expect("migrations");
    pg.execute(
        "DELETE FROM keygate_keys WHERE workspace = $1",
        &[&WORKSPACE],
    )
    .await
    .expect("old keys removed");
    let redis_client = redis::Client::open(redis_url).expect("Redis URL");
    let mut redis = redis_client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    // Counters of this run only: a namespace of its own.
    let namespace = format!("keygate-sim:{}:", KeyId::random().expect("random id"));

    let zipf = Arc::new(Zipf::new(config.keys, config.zipf));
    // The hottest key's quota: half of what it is expected to be asked in the run.
    let hot_daily = ((zipf.cdf[0] * config.requests as f64 / 2.0) as u64).max(10);
    let (hot_plan, standard_plan) = plans(hot_daily);
    admin.put_plan(hot_plan.clone()).await.expect("plan");
    admin.put_plan(standard_plan.clone()).await.expect("plan");
    let workspace: Workspace = WORKSPACE.parse().expect("workspace");

    // The keys, rank 0 the hottest: made concurrently, a few round trips at a time.
    let started = Instant::now();
    let mut keys: Vec<(KeyId, String)> = Vec::with_capacity(config.keys);
    for chunk in (0..config.keys).collect::<Vec<_>>().chunks(64) {
        let made: Vec<_> = chunk
            .iter()
            .map(|&rank| {
                let plan = if rank < config.hot {
                    &hot_plan
                } else {
                    &standard_plan
                };
                let new = NewKey::new(
                    format!("sim-{rank}").parse().expect("name"),
                    "read:all".parse().expect("scope"),
                )
                .workspace(workspace.clone())
                .plan(plan.name().clone());
                let admin = admin.clone();
                tokio::spawn(async move { admin.create(new).await })
            })
            .collect();
        for created in made {
            let created = created.await.expect("task").expect("key made");
            keys.push((
                created.info.id,
                created.plaintext.expose_secret().to_owned(),
            ));
        }
    }
    eprintln!(
        "scale_sim: {} keys made in {:.1} s",
        keys.len(),
        started.elapsed().as_secs_f64()
    );
    let keys = Arc::new(keys);

    let nodes = [
        node(pg_url, redis_url, &namespace, config).await,
        node(pg_url, redis_url, &namespace, config).await,
    ];
    // Wait until both listeners are connected.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // NOTIFY messages, as any listener sees them.
    let notifies = Arc::new(AtomicU64::new(0));
    let (listen, mut listen_connection) = tokio_postgres::connect(pg_url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL");
    let counted = Arc::clone(&notifies);
    tokio::spawn(async move {
        while let Some(Ok(message)) =
            std::future::poll_fn(|cx| listen_connection.poll_message(cx)).await
        {
            if let tokio_postgres::AsyncMessage::Notification(_) = message {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    listen
        .batch_execute("LISTEN keygate_keys")
        .await
        .expect("LISTEN");

    let admitted: Arc<Vec<AtomicU64>> =
        Arc::new((0..config.hot).map(|_| AtomicU64::new(0)).collect());
    let half = config.requests / 2;

    let phase = |seed: u64, requests: u64| {
        let tasks: Vec<_> = (0..config.tasks)
            .map(|t| {
                let services: Vec<_> = nodes.iter().map(|n| n.service.clone()).collect();
                let keys = Arc::clone(&keys);
                let zipf = Arc::clone(&zipf);
                let admitted = Arc::clone(&admitted);
                let share = requests / config.tasks as u64
                    + u64::from((t as u64) < requests % config.tasks as u64);
                let hot = config.hot;
                tokio::spawn(async move {
                    let mut rng = SplitMix(seed ^ (t as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
                    let mut statuses: HashMap<u16, u64> = HashMap::new();
                    for i in 0..share {
                        let rank = zipf.sample(&mut rng);
                        let request = Request::get("/v1/records")
                            .header("authorization", format!("Bearer {}", keys[rank].1))
                            .body(String::new())
                            .expect("request");
                        let service = services[(i as usize + t) % services.len()].clone();
                        let status = service.oneshot(request).await.expect("infallible");
                        *statuses.entry(status.as_u16()).or_default() += 1;
                        if status == StatusCode::OK && rank < hot {
                            admitted[rank].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    statuses
                })
            })
            .collect();
        async move {
            let mut statuses: HashMap<u16, u64> = HashMap::new();
            for task in tasks {
                for (status, n) in task.await.expect("task") {
                    *statuses.entry(status).or_default() += n;
                }
            }
            statuses
        }
    };

    // Changes made through node 0 while the load runs: scope edits of random cold keys.
    let changes = Arc::new(AtomicU64::new(0));
    let churn = {
        let changes = Arc::clone(&changes);
        let store = nodes[0].store.clone();
        let keys = Arc::clone(&keys);
        let workspace = workspace.clone();
        let every = Duration::from_secs(1) / config.changes_per_second.max(1);
        let enabled = config.changes_per_second > 0;
        let hot = config.hot;
        tokio::spawn(async move {
            let mut rng = SplitMix(7);
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                if !enabled {
                    continue;
                }
                let rank = hot + (rng.next() as usize) % (keys.len() - hot).max(1);
                let Some((id, _)) = keys.get(rank) else {
                    continue;
                };
                let update = KeyUpdate::new().add_scopes("read:all".parse().expect("scope"));
                if store.update(&workspace, id, update).await.is_ok() {
                    changes.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let started = Instant::now();
    let warm = phase(1, half).await;
    let warm_time = started.elapsed();
    let before = counters(&mut redis, &nodes, &notifies, &changes).await;
    let started = Instant::now();
    let measured = phase(2, config.requests - half).await;
    let measure_time = started.elapsed();
    let after = counters(&mut redis, &nodes, &notifies, &changes).await;
    churn.abort();
    for node in &nodes {
        node.flusher.abort();
        if let Some(leases) = &node.leases {
            leases.shutdown().await;
        }
    }
    let d = after - before;
    let n = (config.requests - half) as f64;
    let per_k = |x: u64| x as f64 * 1000.0 / n;

    let run_time = warm_time + measure_time;
    let mut beyond_quota = 0u64;
    let per_hot_key: Vec<u64> = admitted.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    for count in admitted.iter() {
        beyond_quota += count.load(Ordering::Relaxed).saturating_sub(hot_daily);
    }
    println!();
    println!(
        "settings: {} (TTLs and intervals ÷ {}), {} keys, Zipf s = {}, {} hot, {} requests \
         ({} measured), {} tasks over 2 nodes",
        config.settings.name(),
        config.time_scale,
        config.keys,
        config.zipf,
        config.hot,
        config.requests,
        config.requests - half,
        config.tasks
    );
    println!(
        "warm-up {:.1} s ({:?}), measured {:.1} s ({:?})",
        warm_time.as_secs_f64(),
        sorted(&warm),
        measure_time.as_secs_f64(),
        sorted(&measured)
    );
    println!("| per 1,000 requests | {} |", config.settings.name());
    println!("|---|---:|");
    println!("| PostgreSQL reads | {:.2} |", per_k(d.pg_reads));
    println!("| PostgreSQL row writes | {:.2} |", per_k(d.pg_writes));
    println!("| NOTIFY messages | {:.2} |", per_k(d.notifies));
    println!("| Redis calls | {:.2} |", per_k(d.redis_calls));
    println!(
        "| requests admitted beyond the hot keys' daily quota ({hot_daily} each), whole run | \
         {beyond_quota} |"
    );
    let hot_share = zipf.cdf[config.hot.max(1) - 1];
    println!(
        "admitted per hot key, whole run: {per_hot_key:?}; the hot keys get {:.0} % of requests",
        hot_share * 100.0
    );
    println!(
        "a cached record: {} bytes inline, plus its name, scopes and plan on the heap",
        std::mem::size_of::<keygate::KeyRecord>()
    );
    println!(
        "throughput {:.0} requests/s over the whole run",
        config.requests as f64 / run_time.as_secs_f64()
    );
    // Quotas are never over-admitted, leased or not: a run that shows otherwise fails.
    if beyond_quota > 0 {
        eprintln!("scale_sim: {beyond_quota} requests admitted beyond the hot keys' daily quota");
        std::process::exit(1);
    }
}

fn sorted(statuses: &HashMap<u16, u64>) -> Vec<(u16, u64)> {
    let mut v: Vec<_> = statuses.iter().map(|(k, v)| (*k, *v)).collect();
    v.sort();
    v
}

#[tokio::main]
async fn main() {
    let configs = parse_args();
    let pg_url = env("KEYGATE_TEST_POSTGRES_URL");
    let redis_url = env("KEYGATE_TEST_REDIS_URL");
    for config in &configs {
        run(config, &pg_url, &redis_url).await;
    }
}
