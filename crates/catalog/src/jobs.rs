//! Background jobs: upload checks and processing executions, on a bounded pool of worker
//! threads (`api.job_workers`), or run inline by [`Catalog::run_jobs`] (the CLI).
//!
//! A job's state is its resource's status; who runs it is a **claim**, a row of `job_claims`
//! in the catalog's database naming its owner (one catalog of one process: `host/pid/instance`)
//! with a heartbeat the owner refreshes every few seconds. Any server sharing the catalog
//! (replicas on one PostgreSQL database, or a server and the CLI on one SQLite file) claims
//! queued jobs and jobs whose owner is gone: its heartbeat older than [`STALE_AFTER`], or, on
//! the same host, its process dead (no need to wait then). A claim is taken in a transaction
//! that locks the row (`FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's write lock) and
//! checks the owner it saw is still there, so a job never runs twice at once. A job taken over
//! resumes from its last durable step (its processing keeps what it finished: slabs, staged
//! tables) and says so in its log.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use crate::db::{self, Kind, Param, Sql};
use crate::model::{Execution, ExecutionStatus, Upload, UploadStatus};
use crate::{Catalog, CatalogError};

/// How often an owner refreshes its claims.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A claim not refreshed for this long is taken over (its owner is presumed dead).
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(30);
/// How often idle workers look for jobs queued by other processes.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// A unit of background work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Job {
    /// The checks of a closed upload.
    Checks { datastore: String, upload: String },
    /// A launched processing execution.
    Execution {
        datastore: String,
        execution: String,
    },
}

impl Job {
    fn id(&self) -> &str {
        match self {
            Job::Checks { upload, .. } => upload,
            Job::Execution { execution, .. } => execution,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Job::Checks { .. } => "checks",
            Job::Execution { .. } => "execution",
        }
    }

    fn datastore(&self) -> &str {
        match self {
            Job::Checks { datastore, .. } | Job::Execution { datastore, .. } => datastore,
        }
    }

    fn from_row(kind: &str, datastore: String, id: String) -> Option<Job> {
        match kind {
            "checks" => Some(Job::Checks {
                datastore,
                upload: id,
            }),
            "execution" => Some(Job::Execution {
                datastore,
                execution: id,
            }),
            _ => None,
        }
    }
}

/// The catalogs open in this process, by owner name: a claim of this process's is alive while
/// its catalog is open.
static OPEN_HERE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn open_here() -> std::sync::MutexGuard<'static, BTreeSet<String>> {
    OPEN_HERE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// This machine's name, when it can be read (else owners on "this host" are never presumed
/// dead from their process id; only their heartbeat tells).
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

/// The jobs of one catalog: its claims' owner name, the jobs it runs inline (the CLI's), and
/// the signal that wakes its idle workers.
#[derive(Debug)]
pub(crate) struct Queue {
    owner: String,
    host: Option<String>,
    /// Jobs claimed for [`Catalog::run_jobs`].
    pending: Mutex<VecDeque<Job>>,
    /// Jobs queued here for [`Catalog::run_jobs`] that another process claimed first.
    elsewhere: Mutex<Vec<Job>>,
    /// Set by a local enqueue; idle workers wait on it.
    wake: Mutex<bool>,
    ready: Condvar,
    /// Whether worker threads run here (then new jobs are left for any worker to claim).
    workers: AtomicBool,
    /// How many claims this catalog holds (the heartbeat writes only while some are held).
    held: Arc<AtomicUsize>,
    heartbeat: AtomicBool,
}

impl Queue {
    pub(crate) fn new() -> Queue {
        let host = host_name();
        let owner = format!(
            "{}/{}/{}",
            host.as_deref().unwrap_or("unknown-host"),
            std::process::id(),
            crate::new_id()
        );
        open_here().insert(owner.clone());
        Queue {
            owner,
            host,
            pending: Mutex::new(VecDeque::new()),
            elsewhere: Mutex::new(Vec::new()),
            wake: Mutex::new(false),
            ready: Condvar::new(),
            workers: AtomicBool::new(false),
            held: Arc::new(AtomicUsize::new(0)),
            heartbeat: AtomicBool::new(false),
        }
    }

