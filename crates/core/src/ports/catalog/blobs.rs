//! References to blobs: leases while bytes are being placed, and reclaiming the unreferenced.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::CatalogResult;
use crate::{BlobReclaim, ContentHash};

/// Named for what the catalog holds about blobs (their references), apart from the
/// [`crate::BlobStore`] that holds their bytes.
#[async_trait]
pub trait BlobRefStore: Send + Sync {
    /// Protects a blob from reclamation until `until` while bytes are being placed for it.
    /// Fails with [`super::CatalogError::BlobBusy`] while the blob is being reclaimed.
    async fn lease_blob(
        &self,
        hash: &ContentHash,
        size: u64,
        until: DateTime<Utc>,
    ) -> CatalogResult<()>;
    /// Gives up a lease whose ingest failed before
    /// [`super::UploadStore::complete_upload`].
    async fn release_blob_lease(&self, hash: &ContentHash) -> CatalogResult<()>;
    /// Marks unreferenced, unleased blobs (all, or just `only`; at most a few hundred per call) as
    /// being reclaimed under a new token. A full pass also takes over marks set before
    /// `stale_marks_before`, left by a reclaimer that died.
    async fn begin_blob_reclaim(
        &self,
        now: DateTime<Utc>,
        only: Option<&[ContentHash]>,
        stale_marks_before: DateTime<Utc>,
    ) -> CatalogResult<BlobReclaim>;
    /// The blobs a full reclaim would take now, without marking them.
    async fn reclaimable_blobs(
        &self,
        now: DateTime<Utc>,
        stale_marks_before: DateTime<Utc>,
    ) -> CatalogResult<Vec<ContentHash>>;
    /// Forgets a blob whose bytes are gone, if `token` still holds its mark, and drops the previews
    /// made from it; returns their blobs, which may now be unreferenced.
    async fn finish_blob_reclaim(
        &self,
        hash: &ContentHash,
        token: &str,
    ) -> CatalogResult<Vec<ContentHash>>;
    /// Those of `hashes` the catalog holds no row for: bytes in the store that no ingest recorded.
    async fn unrecorded_blobs(&self, hashes: &[ContentHash]) -> CatalogResult<Vec<ContentHash>>;
    /// Records `blobs` (hash and length) as unreferenced and unleased where the catalog holds no
    /// row for them, so the next reclaim takes them; returns those it recorded.
    async fn record_stray_blobs(
        &self,
        blobs: &[(ContentHash, u64)],
        now: DateTime<Utc>,
    ) -> CatalogResult<Vec<ContentHash>>;
    /// Clears `token`'s mark after its bytes could not be removed, so ingests of the same content
    /// need not wait for the mark to turn stale.
    async fn abandon_blob_reclaim(&self, hash: &ContentHash, token: &str) -> CatalogResult<()>;
}
