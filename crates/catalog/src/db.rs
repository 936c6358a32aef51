//! Persistence: one SQLite file, `catalog.sqlite`, in WAL mode (the embedded default), or a
//! PostgreSQL database shared by several servers (`[catalog] url`).
//!
//! Resources are stored as JSON documents keyed by id and kind (the API's shapes change more
//! often than their identity does, and JSON keeps a migration to a few lines); job logs in
//! their own table. Both engines run the same [`MIGRATIONS`], step for step, each in a
//! transaction under a lock (SQLite's write lock, a PostgreSQL advisory lock), so an
//! interrupted upgrade leaves the previous version intact and processes starting together
//! apply each step once.
//!
//! The rest of the catalog speaks to either engine through [`Sql`]: a few statements written
//! once (`?1` placeholders, turned into `$1` for PostgreSQL), text and integer values only.
//!
//! Why the synchronous `postgres` crate and an `r2d2` pool rather than an async driver: every
//! catalog call is already blocking (files, SQLite) and runs on the blocking pool; a
//! synchronous client keeps one code path for both engines.

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use rusqlite::Connection;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{CatalogError, Swap};

/// Schema steps, in SQL both engines run; index + 1 is the version a step leads to (SQLite's
/// `PRAGMA user_version`, PostgreSQL's `tuilerie_schema`). Types are TEXT and BIGINT (an
/// INTEGER column in SQLite, which gives BIGINT the same affinity). A step's meaning never
/// changes once released.
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
        seq BIGINT NOT NULL,
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
        expires BIGINT NOT NULL
     );
     CREATE INDEX tokens_by_login ON tokens (login);",
    // 3: claims of background jobs (see jobs.rs).
    "CREATE TABLE job_claims (
        job TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        datastore TEXT NOT NULL,
        owner TEXT,
        heartbeat BIGINT NOT NULL,
        queued TEXT NOT NULL
     );",
];

/// Advisory lock keys (arbitrary, fixed): schema migrations, and catalog changes (one at a
/// time across every server sharing the database, as SQLite's single writer does).
const MIGRATION_LOCK: i64 = 0x7475_696c_0001;
const CHANGE_LOCK: i64 = 0x7475_696c_0002;

type Manager<T> = r2d2_postgres::PostgresConnectionManager<T>;
type Tls = tokio_postgres_rustls::MakeRustlsConnect;

/// The pool of connections: plain, or TLS when the URL asks for it.
pub(crate) enum PgPool {
    Plain(r2d2::Pool<Manager<postgres::NoTls>>),
    Tls(r2d2::Pool<Manager<Tls>>),
}

/// A connection of either pool, back in its pool when dropped.
pub(crate) enum PooledClient {
    Plain(r2d2::PooledConnection<Manager<postgres::NoTls>>),
    Tls(r2d2::PooledConnection<Manager<Tls>>),
}

impl std::ops::Deref for PooledClient {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        match self {
            PooledClient::Plain(client) => client,
            PooledClient::Tls(client) => client,
        }
    }
}

impl std::ops::DerefMut for PooledClient {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        match self {
            PooledClient::Plain(client) => client,
            PooledClient::Tls(client) => client,
        }
    }
}

impl PgPool {
    fn get(&self) -> Result<PooledClient, r2d2::Error> {
        match self {
            PgPool::Plain(pool) => pool.get().map(PooledClient::Plain),
            PgPool::Tls(pool) => pool.get().map(PooledClient::Tls),
        }
    }
}

/// How to reach PostgreSQL: the connection settings and, when the URL says
/// `sslmode=require` (or libpq's `verify-ca`/`verify-full`), TLS with the server's certificate
/// checked against the system's authorities and `ca_file`'s. Without it, plain TCP (as
/// libpq's `prefer` against a server without TLS).
#[derive(Clone)]
pub(crate) struct Connector {
    config: postgres::Config,
    tls: Option<Tls>,
}

impl Connector {
    pub(crate) fn new(url: &str, ca_file: Option<&Path>) -> Result<Connector, CatalogError> {
        // tokio-postgres knows disable/prefer/require, and always checks certificates.
        let url = url
            .replace("sslmode=verify-full", "sslmode=require")
            .replace("sslmode=verify-ca", "sslmode=require");
        let config: postgres::Config = url.parse().map_err(|e| {
            CatalogError::Invalid(format!(
                "the catalog URL is not a PostgreSQL connection string \
                 (postgresql://user:password@host:port/database[?sslmode=require]): {e}"
            ))
        })?;
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(tls_connector(ca_file)?),
            _ => None,
        };
        Ok(Connector { config, tls })
    }

    fn pool(&self, size: u32) -> Result<PgPool, r2d2::Error> {
        fn builder<M>(size: u32) -> r2d2::Builder<M>
        where
            M: r2d2::ManageConnection<Error = postgres::Error>,
        {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(1))
                .connection_timeout(Duration::from_secs(5))
                .error_handler(Box::new(PoolErrors))
        }
        Ok(match &self.tls {
            None => PgPool::Plain(
                builder(size).build(Manager::new(self.config.clone(), postgres::NoTls))?,
            ),
            Some(tls) => {
                PgPool::Tls(builder(size).build(Manager::new(self.config.clone(), tls.clone()))?)
            }
        })
    }

    fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        match &self.tls {
            None => self.config.connect(postgres::NoTls),
            Some(tls) => self.config.connect(tls.clone()),
        }
    }
}

