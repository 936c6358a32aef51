//! Persistence: one SQLite file, `catalog.sqlite`, in WAL mode.
//!
//! Resources are stored as JSON documents keyed by id and kind (the API's shapes change more
//! often than their identity does, and JSON keeps a migration to a few lines); job logs in
//! their own table. The schema version is `PRAGMA user_version`; [`MIGRATIONS`] are applied in
//! order, each in a transaction, so an interrupted upgrade leaves the previous version intact.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::CatalogError;

/// Schema steps; index + 1 is the version a step leads to.
const MIGRATIONS: &[&str] = &[
    // 1: resources and logs.
    "CREATE TABLE resources (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        datastore TEXT NOT NULL,
        body TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
     );
     CREATE INDEX resources_by_kind ON resources (kind, datastore, created);
     CREATE TABLE logs (
        resource TEXT NOT NULL,
        seq INTEGER NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (resource, seq)
     );
     CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: users of the API and the bearer tokens issued to them (hashed).
    "CREATE TABLE users (
        id TEXT PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        datastores TEXT NOT NULL,
        creation TEXT NOT NULL,
        password_hash TEXT NOT NULL
     );
     CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        login TEXT NOT NULL,
        expires INTEGER NOT NULL
     );
     CREATE INDEX tokens_by_login ON tokens (login);",
];

/// Resource kinds, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Upload,
    Check,
    Execution,
    StoredData,
    Static,
    Configuration,
    Offering,
    Permission,
    Key,
    Comment,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Upload => "upload",
            Kind::Check => "check",
            Kind::Execution => "execution",
            Kind::StoredData => "stored_data",
            Kind::Static => "static",
            Kind::Configuration => "configuration",
            Kind::Offering => "offering",
            Kind::Permission => "permission",
            Kind::Key => "key",
            Kind::Comment => "comment",
        }
    }

    /// Singular noun for messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Upload => "upload",
            Kind::Check => "check execution",
            Kind::Execution => "processing execution",
            Kind::StoredData => "stored data",
            Kind::Static => "static",
            Kind::Configuration => "configuration",
            Kind::Offering => "offering",
            Kind::Permission => "permission",
            Kind::Key => "key",
            Kind::Comment => "comment",
        }
    }
}

/// Opens (creating when missing) and migrates the catalog database.
pub(crate) fn open(path: &Path) -> Result<Connection, CatalogError> {
    let mut connection = Connection::open(path).map_err(CatalogError::Database)?;
    // First, so that processes opening a fresh data directory together wait for each other.
    connection
        .busy_timeout(std::time::Duration::from_secs(10))
        .map_err(CatalogError::Database)?;
    // Switching a fresh file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at
    // once (without the busy handler) while another process holds one: retry for as long as
    // the busy timeout would wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        ) {
            Ok(()) => break,
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(error) => return Err(CatalogError::Database(error)),
        }
    }
    migrate(&mut connection)?;
    Ok(connection)
}

/// Applies the missing schema steps. Each step runs in an immediate transaction (the write
/// lock taken at its start) that reads the version again: of several processes starting
/// together on a fresh data directory, one applies a step and the others find it applied.
fn migrate(connection: &mut Connection) -> Result<(), CatalogError> {
    loop {
        let tx = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(CatalogError::Database)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(CatalogError::Database)?;
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(CatalogError::Internal(format!(
                "the catalog database is at schema version {version}, newer than this server knows \
                 ({}): run a newer tuilerie",
                MIGRATIONS.len()
            )));
        }
        let Some(step) = MIGRATIONS.get(version) else {
            return Ok(());
        };
        tx.execute_batch(step).map_err(CatalogError::Database)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
            .map_err(CatalogError::Database)?;
        tx.commit().map_err(CatalogError::Database)?;
        tracing::info!(version = version + 1, "catalog schema migrated");
    }
}

/// Inserts or replaces a resource.
pub(crate) fn put<T: Serialize>(
    tx: &Transaction<'_>,
    kind: Kind,
    datastore: &str,
    id: &str,
    created: &str,
    value: &T,
) -> Result<(), CatalogError> {
    let body = serde_json::to_string(value)
        .map_err(|e| CatalogError::Internal(format!("cannot serialise a {}: {e}", kind.noun())))?;
    tx.execute(
        "INSERT INTO resources (id, kind, datastore, body, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated = ?6",
        params![id, kind.as_str(), datastore, body, created, crate::now()],
    )
    .map_err(CatalogError::Database)?;
    Ok(())
}

/// A resource by id, or `NotFound`.
pub(crate) fn get<T: DeserializeOwned>(
    connection: &Connection,
    kind: Kind,
    datastore: &str,
    id: &str,
) -> Result<T, CatalogError> {
    let body: Option<String> = connection
        .query_row(
            "SELECT body FROM resources WHERE id = ?1 AND kind = ?2 AND datastore = ?3",
            params![id, kind.as_str(), datastore],
            |row| row.get(0),
        )
        .optional()
        .map_err(CatalogError::Database)?;
    let body = body.ok_or_else(|| CatalogError::NotFound {
        kind: kind.noun(),
        id: id.to_owned(),
    })?;
    decode(kind, &body)
}

