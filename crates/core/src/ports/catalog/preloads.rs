//! Preloads: batches of items a generator makes, and what becomes of each item.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::CatalogResult;
use crate::{ClientId, NewPreload, PreloadId, PreloadItem, PreloadRecord};

#[async_trait]
pub trait PreloadStore: Send + Sync {
    /// Records a preload and its queued items. With an idempotency key already used since
    /// `idempotency_since`, returns that earlier preload instead (and `false`).
    async fn create_preload(&self, preload: &NewPreload) -> CatalogResult<(PreloadRecord, bool)>;
    async fn preload(
        &self,
        tenant: &ClientId,
        id: &PreloadId,
    ) -> CatalogResult<Option<PreloadRecord>>;
    /// Claims up to `limit` queued items (and items whose claim lapsed: their node died) until
    /// `until`, oldest first.
    async fn claim_preload_items(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<PreloadItem>>;
}
