//! The counters the use cases and workers keep; the server exposes them at `/metrics`.

use std::time::Duration;

use async_trait::async_trait;
use metrics::{counter, gauge};
use tokio::time::Interval;

use crate::{
    worker::{self, Round, Worker},
    App,
};

pub const REQUEST_DURATION: &str = "mediadrive_http_request_duration_seconds";
pub const REQUESTS: &str = "mediadrive_http_requests_total";
pub const BYTES_RECEIVED: &str = "mediadrive_bytes_received_total";
pub const BYTES_SENT: &str = "mediadrive_bytes_sent_total";
pub const UPLOADS_IN_FLIGHT: &str = "mediadrive_uploads_in_flight";
pub const JOBS_WAITING: &str = "mediadrive_jobs_waiting";
pub const SWEEPS: &str = "mediadrive_sweeps_total";
pub const BLOBS_RECLAIMED: &str = "mediadrive_blobs_reclaimed_total";
pub const WEBHOOK_ATTEMPTS: &str = "mediadrive_webhook_attempts_total";

/// Held while an upload streams through this node.
pub struct InFlight;

impl InFlight {
    pub fn start() -> Self {
        gauge!(UPLOADS_IN_FLIGHT).increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(UPLOADS_IN_FLIGHT).decrement(1.0);
    }
}

pub fn received(bytes: usize) {
    counter!(BYTES_RECEIVED).increment(bytes as u64);
}

pub fn sent(bytes: usize) {
    counter!(BYTES_SENT).increment(bytes as u64);
}

pub fn swept(ok: bool, reclaimed: usize) {
    counter!(SWEEPS, "outcome" => if ok { "ok" } else { "failed" }).increment(1);
    counter!(BLOBS_RECLAIMED).increment(reclaimed as u64);
}

pub fn webhook_attempt(delivered: bool) {
    let outcome = if delivered { "delivered" } else { "failed" };
    counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
}

/// How often a node reads the job queues' depths: a scrape of `/metrics` then costs no catalog
/// query, however often and by whomever it is asked.
const QUEUE_DEPTHS_EVERY: Duration = Duration::from_secs(5);

/// Keeps the `JOBS_WAITING` gauges current.
pub struct QueueDepths(Interval);

pub fn queue_depths() -> QueueDepths {
    QueueDepths(worker::every(QUEUE_DEPTHS_EVERY))
}

#[async_trait]
impl Worker for QueueDepths {
    async fn work(&mut self, state: &App) -> Round {
        match state.catalog.queue_depths().await {
            Ok(depths) => {
                for (queue, waiting) in [
                    ("probes", depths.probes),
                    ("generations", depths.generations),
                    ("render_outputs", depths.render_outputs),
                    ("webhook_deliveries", depths.webhook_deliveries),
                ] {
                    gauge!(JOBS_WAITING, "queue" => queue).set(waiting as f64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the job queues' depths"),
        }
        Round::Idle
    }

    async fn wait(&mut self, _: &App) {
        self.0.tick().await;
    }
}