/// Every resource of a kind in a datastore, oldest first.
pub(crate) fn list<T: DeserializeOwned>(
    connection: &Connection,
    kind: Kind,
    datastore: &str,
) -> Result<Vec<T>, CatalogError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT body FROM resources WHERE kind = ?1 AND datastore = ?2 ORDER BY created, id",
        )
        .map_err(CatalogError::Database)?;
    let bodies = statement
        .query_map(params![kind.as_str(), datastore], |row| {
            row.get::<_, String>(0)
        })
        .map_err(CatalogError::Database)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(CatalogError::Database)?;
    bodies.iter().map(|b| decode(kind, b)).collect()
}

/// How many resources of a kind each `status` counts, in every datastore.
pub(crate) fn count_by_status(
    connection: &Connection,
    kind: Kind,
) -> Result<Vec<(String, u64)>, CatalogError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT json_extract(body, '$.status') AS status, COUNT(*) FROM resources \
             WHERE kind = ?1 GROUP BY status ORDER BY status",
        )
        .map_err(CatalogError::Database)?;
    let counts = statement
        .query_map(params![kind.as_str()], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?.unwrap_or_default(),
                row.get::<_, i64>(1)?,
            ))
        })
        .map_err(CatalogError::Database)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(CatalogError::Database)?;
    Ok(counts
        .into_iter()
        .map(|(status, count)| (status, u64::try_from(count).unwrap_or(0)))
        .collect())
}

/// Every resource of a kind in every datastore, with its datastore.
pub(crate) fn list_all<T: DeserializeOwned>(
    connection: &Connection,
    kind: Kind,
) -> Result<Vec<(String, T)>, CatalogError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT datastore, body FROM resources WHERE kind = ?1 ORDER BY created, id",
        )
        .map_err(CatalogError::Database)?;
    let rows = statement
        .query_map(params![kind.as_str()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(CatalogError::Database)?
        .collect::<Result<Vec<(String, String)>, _>>()
        .map_err(CatalogError::Database)?;
    rows.into_iter()
        .map(|(ds, body)| Ok((ds, decode(kind, &body)?)))
        .collect()
}

fn decode<T: DeserializeOwned>(kind: Kind, body: &str) -> Result<T, CatalogError> {
    serde_json::from_str(body).map_err(|e| {
        CatalogError::Internal(format!("a stored {} cannot be read: {e}", kind.noun()))
    })
}

/// Deletes a resource and its logs.
pub(crate) fn delete(tx: &Transaction<'_>, id: &str) -> Result<(), CatalogError> {
    tx.execute("DELETE FROM resources WHERE id = ?1", params![id])
        .map_err(CatalogError::Database)?;
    tx.execute("DELETE FROM logs WHERE resource = ?1", params![id])
        .map_err(CatalogError::Database)?;
    Ok(())
}

/// Appends log lines to a resource.
pub(crate) fn log(
    connection: &Connection,
    resource: &str,
    lines: &[String],
) -> Result<(), CatalogError> {
    let next: i64 = connection
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM logs WHERE resource = ?1",
            params![resource],
            |row| row.get(0),
        )
        .map_err(CatalogError::Database)?;
    let mut statement = connection
        .prepare_cached("INSERT INTO logs (resource, seq, line) VALUES (?1, ?2, ?3)")
        .map_err(CatalogError::Database)?;
    for (k, line) in lines.iter().enumerate() {
        statement
            .execute(params![resource, next + k as i64, line])
            .map_err(CatalogError::Database)?;
    }
    Ok(())
}

/// The log lines of a resource, in order.
pub(crate) fn logs(connection: &Connection, resource: &str) -> Result<Vec<String>, CatalogError> {
    let mut statement = connection
        .prepare_cached("SELECT line FROM logs WHERE resource = ?1 ORDER BY seq")
        .map_err(CatalogError::Database)?;
    let lines = statement
        .query_map(params![resource], |row| row.get::<_, String>(0))
        .map_err(CatalogError::Database)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(CatalogError::Database)?;
    Ok(lines)
}

/// Bumps the publication generation (read by servers sharing the data directory).
pub(crate) fn bump_generation(tx: &Transaction<'_>) -> Result<(), CatalogError> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('generation', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
        [],
    )
    .map_err(CatalogError::Database)?;
    Ok(())
}

/// The publication generation: changes whenever offerings, configurations or keys change.
pub(crate) fn generation(connection: &Connection) -> Result<u64, CatalogError> {
    let value: Option<String> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'generation'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(CatalogError::Database)?;
    Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Processes starting together on a fresh data directory (a server and `tuilerie
    /// publish`, several replicas): every one opens it, none fails on "table already exists".
    #[test]
    fn connections_opening_a_fresh_catalog_together_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(12));
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    open(&path).map(|_| ())
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        let connection = open(&path).unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(usize::try_from(version).unwrap(), MIGRATIONS.len());
    }

    #[test]
    fn the_schema_is_migrated_once_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let version = |connection: &Connection| -> i64 {
            connection
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .unwrap()
        };
        let connection = open(&path).unwrap();
        assert_eq!(version(&connection), MIGRATIONS.len() as i64);
        drop(connection);
        // Opening again applies nothing (a second CREATE TABLE would fail).
        let connection = open(&path).unwrap();
        assert_eq!(version(&connection), MIGRATIONS.len() as i64);
        connection
            .execute_batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len() + 1))
            .unwrap();
        drop(connection);
        match open(&path) {
            Err(CatalogError::Internal(message)) => {
                assert!(message.contains("run a newer tuilerie"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