/// TLS with the system's certificate authorities and those of `ca_file` (PEM).
fn tls_connector(ca_file: Option<&Path>) -> Result<Tls, CatalogError> {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is no reason to refuse the others.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| CatalogError::io(path, e))?;
        let mut added = 0;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                CatalogError::Invalid(format!(
                    "catalog.ca_file {}: not a PEM certificate ({e})",
                    path.display()
                ))
            })?;
            roots.add(cert).map_err(|e| {
                CatalogError::Invalid(format!(
                    "catalog.ca_file {}: unusable certificate ({e})",
                    path.display()
                ))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(CatalogError::Invalid(format!(
                "catalog.ca_file {} holds no PEM certificate",
                path.display()
            )));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CatalogError::Internal(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Why the database failed.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
}

/// The catalog's database: the engine and its connections.
pub(crate) enum Database {
    /// One connection; its mutex serialises every call (SQLite has one writer anyway).
    Sqlite(Mutex<Connection>),
    /// A pool; `changes` serialises this process's changes (their swaps happen in commit
    /// order), the advisory lock every process's.
    Postgres {
        pool: PgPool,
        changes: Mutex<()>,
        connector: Connector,
    },
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Database::Sqlite(_) => "Database::Sqlite",
            Database::Postgres { .. } => "Database::Postgres",
        })
    }
}

/// A value bound to a statement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(value)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(value)
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(value)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(text) => rusqlite::types::ToSqlOutput::from(*text),
            Param::Int(value) => rusqlite::types::ToSqlOutput::from(*value),
        })
    }
}

/// A column value read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Text(String),
    Int(i64),
}

/// A row read back: its columns in the statement's order.
#[derive(Debug)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    /// A text column (`NULL` is an error).
    pub(crate) fn text(&self, column: usize) -> Result<String, CatalogError> {
        match self.0.get(column) {
            Some(Value::Text(text)) => Ok(text.clone()),
            other => Err(CatalogError::Internal(format!(
                "catalog column {column} is {other:?}, not text"
            ))),
        }
    }

    /// A text column that may be `NULL`.
    pub(crate) fn opt_text(&self, column: usize) -> Result<Option<String>, CatalogError> {
        match self.0.get(column) {
            Some(Value::Null) => Ok(None),
            _ => self.text(column).map(Some),
        }
    }

    /// An integer column.
    pub(crate) fn int(&self, column: usize) -> Result<i64, CatalogError> {
        match self.0.get(column) {
            Some(Value::Int(value)) => Ok(*value),
            other => Err(CatalogError::Internal(format!(
                "catalog column {column} is {other:?}, not an integer"
            ))),
        }
    }
}

/// A connection (or a transaction) of either engine, for the length of one read or change.
pub(crate) struct Sql<'a>(Handle<'a>);

