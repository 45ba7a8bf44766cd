//! What probing found in blobs, and the previews made from them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::CatalogResult;
use crate::{BlobProbe, ContentHash, Preview};

#[async_trait]
pub trait ProbeStore: Send + Sync {
    /// Claims up to `limit` blobs that still need probing, until `until`; a node that dies loses
    /// its claims when they lapse.
    async fn claim_probes(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<ContentHash>>;
    /// Stores what probing found (`status` done or failed) if the claim lasting `claimed_until`
    /// is still the blob's; false when another node has taken the blob over.
    async fn record_probe(
        &self,
        probe: &BlobProbe,
        claimed_until: DateTime<Utc>,
    ) -> CatalogResult<bool>;
    async fn blob_probes(&self, hashes: &[ContentHash]) -> CatalogResult<Vec<BlobProbe>>;
}

#[async_trait]
pub trait PreviewStore: Send + Sync {
    /// Links a preview to its source; the preview's blob must hold a lease, which this turns into
    /// a reference. Replaces an earlier preview of the same name.
    async fn add_preview(&self, preview: &Preview) -> CatalogResult<()>;
    async fn previews(&self, source: &ContentHash) -> CatalogResult<Vec<Preview>>;
    /// Which of `sources` have a preview called `name` (for many files at once).
    async fn with_preview(
        &self,
        sources: &[ContentHash],
        name: &str,
    ) -> CatalogResult<Vec<ContentHash>>;
    /// Whether a blob is itself some blob's preview (previews get no previews of their own).
    async fn is_preview(&self, hash: &ContentHash) -> CatalogResult<bool>;
}
