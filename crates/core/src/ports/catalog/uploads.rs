//! Uploads on their way into the drive: presigned ones and resumable ones.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CatalogResult, FileAnnouncer};
use crate::{ContentHash, FileId, FileRecord, NewUpload, ResumableUpload, UploadClaim};

#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Registers a pending file, reserving its bytes against the quota in the same step.
    async fn reserve_upload(&self, upload: &NewUpload) -> CatalogResult<FileRecord>;
    /// Marks a pending upload as receiving until `until`, so two PUTs cannot stream into one file.
    async fn claim_upload(
        &self,
        id: &FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<UploadClaim>;
    /// Gives up the claim this caller took (the one lasting `until`), so the upload may be retried.
    async fn release_upload_claim(&self, id: &FileId, until: DateTime<Utc>) -> CatalogResult<()>;
    /// Extends the claim lasting `held` to `until`; false when it is no longer this caller's.
    async fn renew_upload_claim(
        &self,
        id: &FileId,
        held: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<bool>;
    /// Registers a pending file whose bytes arrive resumably, as
    /// [`UploadStore::reserve_upload`] does.
    async fn reserve_resumable_upload(
        &self,
        upload: &NewUpload,
        metadata: &str,
    ) -> CatalogResult<FileRecord>;
    async fn resumable_upload(&self, id: &FileId) -> CatalogResult<Option<ResumableUpload>>;
    /// Counts the bytes up to `to` as received and keeps the upload until `expires_at`, if its
    /// offset is still `from` and the claim lasting `claimed_until` is still the caller's.
    async fn advance_resumable_upload(
        &self,
        id: &FileId,
        from: u64,
        to: u64,
        expires_at: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
    ) -> CatalogResult<bool>;
    /// Grows the reservation of pending upload `id` to `size` bytes, counted against the quota
    /// as a reservation of that size would be ([`super::CatalogError::StorageBlocked`] when it
    /// does not fit); false when the upload is no longer pending. For bodies of unknown length,
    /// reserved as their bytes arrive.
    async fn grow_pending_upload(
        &self,
        id: &FileId,
        size: u64,
        default_quota: Option<u64>,
    ) -> CatalogResult<bool>;
    /// Deletes upload `id` while it is still pending, releasing its reservation; returns it, or
    /// `None` when it was already complete or gone.
    async fn cancel_pending_upload(&self, id: &FileId) -> CatalogResult<Option<FileRecord>>;
    /// Points the file at its blob and flips it to `uploaded`; the blob must hold a lease.
    async fn complete_upload(
        &self,
        id: &FileId,
        blob: &ContentHash,
        now: DateTime<Utc>,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<FileRecord>;
}
