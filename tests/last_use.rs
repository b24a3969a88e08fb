//! Last use, throttled: however many requests, and however many instances share the database,
//! a key's row is written at most once per last-use interval; and those writes notify nobody.
//!
//! Time is a `ManualClock` shared by the instances, so ten minutes of traffic take no time; the
//! flushes are explicit (the background ones wait an hour).

mod common;
mod conformance;
mod postgres_common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keygate::clock::{Clock, ManualClock};
use keygate::key::KeyId;
use keygate::store::postgres::PostgresKeyStore;
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{KeyManager, KeyStore, NewKey, Workspace};

const INTERVAL: Duration = Duration::from_secs(300);
const STEP: Duration = Duration::from_secs(30);
/// Ten minutes of uses, one round every 30 s.
const ROUNDS: u32 = 20;
const NO_BACKGROUND_FLUSH: Duration = Duration::from_secs(3600);

/// A manual clock on a whole second of today: times read back from the databases (to the
/// microsecond) compare equal.
fn clock() -> ManualClock {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(now.as_secs()))
}

fn new_key(name: &str) -> NewKey {
    let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
    NewKey::new(
        format!("{name}-{unique}").parse().unwrap(),
        "read:all".parse().unwrap(),
    )
}

/// The times of the first use of each interval in `ROUNDS` rounds from `start`: the only ones
/// that may be written.
fn first_uses_of_each_interval(start: SystemTime) -> Vec<SystemTime> {
    let mut written: Vec<SystemTime> = Vec::new();
    for round in 0..ROUNDS {
        let at = start + STEP * round;
        if written.last().is_none_or(|last| *last + INTERVAL < at) {
            written.push(at);
        }
    }
    written
}

