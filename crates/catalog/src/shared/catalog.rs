// The `Catalog` trait for one engine: every method delegates to the module that owns it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, FileAnnouncer, OutputAnnouncer, PreloadAnnouncer},
    ApiKeyRecord, AssetQuery, AssetRemoval, AttemptOutcome, BlobProbe, BlobReclaim, CacheEntry,
    Catalog, Charge, ClientId, ContentHash, CreditMovement, DeliveryRecord, DueDelivery,
    EndpointUpdate, FileId, FileMove, FileName, FilePage, FileRecord, FolderEntry, FolderMove,
    FolderPath, FolderStats, ItemOutcome, LedgerEntry, ListQuery, NewApiKey, NewCacheEntry,
    NewEndpoint, NewEvent, NewGeneratedAsset, NewPreload, NewProject, NewProjectAsset,
    NewProjectScript, NewRender, NewUpload, OutputClaim, OutputOutcome, PreloadItem, PreloadRecord,
    Preview, Project, ProjectAsset, ProjectScript, Promotion, RenderOutput, RenderRecord,
    ResumableUpload, SweepReport, SweepRule, Tenant, TenantUpdate, UploadClaim, WebhookEndpoint,
};

use super::{
    backend, blobs, cache, credits, drive, folders, lock_tenant, preloads, previews, probes,
    projects, renders, scripts, sweep, tenants, uploads, webhooks, write_tx, Backend,
};

#[async_trait]
impl Catalog for Backend {
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

    async fn ensure_tenant(
        &self,
        id: &ClientId,
        initial_credits: i64,
        now: DateTime<Utc>,
    ) -> CatalogResult<Tenant> {
        tenants::ensure(&self.pool, id, initial_credits, now).await
    }

