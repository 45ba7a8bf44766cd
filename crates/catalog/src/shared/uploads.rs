// Pending uploads: reservation against the quota, the single-use claim, completion.

use super::{
    backend, folders, lock_tenant, prep,
    rows::{FileRow, FILE_COLUMNS},
    usage, write_tx, Conn, Pool,
};
use crate::time::to_ms;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, FileAnnouncer},
    CatalogError, ClientId, ContentHash, FileId, FileName, FileRecord, FileStatus, FolderPath,
    MediaType, NewUpload, ResumableUpload, UploadClaim,
};

/// A pending upload whose URL lapsed no longer holds its name; a new request may take it.
pub(super) async fn drop_lapsed_pending(
    conn: &mut Conn,
    tenant: &ClientId,
    folder: &FolderPath,
    name: &FileName,
    now: DateTime<Utc>,
) -> CatalogResult<()> {
    let lapsed: Option<(i64, bool)> = sqlx::query_as(&prep(
        "DELETE FROM files
         WHERE tenant_id = ?1 AND folder = ?2 AND name = ?3 AND status = 'pending'
           AND upload_expires_at < ?4 AND (upload_claim_until IS NULL OR upload_claim_until < ?4)
         RETURNING size, temporary",
    ))
    .bind(tenant.as_str())
    .bind(folder.as_str())
    .bind(name.as_str())
    .bind(to_ms(now))
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    if let Some((size, false)) = lapsed {
        usage::adjust(conn, tenant, FileStatus::Pending, -size).await?;
    }
    Ok(())
}

pub async fn reserve(pool: &Pool, up: &NewUpload) -> CatalogResult<FileRecord> {
    let mut tx = write_tx(pool).await?;
    let file = reserve_in(&mut tx, up).await?;
    tx.commit().await.map_err(backend)?;
    Ok(file)
}

pub async fn reserve_resumable(
    pool: &Pool,
    up: &NewUpload,
    metadata: &str,
) -> CatalogResult<FileRecord> {
    let mut tx = write_tx(pool).await?;
    let file = reserve_in(&mut tx, up).await?;
    sqlx::query(&prep(
        "INSERT INTO resumable_uploads (file_id, upload_offset, metadata) VALUES (?1, 0, ?2)",
    ))
    .bind(file.id.as_str())
    .bind(metadata)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(file)
}

async fn reserve_in(tx: &mut Conn, up: &NewUpload) -> CatalogResult<FileRecord> {
    lock_tenant(tx, &up.tenant).await?;
    drop_lapsed_pending(tx, &up.tenant, &up.folder, &up.name, up.now).await?;
    let temporary = up.folder.is_temporary();
    // Temporary files do not count against the quota, but a blocked account takes no uploads at all.
    let counted = if temporary { 0 } else { up.size };
    usage::charge(
        tx,
        &up.tenant,
        FileStatus::Pending,
        counted,
        up.default_quota,
    )
    .await?;
    folders::ensure(tx, &up.tenant, &up.folder, up.now).await?;
    let now = to_ms(up.now);
    let inserted: Result<FileRow, sqlx::Error> = sqlx::query_as(&prep(&format!(
        "INSERT INTO files (id, tenant_id, folder, name, content_type, media_type, size, status,
                            temporary, created_at, updated_at, temporary_since, upload_expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10, ?11, ?12)
         RETURNING {FILE_COLUMNS}"
    )))
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(up.tenant.as_str())
    .bind(up.folder.as_str())
    .bind(up.name.as_str())
    .bind(&up.content_type)
    .bind(MediaType::from_content_type(&up.content_type).as_str())
    .bind(up.size as i64)
    .bind(temporary)
    .bind(now)
    .bind(now)
    .bind(temporary.then_some(now))
    .bind(to_ms(up.upload_expires_at))
    .fetch_one(&mut *tx)
    .await;
    let row = inserted.map_err(|e| match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => CatalogError::FileExists,
        other => backend(other),
    })?;
    row.try_into()
}

#[derive(sqlx::FromRow)]
struct ResumableRow {
    #[sqlx(flatten)]
    file: FileRow,
    upload_offset: i64,
    metadata: String,
}

pub async fn resumable(pool: &Pool, id: &FileId) -> CatalogResult<Option<ResumableUpload>> {
    // One statement, so the offset is the one of the file's status read with it.
    let row: Option<ResumableRow> = sqlx::query_as(&prep(&format!(
        "SELECT {FILE_COLUMNS}, r.upload_offset, r.metadata
         FROM files JOIN resumable_uploads r ON r.file_id = files.id WHERE files.id = ?1"
    )))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let file: FileRecord = row.file.try_into()?;
    Ok(Some(ResumableUpload {
        offset: if file.status == FileStatus::Uploaded {
            file.size
        } else {
            row.upload_offset as u64
        },
        file,
        metadata: row.metadata,
    }))
}

