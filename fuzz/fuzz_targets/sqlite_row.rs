//! Any row a SQLite key database could hold (a damaged file, a hand edit, another program):
//! the store reads it back as a record or as a clear `Unavailable`, never a panic, and a record
//! it returns has the columns' values.
#![no_main]

use std::sync::OnceLock;

use keygate::key::KeyId;
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{KeyStore, StoreError};
use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rusqlite::types::Value;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: SqliteKeyStore,
    conn: std::sync::Mutex<rusqlite::Connection>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store = runtime.block_on(SqliteKeyStore::open(&path)).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        Fixture { runtime, store, conn: std::sync::Mutex::new(conn), _dir: dir }
    })
}

/// A column value of any SQLite storage class.
fn column(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=4)? {
        0 => Value::Null,
        1 => Value::Integer(i64::arbitrary(u)?),
        2 => Value::Real(f64::arbitrary(u)?),
        3 => Value::Text(String::arbitrary(u)?),
        _ => Value::Blob(Vec::<u8>::arbitrary(u)?),
    })
}

const ID: &str = "FuzzRow00001";

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut u = Unstructured::new(data);
    let mut values = vec![Value::Text(ID.to_owned())];
    for _ in 0..13 {
        let Ok(v) = column(&mut u) else { return };
        values.push(v);
    }
    {
        let conn = f.conn.lock().unwrap();
        conn.execute("DELETE FROM keygate_keys WHERE id = ?1", [ID]).unwrap();
        // Columns without NOT NULL may take anything; a NOT NULL violation is simply skipped.
        let inserted = conn.execute(
            "INSERT INTO keygate_keys (id, name, digest, previous_digest, previous_valid_until, \
             scopes, quota_burst, quota_interval_us, created_at, expires_at, revoked_at, \
             last_used_at, workspace, metadata) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            rusqlite::params_from_iter(values.iter()),
        );
        if inserted.is_err() {
            return;
        }
    }
    let id = KeyId::new(ID).unwrap();
    match f.runtime.block_on(f.store.get(&id)) {
        Ok(Some(record)) => {
            assert_eq!(record.id, id);
            assert_eq!(Value::Text(record.name.to_string()), values[1]);
            assert_eq!(Value::Blob(record.digest.as_bytes().to_vec()), values[2]);
            assert_eq!(Value::Text(record.workspace.to_string()), values[12]);
            // Metadata reads back as the same object, compactly serialized.
            let Value::Text(stored) = &values[13] else { panic!("metadata read from a non-text column") };
            let stored: serde_json::Value = serde_json::from_str(stored).unwrap();
            assert_eq!(record.metadata.to_value(), stored);
        }
        Ok(None) => panic!("a row that is there was not found"),
        Err(StoreError::Unavailable(_)) => {}
        Err(other) => panic!("a damaged row must be Unavailable, not {other:?}"),
    }
});
