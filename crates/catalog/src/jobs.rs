//! Background jobs: upload checks and processing executions, on a bounded pool of worker
//! threads (`api.job_workers`), or run inline by [`Catalog::run_jobs`] (the CLI).
//!
//! The queue holds ids only; a job's state is its resource's status, so a restart rebuilds the
//! queue from the database ([`Catalog::resume_interrupted`]).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use crate::db::{self, Kind};
use crate::model::{Execution, ExecutionStatus, Upload, UploadStatus};
use crate::{Catalog, CatalogError};

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

/// The pending jobs.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    pending: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

impl Queue {
    pub(crate) fn push(&self, job: Job) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !pending.contains(&job) {
            pending.push_back(job);
        }
        self.ready.notify_one();
    }

    fn try_pop(&self) -> Option<Job> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    }

    fn pop(&self) -> Job {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(job) = pending.pop_front() {
                return job;
            }
            pending = self
                .ready
                .wait(pending)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

impl Catalog {
    /// Queues the jobs a previous process left unfinished, then starts `workers` threads (at
    /// least one) that run queued jobs for the life of the process.
    pub fn start_workers(self: &Arc<Self>, workers: usize) -> Result<(), CatalogError> {
        self.resume_interrupted()?;
        for index in 0..workers.max(1) {
            let catalog = Arc::clone(self);
            std::thread::Builder::new()
                .name(format!("tuilerie-job-{}", index + 1))
                .spawn(move || loop {
                    let job = catalog.jobs.pop();
                    catalog.run_job(&job);
                })
                .map_err(|e| CatalogError::Internal(format!("cannot start a job worker: {e}")))?;
        }
        Ok(())
    }

    /// Runs the queued jobs in this thread until none is left (the CLI's way).
    pub fn run_jobs(&self) {
        while let Some(job) = self.jobs.try_pop() {
            self.run_job(&job);
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

    /// Queues again the jobs a previous process left unfinished: uploads left CHECKING,
    /// executions left WAITING or PROGRESS (they run at [`Catalog::run_jobs`] or on the workers).
    pub fn resume_interrupted(&self) -> Result<(), CatalogError> {
        let uploads: Vec<(String, Upload)> = db::list_all(&self.db(), Kind::Upload)?;
        for (datastore, upload) in uploads {
            if upload.status == UploadStatus::Checking {
                tracing::info!(upload = %upload.id, "resuming the checks of an upload after a restart");
                self.jobs.push(Job::Checks {
                    datastore,
                    upload: upload.id,
                });
            }
        }
        let executions: Vec<(String, Execution)> = db::list_all(&self.db(), Kind::Execution)?;
        for (datastore, execution) in executions {
            if matches!(
                execution.status,
                ExecutionStatus::Waiting | ExecutionStatus::Progress
            ) {
                tracing::info!(execution = %execution.id, "resuming a processing execution after a restart");
                db::log(
                    &self.db(),
                    &execution.id,
                    &[format!(
                        "{} the server stopped during this execution: resumed",
                        crate::now()
                    )],
                )?;
                self.jobs.push(Job::Execution {
                    datastore,
                    execution: execution.id,
                });
            }
        }
        Ok(())
    }
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

        catalog.restart();
        // Twice: a job is queued once.
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
                .filter(|l| l.ends_with("the server stopped during this execution: resumed"))
                .count()
        };
        assert_eq!(resumed(&done.id), 0);
        assert_eq!(resumed(&waiting.id), 2, "logged at each resume");
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
}