async fn postgres_store(clock: &ManualClock, interval: Duration) -> Option<PostgresKeyStore> {
    let store = postgres_common::builder()?
        .flush_interval(NO_BACKGROUND_FLUSH)
        .last_use_interval(interval)
        .clock(clock.clone())
        .build()
        .unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

async fn last_used(store: &impl KeyManager, id: &KeyId) -> Option<SystemTime> {
    store
        .info(&Workspace::default(), id)
        .await
        .unwrap()
        .last_used_at
}

/// The row's `xmin`: changes with every write of the row, whoever makes it.
async fn row_version(client: &tokio_postgres::Client, id: &KeyId) -> String {
    client
        .query_one(
            "SELECT xmin::text FROM keygate_keys WHERE id = $1",
            &[&id.as_str()],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_instances_write_a_busy_keys_row_once_per_interval() {
    let clock = clock();
    let Some(a) = postgres_store(&clock, INTERVAL).await else {
        return;
    };
    let b = postgres_store(&clock, INTERVAL).await.unwrap();
    let url = conformance::backend_url("KEYGATE_TEST_POSTGRES_URL").unwrap();
    let client = postgres_common::connect(&url.parse().unwrap()).await;
    let id = a.create(new_key("busy")).await.unwrap().info.id;
    let start = clock.now();
    let (mut flushed, mut row_writes) = (0, 0);
    let mut version = row_version(&client, &id).await;
    for _ in 0..ROUNDS {
        for _ in 0..10 {
            a.touch(&id);
            b.touch(&id);
        }
        flushed += a.flush().await.unwrap() + b.flush().await.unwrap();
        let now = row_version(&client, &id).await;
        row_writes += usize::from(now != version);
        version = now;
        clock.advance(STEP);
    }
    let expected = first_uses_of_each_interval(start);
    assert_eq!(
        expected.len(),
        2,
        "ten minutes hold two five-minute intervals"
    );
    assert_eq!(flushed, expected.len(), "rows the flushes say they wrote");
    assert_eq!(row_writes, expected.len(), "row versions PostgreSQL made");
    assert_eq!(last_used(&a, &id).await, expected.last().copied());
}

/// A store whose pending last uses can be written at once.
trait Flush: KeyStore + KeyManager {
    async fn flush_now(&self) -> usize;
}

impl Flush for PostgresKeyStore {
    async fn flush_now(&self) -> usize {
        self.flush().await.unwrap()
    }
}

impl Flush for SqliteKeyStore {
    async fn flush_now(&self) -> usize {
        self.flush().await.unwrap()
    }
}

/// A use within the interval after the written one is not written; the first use past it is.
async fn use_after_the_interval_is_written(store: impl Flush, clock: &ManualClock) {
    let id = store.create(new_key("later")).await.unwrap().info.id;
    let first = clock.now();
    store.touch(&id);
    assert_eq!(store.flush_now().await, 1);
    clock.advance(INTERVAL);
    store.touch(&id);
    assert_eq!(store.flush_now().await, 0, "still within the interval");
    assert_eq!(last_used(&store, &id).await, Some(first));
    clock.advance(Duration::from_secs(1));
    store.touch(&id);
    assert_eq!(store.flush_now().await, 1);
    assert_eq!(last_used(&store, &id).await, Some(clock.now()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_use_after_the_interval_is_written() {
    let clock = clock();
    let Some(store) = postgres_store(&clock, INTERVAL).await else {
        return;
    };
    use_after_the_interval_is_written(store, &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_use_writes_send_no_notification() {
    let clock = clock();
    let Some(store) = postgres_store(&clock, Duration::ZERO).await else {
        return;
    };
    let id = store.create(new_key("quiet")).await.unwrap().info.id;
    let url = conformance::backend_url("KEYGATE_TEST_POSTGRES_URL").unwrap();
    let config: tokio_postgres::Config = url.parse().unwrap();
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let (tx, mut payloads) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let Ok(tokio_postgres::AsyncMessage::Notification(n)) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    client.batch_execute("LISTEN keygate_keys").await.unwrap();
    for _ in 0..3 {
        store.touch(&id);
        assert_eq!(store.flush().await.unwrap(), 1, "every flush writes");
        clock.advance(Duration::from_secs(1));
    }
    // Notifications arrive in commit order: anything the flushes sent comes before this.
    let barrier = format!("barrier-{}", KeyId::random().unwrap());
    client
        .execute("SELECT pg_notify('keygate_keys', $1)", &[&barrier])
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(payload) = tokio::time::timeout(Duration::from_secs(5), payloads.recv())
        .await
        .unwrap()
    {
        if payload == barrier {
            break;
        }
        seen.push(payload);
    }
    driver.abort();
    assert!(
        !seen.iter().any(|payload| payload.contains(id.as_str())),
        "last-use writes notified {seen:?}"
    );
}

async fn sqlite_store(path: &std::path::Path, clock: &ManualClock) -> SqliteKeyStore {
    SqliteKeyStore::builder(path)
        .flush_interval(NO_BACKGROUND_FLUSH)
        .last_use_interval(INTERVAL)
        .clock(clock.clone())
        .open()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_sqlite_stores_on_one_file_write_a_busy_keys_row_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let clock = clock();
    let a = sqlite_store(&path, &clock).await;
    let b = sqlite_store(&path, &clock).await;
    // Every write of a last use, whoever makes it, counted by the database itself.
    let counter = rusqlite::Connection::open(&path).unwrap();
    counter
        .execute_batch(
            "CREATE TABLE test_row_writes (n INTEGER NOT NULL);
             INSERT INTO test_row_writes VALUES (0);
             CREATE TRIGGER test_count_row_writes AFTER UPDATE OF last_used_at ON keygate_keys
             BEGIN UPDATE test_row_writes SET n = n + 1; END;",
        )
        .unwrap();
    let id = a.create(new_key("busy")).await.unwrap().info.id;
    let start = clock.now();
    let mut flushed = 0;
    for _ in 0..ROUNDS {
        for _ in 0..10 {
            a.touch(&id);
            b.touch(&id);
        }
        flushed += a.flush().await.unwrap() + b.flush().await.unwrap();
        clock.advance(STEP);
    }
    let row_writes: usize = counter
        .query_row("SELECT n FROM test_row_writes", [], |row| row.get(0))
        .unwrap();
    let expected = first_uses_of_each_interval(start);
    assert_eq!(flushed, expected.len(), "rows the flushes say they wrote");
    assert_eq!(row_writes, expected.len(), "rows SQLite wrote");
    assert_eq!(last_used(&a, &id).await, expected.last().copied());
}

#[tokio::test]
async fn sqlite_use_after_the_interval_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = sqlite_store(&dir.path().join("keys.db"), &clock).await;
    use_after_the_interval_is_written(store, &clock).await;
}
