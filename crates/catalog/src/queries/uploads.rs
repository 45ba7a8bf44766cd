// Pending uploads: reservation against the quota, the single-use claim, completion.

use super::{
    backend, lock_tenant,
    rows::{FileRow, FILE_COLUMNS},
    steps::{files, folders, outbox, refs, usage},
    write_tx, Backend, Conn,
};
use crate::time::to_ms;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, FileAnnouncer, UploadStore},
    CatalogError, ClientId, ContentHash, FileId, FileRecord, FileStatus, MediaType, NewUpload,
    ResumableUpload, UploadClaim,
};

async fn reserve_in(tx: &mut Conn, up: &NewUpload) -> CatalogResult<FileRecord> {
    lock_tenant(tx, &up.tenant).await?;
    files::drop_lapsed_pending(tx, &up.tenant, &up.folder, &up.name, up.now).await?;
    let temporary = up.folder.is_temporary();
    // Temporary files do not count against the drive quota but against the temp budget; a blocked
    // account takes no uploads at all.
    let counted = if temporary { 0 } else { up.size };
    if temporary {
        usage::ensure_temp_room(tx, &up.tenant, up.size, up.default_quota).await?;
    }
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
    let inserted: Result<FileRow, sqlx::Error> = sqlx::query_as(&format!(
        "INSERT INTO files (id, tenant_id, folder, name, content_type, media_type, size, status,
                            temporary, created_at, updated_at, temporary_since, upload_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11, $12)
         RETURNING {FILE_COLUMNS}"
    ))
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

