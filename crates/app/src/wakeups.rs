//! How use cases tell the background workers that work is due, without knowing the workers.

use std::sync::Arc;

use tokio::sync::Notify;

/// The wakeups of the workers that wait for work (the sweeper and the reconciler keep time only).
/// Each stands for a queue in the catalog: a wakeup lost to a crash is made up by the worker's poll.
#[derive(Clone, Default)]
pub struct Wakeups {
    /// New bytes arrived: probing starts at once.
    pub probe: Arc<Notify>,
    /// A preload was queued: generation starts at once.
    pub generation: Arc<Notify>,
    /// An event was written: its deliveries go out at once.
    pub webhooks: Arc<Notify>,
    /// Render outputs have a download or a hosting copy due.
    pub renders: Arc<Notify>,
}