    async fn tenant(&self, id: &ClientId) -> CatalogResult<Option<Tenant>> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        tenants::fetch(&mut conn, id).await
    }

    async fn update_tenant(
        &self,
        id: &ClientId,
        update: &TenantUpdate,
        now: DateTime<Utc>,
    ) -> CatalogResult<Tenant> {
        tenants::update(&self.pool, id, update, now).await
    }

    async fn insert_key(&self, key: &NewApiKey, now: DateTime<Utc>) -> CatalogResult<ApiKeyRecord> {
        tenants::insert_key(&self.pool, key, now).await
    }

    async fn key_by_hash(&self, key_hash: &str) -> CatalogResult<Option<ApiKeyRecord>> {
        tenants::key_by_hash(&self.pool, key_hash).await
    }

    async fn secret(
        &self,
        name: &str,
        generate: &(dyn Fn() -> Vec<u8> + Sync),
    ) -> CatalogResult<Vec<u8>> {
        tenants::secret(&self.pool, name, generate).await
    }

    async fn reserve_upload(&self, upload: &NewUpload) -> CatalogResult<FileRecord> {
        uploads::reserve(&self.pool, upload).await
    }

    async fn file_by_id(&self, id: &FileId) -> CatalogResult<Option<FileRecord>> {
        uploads::by_id(&self.pool, id).await
    }

    async fn claim_upload(
        &self,
        id: &FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<UploadClaim> {
        uploads::claim(&self.pool, id, now, until).await
    }

    async fn release_upload_claim(&self, id: &FileId, until: DateTime<Utc>) -> CatalogResult<()> {
        uploads::release_claim(&self.pool, id, until).await
    }

    async fn renew_upload_claim(
        &self,
        id: &FileId,
        held: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        uploads::renew_claim(&self.pool, id, held, until).await
    }

    async fn reserve_resumable_upload(
        &self,
        upload: &NewUpload,
        metadata: &str,
    ) -> CatalogResult<FileRecord> {
        uploads::reserve_resumable(&self.pool, upload, metadata).await
    }

    async fn resumable_upload(&self, id: &FileId) -> CatalogResult<Option<ResumableUpload>> {
        uploads::resumable(&self.pool, id).await
    }

    async fn cancel_pending_upload(&self, id: &FileId) -> CatalogResult<Option<FileRecord>> {
        uploads::cancel_pending(&self.pool, id).await
    }

    async fn advance_resumable_upload(
        &self,
        id: &FileId,
        from: u64,
        to: u64,
        expires_at: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        uploads::advance_resumable(&self.pool, id, from, to, expires_at, claimed_until).await
    }

    async fn complete_upload(
        &self,
        id: &FileId,
        blob: &ContentHash,
        now: DateTime<Utc>,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<FileRecord> {
        uploads::complete(&self.pool, id, blob, now, announce).await
    }

    async fn lease_blob(
        &self,
        hash: &ContentHash,
        size: u64,
        until: DateTime<Utc>,
    ) -> CatalogResult<()> {
        blobs::lease(&self.pool, hash, size, until).await
    }

    async fn release_blob_lease(&self, hash: &ContentHash) -> CatalogResult<()> {
        blobs::release_lease(&self.pool, hash).await
    }

    async fn begin_blob_reclaim(
        &self,
        now: DateTime<Utc>,
        only: Option<&[ContentHash]>,
        stale_marks_before: DateTime<Utc>,
    ) -> CatalogResult<BlobReclaim> {
        blobs::begin_reclaim(&self.pool, now, only, stale_marks_before).await
    }

    async fn reclaimable_blobs(
        &self,
        now: DateTime<Utc>,
        stale_marks_before: DateTime<Utc>,
    ) -> CatalogResult<Vec<ContentHash>> {
        blobs::reclaimable_now(&self.pool, now, stale_marks_before).await
    }

    async fn finish_blob_reclaim(
        &self,
        hash: &ContentHash,
        token: &str,
    ) -> CatalogResult<Vec<ContentHash>> {
        blobs::finish_reclaim(&self.pool, hash, token).await
    }

    async fn abandon_blob_reclaim(&self, hash: &ContentHash, token: &str) -> CatalogResult<()> {
        blobs::abandon_reclaim(&self.pool, hash, token).await
    }

    async fn claim_probes(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<ContentHash>> {
        probes::claim(&self.pool, now, until, limit).await
    }

    async fn record_probe(
        &self,
        probe: &BlobProbe,
        claimed_until: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        probes::record(&self.pool, probe, claimed_until).await
    }

    async fn blob_probes(&self, hashes: &[ContentHash]) -> CatalogResult<Vec<BlobProbe>> {
        probes::of(&self.pool, hashes).await
    }

    async fn add_preview(&self, preview: &Preview) -> CatalogResult<()> {
        previews::add(&self.pool, preview).await
    }

    async fn previews(&self, source: &ContentHash) -> CatalogResult<Vec<Preview>> {
        previews::of(&self.pool, source).await
    }

    async fn with_preview(
        &self,
        sources: &[ContentHash],
        name: &str,
    ) -> CatalogResult<Vec<ContentHash>> {
        previews::having(&self.pool, sources, name).await
    }

    async fn is_preview(&self, hash: &ContentHash) -> CatalogResult<bool> {
        previews::is_preview(&self.pool, hash).await
    }

    async fn file(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        name: &FileName,
    ) -> CatalogResult<Option<FileRecord>> {
        drive::file(&self.pool, tenant, folder, name).await
    }

    async fn list_files(&self, query: &ListQuery) -> CatalogResult<FilePage> {
        drive::list(&self.pool, query).await
    }

    async fn subfolders(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
    ) -> CatalogResult<Vec<FolderEntry>> {
        folders::children(&self.pool, tenant, folder).await
    }

    async fn folder_exists(&self, tenant: &ClientId, folder: &FolderPath) -> CatalogResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        folders::exists(&mut conn, tenant, folder).await
    }

    async fn folder_tree(&self, tenant: &ClientId) -> CatalogResult<Vec<FolderStats>> {
        folders::tree(&self.pool, tenant).await
    }

    async fn create_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        let mut tx = write_tx(&self.pool).await?;
        lock_tenant(&mut tx, tenant).await?;
        let created = folders::ensure(&mut tx, tenant, folder, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(created)
    }

    async fn move_file(&self, change: &FileMove) -> CatalogResult<FileRecord> {
        drive::move_file(&self.pool, change).await
    }

    async fn move_folder(&self, change: &FolderMove) -> CatalogResult<()> {
        drive::move_folder(&self.pool, change).await
    }

    async fn delete_files(
        &self,
        tenant: &ClientId,
        files: &[(FolderPath, FileName)],
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<Vec<FileRecord>> {
        drive::delete_files(&self.pool, tenant, files, announce).await
    }

    async fn delete_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        recursive: bool,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<Vec<FileRecord>> {
        drive::delete_folder(&self.pool, tenant, folder, recursive, announce).await
    }

    async fn sweep_files(
        &self,
        rule: &SweepRule,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<SweepReport> {
        sweep::sweep(&self.pool, rule, announce).await
    }

    async fn create_preload(&self, preload: &NewPreload) -> CatalogResult<(PreloadRecord, bool)> {
        preloads::create(&self.pool, preload).await
    }

    async fn preload(&self, tenant: &ClientId, id: &str) -> CatalogResult<Option<PreloadRecord>> {
        preloads::get(&self.pool, tenant, id).await
    }

    async fn claim_preload_items(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<PreloadItem>> {
        preloads::claim(&self.pool, now, until, limit).await
    }

    async fn finish_preload_item(
        &self,
        preload_id: &str,
        position: u32,
        claimed_until: DateTime<Utc>,
        outcome: &ItemOutcome,
        announce: PreloadAnnouncer<'_>,
    ) -> CatalogResult<Option<bool>> {
        preloads::finish(
            &self.pool,
            preload_id,
            position,
            claimed_until,
            outcome,
            announce,
        )
        .await
    }

    async fn cache_entry(
        &self,
        tenant: &ClientId,
        fingerprint: &str,
    ) -> CatalogResult<Option<CacheEntry>> {
        cache::by_fingerprint(&self.pool, tenant, fingerprint).await
    }

    async fn cache_entry_by_id(&self, id: &str) -> CatalogResult<Option<CacheEntry>> {
        cache::by_id(&self.pool, id).await
    }

    async fn cache_entries_of_files(
        &self,
        files: &[FileId],
    ) -> CatalogResult<Vec<(FileId, CacheEntry)>> {
        cache::of_files(&self.pool, files).await
    }

    async fn store_cache_entry(
        &self,
        entry: &NewCacheEntry,
    ) -> CatalogResult<(CacheEntry, Option<ContentHash>)> {
        cache::store(&self.pool, entry).await
    }

    async fn promote_cache_entry(&self, promotion: &Promotion) -> CatalogResult<FileRecord> {
        cache::promote(&self.pool, promotion).await
    }

    async fn move_credits(&self, movement: &CreditMovement) -> CatalogResult<Charge> {
        credits::transfer(&self.pool, movement).await
    }

    async fn credit_ledger(
        &self,
        tenant: &ClientId,
        limit: u32,
    ) -> CatalogResult<Vec<LedgerEntry>> {
        credits::ledger(&self.pool, tenant, limit).await
    }

    async fn create_render(&self, render: &NewRender) -> CatalogResult<RenderRecord> {
        renders::create(&self.pool, render).await
    }

    async fn render(&self, tenant: &ClientId, id: &str) -> CatalogResult<Option<RenderRecord>> {
        renders::get(&self.pool, tenant, id).await
    }

    async fn render_output(
        &self,
        tenant: &ClientId,
        id: &str,
    ) -> CatalogResult<Option<RenderOutput>> {
        renders::get_output(&self.pool, tenant, id).await
    }

    async fn claim_output_upload(
        &self,
        tenant: &ClientId,
        render: &str,
        id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<OutputClaim> {
        renders::claim_upload(&self.pool, tenant, render, id, now, until).await
    }

    async fn claim_render_work(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<RenderOutput>> {
        renders::claim_work(&self.pool, now, until, limit).await
    }

    async fn finish_render_output(
        &self,
        id: &str,
        claimed_until: DateTime<Utc>,
        outcome: &OutputOutcome,
        announce: OutputAnnouncer<'_>,
    ) -> CatalogResult<Option<RenderOutput>> {
        renders::finish(&self.pool, id, claimed_until, outcome, announce).await
    }

    async fn delete_render_output(
        &self,
        tenant: &ClientId,
        id: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<RenderOutput>> {
        renders::delete(&self.pool, tenant, id, now).await
    }

    async fn create_project(&self, project: &NewProject) -> CatalogResult<Project> {
        projects::create(&self.pool, project).await
    }

    async fn projects(&self, tenant: &ClientId) -> CatalogResult<Vec<Project>> {
        projects::list(&self.pool, tenant).await
    }

    async fn project(&self, tenant: &ClientId, id: &str) -> CatalogResult<Option<Project>> {
        projects::get(&self.pool, tenant, id).await
    }

    async fn delete_project(&self, tenant: &ClientId, id: &str) -> CatalogResult<bool> {
        projects::delete(&self.pool, tenant, id).await
    }

    async fn create_project_asset(&self, asset: &NewProjectAsset) -> CatalogResult<ProjectAsset> {
        projects::create_asset(&self.pool, asset).await
    }

    async fn project_assets(&self, query: &AssetQuery) -> CatalogResult<Vec<ProjectAsset>> {
        projects::list_assets(&self.pool, query).await
    }

    async fn project_asset(
        &self,
        tenant: &ClientId,
        id: &str,
    ) -> CatalogResult<Option<ProjectAsset>> {
        projects::get_asset(&self.pool, tenant, id).await
    }

    async fn project_asset_by_key(&self, keyname: &str) -> CatalogResult<Option<ProjectAsset>> {
        projects::asset_by_key(&self.pool, keyname).await
    }

    async fn attach_asset_file(
        &self,
        tenant: &ClientId,
        id: &str,
        file: &FileId,
    ) -> CatalogResult<bool> {
        projects::attach_file(&self.pool, tenant, id, file).await
    }

    async fn delete_project_asset(
        &self,
        tenant: &ClientId,
        id: &str,
    ) -> CatalogResult<AssetRemoval> {
        projects::delete_asset(&self.pool, tenant, id).await
    }

    async fn create_generated_asset(
        &self,
        asset: &NewGeneratedAsset,
    ) -> CatalogResult<(PreloadRecord, ProjectAsset)> {
        projects::create_generated(&self.pool, asset).await
    }

    async fn create_project_script(
        &self,
        script: &NewProjectScript,
    ) -> CatalogResult<ProjectScript> {
        scripts::create(&self.pool, script).await
    }

    async fn project_scripts(
        &self,
        tenant: &ClientId,
        project_id: &str,
    ) -> CatalogResult<Vec<ProjectScript>> {
        scripts::list(&self.pool, tenant, project_id).await
    }

    async fn project_script(
        &self,
        tenant: &ClientId,
        project_id: &str,
        id: &str,
    ) -> CatalogResult<Option<ProjectScript>> {
        scripts::get(&self.pool, tenant, project_id, id).await
    }

    async fn delete_project_script(
        &self,
        tenant: &ClientId,
        project_id: &str,
        id: &str,
    ) -> CatalogResult<bool> {
        scripts::delete(&self.pool, tenant, project_id, id).await
    }

    async fn create_webhook_endpoint(
        &self,
        endpoint: &NewEndpoint,
    ) -> CatalogResult<WebhookEndpoint> {
        webhooks::create(&self.pool, endpoint).await
    }

    async fn webhook_endpoints(&self, tenant: &ClientId) -> CatalogResult<Vec<WebhookEndpoint>> {
        webhooks::list(&self.pool, tenant).await
    }

    async fn webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &str,
    ) -> CatalogResult<Option<WebhookEndpoint>> {
        webhooks::get(&self.pool, tenant, id).await
    }

    async fn update_webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &str,
        update: &EndpointUpdate,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<WebhookEndpoint>> {
        webhooks::update(&self.pool, tenant, id, update, now).await
    }

    async fn delete_webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        webhooks::delete(&self.pool, tenant, id, now).await
    }

    async fn callback_secret(
        &self,
        tenant: &ClientId,
        generate: &(dyn Fn() -> String + Sync),
    ) -> CatalogResult<String> {
        webhooks::callback_secret(&self.pool, tenant, generate).await
    }

    async fn enqueue_event(&self, event: &NewEvent) -> CatalogResult<usize> {
        webhooks::enqueue(&self.pool, event).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<DueDelivery>> {
        webhooks::claim(&self.pool, now, until, limit).await
    }

    async fn record_attempt(
        &self,
        delivery: &str,
        claimed_until: DateTime<Utc>,
        outcome: &AttemptOutcome,
    ) -> CatalogResult<bool> {
        webhooks::record(&self.pool, delivery, claimed_until, outcome).await
    }

    async fn webhook_deliveries(
        &self,
        tenant: &ClientId,
        endpoint: Option<&str>,
        limit: u32,
    ) -> CatalogResult<Vec<DeliveryRecord>> {
        webhooks::deliveries(&self.pool, tenant, endpoint, limit).await
    }

    async fn redeliver(
        &self,
        tenant: &ClientId,
        delivery: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        webhooks::redeliver(&self.pool, tenant, delivery, now).await
    }
}
