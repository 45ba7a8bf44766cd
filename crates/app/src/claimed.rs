//! The worker whose units of work are claimed through the catalog (preload items, webhook
//! deliveries, render outputs): claim as many as there are free slots, run each in a task of its
//! own, and wait for a wakeup or a poll tick when nothing more is due.

use std::{future::Future, marker::PhantomData, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::catalog::CatalogResult;
use tokio::sync::{Notify, Semaphore};

use crate::{
    worker::{Round, Worker},
    App,
};

/// How often due work is looked for when no wakeup announced any.
const POLL: Duration = Duration::from_secs(1);

pub struct Settings {
    /// Units run at once on this node.
    pub slots: usize,
    /// How long a claim lasts; a node that dies loses its units after this.
    pub claim_for: Duration,
    /// Woken when new work is queued (and by each finished unit, to claim the next).
    pub wakeup: Arc<Notify>,
    /// What is claimed, for the log.
    pub what: &'static str,
}

/// `claim(state, now, until, limit)` claims up to `limit` units until `until`;
/// `work(state, unit, until)` does one.
pub struct Claimed<T, Claim, Work> {
    settings: Settings,
    slots: Arc<Semaphore>,
    claim: Claim,
    work: Work,
    unit: PhantomData<fn() -> T>,
}

impl<T, Claim, Work> Claimed<T, Claim, Work> {
    pub fn new<ClaimFut, WorkFut>(settings: Settings, claim: Claim, work: Work) -> Self
    where
        Claim: Fn(App, DateTime<Utc>, DateTime<Utc>, u32) -> ClaimFut,
        ClaimFut: Future<Output = CatalogResult<Vec<T>>>,
        Work: Fn(App, T, DateTime<Utc>) -> WorkFut,
    {
        Self {
            slots: Arc::new(Semaphore::new(settings.slots.max(1))),
            settings,
            claim,
            work,
            unit: PhantomData,
        }
    }
}

#[async_trait]
impl<T, Claim, ClaimFut, Work, WorkFut> Worker for Claimed<T, Claim, Work>
where
    T: Send + 'static,
    Claim: Fn(App, DateTime<Utc>, DateTime<Utc>, u32) -> ClaimFut + Send + Sync + 'static,
    ClaimFut: Future<Output = CatalogResult<Vec<T>>> + Send,
    Work: Fn(App, T, DateTime<Utc>) -> WorkFut + Send + Sync + 'static,
    WorkFut: Future<Output = ()> + Send + 'static,
{
    async fn work(&mut self, state: &App) -> Round {
        let free = self.slots.available_permits() as u32;
        if free == 0 {
            return Round::Idle;
        }
        let now = Utc::now();
        let until = now + self.settings.claim_for;
        let units = match (self.claim)(state.clone(), now, until, free).await {
            Ok(units) => units,
            Err(e) => {
                tracing::warn!(error = %e, what = self.settings.what, "could not claim work");
                return Round::Idle;
            }
        };
        let claimed = units.len();
        for unit in units {
            let slot = self
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("never closed");
            let done = (self.work)(state.clone(), unit, until);
            let wakeup = self.settings.wakeup.clone();
            tokio::spawn(async move {
                done.await;
                drop(slot);
                wakeup.notify_one();
            });
        }
        // A full batch suggests more is waiting.
        if claimed > 0 && claimed as u32 == free {
            Round::Busy
        } else {
            Round::Idle
        }
    }

    async fn wait(&mut self, _: &App) {
        tokio::select! {
            _ = self.settings.wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
#[path = "claimed_tests.rs"]
pub(crate) mod tests;
