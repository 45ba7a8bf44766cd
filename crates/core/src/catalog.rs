//! The catalog port: where metadata lives (tenants, keys, files, folders, blob references).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    ApiKeyRecord, AssetQuery, AssetRemoval, AttemptOutcome, BlobProbe, BlobReclaim, CacheEntry,
    Charge, ClientId, ContentHash, CreditMovement, DeliveryRecord, DueDelivery, EndpointUpdate,
    FileId, FileMove, FileName, FilePage, FileRecord, FolderEntry, FolderMove, FolderPath,
    FolderStats, ItemOutcome, LedgerEntry, ListQuery, NewApiKey, NewCacheEntry, NewEndpoint,
    NewEvent, NewGeneratedAsset, NewPreload, NewProject, NewProjectAsset, NewProjectScript,
    NewRender, NewUpload, OutputClaim, OutputOutcome, PreloadItem, PreloadRecord, Preview, Project,
    ProjectAsset, ProjectScript, Promotion, RenderOutput, RenderRecord, ResumableUpload,
    SweepReport, SweepRule, Tenant, TenantUpdate, UploadClaim, WebhookEndpoint,
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

/// Builds the webhook event that announces a change to a file. The catalog writes it to the outbox
/// in the change's own transaction, so no committed change goes unannounced.
pub type FileAnnouncer<'a> = &'a (dyn Fn(&FileRecord) -> NewEvent + Sync);

/// Builds the events announcing that the item at a position of a preload ended (and, when the
/// flag says it was the last open one, that the preload is complete), written in the same
/// transaction as the item's result.
pub type PreloadAnnouncer<'a> = &'a (dyn Fn(&PreloadRecord, u32, bool) -> Vec<NewEvent> + Sync);

/// Builds the events announcing how a render output moved on (hosted or failed), written in the
/// same transaction as that change; none for the steps in between.
pub type OutputAnnouncer<'a> = &'a (dyn Fn(&RenderOutput) -> Vec<NewEvent> + Sync);

