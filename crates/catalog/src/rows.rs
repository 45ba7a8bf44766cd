//! Rows as every engine returns them, and their conversion into the core's records.

use mediadrive_core::{
    ApiKeyRecord, AssetType, CacheEntry, CatalogError, ClientId, ContentHash, CreditReason, FileId,
    FileName, FileRecord, FileStatus, FolderPath, ItemRequest, ItemResult, ItemStatus, LedgerEntry,
    MediaType, OutputKind, OutputStatus, PreloadItem, RenderOutput, Role, Tenant,
};

use crate::time::{from_ms, opt_from_ms};

pub const FILE_COLUMNS: &str =
    "id, tenant_id, folder, name, content_type, media_type, size, status, \
     temporary, blob_hash, created_at, updated_at, uploaded_at, temporary_since, upload_expires_at";

fn corrupt(what: &str) -> CatalogError {
    CatalogError::Backend(format!("corrupt {what} in catalog"))
}

/// An id as the catalog stored it; one that does not parse means the catalog is corrupt.
pub fn stored_id<T: TryFrom<String>>(raw: String, what: &str) -> Result<T, CatalogError> {
    T::try_from(raw).map_err(|_| corrupt(what))
}

pub fn stored_opt_id<T: TryFrom<String>>(
    raw: Option<String>,
    what: &str,
) -> Result<Option<T>, CatalogError> {
    raw.map(|raw| stored_id(raw, what)).transpose()
}

#[derive(sqlx::FromRow)]
pub struct FileRow {
    id: String,
    tenant_id: String,
    folder: String,
    name: String,
    content_type: String,
    media_type: String,
    size: i64,
    status: String,
    temporary: bool,
    blob_hash: Option<String>,
    created_at: i64,
    updated_at: i64,
    uploaded_at: Option<i64>,
    temporary_since: Option<i64>,
    upload_expires_at: Option<i64>,
}

impl TryFrom<FileRow> for FileRecord {
    type Error = CatalogError;
    fn try_from(r: FileRow) -> Result<Self, Self::Error> {
        Ok(FileRecord {
            id: FileId::parse(&r.id).map_err(|_| corrupt("file id"))?,
            tenant: ClientId::parse(&r.tenant_id).map_err(|_| corrupt("client id"))?,
            folder: FolderPath::from_stored(&r.folder).map_err(|_| corrupt("folder"))?,
            name: FileName::sanitise(&r.name).map_err(|_| corrupt("file name"))?,
            content_type: r.content_type,
            media_type: MediaType::parse(&r.media_type).ok_or_else(|| corrupt("media type"))?,
            size: r.size as u64,
            status: FileStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            temporary: r.temporary,
            blob: match r.blob_hash {
                Some(h) => Some(ContentHash::parse(&h).ok_or_else(|| corrupt("blob hash"))?),
                None => None,
            },
            created_at: from_ms(r.created_at),
            updated_at: from_ms(r.updated_at),
            uploaded_at: opt_from_ms(r.uploaded_at),
            temporary_since: opt_from_ms(r.temporary_since),
            upload_expires_at: opt_from_ms(r.upload_expires_at),
        })
    }
}

pub fn files(rows: Vec<FileRow>) -> Result<Vec<FileRecord>, CatalogError> {
    rows.into_iter().map(FileRecord::try_from).collect()
}

