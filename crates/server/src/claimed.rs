//! The loop shared by background workers whose units of work are claimed through the catalog
//! (preload items, webhook deliveries): claim as many as there are free slots, run each in a task
//! of its own, and wait for a wakeup, a poll tick or shutdown when nothing more is due.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use mediadrive_core::catalog::CatalogResult;
use tokio::sync::{watch, Notify, Semaphore};

use crate::state::AppState;

/// How often due work is looked for when no wakeup announced any.
const POLL: Duration = Duration::from_secs(1);

pub struct Worker {
    /// Units run at once on this node.
    pub slots: usize,
    /// How long a claim lasts; a node that dies loses its units after this.
    pub claim_for: Duration,
    /// Woken when new work is queued (and by each finished unit, to claim the next).
    pub wakeup: Arc<Notify>,
    /// What is claimed, for the log.
    pub what: &'static str,
}

/// Runs until `shutdown` turns true. `claim(state, now, until, limit)` claims up to `limit`
/// units until `until`; `work(state, unit, until)` does one.
pub async fn run<T, Claim, ClaimFut, Work, WorkFut>(
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
    worker: Worker,
    claim: Claim,
    work: Work,
) where
    T: Send + 'static,
    Claim: Fn(AppState, DateTime<Utc>, DateTime<Utc>, u32) -> ClaimFut,
    ClaimFut: Future<Output = CatalogResult<Vec<T>>>,
    Work: Fn(AppState, T, DateTime<Utc>) -> WorkFut,
    WorkFut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(worker.slots.max(1)));
    loop {
        let free = slots.available_permits() as u32;
        let mut claimed = 0;
        if free > 0 {
            let now = Utc::now();
            let until = now + worker.claim_for;
            match claim(state.clone(), now, until, free).await {
                Ok(units) => {
                    claimed = units.len();
                    for unit in units {
                        let slot = slots.clone().acquire_owned().await.expect("never closed");
                        let done = work(state.clone(), unit, until);
                        let wakeup = worker.wakeup.clone();
                        tokio::spawn(async move {
                            done.await;
                            drop(slot);
                            wakeup.notify_one();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, what = worker.what, "could not claim work"),
            }
        }
        // A full batch suggests more is waiting.
        if claimed > 0 && claimed as u32 == free {
            continue;
        }
        tokio::select! {
            _ = worker.wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
#[path = "claimed_tests.rs"]
pub(crate) mod tests;
