//! Any row PostgreSQL would accept into `keygate_keys` (a hand edit, another program, an older
//! tool): the store reads it back as a record or as a clear `Unavailable`, never a panic.
//! Needs a server: `KEYGATE_TEST_POSTGRES_URL` (`scripts/services.sh start` prints one).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keygate::key::KeyId;
use keygate::store::postgres::PostgresKeyStore;
use keygate::{KeyStore, StoreError};
use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: PostgresKeyStore,
    client: tokio_postgres::Client,
}

const ID: &str = "FuzzPgRow001";

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let url = std::env::var("KEYGATE_TEST_POSTGRES_URL")
            .expect("set KEYGATE_TEST_POSTGRES_URL (scripts/services.sh start prints it)");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (store, client) = runtime.block_on(async {
            let store = PostgresKeyStore::builder(&url).build().unwrap();
            store.migrate().await.unwrap();
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            (store, client)
        });
        Fixture { runtime, store, client }
    })
}

fn time(u: &mut Unstructured<'_>) -> Result<SystemTime> {
    let micros = i64::arbitrary(u)?;
    let d = Duration::from_micros(micros.unsigned_abs());
    Ok(if micros >= 0 { UNIX_EPOCH + d } else { UNIX_EPOCH.checked_sub(d).unwrap_or(UNIX_EPOCH) })
}

fn opt<T>(u: &mut Unstructured<'_>, f: impl FnOnce(&mut Unstructured<'_>) -> Result<T>) -> Result<Option<T>> {
    Ok(if bool::arbitrary(u)? { Some(f(u)?) } else { None })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut u = Unstructured::new(data);
    let Ok(row) = (|| -> Result<_> {
        Ok((
            String::arbitrary(&mut u)?,
            Vec::<u8>::arbitrary(&mut u)?,
            opt(&mut u, |u| Ok((Vec::<u8>::arbitrary(u)?, time(u)?)))?,
            String::arbitrary(&mut u)?,
            opt(&mut u, |u| Ok((i32::arbitrary(u)?, i64::arbitrary(u)?)))?,
            time(&mut u)?,
            opt(&mut u, time)?,
            opt(&mut u, time)?,
            opt(&mut u, time)?,
            String::arbitrary(&mut u)?,
            String::arbitrary(&mut u)?,
        ))
    })() else {
        return;
    };
    let (name, digest, previous, scopes, quota, created, expires, revoked, used, workspace, metadata) = row;
    let (previous_digest, previous_until) = previous.unzip();
    let (burst, interval) = quota.unzip();
    let inserted = f.runtime.block_on(async {
        f.client.execute("DELETE FROM keygate_keys WHERE id = $1", &[&ID]).await.unwrap();
        f.client
            .execute(
                "INSERT INTO keygate_keys (id, name, digest, previous_digest, previous_valid_until, \
                 scopes, quota_burst, quota_interval_us, created_at, expires_at, revoked_at, \
                 last_used_at, workspace, metadata) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::text::jsonb)",
                &[&ID, &name, &digest, &previous_digest, &previous_until, &scopes, &burst,
                  &interval, &created, &expires, &revoked, &used, &workspace, &metadata],
            )
            .await
    });
    // What PostgreSQL itself refuses (NUL in text, out-of-range times, CHECKs) never gets stored.
    if inserted.is_err() {
        return;
    }
    let id = KeyId::new(ID).unwrap();
    match f.runtime.block_on(f.store.get(&id)) {
        Ok(Some(record)) => {
            assert_eq!(record.id, id);
            assert_eq!(record.name.as_str(), name);
            assert_eq!(record.digest.as_bytes().as_slice(), digest.as_slice());
            assert_eq!(record.workspace.as_str(), workspace);
            // jsonb keeps the object, not its spelling: compare values.
            let stored: serde_json::Value = serde_json::from_str(&metadata).unwrap();
            assert_eq!(record.metadata.to_value(), stored);
        }
        Ok(None) => panic!("a row that is there was not found"),
        Err(StoreError::Unavailable(_)) => {}
        Err(other) => panic!("a damaged row must be Unavailable, not {other:?}"),
    }
});