enum Handle<'a> {
    Sqlite(&'a Connection),
    Postgres(RefCell<&'a mut dyn PgClient>),
}

/// What `postgres::Client` and `postgres::Transaction` share, object-safe.
trait PgClient {
    fn run(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, postgres::Error>;
    fn rows(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error>;
}

impl<C: postgres::GenericClient> PgClient for C {
    fn run(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        self.execute(sql, params)
    }
    fn rows(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        self.query(sql, params)
    }
}

/// `?N` placeholders as PostgreSQL's `$N`.
fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn sqlite_error(error: rusqlite::Error) -> CatalogError {
    CatalogError::Database(DatabaseError::Sqlite(error))
}

fn postgres_error(error: postgres::Error) -> CatalogError {
    // A closed connection or a refused one: the database is away, not the request wrong.
    let io = std::error::Error::source(&error)
        .is_some_and(<dyn std::error::Error>::is::<std::io::Error>);
    // Class 08 (connection exception) and 57P (shutdown, cannot connect now) too.
    let going = error
        .code()
        .is_some_and(|code| code.code().starts_with("08") || code.code().starts_with("57P"));
    if error.is_closed() || io || going {
        let error = describe(&error);
        tracing::warn!(%error, "catalog database unreachable");
        return CatalogError::Unavailable(format!("PostgreSQL: {error}"));
    }
    CatalogError::Database(DatabaseError::Postgres(error))
}

/// A PostgreSQL error with its server message ("db error" alone says nothing).
fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

/// r2d2 reports its failed connection attempts here: at debug level, since every request that
/// finds no connection logs its own warning (r2d2 would log each attempt as an error).
#[derive(Debug)]
struct PoolErrors;

impl r2d2::HandleError<postgres::Error> for PoolErrors {
    fn handle_error(&self, error: postgres::Error) {
        tracing::debug!(error = %describe(&error), "catalog pool: connection attempt failed");
    }
}

impl Sql<'_> {
    /// Whether this is PostgreSQL (for the few statements the engines spell differently).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.0, Handle::Postgres(_))
    }

    /// Runs a statement, answering how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, CatalogError> {
        match &self.0 {
            Handle::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql).map_err(sqlite_error)?;
                let changed = statement
                    .execute(rusqlite::params_from_iter(params.iter()))
                    .map_err(sqlite_error)?;
                Ok(changed as u64)
            }
            Handle::Postgres(client) => {
                let values = postgres_values(params);
                let refs = postgres_refs(&values);
                client
                    .borrow_mut()
                    .run(&postgres_placeholders(sql), &refs)
                    .map_err(postgres_error)
            }
        }
    }

    /// Runs a query, answering its rows.
    pub(crate) fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, CatalogError> {
        match &self.0 {
            Handle::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql).map_err(sqlite_error)?;
                let columns = statement.column_count();
                let rows = statement
                    .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                        (0..columns)
                            .map(|k| {
                                Ok(match row.get_ref(k)? {
                                    rusqlite::types::ValueRef::Null => Value::Null,
                                    rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                                    rusqlite::types::ValueRef::Real(v) => {
                                        Value::Text(v.to_string())
                                    }
                                    rusqlite::types::ValueRef::Text(t)
                                    | rusqlite::types::ValueRef::Blob(t) => {
                                        Value::Text(String::from_utf8_lossy(t).into_owned())
                                    }
                                })
                            })
                            .collect::<rusqlite::Result<Vec<Value>>>()
                            .map(Row)
                    })
                    .map_err(sqlite_error)?;
                rows.collect::<rusqlite::Result<Vec<Row>>>()
                    .map_err(sqlite_error)
            }
            Handle::Postgres(client) => {
                let values = postgres_values(params);
                let refs = postgres_refs(&values);
                let rows = client
                    .borrow_mut()
                    .rows(&postgres_placeholders(sql), &refs)
                    .map_err(postgres_error)?;
                rows.iter().map(postgres_row).collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub(crate) fn query_one(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, CatalogError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

fn postgres_values(params: &[Param<'_>]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|param| -> Box<dyn postgres::types::ToSql + Sync> {
            match param {
                Param::Text(text) => Box::new((*text).to_owned()),
                Param::Int(value) => Box::new(*value),
            }
        })
        .collect()
}

fn postgres_refs(
    values: &[Box<dyn postgres::types::ToSql + Sync>],
) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    values.iter().map(AsRef::as_ref).collect()
}

fn postgres_row(row: &postgres::Row) -> Result<Row, CatalogError> {
    use postgres::types::Type;
    (0..row.len())
        .map(|k| {
            let column_type = row.columns()[k].type_().clone();
            let value = if column_type == Type::INT8 {
                row.try_get::<_, Option<i64>>(k).map(|v| v.map(Value::Int))
            } else if column_type == Type::INT4 {
                row.try_get::<_, Option<i32>>(k)
                    .map(|v| v.map(|v| Value::Int(i64::from(v))))
            } else {
                row.try_get::<_, Option<String>>(k)
                    .map(|v| v.map(Value::Text))
            };
            value
                .map(|v| v.unwrap_or(Value::Null))
                .map_err(postgres_error)
        })
        .collect::<Result<Vec<Value>, CatalogError>>()
        .map(Row)
}

impl Database {
    /// Opens (creating when missing) and migrates the SQLite catalog at `path`.
    pub(crate) fn open_sqlite(path: &Path) -> Result<Database, CatalogError> {
        open(path).map(|connection| Database::Sqlite(Mutex::new(connection)))
    }

    /// Connects to a PostgreSQL catalog and migrates it. `pool_size` connections at most;
    /// `ca_file`: authorities of the server's TLS certificate besides the system's.
    pub(crate) fn open_postgres(
        url: &str,
        pool_size: u32,
        ca_file: Option<&Path>,
    ) -> Result<Database, CatalogError> {
        let connector = Connector::new(url, ca_file)?;
        let pool = connector.pool(pool_size).map_err(|e| {
            // r2d2 keeps only the last error's first line: one more attempt says why.
            let why = match connector.connect() {
                Err(error) => describe(&error),
                Ok(_) => e.to_string(),
            };
            CatalogError::Unavailable(format!(
                "cannot connect to the catalog database ({}): {why}",
                redact_password(url)
            ))
        })?;
        let database = Database::Postgres {
            pool,
            changes: Mutex::new(()),
            connector,
        };
        database.migrate_postgres()?;
        Ok(database)
    }

