//! Generated assets: the steps that change a preload and the project asset waiting for it in one
//! transaction, kept apart from both so that neither aggregate depends on the other.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CatalogResult, PreloadAnnouncer};
use crate::{ItemOutcome, NewGeneratedAsset, PreloadId, PreloadRecord, ProjectAsset};

#[async_trait]
pub trait GeneratedStore: Send + Sync {
    /// Records the preload that makes a generated asset and the asset waiting for it, at once.
    /// `NotFound` when the project is gone.
    async fn create_generated_asset(
        &self,
        asset: &NewGeneratedAsset,
    ) -> CatalogResult<(PreloadRecord, ProjectAsset)>;
    /// Records how an item ended, if the claim lasting `claimed_until` is still its own; `None`
    /// otherwise. `Some(true)` when this was the preload's last open item. A project asset
    /// waiting for the item takes its result in the same step.
    async fn finish_preload_item(
        &self,
        preload_id: &PreloadId,
        position: u32,
        claimed_until: DateTime<Utc>,
        outcome: &ItemOutcome,
        announce: PreloadAnnouncer<'_>,
    ) -> CatalogResult<Option<bool>>;
}
