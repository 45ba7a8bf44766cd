// The catalog's own health: a read that needs the database file, and the queue depths.

use async_trait::async_trait;
use mediadrive_core::catalog::{CatalogResult, HealthStore};

use super::{backend, Backend};

#[async_trait]
impl HealthStore for Backend {
    async fn ping(&self) -> CatalogResult<()> {
        // Reads a table, so the database file itself is checked, not just a connection.
        sqlx::query("SELECT count(*) FROM (SELECT 1 FROM tenants LIMIT 1) AS one")
            .execute(&self.health)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn queue_depths(&self) -> CatalogResult<mediadrive_core::QueueDepths> {
        let (probes, generations, render_outputs, webhook_deliveries): (i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT
                   (SELECT count(*) FROM blobs WHERE probe_status = 'pending' AND refcount > 0),
                   (SELECT count(*) FROM preload_items WHERE status IN ('queued', 'processing')),
                   (SELECT count(*) FROM render_outputs
                     WHERE status IN ('waiting', 'fetching', 'importing')),
                   (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')",
            )
            .fetch_one(&self.health)
            .await
            .map_err(backend)?;
        Ok(mediadrive_core::QueueDepths {
            probes: probes as u64,
            generations: generations as u64,
            render_outputs: render_outputs as u64,
            webhook_deliveries: webhook_deliveries as u64,
        })
    }
}