    fn postgres_client(pool: &PgPool) -> Result<PooledClient, CatalogError> {
        pool.get().map_err(|e| {
            tracing::warn!(error = %e, "catalog database unreachable: no connection in the pool");
            CatalogError::Unavailable(format!("no connection to the catalog database: {e}"))
        })
    }

    /// Applies the missing PostgreSQL steps, each in a transaction holding the migration lock.
    fn migrate_postgres(&self) -> Result<(), CatalogError> {
        let Database::Postgres { pool, .. } = self else {
            return Ok(());
        };
        let mut client = Self::postgres_client(pool)?;
        loop {
            let mut tx = client.transaction().map_err(postgres_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .map_err(postgres_error)?;
            tx.batch_execute(
                "SET LOCAL client_min_messages = warning;
                 CREATE TABLE IF NOT EXISTS tuilerie_schema (version BIGINT NOT NULL);
                 INSERT INTO tuilerie_schema (version)
                 SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM tuilerie_schema);",
            )
            .map_err(postgres_error)?;
            let version: i64 = tx
                .query_one("SELECT version FROM tuilerie_schema", &[])
                .and_then(|row| row.try_get(0))
                .map_err(postgres_error)?;
            let version = usize::try_from(version).unwrap_or(0);
            if version > MIGRATIONS.len() {
                return Err(newer_schema(version, MIGRATIONS.len()));
            }
            let Some(step) = MIGRATIONS.get(version) else {
                return tx.commit().map_err(postgres_error);
            };
            tx.batch_execute(step).map_err(postgres_error)?;
            tx.execute(
                "UPDATE tuilerie_schema SET version = $1",
                &[&i64::try_from(version + 1).unwrap_or(i64::MAX)],
            )
            .map_err(postgres_error)?;
            tx.commit().map_err(postgres_error)?;
            tracing::info!(
                version = version + 1,
                engine = "postgresql",
                "catalog schema migrated"
            );
        }
    }

    /// A listener of other servers' changes (PostgreSQL), `None` for SQLite.
    pub(crate) fn listener(&self) -> Option<ChangeListener> {
        match self {
            Database::Sqlite(_) => None,
            Database::Postgres { connector, .. } => Some(ChangeListener {
                connector: connector.clone(),
                client: None,
            }),
        }
    }

    /// Runs a short write in a transaction of its own (job claims), outside the order of
    /// publication changes.
    pub(crate) fn write<T>(
        &self,
        work: impl FnOnce(&Sql<'_>) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        match self {
            Database::Sqlite(connection) => {
                let mut connection = lock(connection);
                let tx = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(sqlite_error)?;
                in_sqlite(tx, work)
            }
            Database::Postgres { pool, .. } => {
                let mut client = Self::postgres_client(pool)?;
                let tx = client.transaction().map_err(postgres_error)?;
                let value = in_postgres(tx, work)?;
                Ok(value)
            }
        }
    }

    /// Runs a read.
    pub(crate) fn read<T>(
        &self,
        work: impl FnOnce(&Sql<'_>) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        match self {
            Database::Sqlite(connection) => work(&Sql(Handle::Sqlite(&lock(connection)))),
            Database::Postgres { pool, .. } => {
                let mut client = Self::postgres_client(pool)?;
                let client: &mut postgres::Client = &mut client;
                work(&Sql(Handle::Postgres(RefCell::new(client))))
            }
        }
    }

    /// Runs a change in a transaction, one change at a time. `work` answers its value and an
    /// optional swap, run after the commit and before the next change may start (swaps happen
    /// in commit order). An error rolls everything back.
    pub(crate) fn change<T>(
        &self,
        work: impl FnOnce(&Sql<'_>) -> Result<(T, Option<Swap>), CatalogError>,
    ) -> Result<T, CatalogError> {
        match self {
            Database::Sqlite(connection) => {
                let mut connection = lock(connection);
                let tx = connection.transaction().map_err(sqlite_error)?;
                let (value, swap) = in_sqlite(tx, work)?;
                // Still under the lock: swaps happen in commit order.
                if let Some(swap) = swap {
                    swap();
                }
                Ok(value)
            }
            Database::Postgres { pool, changes, .. } => {
                let _one_at_a_time = lock(changes);
                let mut client = Self::postgres_client(pool)?;
                let mut tx = client.transaction().map_err(postgres_error)?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHANGE_LOCK])
                    .map_err(postgres_error)?;
                let (value, swap) = in_postgres(tx, work)?;
                if let Some(swap) = swap {
                    swap();
                }
                Ok(value)
            }
        }
    }
}