    fn push_pending(&self, job: Job) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !pending.contains(&job) {
            pending.push_back(job);
        }
    }

    fn try_pop(&self) -> Option<Job> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    }

    fn wake_workers(&self) {
        *self
            .wake
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.ready.notify_all();
    }

    /// Waits for a local enqueue, at most `timeout`.
    fn wait(&self, timeout: Duration) {
        let mut woken = self
            .wake
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*woken {
            woken = self
                .ready
                .wait_timeout(woken, timeout)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        *woken = false;
    }

    /// Whether a claim by `owner`, last refreshed at `heartbeat`, may be taken over now.
    fn claimable(&self, owner: Option<&str>, heartbeat: i64, now: i64) -> bool {
        let Some(owner) = owner else {
            return true;
        };
        if owner == self.owner {
            return false;
        }
        let stale = i64::try_from(STALE_AFTER.as_secs()).unwrap_or(i64::MAX);
        heartbeat < now.saturating_sub(stale) || self.owner_is_gone(owner)
    }

    /// Whether an owner of this host is gone: its process ended, or (this process) its
    /// catalog was closed.
    fn owner_is_gone(&self, owner: &str) -> bool {
        let mut parts = owner.split('/');
        let (Some(host), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        if self.host.as_deref() != Some(host) {
            return false;
        }
        if pid == std::process::id().to_string() {
            return !open_here().contains(owner);
        }
        pid.parse::<u32>()
            .is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        open_here().remove(&self.owner);
    }
}

pub(crate) fn seconds_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A claim row as read: (job, kind, datastore, owner, heartbeat).
type ClaimRow = (String, String, String, Option<String>, i64);

fn claim_rows(
    sql: &Sql<'_>,
    statement: &str,
    params: &[Param<'_>],
) -> Result<Vec<ClaimRow>, CatalogError> {
    sql.query(statement, params)?
        .iter()
        .map(|row| {
            Ok((
                row.text(0)?,
                row.text(1)?,
                row.text(2)?,
                row.opt_text(3)?,
                row.int(4)?,
            ))
        })
        .collect()
}

impl Catalog {
    /// Queues the jobs a previous process left unfinished, then starts `workers` threads (at
    /// least one) that claim and run jobs for the life of the process: this server's, other
    /// servers' waiting ones, and those whose owner died.
    pub fn start_workers(self: &Arc<Self>, workers: usize) -> Result<(), CatalogError> {
        self.jobs.workers.store(true, Ordering::SeqCst);
        self.resume_interrupted()?;
        for index in 0..workers.max(1) {
            let catalog = Arc::clone(self);
            std::thread::Builder::new()
                .name(format!("tuilerie-job-{}", index + 1))
                .spawn(move || loop {
                    match catalog.claim_next() {
                        Ok(Some(job)) => {
                            // A panic (a bug) must not keep the claim alive with this
                            // process's heartbeat, nor end the worker.
                            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                catalog.run_job(&job);
                            }));
                            if ran.is_err() {
                                tracing::error!(?job, "a job panicked: left unfinished until the next restart resumes it");
                            }
                            catalog.release(&job);
                        }
                        Ok(None) => catalog.jobs.wait(POLL_EVERY),
                        Err(error) => {
                            tracing::warn!(error = %vectorstore::error_chain(&error), "cannot claim a job");
                            catalog.jobs.wait(POLL_EVERY);
                        }
                    }
                })
                .map_err(|e| CatalogError::Internal(format!("cannot start a job worker: {e}")))?;
        }
        Ok(())
    }

    /// Runs the jobs this process claimed, in this thread, until none is left (the CLI's way);
    /// then waits for those of its jobs another process claimed first (a server's workers) to
    /// end, taking them over should that process die.
    pub fn run_jobs(&self) {
        loop {
            while let Some(job) = self.jobs.try_pop() {
                self.run_job(&job);
                self.release(&job);
            }
            let waiting: Vec<Job> = std::mem::take(
                &mut *self
                    .jobs
                    .elsewhere
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if waiting.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
            for job in waiting {
                if self.job_done(&job) {
                    continue;
                }
                match self.claim(&job) {
                    Ok(true) => self.jobs.push_pending(job),
                    Ok(false) => self.wait_elsewhere(job),
                    Err(error) => {
                        tracing::warn!(job = job.id(), error = %vectorstore::error_chain(&error), "cannot claim a job");
                        self.wait_elsewhere(job);
                    }
                }
            }
        }
    }

    fn wait_elsewhere(&self, job: Job) {
        self.jobs
            .elsewhere
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(job);
    }

    /// Whether a job's resource reached a state where nothing runs (or it is gone).
    fn job_done(&self, job: &Job) -> bool {
        let done = match job {
            Job::Checks { datastore, upload } => self
                .upload(datastore, upload)
                .map(|upload| upload.status != UploadStatus::Checking),
            Job::Execution {
                datastore,
                execution,
            } => self
                .execution(datastore, execution)
                .map(|execution| execution.status.is_final()),
        };
        // Deleted: nothing to wait for; the database away: wait on.
        match done {
            Ok(done) => done,
            Err(CatalogError::NotFound { .. }) => true,
            Err(_) => false,
        }
    }

    /// Queues a new job: claimed at once for [`Catalog::run_jobs`] when no worker runs here
    /// (the CLI), else left for any server's workers.
    pub(crate) fn enqueue(&self, job: Job) -> Result<(), CatalogError> {
        if self.jobs.workers.load(Ordering::SeqCst) {
            self.database.write(|sql| insert_claim(sql, &job, None))?;
            self.jobs.wake_workers();
        } else if self.claim(&job)? {
            self.jobs.push_pending(job);
        } else {
            self.wait_elsewhere(job);
        }
        Ok(())
    }

    /// Claims one job for this process, if it may (queued, or its owner gone); logs a
    /// takeover in the job's log.
    fn claim(&self, job: &Job) -> Result<bool, CatalogError> {
        let now = seconds_now();
        let taken = self.database.write(|sql| {
            let statement = if sql.is_postgres() {
                "SELECT job, kind, datastore, owner, heartbeat FROM job_claims WHERE job = ?1 FOR UPDATE"
            } else {
                "SELECT job, kind, datastore, owner, heartbeat FROM job_claims WHERE job = ?1"
            };
            let rows = claim_rows(sql, statement, &[job.id().into()])?;
            match rows.first() {
                // Added, unless another process added it first.
                None => Ok(insert_claim(sql, job, Some(&self.jobs.owner))?.then_some(None)),
                Some((_, _, _, owner, heartbeat)) => {
                    if !self.jobs.claimable(owner.as_deref(), *heartbeat, now) {
                        return Ok(None);
                    }
                    take_claim(sql, job.id(), &self.jobs.owner, now)?;
                    Ok(Some(owner.clone()))
                }
            }
        })?;
        match taken {
            Some(previous) => {
                self.holding(previous.as_deref(), job);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Claims the oldest job any server queued or left behind.
    fn claim_next(&self) -> Result<Option<Job>, CatalogError> {
        let now = seconds_now();
        // A read first: idle workers poll, and most polls find nothing to take (a write
        // transaction would take SQLite's write lock every second for nothing).
        let candidates = self.database.read(|sql| {
            claim_rows(
                sql,
                "SELECT job, kind, datastore, owner, heartbeat FROM job_claims \
                 WHERE owner IS NULL OR owner <> ?1",
                &[(&self.jobs.owner).into()],
            )
        })?;
        if !candidates.iter().any(|(_, _, _, owner, heartbeat)| {
            self.jobs.claimable(owner.as_deref(), *heartbeat, now)
        }) {
            return Ok(None);
        }
        let taken = self.database.write(|sql| {
            let statement = if sql.is_postgres() {
                "SELECT job, kind, datastore, owner, heartbeat FROM job_claims \
                 WHERE owner IS NULL OR owner <> ?1 ORDER BY queued, job FOR UPDATE SKIP LOCKED"
            } else {
                "SELECT job, kind, datastore, owner, heartbeat FROM job_claims \
                 WHERE owner IS NULL OR owner <> ?1 ORDER BY queued, job"
            };
            let rows = claim_rows(sql, statement, &[(&self.jobs.owner).into()])?;
            for (id, kind, datastore, owner, heartbeat) in rows {
                if !self.jobs.claimable(owner.as_deref(), heartbeat, now) {
                    continue;
                }
                let Some(job) = Job::from_row(&kind, datastore, id.clone()) else {
                    tracing::warn!(job = %id, kind, "a job claim of an unknown kind is dropped");
                    sql.execute("DELETE FROM job_claims WHERE job = ?1", &[(&id).into()])?;
                    continue;
                };
                take_claim(sql, &id, &self.jobs.owner, now)?;
                return Ok(Some((job, owner)));
            }
            Ok(None)
        })?;
        Ok(taken.map(|(job, previous)| {
            self.holding(previous.as_deref(), &job);
            job
        }))
    }

    /// Books a claim just taken: counted for the heartbeat, and a takeover logged.
    fn holding(&self, previous: Option<&str>, job: &Job) {
        self.jobs.held.fetch_add(1, Ordering::SeqCst);
        self.start_heartbeat();
        if let Some(previous) = previous {
            tracing::info!(
                job = job.id(),
                previous_owner = previous,
                "taking over a job whose server stopped"
            );
            self.log(
                job.id(),
                format!(
                    "{} the server running this job stopped: resumed by {}",
                    crate::now(),
                    self.jobs.owner
                ),
            );
        }
    }

    /// Gives a finished job's claim back (its row is removed).
    fn release(&self, job: &Job) {
        self.jobs.held.fetch_sub(1, Ordering::SeqCst);
        let released = self.database.write(|sql| {
            sql.execute(
                "DELETE FROM job_claims WHERE job = ?1 AND owner = ?2",
                &[job.id().into(), (&self.jobs.owner).into()],
            )
        });
        if let Err(error) = released {
            // Left behind, the claim goes stale and another server runs the job again; it
            // finds it final and does nothing.
            tracing::warn!(job = job.id(), error = %vectorstore::error_chain(&error), "cannot release a job claim");
        }
    }

    /// Starts the thread that refreshes this catalog's claims (once; it ends with the catalog).
    fn start_heartbeat(&self) {
        if self.jobs.heartbeat.swap(true, Ordering::SeqCst) {
            return;
        }
        let database: Weak<db::Database> = Arc::downgrade(&self.database);
        let owner = self.jobs.owner.clone();
        let held = Arc::clone(&self.jobs.held);
        let spawned = std::thread::Builder::new()
            .name("tuilerie-job-heartbeat".to_owned())
            .spawn(move || loop {
                std::thread::sleep(HEARTBEAT_EVERY);
                let Some(database) = database.upgrade() else {
                    return;
                };
                if held.load(Ordering::SeqCst) == 0 {
                    continue;
                }
                let beat = database.write(|sql| {
                    sql.execute(
                        "UPDATE job_claims SET heartbeat = ?1 WHERE owner = ?2",
                        &[Param::Int(seconds_now()), (&owner).into()],
                    )
                });
                if let Err(error) = beat {
                    tracing::warn!(error = %vectorstore::error_chain(&error), "cannot refresh this server's job claims");
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the job heartbeat: long jobs may be taken over by another server");
        }
    }

    fn run_job(&self, job: &Job) {
        let result = match job {
            Job::Checks { datastore, upload } => {
                let _span = tracing::info_span!("checks", upload = %upload).entered();
                self.run_checks(datastore, upload)
            }
            Job::Execution {
                datastore,
                execution,
            } => {
                let _span = tracing::info_span!("processing", execution = %execution).entered();
                self.run_execution(datastore, execution)
            }
        };
        if let Err(error) = result {
            tracing::error!(?job, error = %vectorstore::error_chain(&error), "job failed");
        }
    }

    /// Queues again the work a previous process left unfinished (uploads left CHECKING,
    /// executions left WAITING or PROGRESS) when no live process holds it: claimed here for
    /// [`Catalog::run_jobs`], or left for the workers. Work a live server runs is left to it.
    pub fn resume_interrupted(&self) -> Result<(), CatalogError> {
        let uploads: Vec<(String, Upload)> = self.read(|sql| db::list_all(sql, Kind::Upload))?;
        let executions: Vec<(String, Execution)> =
            self.read(|sql| db::list_all(sql, Kind::Execution))?;
        let unfinished = uploads
            .into_iter()
            .filter(|(_, upload)| upload.status == UploadStatus::Checking)
            .map(|(datastore, upload)| Job::Checks {
                datastore,
                upload: upload.id,
            })
            .chain(
                executions
                    .into_iter()
                    .filter(|(_, execution)| {
                        matches!(
                            execution.status,
                            ExecutionStatus::Waiting | ExecutionStatus::Progress
                        )
                    })
                    .map(|(datastore, execution)| Job::Execution {
                        datastore,
                        execution: execution.id,
                    }),
            );
        for job in unfinished {
            if self.jobs.workers.load(Ordering::SeqCst) {
                // A claim row for work queued before claims existed; the workers take it (and
                // take over rows whose owner is gone).
                let added = self.database.write(|sql| insert_claim(sql, &job, None))?;
                if added {
                    tracing::info!(
                        job = job.id(),
                        "resuming a job left unfinished by a previous server"
                    );
                    self.log(
                        job.id(),
                        format!(
                            "{} the server stopped during this job: resumed",
                            crate::now()
                        ),
                    );
                }
            } else if self.claim(&job)? {
                self.jobs.push_pending(job);
            }
        }
        self.jobs.wake_workers();
        Ok(())
    }
}

/// Adds a claim row for `job` unless one exists; `true` when added.
fn insert_claim(sql: &Sql<'_>, job: &Job, owner: Option<&str>) -> Result<bool, CatalogError> {
    let statement = if owner.is_some() {
        "INSERT INTO job_claims (job, kind, datastore, owner, heartbeat, queued) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (job) DO NOTHING"
    } else {
        "INSERT INTO job_claims (job, kind, datastore, owner, heartbeat, queued) \
         VALUES (?1, ?2, ?3, NULL, ?4, ?5) ON CONFLICT (job) DO NOTHING"
    };
    let now = crate::now();
    let mut params: Vec<Param<'_>> =
        vec![job.id().into(), job.kind().into(), job.datastore().into()];
    if let Some(owner) = owner {
        params.push(owner.into());
    }
    params.push(Param::Int(seconds_now()));
    params.push(Param::Text(&now));
    Ok(sql.execute(statement, &params)? == 1)
}

/// Makes `owner` the owner of a claim row the caller has locked.
fn take_claim(sql: &Sql<'_>, job: &str, owner: &str, now: i64) -> Result<(), CatalogError> {
    sql.execute(
        "UPDATE job_claims SET owner = ?1, heartbeat = ?2 WHERE job = ?3",
        &[owner.into(), Param::Int(now), job.into()],
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{StoredDataStatus, UploadType};
    use crate::testing::{catalog, communes_upload, new_execution, open_upload, push, DS};
    use crate::INTEGRATION_PROCESSING;

    #[test]
    fn a_restart_queues_again_only_unfinished_work_and_each_job_once() {
        let mut catalog = catalog();
        let upload = communes_upload(&catalog);
        let new = || new_execution(INTEGRATION_PROCESSING, &upload.id, json!({}));
        let done = catalog.create_execution(DS, new()).unwrap();
        catalog.launch_execution(DS, &done.id).unwrap();
        catalog.run_jobs();
        let created = catalog.create_execution(DS, new()).unwrap();
        let waiting = catalog.create_execution(DS, new()).unwrap();
        catalog.launch_execution(DS, &waiting.id).unwrap();
        let checking = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        push(
            &catalog,
            &checking.id,
            "communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        catalog.close_upload(DS, &checking.id).unwrap();

        // The process ends before it runs them (its claims die with its catalog).
        catalog.restart();
        // Twice: a job is claimed and queued once.
        catalog.resume_interrupted().unwrap();
        catalog.resume_interrupted().unwrap();
        let mut queued = Vec::new();
        while let Some(job) = catalog.jobs.try_pop() {
            queued.push(job);
        }
        assert_eq!(
            queued,
            [
                Job::Checks {
                    datastore: DS.into(),
                    upload: checking.id.clone()
                },
                Job::Execution {
                    datastore: DS.into(),
                    execution: waiting.id.clone()
                },
            ]
        );
        for job in &queued {
            catalog.run_job(job);
        }
        assert_eq!(
            catalog.upload(DS, &checking.id).unwrap().status,
            UploadStatus::Closed
        );
        let status = |id: &str| catalog.execution(DS, id).unwrap().status;
        assert_eq!(status(&waiting.id), ExecutionStatus::Success);
        assert_eq!(status(&created.id), ExecutionStatus::Created);
        assert_eq!(status(&done.id), ExecutionStatus::Success);
        let resumed = |id: &str| {
            catalog
                .execution_logs(DS, id)
                .unwrap()
                .iter()
                .filter(|l| l.contains("stopped") && l.contains(": resumed"))
                .count()
        };
        assert_eq!(resumed(&done.id), 0);
        assert_eq!(resumed(&waiting.id), 1, "logged when taken over");
        assert_eq!(
            catalog
                .stored_data(DS, &created.output.stored_data.id)
                .unwrap()
                .status,
            StoredDataStatus::Generating
        );
    }

    #[test]
    fn workers_resume_interrupted_jobs_and_run_new_ones_in_the_background() {
        let mut catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        push(
            &catalog,
            &upload.id,
            "communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        catalog.close_upload(DS, &upload.id).unwrap();
        catalog.restart();
        catalog.catalog.start_workers(2).unwrap();

        // Waits for a state, failing only if it never comes.
        let wait = |done: &dyn Fn() -> bool| {
            for _ in 0..6000 {
                if done() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            panic!("the workers never finished the job");
        };
        wait(&|| catalog.upload(DS, &upload.id).unwrap().status != UploadStatus::Checking);
        assert_eq!(
            catalog.upload(DS, &upload.id).unwrap().status,
            UploadStatus::Closed
        );
        let execution = catalog
            .create_execution(
                DS,
                new_execution(INTEGRATION_PROCESSING, &upload.id, json!({})),
            )
            .unwrap();
        catalog.launch_execution(DS, &execution.id).unwrap();
        wait(&|| {
            catalog
                .execution(DS, &execution.id)
                .unwrap()
                .status
                .is_final()
        });
        assert_eq!(
            catalog.execution(DS, &execution.id).unwrap().status,
            ExecutionStatus::Success
        );
    }

    fn claims(catalog: &Catalog) -> Vec<(String, Option<String>)> {
        catalog
            .read(|sql| {
                sql.query("SELECT job, owner FROM job_claims ORDER BY job", &[])?
                    .iter()
                    .map(|row| Ok((row.text(0)?, row.opt_text(1)?)))
                    .collect()
            })
            .unwrap()
    }

    /// An integration launched on a catalog that works as a server does: the job is left for
    /// any process's workers.
    fn launched_as_a_server(catalog: &Catalog) -> Execution {
        let upload = communes_upload(catalog);
        let execution = catalog
            .create_execution(
                DS,
                new_execution(INTEGRATION_PROCESSING, &upload.id, json!({})),
            )
            .unwrap();
        catalog.jobs.workers.store(true, Ordering::SeqCst);
        catalog.launch_execution(DS, &execution.id).unwrap()
    }

    #[test]
    fn one_process_claims_a_job_and_another_takes_it_over_once_it_is_gone() {
        let first = catalog();
        let execution = launched_as_a_server(&first);
        assert_eq!(claims(&first), [(execution.id.clone(), None)]);

        let second = Catalog::open(first.options().clone()).unwrap();
        let job = second.claim_next().unwrap().expect("the queued job");
        assert_eq!(
            job,
            Job::Execution {
                datastore: DS.into(),
                execution: execution.id.clone()
            }
        );
        assert!(first.claim_next().unwrap().is_none(), "claimed once");
        assert!(second.claim_next().unwrap().is_none());
        // The second process dies with the job claimed (its catalog gone, its claim left).
        drop(second);
        let job = first.claim_next().unwrap().expect("taken over");
        first.run_job(&job);
        first.release(&job);
        assert_eq!(
            first.execution(DS, &execution.id).unwrap().status,
            ExecutionStatus::Success
        );
        let logs = first.execution_logs(DS, &execution.id).unwrap();
        assert_eq!(
            logs.iter()
                .filter(|l| l.contains("stopped: resumed by"))
                .count(),
            1,
            "{logs:?}"
        );
        assert!(claims(&first).is_empty(), "released");
    }

    #[test]
    fn a_claim_from_another_machine_is_taken_over_only_once_its_heartbeat_is_stale() {
        let catalog = catalog();
        launched_as_a_server(&catalog);
        let owned_elsewhere = |age: i64| {
            catalog
                .database
                .write(|sql| {
                    sql.execute(
                        "UPDATE job_claims SET owner = 'another-host/1/x', heartbeat = ?1",
                        &[Param::Int(seconds_now() - age)],
                    )
                })
                .unwrap();
        };
        owned_elsewhere(2);
        assert!(
            catalog.claim_next().unwrap().is_none(),
            "its owner is alive"
        );
        owned_elsewhere(i64::try_from(STALE_AFTER.as_secs()).unwrap() + 2);
        assert!(
            catalog.claim_next().unwrap().is_some(),
            "its owner is silent"
        );
        assert_eq!(
            claims(&catalog)[0].1.as_deref(),
            Some(catalog.jobs.owner.as_str())
        );
    }
}