#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Answers when the backend is reachable; for health checks.
    async fn ping(&self) -> CatalogResult<()>;
    /// How much work waits in each queue; for metrics.
    async fn queue_depths(&self) -> CatalogResult<crate::QueueDepths>;

    // Tenants and keys.
    /// Creates the tenant with `initial_credits` (recorded in its ledger) unless it exists.
    async fn ensure_tenant(
        &self,
        id: &ClientId,
        initial_credits: i64,
        now: DateTime<Utc>,
    ) -> CatalogResult<Tenant>;
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
    /// Extends the claim lasting `held` to `until`; false when it is no longer this caller's.
    async fn renew_upload_claim(
        &self,
        id: &FileId,
        held: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<bool>;
    /// Registers a pending file whose bytes arrive resumably, as [`Catalog::reserve_upload`] does.
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
    /// Which of `sources` have a preview called `name` (for many files at once).
    async fn with_preview(
        &self,
        sources: &[ContentHash],
        name: &str,
    ) -> CatalogResult<Vec<ContentHash>>;
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
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<Vec<FileRecord>>;
    /// Deletes a folder; with `recursive` also everything in it, otherwise it must be empty. Returns deleted files.
    async fn delete_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        recursive: bool,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<Vec<FileRecord>>;

    // Lifecycle.
    /// Removes pending uploads whose URL lapsed and temporary files past their age, and drops the
    /// bytes of cache entries that expired (keeping their source for a regeneration), as `rule` says.
    /// Uploaded files it removes are announced with `announce`.
    async fn sweep_files(
        &self,
        rule: &SweepRule,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<SweepReport>;

    // Generated assets.
    /// Records a preload and its queued items. With an idempotency key already used since
    /// `idempotency_since`, returns that earlier preload instead (and `false`).
    async fn create_preload(&self, preload: &NewPreload) -> CatalogResult<(PreloadRecord, bool)>;
    async fn preload(&self, tenant: &ClientId, id: &str) -> CatalogResult<Option<PreloadRecord>>;
    /// Claims up to `limit` queued items (and items whose claim lapsed: their node died) until
    /// `until`, oldest first.
    async fn claim_preload_items(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<PreloadItem>>;
    /// Records how an item ended, if the claim lasting `claimed_until` is still its own; `None`
    /// otherwise. `Some(true)` when this was the preload's last open item.
    async fn finish_preload_item(
        &self,
        preload_id: &str,
        position: u32,
        claimed_until: DateTime<Utc>,
        outcome: &ItemOutcome,
        announce: PreloadAnnouncer<'_>,
    ) -> CatalogResult<Option<bool>>;
    async fn cache_entry(
        &self,
        tenant: &ClientId,
        fingerprint: &str,
    ) -> CatalogResult<Option<CacheEntry>>;
    async fn cache_entry_by_id(&self, id: &str) -> CatalogResult<Option<CacheEntry>>;
    /// The cache entries drive files were persisted from, by file: where generated files came from.
    /// Each entry's `persisted` is left empty: the caller already holds the file it asked about.
    async fn cache_entries_of_files(
        &self,
        files: &[FileId],
    ) -> CatalogResult<Vec<(FileId, CacheEntry)>>;
    /// Stores generated bytes under their fingerprint (replacing purged or older bytes, whose
    /// blob is returned so it can be reclaimed). The blob's lease becomes the entry's reference.
    async fn store_cache_entry(
        &self,
        entry: &NewCacheEntry,
    ) -> CatalogResult<(CacheEntry, Option<ContentHash>)>;
    /// Persists a live cache entry into the drive without copying bytes: a file pointing at the
    /// entry's blob, counted against the quota ([`CatalogError::StorageBlocked`] when it does not
    /// fit). A file the entry was already persisted as is returned as it is.
    async fn promote_cache_entry(&self, promotion: &Promotion) -> CatalogResult<FileRecord>;
    /// Moves credits and appends the movement to the ledger in one step. A negative amount is
    /// taken only if the balance covers it.
    async fn move_credits(&self, movement: &CreditMovement) -> CatalogResult<Charge>;
    /// The newest `limit` ledger entries of a tenant, newest first.
    async fn credit_ledger(&self, tenant: &ClientId, limit: u32)
        -> CatalogResult<Vec<LedgerEntry>>;

    // Render outputs.
    /// Records a render and its outputs, waiting for their uploads or queued for their download.
    async fn create_render(&self, render: &NewRender) -> CatalogResult<RenderRecord>;
    async fn render(&self, tenant: &ClientId, id: &str) -> CatalogResult<Option<RenderRecord>>;
    async fn render_output(
        &self,
        tenant: &ClientId,
        id: &str,
    ) -> CatalogResult<Option<RenderOutput>>;
    /// Claims an output waiting for its upload until `until`, so two PUTs cannot race.
    async fn claim_output_upload(
        &self,
        tenant: &ClientId,
        render: &str,
        id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<OutputClaim>;
    /// Claims up to `limit` outputs with background work due (a download, a hosting copy), and
    /// those whose claim lapsed, until `until`, oldest first.
    async fn claim_render_work(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<RenderOutput>>;
    /// Moves a claimed output on, if the claim lasting `claimed_until` is still its own; `None`
    /// otherwise.
    async fn finish_render_output(
        &self,
        id: &str,
        claimed_until: DateTime<Utc>,
        outcome: &OutputOutcome,
        announce: OutputAnnouncer<'_>,
    ) -> CatalogResult<Option<RenderOutput>>;
    /// Marks an output deleted (whatever it was doing: a claim on it no longer counts); returns it
    /// as it was, so its hosted file can be deleted.
    async fn delete_render_output(
        &self,
        tenant: &ClientId,
        id: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<RenderOutput>>;

    // Projects (the Video Jungle surface).
    async fn create_project(&self, project: &NewProject) -> CatalogResult<Project>;
    /// The tenant's projects, newest first.
    async fn projects(&self, tenant: &ClientId) -> CatalogResult<Vec<Project>>;
    async fn project(&self, tenant: &ClientId, id: &str) -> CatalogResult<Option<Project>>;
    /// Forgets a project, its scripts and the assets still in it; their files must have been
    /// deleted first.
    /// False when there was none.
    async fn delete_project(&self, tenant: &ClientId, id: &str) -> CatalogResult<bool>;
    async fn create_project_asset(&self, asset: &NewProjectAsset) -> CatalogResult<ProjectAsset>;
    /// A page of a project's assets, newest first.
    async fn project_assets(&self, query: &AssetQuery) -> CatalogResult<Vec<ProjectAsset>>;
    async fn project_asset(
        &self,
        tenant: &ClientId,
        id: &str,
    ) -> CatalogResult<Option<ProjectAsset>>;
    async fn project_asset_by_key(&self, keyname: &str) -> CatalogResult<Option<ProjectAsset>>;
    /// Gives an asset still waiting for its bytes the (pending) file that takes them; false when
    /// it has one already or is gone.
    async fn attach_asset_file(
        &self,
        tenant: &ClientId,
        id: &str,
        file: &FileId,
    ) -> CatalogResult<bool>;
    /// Forgets an asset; its file stays, for the caller to delete when no other asset holds it.
    async fn delete_project_asset(
        &self,
        tenant: &ClientId,
        id: &str,
    ) -> CatalogResult<AssetRemoval>;
    /// Records the preload that makes a generated asset and the asset waiting for it, at once.
    /// `NotFound` when the project is gone.
    async fn create_generated_asset(
        &self,
        asset: &NewGeneratedAsset,
    ) -> CatalogResult<(PreloadRecord, ProjectAsset)>;
    /// `NotFound` when the project is gone.
    async fn create_project_script(
        &self,
        script: &NewProjectScript,
    ) -> CatalogResult<ProjectScript>;
    /// A project's scripts, oldest first.
    async fn project_scripts(
        &self,
        tenant: &ClientId,
        project_id: &str,
    ) -> CatalogResult<Vec<ProjectScript>>;
    async fn project_script(
        &self,
        tenant: &ClientId,
        project_id: &str,
        id: &str,
    ) -> CatalogResult<Option<ProjectScript>>;
    /// False when there was none.
    async fn delete_project_script(
        &self,
        tenant: &ClientId,
        project_id: &str,
        id: &str,
    ) -> CatalogResult<bool>;

    // Webhooks.
    async fn create_webhook_endpoint(
        &self,
        endpoint: &NewEndpoint,
    ) -> CatalogResult<WebhookEndpoint>;
    async fn webhook_endpoints(&self, tenant: &ClientId) -> CatalogResult<Vec<WebhookEndpoint>>;
    async fn webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &str,
    ) -> CatalogResult<Option<WebhookEndpoint>>;
    async fn update_webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &str,
        update: &EndpointUpdate,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<WebhookEndpoint>>;
    /// Deletes an endpoint; its deliveries still waiting are given up. False when there was none.
    async fn delete_webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool>;
    /// The tenant's secret for per-request callbacks, created with `generate` the first time.
    async fn callback_secret(
        &self,
        tenant: &ClientId,
        generate: &(dyn Fn() -> String + Sync),
    ) -> CatalogResult<String>;
    /// Writes an event to the outbox with a delivery per target; returns how many targets.
    async fn enqueue_event(&self, event: &NewEvent) -> CatalogResult<usize>;
    /// Claims up to `limit` deliveries that are due, until `until`. Deliveries of a disabled
    /// endpoint wait until it is enabled again.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<DueDelivery>>;
    /// Logs an attempt and moves the delivery on, if the claim lasting `claimed_until` is still
    /// its own. Failures count against the endpoint, which is disabled after a run of them.
    async fn record_attempt(
        &self,
        delivery: &str,
        claimed_until: DateTime<Utc>,
        outcome: &AttemptOutcome,
    ) -> CatalogResult<bool>;
    /// The newest deliveries of a tenant (of one endpoint, if given), with their attempts.
    async fn webhook_deliveries(
        &self,
        tenant: &ClientId,
        endpoint: Option<&str>,
        limit: u32,
    ) -> CatalogResult<Vec<DeliveryRecord>>;
    /// Sends a delivery again as soon as possible, whatever became of it. False when there is none.
    async fn redeliver(
        &self,
        tenant: &ClientId,
        delivery: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool>;
}
