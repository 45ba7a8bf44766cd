//! Rows as every engine returns them, and their conversion into the core's records.

use mediadrive_core::{
    ApiKeyRecord, CatalogError, ClientId, ContentHash, FileId, FileName, FileRecord, FileStatus,
    FolderPath, MediaType, Role, Tenant,
};

use crate::time::{from_ms, opt_from_ms};

pub const FILE_COLUMNS: &str =
    "id, tenant_id, folder, name, content_type, media_type, size, status, \
     temporary, blob_hash, created_at, updated_at, uploaded_at, temporary_since, upload_expires_at";

fn corrupt(what: &str) -> CatalogError {
    CatalogError::Backend(format!("corrupt {what} in catalog"))
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
    role: String,
    expires_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<KeyRow> for ApiKeyRecord {
    type Error = CatalogError;
    fn try_from(r: KeyRow) -> Result<Self, Self::Error> {
        Ok(ApiKeyRecord {
            id: r.id,
            tenant: ClientId::parse(&r.tenant_id).map_err(|_| corrupt("client id"))?,
            role: r.role.parse::<Role>().map_err(|_| corrupt("role"))?,
            expires_at: opt_from_ms(r.expires_at),
            created_at: from_ms(r.created_at),
        })
    }
}
