//! Group commit: many callers' small units of work committed together in one
//! transaction, so a burst of concurrent requests pays one WAL flush and one outbox
//! statement instead of one of each per request.
//!
//! Each caller hands [`Db::group_commit`](crate::Db::group_commit) its work and is
//! answered only after the transaction holding it committed — an acknowledged request is
//! as durable as one committed alone. A committer takes whatever is queued when it
//! starts (at most [`MAX_BATCH`]); while [`IN_FLIGHT`] batches commit, new requests
//! queue, so batches grow with the load and stay single under a light one.
//!
//! If one caller's work fails, the batch is rolled back and each work runs again in a
//! transaction of its own, so one bad request never fails the others and each caller
//! gets its own answer. The work must therefore only touch the database through its
//! unit of work (it may run twice, the first time rolled back). A failed commit is
//! reported to every caller of the batch, as a lone commit's failure would be: it is not
//! retried, since the transaction may have committed after all.

use std::{any::Any, sync::Arc};

use futures::future::BoxFuture;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::Instrument;

use crate::{ServiceError, UnitOfWork, uow::Db};

/// The most works one transaction takes.
pub const MAX_BATCH: usize = 128;

/// How many batches may be committing at once (each holds one connection).
pub const IN_FLIGHT: usize = 4;

type Output = Box<dyn Any + Send>;

/// A caller's work with its type erased, so one queue takes every kind.
pub(crate) type Step = Arc<
    dyn for<'u> Fn(&'u mut UnitOfWork) -> BoxFuture<'u, Result<Output, ServiceError>> + Send + Sync,
>;

/// One caller's work waiting for a batch.
pub(crate) struct Job {
    pub(crate) step: Step,
    pub(crate) reply: oneshot::Sender<Result<Output, ServiceError>>,
    /// The caller's span, so the events it writes carry its trace.
    pub(crate) span: tracing::Span,
}

/// Starts the committer of `db` and returns its queue. The committer ends when every
/// sender is dropped.
pub(crate) fn start(db: Db) -> mpsc::UnboundedSender<Job> {
    let (sender, mut queue) = mpsc::unbounded_channel::<Job>();
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let Some(first) = queue.recv().await else {
                break;
            };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let db = db.clone();
            tokio::spawn(async move {
                commit_batch(&db, jobs).await;
                drop(slot);
            });
        }
    });
    sender
}

/// Runs `jobs` in one transaction; on a work's failure, each alone.
async fn commit_batch(db: &Db, jobs: Vec<Job>) {
    metrics::histogram!("sportello_group_commit_batch_size").record(jobs.len() as f64);
    if jobs.len() > 1 {
        match together(db, &jobs).await {
            Together::Committed(outputs) => {
                for (job, output) in jobs.into_iter().zip(outputs) {
                    let _ = job.reply.send(Ok(output));
                }
                return;
            }
            Together::CommitFailed(error) => {
                // Every caller hears what a lone commit's failure would have said.
                let error = ServiceError::from(error);
                let (kind, message) = (error.kind(), error.message().to_owned());
                let mut first = Some(error);
                for job in jobs {
                    let error = first
                        .take()
                        .unwrap_or_else(|| ServiceError::new(kind, message.clone()));
                    let _ = job.reply.send(Err(error));
                }
                return;
            }
            // Rolled back: fall through, each on its own.
            Together::RolledBack => {}
        }
    }
    for job in jobs {
        let result = alone(db, &job).await;
        let _ = job.reply.send(result);
    }
}

enum Together {
    Committed(Vec<Output>),
    CommitFailed(sqlx::Error),
    RolledBack,
}

async fn together(db: &Db, jobs: &[Job]) -> Together {
    let Ok(mut uow) = db.begin().await else {
        return Together::RolledBack;
    };
    let mut outputs = Vec::with_capacity(jobs.len());
    for job in jobs {
        match (job.step)(&mut uow).instrument(job.span.clone()).await {
            Ok(output) => outputs.push(output),
            // Dropping the unit of work rolls the batch back.
            Err(_) => return Together::RolledBack,
        }
    }
    match uow.commit().await {
        Ok(()) => Together::Committed(outputs),
        Err(error) => Together::CommitFailed(error),
    }
}

async fn alone(db: &Db, job: &Job) -> Result<Output, ServiceError> {
    let mut uow = db.begin().await?;
    let output = (job.step)(&mut uow).instrument(job.span.clone()).await?;
    uow.commit().await?;
    Ok(output)
}