#[async_trait]
impl UploadStore for Backend {
    async fn reserve_upload(&self, up: &NewUpload) -> CatalogResult<FileRecord> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        let file = reserve_in(&mut tx, up).await?;
        tx.commit().await.map_err(backend)?;
        Ok(file)
    }

    async fn claim_upload(
        &self,
        id: &FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<UploadClaim> {
        let pool = &self.pool;
        let claimed: Option<FileRow> = sqlx::query_as(&format!(
            "UPDATE files SET upload_claim_until = $1
             WHERE id = $2 AND status = 'pending'
               AND (upload_claim_until IS NULL OR upload_claim_until < $3)
             RETURNING {FILE_COLUMNS}"
        ))
        .bind(to_ms(until))
        .bind(id.as_str())
        .bind(to_ms(now))
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
        if let Some(row) = claimed {
            return Ok(UploadClaim::Claimed(Box::new(row.try_into()?)));
        }
        Ok(match files::by_id(pool, id).await? {
            None => UploadClaim::Missing,
            Some(f) if f.status == FileStatus::Uploaded => UploadClaim::AlreadyUploaded,
            Some(_) => UploadClaim::InProgress,
        })
    }

    async fn release_upload_claim(&self, id: &FileId, until: DateTime<Utc>) -> CatalogResult<()> {
        let pool = &self.pool;
        // Only the holder's own claim: after a takeover, the old holder must not free the new one's.
        sqlx::query(
            "UPDATE files SET upload_claim_until = NULL
             WHERE id = $1 AND status = 'pending' AND upload_claim_until = $2",
        )
        .bind(id.as_str())
        .bind(to_ms(until))
        .execute(pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn renew_upload_claim(
        &self,
        id: &FileId,
        held: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let renewed = sqlx::query(
            "UPDATE files SET upload_claim_until = $1
             WHERE id = $2 AND status = 'pending' AND upload_claim_until = $3",
        )
        .bind(to_ms(until))
        .bind(id.as_str())
        .bind(to_ms(held))
        .execute(pool)
        .await
        .map_err(backend)?;
        Ok(renewed.rows_affected() == 1)
    }

    async fn reserve_resumable_upload(
        &self,
        up: &NewUpload,
        metadata: &str,
    ) -> CatalogResult<FileRecord> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        let file = reserve_in(&mut tx, up).await?;
        sqlx::query(
            "INSERT INTO resumable_uploads (file_id, upload_offset, metadata) VALUES ($1, 0, $2)",
        )
        .bind(file.id.as_str())
        .bind(metadata)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(file)
    }

    async fn resumable_upload(&self, id: &FileId) -> CatalogResult<Option<ResumableUpload>> {
        let pool = &self.pool;
        // One statement, so the offset is the one of the file's status read with it.
        let row: Option<ResumableRow> = sqlx::query_as(&format!(
            "SELECT {FILE_COLUMNS}, r.upload_offset, r.metadata
             FROM files JOIN resumable_uploads r ON r.file_id = files.id WHERE files.id = $1"
        ))
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

    async fn advance_resumable_upload(
        &self,
        id: &FileId,
        from: u64,
        to: u64,
        expires_at: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        let held = sqlx::query(
            "UPDATE files SET upload_expires_at = $1
             WHERE id = $2 AND status = 'pending' AND upload_claim_until = $3",
        )
        .bind(to_ms(expires_at))
        .bind(id.as_str())
        .bind(to_ms(claimed_until))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if held.rows_affected() != 1 {
            return Ok(false);
        }
        let moved = sqlx::query(
            "UPDATE resumable_uploads SET upload_offset = $1 WHERE file_id = $2 AND upload_offset = $3",
        )
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

    async fn grow_pending_upload(
        &self,
        id: &FileId,
        size: u64,
        default_quota: Option<u64>,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let Some(file) = files::by_id(pool, id).await? else {
            return Ok(false);
        };
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &file.tenant).await?;
        // Read again under the lock: the size charged must be the one being replaced.
        let held: Option<(i64, bool)> = sqlx::query_as(
            "SELECT size, temporary FROM files WHERE id = $1 AND status = 'pending'",
        )
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some((held, temporary)) = held else {
            return Ok(false);
        };
        let adding = size.saturating_sub(held.max(0) as u64);
        if adding == 0 {
            return Ok(true);
        }
        if temporary {
            usage::ensure_temp_room(&mut tx, &file.tenant, adding, default_quota).await?;
        } else {
            usage::charge(
                &mut tx,
                &file.tenant,
                FileStatus::Pending,
                adding,
                default_quota,
            )
            .await?;
        }
        sqlx::query("UPDATE files SET size = $1 WHERE id = $2")
            .bind(size as i64)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn cancel_pending_upload(&self, id: &FileId) -> CatalogResult<Option<FileRecord>> {
        let pool = &self.pool;
        let Some(file) = files::by_id(pool, id).await? else {
            return Ok(None);
        };
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &file.tenant).await?;
        let row: Option<FileRow> = sqlx::query_as(&format!(
            "DELETE FROM files WHERE id = $1 AND status = 'pending' RETURNING {FILE_COLUMNS}"
        ))
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

    async fn complete_upload(
        &self,
        id: &FileId,
        blob: &ContentHash,
        now: DateTime<Utc>,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<FileRecord> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        // The tenant's lock comes first here too, as in every other change to a drive.
        let tenant: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM files WHERE id = $1")
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
        let row: Option<FileRow> = sqlx::query_as(&format!(
            "UPDATE files SET status = 'uploaded', blob_hash = $1, uploaded_at = $2, updated_at = $2,
                              upload_expires_at = NULL, upload_claim_until = NULL
             WHERE id = $3 AND status = 'pending'
             RETURNING {FILE_COLUMNS}"
        ))
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
                refs::release_lease(pool, blob).await?;
                return Err(CatalogError::NotFound);
            }
        };
        let referenced = sqlx::query("UPDATE blobs SET refcount = refcount + 1, leases = CASE WHEN leases > 0 THEN leases - 1 ELSE 0 END
             WHERE hash = $1 AND reclaim_token IS NULL",)
        .bind(blob.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if referenced.rows_affected() != 1 {
            // Unreachable while the ingest's lease holds; give the lease back all the same.
            drop(tx);
            refs::release_lease(pool, blob).await?;
            return Err(CatalogError::BlobBusy);
        }
        if !file.temporary {
            let size = file.size as i64;
            usage::adjust(&mut tx, &file.tenant, FileStatus::Pending, -size).await?;
            usage::adjust(&mut tx, &file.tenant, FileStatus::Uploaded, size).await?;
        }
        outbox::enqueue_in(&mut tx, &announce(&file)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(file)
    }
}