impl Database {
    /// Reads a consistent snapshot and runs its swap, in this process's change order but
    /// without the database-wide change lock (a republish reads; it must not hold back other
    /// servers' changes while it builds layers).
    pub(crate) fn snapshot(
        &self,
        work: impl FnOnce(&Sql<'_>) -> Result<Option<Swap>, CatalogError>,
    ) -> Result<(), CatalogError> {
        match self {
            Database::Sqlite(_) => self.change(|sql| Ok(((), work(sql)?))),
            Database::Postgres { pool, changes, .. } => {
                let _in_order = lock(changes);
                let mut client = Self::postgres_client(pool)?;
                let tx = client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .map_err(postgres_error)?;
                if let Some(swap) = in_postgres(tx, work)? {
                    swap();
                }
                Ok(())
            }
        }
    }
}

/// Runs `work` in a SQLite transaction and commits it (an error rolls it back).
fn in_sqlite<T>(
    tx: rusqlite::Transaction<'_>,
    work: impl FnOnce(&Sql<'_>) -> Result<T, CatalogError>,
) -> Result<T, CatalogError> {
    let value = work(&Sql(Handle::Sqlite(&tx)))?;
    tx.commit().map_err(sqlite_error)?;
    Ok(value)
}

/// Runs `work` in a PostgreSQL transaction and commits it (an error rolls it back).
fn in_postgres<T>(
    mut tx: postgres::Transaction<'_>,
    work: impl FnOnce(&Sql<'_>) -> Result<T, CatalogError>,
) -> Result<T, CatalogError> {
    let value = {
        let handle: &mut dyn PgClient = &mut tx;
        work(&Sql(Handle::Postgres(RefCell::new(handle))))?
    };
    tx.commit().map_err(postgres_error)?;
    Ok(value)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connection URL without the password of its `user:password@` part, for messages and logs.
pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn newer_schema(version: usize, known: usize) -> CatalogError {
    CatalogError::Internal(format!(
        "the catalog database is at schema version {version}, newer than this server knows \
         ({known}): run a newer tuilerie"
    ))
}

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
fn open(path: &Path) -> Result<Connection, CatalogError> {
    let mut connection = Connection::open(path).map_err(sqlite_error)?;
    // First, so that processes opening a fresh data directory together wait for each other.
    connection
        .busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sqlite_error)?;
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
            Err(error) => return Err(sqlite_error(error)),
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
            .map_err(sqlite_error)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sqlite_error)?;
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(newer_schema(version, MIGRATIONS.len()));
        }
        let Some(step) = MIGRATIONS.get(version) else {
            return Ok(());
        };
        tx.execute_batch(step).map_err(sqlite_error)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
            .map_err(sqlite_error)?;
        tx.commit().map_err(sqlite_error)?;
        tracing::info!(version = version + 1, "catalog schema migrated");
    }
}

/// Inserts or replaces a resource.
pub(crate) fn put<T: Serialize>(
    sql: &Sql<'_>,
    kind: Kind,
    datastore: &str,
    id: &str,
    created: &str,
    value: &T,
) -> Result<(), CatalogError> {
    let body = serde_json::to_string(value)
        .map_err(|e| CatalogError::Internal(format!("cannot serialise a {}: {e}", kind.noun())))?;
    let now = crate::now();
    sql.execute(
        "INSERT INTO resources (id, kind, datastore, body, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated = ?6",
        &[
            id.into(),
            kind.as_str().into(),
            datastore.into(),
            Param::Text(&body),
            created.into(),
            Param::Text(&now),
        ],
    )?;
    Ok(())
}

/// A resource by id, or `NotFound`.
pub(crate) fn get<T: DeserializeOwned>(
    sql: &Sql<'_>,
    kind: Kind,
    datastore: &str,
    id: &str,
) -> Result<T, CatalogError> {
    let row = sql.query_one(
        "SELECT body FROM resources WHERE id = ?1 AND kind = ?2 AND datastore = ?3",
        &[id.into(), kind.as_str().into(), datastore.into()],
    )?;
    let row = row.ok_or_else(|| CatalogError::NotFound {
        kind: kind.noun(),
        id: id.to_owned(),
    })?;
    decode(kind, &row.text(0)?)
}

/// Every resource of a kind in a datastore, oldest first.
pub(crate) fn list<T: DeserializeOwned>(
    sql: &Sql<'_>,
    kind: Kind,
    datastore: &str,
) -> Result<Vec<T>, CatalogError> {
    sql.query(
        "SELECT body FROM resources WHERE kind = ?1 AND datastore = ?2 ORDER BY created, id",
        &[kind.as_str().into(), datastore.into()],
    )?
    .iter()
    .map(|row| decode(kind, &row.text(0)?))
    .collect()
}