pub async fn advance_resumable(
    pool: &Pool,
    id: &FileId,
    from: u64,
    to: u64,
    expires_at: DateTime<Utc>,
    claimed_until: DateTime<Utc>,
) -> CatalogResult<bool> {
    let mut tx = write_tx(pool).await?;
    let held = sqlx::query(&prep(
        "UPDATE files SET upload_expires_at = ?1
         WHERE id = ?2 AND status = 'pending' AND upload_claim_until = ?3",
    ))
    .bind(to_ms(expires_at))
    .bind(id.as_str())
    .bind(to_ms(claimed_until))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if held.rows_affected() != 1 {
        return Ok(false);
    }
    let moved = sqlx::query(&prep(
        "UPDATE resumable_uploads SET upload_offset = ?1 WHERE file_id = ?2 AND upload_offset = ?3",
    ))
    .bind(to as i64)
    .bind(id.as_str())
    .bind(from as i64)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

pub async fn cancel_pending(pool: &Pool, id: &FileId) -> CatalogResult<Option<FileRecord>> {
    let Some(file) = by_id(pool, id).await? else {
        return Ok(None);
    };
    let mut tx = write_tx(pool).await?;
    lock_tenant(&mut tx, &file.tenant).await?;
    let row: Option<FileRow> = sqlx::query_as(&prep(&format!(
        "DELETE FROM files WHERE id = ?1 AND status = 'pending' RETURNING {FILE_COLUMNS}"
    )))
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let cancelled: FileRecord = row.try_into()?;
    if !cancelled.temporary {
        usage::adjust(
            &mut tx,
            &cancelled.tenant,
            FileStatus::Pending,
            -(cancelled.size as i64),
        )
        .await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(Some(cancelled))
}

pub async fn by_id(pool: &Pool, id: &FileId) -> CatalogResult<Option<FileRecord>> {
    let row: Option<FileRow> = sqlx::query_as(&prep(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE id = ?1"
    )))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(FileRecord::try_from).transpose()
}

pub async fn claim(
    pool: &Pool,
    id: &FileId,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> CatalogResult<UploadClaim> {
    let claimed: Option<FileRow> = sqlx::query_as(&prep(&format!(
        "UPDATE files SET upload_claim_until = ?1
         WHERE id = ?2 AND status = 'pending'
           AND (upload_claim_until IS NULL OR upload_claim_until < ?3)
         RETURNING {FILE_COLUMNS}"
    )))
    .bind(to_ms(until))
    .bind(id.as_str())
    .bind(to_ms(now))
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    if let Some(row) = claimed {
        return Ok(UploadClaim::Claimed(Box::new(row.try_into()?)));
    }
    Ok(match by_id(pool, id).await? {
        None => UploadClaim::Missing,
        Some(f) if f.status == FileStatus::Uploaded => UploadClaim::AlreadyUploaded,
        Some(_) => UploadClaim::InProgress,
    })
}

pub async fn renew_claim(
    pool: &Pool,
    id: &FileId,
    held: DateTime<Utc>,
    until: DateTime<Utc>,
) -> CatalogResult<bool> {
    let renewed = sqlx::query(&prep(
        "UPDATE files SET upload_claim_until = ?1
         WHERE id = ?2 AND status = 'pending' AND upload_claim_until = ?3",
    ))
    .bind(to_ms(until))
    .bind(id.as_str())
    .bind(to_ms(held))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(renewed.rows_affected() == 1)
}

pub async fn release_claim(pool: &Pool, id: &FileId, until: DateTime<Utc>) -> CatalogResult<()> {
    // Only the holder's own claim: after a takeover, the old holder must not free the new one's.
    sqlx::query(&prep(
        "UPDATE files SET upload_claim_until = NULL
         WHERE id = ?1 AND status = 'pending' AND upload_claim_until = ?2",
    ))
    .bind(id.as_str())
    .bind(to_ms(until))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub async fn complete(
    pool: &Pool,
    id: &FileId,
    blob: &ContentHash,
    now: DateTime<Utc>,
    announce: FileAnnouncer<'_>,
) -> CatalogResult<FileRecord> {
    let mut tx = write_tx(pool).await?;
    // The tenant's lock comes first here too, as in every other change to a drive.
    let tenant: Option<String> =
        sqlx::query_scalar(&prep("SELECT tenant_id FROM files WHERE id = ?1"))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
    if let Some(tenant) = tenant {
        let tenant = ClientId::parse(&tenant)
            .map_err(|_| CatalogError::Backend("corrupt client id in catalog".into()))?;
        lock_tenant(&mut tx, &tenant).await?;
    }
    let now_ms = to_ms(now);
    let row: Option<FileRow> = sqlx::query_as(&prep(&format!(
        "UPDATE files SET status = 'uploaded', blob_hash = ?1, uploaded_at = ?2, updated_at = ?2,
                          upload_expires_at = NULL, upload_claim_until = NULL
         WHERE id = ?3 AND status = 'pending'
         RETURNING {FILE_COLUMNS}"
    )))
    .bind(blob.as_str())
    .bind(now_ms)
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let file: FileRecord = match row {
        Some(row) => row.try_into()?,
        None => {
            // Deleted while its bytes were arriving: the ingest's lease is all that holds the blob.
            drop(tx);
            super::blobs::release_lease(pool, blob).await?;
            return Err(CatalogError::NotFound);
        }
    };
    let referenced = sqlx::query(&prep("UPDATE blobs SET refcount = refcount + 1, leases = CASE WHEN leases > 0 THEN leases - 1 ELSE 0 END
         WHERE hash = ?1 AND reclaim_token IS NULL",))
    .bind(blob.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if referenced.rows_affected() != 1 {
        // Unreachable while the ingest's lease holds; give the lease back all the same.
        drop(tx);
        super::blobs::release_lease(pool, blob).await?;
        return Err(CatalogError::BlobBusy);
    }
    if !file.temporary {
        let size = file.size as i64;
        usage::adjust(&mut tx, &file.tenant, FileStatus::Pending, -size).await?;
        usage::adjust(&mut tx, &file.tenant, FileStatus::Uploaded, size).await?;
    }
    super::webhooks::enqueue_in(&mut tx, &announce(&file)).await?;
    tx.commit().await.map_err(backend)?;
    Ok(file)
}
