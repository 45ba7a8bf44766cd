//! The catalog port: where metadata lives (tenants, keys, files, folders, blob references).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    ApiKeyRecord, BlobProbe, BlobReclaim, ClientId, ContentHash, FileId, FileMove, FileName,
    FilePage, FileRecord, FolderEntry, FolderMove, FolderPath, FolderStats, ListQuery, NewApiKey,
    NewUpload, Preview, SweepReport, SweepRule, Tenant, TenantUpdate, UploadClaim,
};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("not found")]
    NotFound,
    #[error("a file with this name already exists")]
    FileExists,
    #[error("a folder with this name already exists")]
    FolderExists,
    #[error("storage is blocked or the quota would be exceeded")]
    StorageBlocked,
    #[error("folder is not empty")]
    FolderNotEmpty,
    #[error("a folder cannot be moved into itself")]
    MoveIntoSelf,
    #[error("blob is being reclaimed")]
    BlobBusy,
    #[error("catalog backend failed: {0}")]
    Backend(String),
}

pub type CatalogResult<T> = Result<T, CatalogError>;

#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Answers when the backend is reachable; for health checks.
    async fn ping(&self) -> CatalogResult<()>;

    // Tenants and keys.
    async fn ensure_tenant(&self, id: &ClientId, now: DateTime<Utc>) -> CatalogResult<Tenant>;
    async fn tenant(&self, id: &ClientId) -> CatalogResult<Option<Tenant>>;
    async fn update_tenant(
        &self,
        id: &ClientId,
        update: &TenantUpdate,
        now: DateTime<Utc>,
    ) -> CatalogResult<Tenant>;
    async fn insert_key(&self, key: &NewApiKey, now: DateTime<Utc>) -> CatalogResult<ApiKeyRecord>;
    async fn key_by_hash(&self, key_hash: &str) -> CatalogResult<Option<ApiKeyRecord>>;

    /// A node-wide secret by name, created with `generate` the first time so that every node shares it.
    async fn secret(
        &self,
        name: &str,
        generate: &(dyn Fn() -> Vec<u8> + Sync),
    ) -> CatalogResult<Vec<u8>>;

    // Uploads.
    /// Registers a pending file, reserving its bytes against the quota in the same step.
    async fn reserve_upload(&self, upload: &NewUpload) -> CatalogResult<FileRecord>;
    async fn file_by_id(&self, id: &FileId) -> CatalogResult<Option<FileRecord>>;
    /// Marks a pending upload as receiving until `until`, so two PUTs cannot stream into one file.
    async fn claim_upload(
        &self,
        id: &FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<UploadClaim>;
    /// Gives up the claim this caller took (the one lasting `until`), so the upload may be retried.
    async fn release_upload_claim(&self, id: &FileId, until: DateTime<Utc>) -> CatalogResult<()>;
    /// Points the file at its blob and flips it to `uploaded`; the blob must hold a lease.
    async fn complete_upload(
        &self,
        id: &FileId,
        blob: &ContentHash,
        now: DateTime<Utc>,
    ) -> CatalogResult<FileRecord>;

    // Blob references.
    /// Protects a blob from reclamation until `until` while bytes are being placed for it.
    /// Fails with [`CatalogError::BlobBusy`] while the blob is being reclaimed.
    async fn lease_blob(
        &self,
        hash: &ContentHash,
        size: u64,
        until: DateTime<Utc>,
    ) -> CatalogResult<()>;
    /// Gives up a lease whose ingest failed before [`Catalog::complete_upload`].
    async fn release_blob_lease(&self, hash: &ContentHash) -> CatalogResult<()>;
    /// Marks unreferenced, unleased blobs (all, or just `only`; at most a few hundred per call) as
    /// being reclaimed under a new token. A full pass also takes over marks left by a reclaimer
    /// that died long ago.
    async fn begin_blob_reclaim(
        &self,
        now: DateTime<Utc>,
        only: Option<&[ContentHash]>,
    ) -> CatalogResult<BlobReclaim>;
    /// The blobs a full reclaim would take now, without marking them.
    async fn reclaimable_blobs(&self, now: DateTime<Utc>) -> CatalogResult<Vec<ContentHash>>;
    /// Forgets a blob whose bytes are gone, if `token` still holds its mark, and drops the previews
    /// made from it; returns their blobs, which may now be unreferenced.
    async fn finish_blob_reclaim(
        &self,
        hash: &ContentHash,
        token: &str,
    ) -> CatalogResult<Vec<ContentHash>>;
    /// Clears `token`'s mark after its bytes could not be removed, so ingests of the same content
    /// need not wait for the mark to turn stale.
    async fn abandon_blob_reclaim(&self, hash: &ContentHash, token: &str) -> CatalogResult<()>;

    // Probing.
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
    /// Links a preview to its source; the preview's blob must hold a lease, which this turns into
    /// a reference. Replaces an earlier preview of the same name.
    async fn add_preview(&self, preview: &Preview) -> CatalogResult<()>;
    async fn previews(&self, source: &ContentHash) -> CatalogResult<Vec<Preview>>;
    /// Whether a blob is itself some blob's preview (previews get no previews of their own).
    async fn is_preview(&self, hash: &ContentHash) -> CatalogResult<bool>;

    // The drive.
    async fn file(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        name: &FileName,
    ) -> CatalogResult<Option<FileRecord>>;
    async fn list_files(&self, query: &ListQuery) -> CatalogResult<FilePage>;
    async fn subfolders(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
    ) -> CatalogResult<Vec<FolderEntry>>;
    async fn folder_exists(&self, tenant: &ClientId, folder: &FolderPath) -> CatalogResult<bool>;
    async fn folder_tree(&self, tenant: &ClientId) -> CatalogResult<Vec<FolderStats>>;
    /// Creates the folder and its ancestors; false when it already existed.
    async fn create_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool>;
    async fn move_file(&self, change: &FileMove) -> CatalogResult<FileRecord>;
    async fn move_folder(&self, change: &FolderMove) -> CatalogResult<()>;
    /// Deletes the named files that exist; returns them.
    async fn delete_files(
        &self,
        tenant: &ClientId,
        files: &[(FolderPath, FileName)],
    ) -> CatalogResult<Vec<FileRecord>>;
    /// Deletes a folder; with `recursive` also everything in it, otherwise it must be empty. Returns deleted files.
    async fn delete_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        recursive: bool,
    ) -> CatalogResult<Vec<FileRecord>>;

    // Lifecycle.
    /// Removes pending uploads whose URL lapsed and temporary files past their age, as `rule` says.
    async fn sweep_files(&self, rule: &SweepRule) -> CatalogResult<SweepReport>;
}