/// How many resources of a kind each `status` counts, in every datastore.
pub(crate) fn count_by_status(
    sql: &Sql<'_>,
    kind: Kind,
) -> Result<Vec<(String, u64)>, CatalogError> {
    let statement = if sql.is_postgres() {
        "SELECT CAST(body AS jsonb) ->> 'status' AS status, COUNT(*) FROM resources \
         WHERE kind = ?1 GROUP BY status ORDER BY status"
    } else {
        "SELECT json_extract(body, '$.status') AS status, COUNT(*) FROM resources \
         WHERE kind = ?1 GROUP BY status ORDER BY status"
    };
    sql.query(statement, &[kind.as_str().into()])?
        .iter()
        .map(|row| {
            Ok((
                row.opt_text(0)?.unwrap_or_default(),
                u64::try_from(row.int(1)?).unwrap_or(0),
            ))
        })
        .collect()
}

/// Every resource of a kind in every datastore, with its datastore.
pub(crate) fn list_all<T: DeserializeOwned>(
    sql: &Sql<'_>,
    kind: Kind,
) -> Result<Vec<(String, T)>, CatalogError> {
    sql.query(
        "SELECT datastore, body FROM resources WHERE kind = ?1 ORDER BY created, id",
        &[kind.as_str().into()],
    )?
    .iter()
    .map(|row| Ok((row.text(0)?, decode(kind, &row.text(1)?)?)))
    .collect()
}

fn decode<T: DeserializeOwned>(kind: Kind, body: &str) -> Result<T, CatalogError> {
    serde_json::from_str(body).map_err(|e| {
        CatalogError::Internal(format!("a stored {} cannot be read: {e}", kind.noun()))
    })
}

/// Deletes a resource and its logs.
pub(crate) fn delete(sql: &Sql<'_>, id: &str) -> Result<(), CatalogError> {
    sql.execute("DELETE FROM resources WHERE id = ?1", &[id.into()])?;
    sql.execute("DELETE FROM logs WHERE resource = ?1", &[id.into()])?;
    Ok(())
}

/// Appends log lines to a resource.
pub(crate) fn log(sql: &Sql<'_>, resource: &str, lines: &[String]) -> Result<(), CatalogError> {
    let next = sql
        .query_one(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM logs WHERE resource = ?1",
            &[resource.into()],
        )?
        .map_or(Ok(1), |row| row.int(0))?;
    for (k, line) in lines.iter().enumerate() {
        sql.execute(
            "INSERT INTO logs (resource, seq, line) VALUES (?1, ?2, ?3)",
            &[resource.into(), Param::Int(next + k as i64), line.into()],
        )?;
    }
    Ok(())
}

/// The log lines of a resource, in order.
pub(crate) fn logs(sql: &Sql<'_>, resource: &str) -> Result<Vec<String>, CatalogError> {
    sql.query(
        "SELECT line FROM logs WHERE resource = ?1 ORDER BY seq",
        &[resource.into()],
    )?
    .iter()
    .map(|row| row.text(0))
    .collect()
}

/// Bumps the publication generation (read by servers sharing the catalog); on PostgreSQL the
/// servers listening on [`CHANGES_CHANNEL`] are told at the commit.
pub(crate) fn bump_generation(sql: &Sql<'_>) -> Result<(), CatalogError> {
    sql.execute(
        "INSERT INTO meta (key, value) VALUES ('generation', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)",
        &[],
    )?;
    if sql.is_postgres() {
        sql.execute(&format!("NOTIFY {CHANGES_CHANNEL}"), &[])?;
    }
    Ok(())
}

/// The PostgreSQL channel publication changes are announced on.
const CHANGES_CHANNEL: &str = "tuilerie_catalog";

