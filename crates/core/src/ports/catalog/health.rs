//! The catalog's own health: whether it answers and how much work waits in it.

use async_trait::async_trait;

use super::CatalogResult;
use crate::QueueDepths;

#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Answers when the backend is reachable; for health checks.
    async fn ping(&self) -> CatalogResult<()>;
    /// How much work waits in each queue; for metrics.
    async fn queue_depths(&self) -> CatalogResult<QueueDepths>;
}
