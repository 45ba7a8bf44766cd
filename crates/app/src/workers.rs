//! The node's background workers, started together and stopped together: the sweeper, the
//! reconciler of direct uploads, the prober, the generator, the renderer, the deliverer and the
//! reader of the job queues' depths for `/metrics`, and the reloader of the signing keys.

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    generation, lifecycle, metrics, probing, reconcile, renders, signing_keys, webhooks,
    worker::run, App,
};

/// The running workers of this node.
pub struct Workers(Vec<JoinHandle<()>>);

/// Starts every worker; each stops once `shutdown` turns true.
pub fn spawn_all(state: &App, shutdown: &watch::Receiver<bool>) -> Workers {
    let s = || state.clone();
    let stop = shutdown;
    Workers(vec![
        tokio::spawn(run(s(), lifecycle::sweeper(state), stop.clone())),
        tokio::spawn(run(s(), reconcile::reconciler(state), stop.clone())),
        tokio::spawn(run(s(), probing::Prober, stop.clone())),
        tokio::spawn(run(s(), generation::generator(state), stop.clone())),
        tokio::spawn(run(s(), webhooks::deliverer(state), stop.clone())),
        tokio::spawn(run(s(), renders::renderer(state), stop.clone())),
        tokio::spawn(run(s(), metrics::queue_depths(), stop.clone())),
        tokio::spawn(run(s(), signing_keys::refresher(), stop.clone())),
    ])
}

impl Workers {
    /// Waits until every worker has stopped.
    pub async fn stopped(self) {
        for worker in self.0 {
            if let Err(e) = worker.await {
                tracing::error!(error = %e, "a background worker ended abnormally");
            }
        }
    }
}