/// Waits for publication changes announced by any server sharing a PostgreSQL catalog
/// (`LISTEN`), on its own connection, reconnecting when it breaks.
pub struct ChangeListener {
    connector: Connector,
    client: Option<postgres::Client>,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener")
            .field("connected", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl ChangeListener {
    /// Waits up to `timeout` for a change; `true` when one was announced. A broken
    /// connection is opened again on the next call (meanwhile, callers' periodic checks see
    /// the changes).
    pub fn wait(&mut self, timeout: Duration) -> bool {
        if self.client.as_ref().is_none_or(postgres::Client::is_closed) {
            self.client = None;
            match self.connector.connect().and_then(|mut client| {
                client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
                Ok(client)
            }) {
                Ok(client) => self.client = Some(client),
                Err(error) => {
                    tracing::debug!(error = %describe(&error), "cannot listen for catalog changes yet");
                    std::thread::sleep(timeout);
                    return false;
                }
            }
        }
        let Some(client) = self.client.as_mut() else {
            return false;
        };
        let announced = {
            let mut notifications = client.notifications();
            let first = notifications.timeout_iter(timeout).next();
            match first {
                Ok(Some(_)) => {
                    // Several changes in a row: one republish.
                    while let Ok(Some(_)) = notifications.iter().next() {}
                    Some(true)
                }
                Err(error) => {
                    tracing::warn!(error = %describe(&error), "catalog change listener lost its connection");
                    None
                }
                Ok(None) => Some(false),
            }
        };
        if announced.is_none() {
            self.client = None;
        }
        announced.unwrap_or(false)
    }
}

/// The publication generation: changes whenever offerings, configurations or keys change.
pub(crate) fn generation(sql: &Sql<'_>) -> Result<u64, CatalogError> {
    let value = sql.query_one("SELECT value FROM meta WHERE key = 'generation'", &[])?;
    Ok(match value {
        Some(row) => row.text(0)?.parse().unwrap_or(0),
        None => 0,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use serde_json::json;

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

    /// A cluster for the PostgreSQL tests, or `None` (with the reason printed) where the
    /// binaries are missing.
    fn cluster() -> Option<std::sync::Arc<pgtest::Cluster>> {
        match pgtest::Cluster::shared() {
            Ok(cluster) => Some(cluster),
            Err(reason) => {
                eprintln!("skipped: {reason}");
                None
            }
        }
    }

    fn postgres_version(database: &Database) -> i64 {
        let Database::Postgres { pool, .. } = database else {
            panic!("not PostgreSQL");
        };
        pool.get()
            .unwrap()
            .query_one("SELECT version FROM tuilerie_schema", &[])
            .unwrap()
            .get(0)
    }

    #[test]
    fn servers_opening_a_fresh_postgres_catalog_together_migrate_it_once() {
        let Some(cluster) = cluster() else { return };
        let url = cluster.new_database().unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (url, barrier) = (url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Database::open_postgres(&url, 2, None).map(|_| ())
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        let database = Database::open_postgres(&url, 2, None).unwrap();
        assert_eq!(postgres_version(&database), MIGRATIONS.len() as i64);
        let name = url.rsplit('/').next().unwrap();
        let versions = cluster
            .psql(name, "SELECT count(*) FROM tuilerie_schema")
            .unwrap();
        assert_eq!(versions, "1", "one version row");
        // A newer schema is refused, not used.
        cluster
            .psql(name, "UPDATE tuilerie_schema SET version = 99")
            .unwrap();
        match Database::open_postgres(&url, 2, None) {
            Err(CatalogError::Internal(message)) => {
                assert!(message.contains("run a newer tuilerie"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn both_engines_store_and_read_the_same_things() {
        let dir = tempfile::tempdir().unwrap();
        let mut engines = vec![Database::open_sqlite(&dir.path().join("c.sqlite")).unwrap()];
        if let Some(cluster) = cluster() {
            engines
                .push(Database::open_postgres(&cluster.new_database().unwrap(), 2, None).unwrap());
        }
        for database in &engines {
            database
                .change(|sql| {
                    put(
                        sql,
                        Kind::Upload,
                        "default",
                        "b",
                        "2026-01-02",
                        &json!({"status": "OPEN"}),
                    )?;
                    put(
                        sql,
                        Kind::Upload,
                        "default",
                        "a",
                        "2026-01-01",
                        &json!({"status": "OPEN"}),
                    )?;
                    put(
                        sql,
                        Kind::Upload,
                        "other",
                        "c",
                        "2026-01-01",
                        &json!({"status": "CLOSED"}),
                    )?;
                    bump_generation(sql)?;
                    bump_generation(sql)?;
                    log(sql, "a", &["one".into(), "two".into()])?;
                    log(sql, "a", &["three".into()])?;
                    Ok(((), None))
                })
                .unwrap();
            database
                .read(|sql| {
                    let listed: Vec<serde_json::Value> = list(sql, Kind::Upload, "default")?;
                    assert_eq!(listed.len(), 2, "{database:?}");
                    let all: Vec<(String, serde_json::Value)> = list_all(sql, Kind::Upload)?;
                    assert_eq!(all.len(), 3);
                    assert_eq!(all[0].0, "default", "oldest first, then by id");
                    assert_eq!(
                        count_by_status(sql, Kind::Upload)?,
                        vec![("CLOSED".to_owned(), 1), ("OPEN".to_owned(), 2)]
                    );
                    assert_eq!(generation(sql)?, 2);
                    assert_eq!(logs(sql, "a")?, ["one", "two", "three"]);
                    let missing = get::<serde_json::Value>(sql, Kind::Upload, "other", "a");
                    assert!(matches!(missing, Err(CatalogError::NotFound { .. })));
                    Ok(())
                })
                .unwrap();
            // A failed change leaves nothing behind.
            let failed = database.change(|sql| -> Result<((), Option<Swap>), CatalogError> {
                delete(sql, "a")?;
                Err(CatalogError::Conflict("no".into()))
            });
            assert!(failed.is_err());
            let kept: serde_json::Value = database
                .read(|sql| get(sql, Kind::Upload, "default", "a"))
                .unwrap();
            assert_eq!(kept["status"], "OPEN", "{database:?}");
        }
    }

    #[test]
    fn a_postgres_catalog_that_goes_away_is_unavailable_then_recovers() {
        // Its own cluster: stopping the shared one would fail the other tests.
        let cluster = match pgtest::Cluster::start() {
            Ok(cluster) => cluster,
            Err(reason) => {
                eprintln!("skipped: {reason}");
                return;
            }
        };
        let database = Database::open_postgres(&cluster.new_database().unwrap(), 2, None).unwrap();
        database.read(generation).unwrap();
        cluster.stop().unwrap();
        match database.read(generation) {
            Err(CatalogError::Unavailable(message)) => assert!(!message.is_empty()),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        cluster.restart().unwrap();
        // The pool replaces its broken connections.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            match database.read(generation) {
                Ok(value) => {
                    assert_eq!(value, 0);
                    break;
                }
                Err(error) if std::time::Instant::now() < deadline => {
                    eprintln!("not yet: {error}");
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(error) => panic!("the catalog did not recover: {error}"),
            }
        }
    }

    #[test]
    fn connection_urls_lose_their_password_in_messages() {
        assert_eq!(
            redact_password("postgresql://tuilerie:s3cret@db:5432/catalog"),
            "postgresql://tuilerie:***@db:5432/catalog"
        );
        assert_eq!(
            redact_password("postgresql://db/catalog"),
            "postgresql://db/catalog"
        );
        match Database::open_postgres("postgresql://u:hush@127.0.0.1:1/x", 1, None) {
            Err(error @ CatalogError::Unavailable(_)) => {
                let message = error.to_string();
                assert!(!message.contains("hush"), "{message}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    /// A certificate authority and a server certificate it signed for 127.0.0.1, made with
    /// `openssl` in `dir`: (ca.pem, server.crt, server.key); `None` without openssl.
    fn test_certificates(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
        let openssl = |args: &[&str]| {
            std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .is_ok_and(|out| out.status.success())
        };
        let made = openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Tuilerie test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]) && openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]) && std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n")
            .is_ok()
            && openssl(&[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                "server.crt",
            ]);
        made.then(|| {
            (
                dir.join("ca.pem"),
                dir.join("server.crt"),
                dir.join("server.key"),
            )
        })
    }

    #[test]
    fn a_postgres_catalog_over_tls_checks_the_server_certificate() {
        let certificates = tempfile::tempdir().unwrap();
        let Some((ca, cert, key)) = test_certificates(certificates.path()) else {
            eprintln!("skipped: openssl cannot make test certificates");
            return;
        };
        let cluster = match pgtest::Cluster::start_with_tls(&cert, &key) {
            Ok(cluster) => cluster,
            Err(reason) => {
                eprintln!("skipped: {reason}");
                return;
            }
        };
        let url = format!("{}?sslmode=verify-full", cluster.new_database().unwrap());
        // Signed by an authority the system does not know: refused, never sent in clear.
        match Database::open_postgres(&url, 1, None) {
            Err(error @ CatalogError::Unavailable(_)) => {
                let message = error.to_string();
                assert!(
                    message.contains("certificate") || message.contains("UnknownIssuer"),
                    "{message}"
                );
            }
            other => panic!("expected a refused certificate, got {other:?}"),
        }
        // With its authority: the catalog works over TLS.
        let database = Database::open_postgres(&url, 1, Some(&ca)).unwrap();
        let Database::Postgres { pool, .. } = &database else {
            panic!("not PostgreSQL");
        };
        let encrypted: bool = pool
            .get()
            .unwrap()
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(encrypted);
        database.read(generation).unwrap();
        // Without sslmode=require the connection stays plain (libpq's default, `prefer`,
        // would try TLS first; a catalog on a private network needs no certificates).
        let plain = Database::open_postgres(&url.replace("?sslmode=verify-full", ""), 1, None);
        assert!(plain.is_ok(), "{plain:?}");
        // A CA file that is not one says so.
        let not_pem = certificates.path().join("nothing.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        match Database::open_postgres(&url, 1, Some(&not_pem)) {
            Err(CatalogError::Invalid(message)) => assert!(message.contains("no PEM"), "{message}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}
