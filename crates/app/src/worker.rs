//! What every background worker is, and the one loop that runs each.

use std::time::Duration;

use async_trait::async_trait;
use tokio::{
    sync::watch,
    time::{Instant, Interval, MissedTickBehavior},
};

use crate::App;

/// What one round of work found.
pub enum Round {
    /// More is due at once: the next round starts without waiting.
    Busy,
    /// Nothing more until [`Worker::wait`] returns.
    Idle,
}

/// A background worker (as Garage's): `work` does one round of what is due, `wait` returns once
/// more may be due. [`run`] is the one loop they share and the one place shutdown is observed.
#[async_trait]
pub trait Worker: Send + 'static {
    async fn work(&mut self, state: &App) -> Round;
    async fn wait(&mut self, state: &App);
}

/// Runs `worker` until `shutdown` turns true: between rounds and while waiting, never in the
/// middle of a round, so a sweep or a claim is not cut short.
pub async fn run(state: App, mut worker: impl Worker, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if let Round::Busy = worker.work(&state).await {
            continue;
        }
        tokio::select! {
            _ = worker.wait(&state) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Ticks every `period`, the first one a period from now: a worker's first round runs at start.
pub fn every(period: Duration) -> Interval {
    let mut tick = tokio::time::interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