#[derive(sqlx::FromRow)]
pub struct TenantRow {
    id: String,
    quota: Option<i64>,
    temp_quota: Option<i64>,
    storage_blocked: bool,
    blocked_at: Option<i64>,
    credits: i64,
    used_bytes: i64,
    pending_bytes: i64,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = CatalogError;
    fn try_from(r: TenantRow) -> Result<Self, Self::Error> {
        Ok(Tenant {
            id: ClientId::parse(&r.id).map_err(|_| corrupt("client id"))?,
            quota: r.quota.map(|q| q as u64),
            temp_quota: r.temp_quota.map(|q| q as u64),
            storage_blocked: r.storage_blocked,
            blocked_at: opt_from_ms(r.blocked_at),
            credits: r.credits,
            used_bytes: r.used_bytes.max(0) as u64,
            pending_bytes: r.pending_bytes.max(0) as u64,
            created_at: from_ms(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    id: String,
    tenant_id: String,
    name: String,
    role: String,
    expires_at: Option<i64>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<KeyRow> for ApiKeyRecord {
    type Error = CatalogError;
    fn try_from(r: KeyRow) -> Result<Self, Self::Error> {
        Ok(ApiKeyRecord {
            id: stored_id(r.id, "API key id")?,
            tenant: ClientId::parse(&r.tenant_id).map_err(|_| corrupt("client id"))?,
            name: r.name,
            role: r.role.parse::<Role>().map_err(|_| corrupt("role"))?,
            expires_at: opt_from_ms(r.expires_at),
            created_at: from_ms(r.created_at),
            last_used_at: opt_from_ms(r.last_used_at),
            revoked_at: opt_from_ms(r.revoked_at),
        })
    }
}

pub const CACHE_COLUMNS: &str =
    "id, tenant_id, fingerprint, asset_type, model, source, blob_hash, content_type, extension, \
     size, width, height, duration_ms, generated_at, expires_at, persisted_file_id";

#[derive(sqlx::FromRow)]
pub struct CacheRow {
    id: String,
    tenant_id: String,
    fingerprint: String,
    asset_type: String,
    model: String,
    source: String,
    blob_hash: Option<String>,
    content_type: String,
    extension: String,
    size: i64,
    width: Option<i64>,
    height: Option<i64>,
    duration_ms: Option<i64>,
    generated_at: i64,
    expires_at: i64,
    pub persisted_file_id: Option<String>,
}

impl TryFrom<CacheRow> for CacheEntry {
    type Error = CatalogError;
    fn try_from(r: CacheRow) -> Result<Self, Self::Error> {
        Ok(CacheEntry {
            id: stored_id(r.id, "cache entry id")?,
            tenant: ClientId::parse(&r.tenant_id).map_err(|_| corrupt("client id"))?,
            fingerprint: r.fingerprint,
            asset_type: AssetType::parse(&r.asset_type).ok_or_else(|| corrupt("asset type"))?,
            model: r.model,
            source: r.source,
            blob: match r.blob_hash {
                Some(h) => Some(ContentHash::parse(&h).ok_or_else(|| corrupt("blob hash"))?),
                None => None,
            },
            content_type: r.content_type,
            extension: r.extension,
            size: r.size.max(0) as u64,
            width: r.width.map(|v| v as u32),
            height: r.height.map(|v| v as u32),
            duration_ms: r.duration_ms.map(|v| v as u64),
            generated_at: from_ms(r.generated_at),
            expires_at: from_ms(r.expires_at),
            persisted: None,
        })
    }
}

pub const ITEM_COLUMNS: &str =
    "preload_id, position, tenant_id, item_id, asset_type, model, source, fingerprint, \
     save_to_media, status, error, url_path, persistent, expires_at, width, height, size, \
     duration_ms, warning";

#[derive(sqlx::FromRow)]
pub struct ItemRow {
    preload_id: String,
    position: i64,
    tenant_id: String,
    item_id: Option<String>,
    asset_type: String,
    model: String,
    source: String,
    fingerprint: String,
    save_to_media: bool,
    status: String,
    error: Option<String>,
    url_path: Option<String>,
    persistent: Option<bool>,
    expires_at: Option<i64>,
    width: Option<i64>,
    height: Option<i64>,
    size: Option<i64>,
    duration_ms: Option<i64>,
    warning: Option<String>,
}

impl TryFrom<ItemRow> for PreloadItem {
    type Error = CatalogError;
    fn try_from(r: ItemRow) -> Result<Self, Self::Error> {
        let result = r.url_path.map(|url_path| ItemResult {
            url_path,
            persistent: r.persistent.unwrap_or(false),
            expires_at: opt_from_ms(r.expires_at),
            width: r.width.map(|v| v as u32),
            height: r.height.map(|v| v as u32),
            size: r.size.map(|v| v as u64),
            duration_ms: r.duration_ms.map(|v| v as u64),
            warning: r.warning,
        });
        Ok(PreloadItem {
            preload_id: stored_id(r.preload_id, "preload id")?,
            position: r.position as u32,
            tenant: ClientId::parse(&r.tenant_id).map_err(|_| corrupt("client id"))?,
            request: ItemRequest {
                item_id: r.item_id,
                asset_type: AssetType::parse(&r.asset_type).ok_or_else(|| corrupt("asset type"))?,
                model: r.model,
                source: r.source,
                fingerprint: r.fingerprint,
                save_to_media: r.save_to_media,
            },
            status: ItemStatus::parse(&r.status).ok_or_else(|| corrupt("item status"))?,
            error: r.error,
            result,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct LedgerRow {
    amount: i64,
    balance: i64,
    reason: String,
    model: Option<String>,
    preload_id: Option<String>,
    position: Option<i64>,
    created_at: i64,
}

impl TryFrom<LedgerRow> for LedgerEntry {
    type Error = CatalogError;
    fn try_from(r: LedgerRow) -> Result<Self, Self::Error> {
        Ok(LedgerEntry {
            amount: r.amount,
            balance: r.balance,
            reason: CreditReason::parse(&r.reason).ok_or_else(|| corrupt("credit reason"))?,
            model: r.model,
            preload_id: stored_opt_id(r.preload_id, "preload id")?,
            position: r.position.map(|p| p as u32),
            created_at: from_ms(r.created_at),
        })
    }
}

/// Columns of `render_outputs o` joined with `renders r`.
pub const OUTPUT_COLUMNS: &str =
    "o.id, o.render_id, o.tenant_id, o.kind, o.src, o.stem, o.status, o.error, o.cache_entry_id, \
     o.hosted_file_id, r.host, r.callback_url, o.created_at, o.updated_at";

#[derive(sqlx::FromRow)]
pub struct OutputRow {
    id: String,
    render_id: String,
    tenant_id: String,
    kind: String,
    src: Option<String>,
    stem: Option<String>,
    status: String,
    error: Option<String>,
    cache_entry_id: Option<String>,
    hosted_file_id: Option<String>,
    host: bool,
    callback_url: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<OutputRow> for RenderOutput {
    type Error = CatalogError;
    fn try_from(r: OutputRow) -> Result<Self, Self::Error> {
        let mut status = OutputStatus::parse(&r.status).ok_or_else(|| corrupt("output status"))?;
        // The hosted file was deleted from the drive.
        if status == OutputStatus::Ready && r.hosted_file_id.is_none() {
            status = OutputStatus::Deleted;
        }
        Ok(RenderOutput {
            id: stored_id(r.id, "output id")?,
            render_id: stored_id(r.render_id, "render id")?,
            tenant: ClientId::parse(&r.tenant_id).map_err(|_| corrupt("client id"))?,
            kind: OutputKind::parse(&r.kind).ok_or_else(|| corrupt("output kind"))?,
            src: r.src,
            stem: r.stem,
            status,
            error: r.error,
            cache_entry: stored_opt_id(r.cache_entry_id, "cache entry id")?,
            hosted_file: match r.hosted_file_id {
                Some(id) => Some(FileId::parse(&id).map_err(|_| corrupt("file id"))?),
                None => None,
            },
            host: r.host,
            callback: r.callback_url,
            created_at: from_ms(r.created_at),
            updated_at: from_ms(r.updated_at),
        })
    }
}
