// The temporary cache of generated assets, and their promotion into the drive without a byte copy.

use async_trait::async_trait;
use mediadrive_core::{
    catalog::{CacheStore, CatalogResult},
    CacheEntry, CacheEntryId, CatalogError, ClientId, ContentHash, FileId, FileRecord, FileStatus,
    MediaType, NewCacheEntry, Promotion, SweepRule,
};

use sqlx::QueryBuilder;

use super::{
    backend, lock_tenant,
    rows::{CacheRow, FileRow, CACHE_COLUMNS, FILE_COLUMNS},
    steps::{files, folders, refs, usage},
    write_tx, Backend, Conn, Db, Pool,
};
use crate::time::to_ms;

/// Entries purged per round, so a large purge never holds a lock for long.
const BATCH: i64 = 500;

/// An entry with its backreference resolved to the drive file, if that file is still there.
async fn resolve(conn: &mut Conn, row: CacheRow) -> CatalogResult<CacheEntry> {
    let file_id = row.persisted_file_id.clone();
    let mut entry = CacheEntry::try_from(row)?;
    if let Some(id) = file_id {
        let file: Option<FileRow> = sqlx::query_as(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND status = 'uploaded'"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
        entry.persisted = file.map(FileRecord::try_from).transpose()?;
    }
    Ok(entry)
}

async fn find(
    conn: &mut Conn,
    condition: &str,
    binds: &[&str],
) -> CatalogResult<Option<CacheEntry>> {
    let sql = format!("SELECT {CACHE_COLUMNS} FROM cache_entries WHERE {condition}");
    let mut query = sqlx::query_as::<_, CacheRow>(&sql);
    for value in binds {
        query = query.bind(*value);
    }
    let row = query.fetch_optional(&mut *conn).await.map_err(backend)?;
    match row {
        Some(row) => Ok(Some(resolve(conn, row).await?)),
        None => Ok(None),
    }
}

/// The cache entries drive files were persisted from, by file: where generated files came from.
pub async fn of_files(pool: &Pool, files: &[FileId]) -> CatalogResult<Vec<(FileId, CacheEntry)>> {
    let mut found = Vec::new();
    for chunk in files.chunks(500) {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {CACHE_COLUMNS} FROM cache_entries WHERE persisted_file_id IN ("
        ));
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.as_str());
        }
        list.push_unseparated(")");
        let rows: Vec<CacheRow> = qb.build_query_as().fetch_all(pool).await.map_err(backend)?;
        for row in rows {
            let file = row
                .persisted_file_id
                .as_deref()
                .and_then(|id| FileId::parse(id).ok())
                .ok_or_else(|| CatalogError::Backend("corrupt file id in catalog".into()))?;
            found.push((file, CacheEntry::try_from(row)?));
        }
    }
    Ok(found)
}

pub async fn store(
    pool: &Pool,
    e: &NewCacheEntry,
) -> CatalogResult<(CacheEntry, Option<ContentHash>)> {
    let mut tx = write_tx(pool).await?;
    lock_tenant(&mut tx, &e.tenant).await?;
    let earlier: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT id, blob_hash FROM cache_entries WHERE tenant_id = $1 AND fingerprint = $2",
    )
    .bind(e.tenant.as_str())
    .bind(&e.fingerprint)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let (id, replaced) = match earlier {
        Some((id, old)) => (id, old.and_then(|h| ContentHash::parse(&h))),
        None => (uuid::Uuid::new_v4().simple().to_string(), None),
    };
    // Blob rows are locked in hash order, as everywhere: blobs are shared across tenants, so the
    // tenant lock alone does not keep two transactions from taking them in opposite orders.
    let old_first = replaced.as_ref().is_some_and(|old| *old < e.blob);
    if old_first {
        refs::unreference(&mut tx, replaced.as_ref().expect("checked"), 1).await?;
    }
    // The lease the generation took becomes the entry's reference.
    let referenced = sqlx::query(
        "UPDATE blobs SET refcount = refcount + 1,
                          leases = CASE WHEN leases > 0 THEN leases - 1 ELSE 0 END
         WHERE hash = $1 AND reclaim_token IS NULL",
    )
    .bind(e.blob.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if referenced.rows_affected() != 1 {
        return Err(CatalogError::BlobBusy);
    }
    if let Some(old) = replaced.as_ref().filter(|_| !old_first) {
        refs::unreference(&mut tx, old, 1).await?;
    }
    sqlx::query(
        "INSERT INTO cache_entries (id, tenant_id, fingerprint, asset_type, model, source, blob_hash,
                                    content_type, extension, size, width, height, duration_ms,
                                    generated_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (id) DO UPDATE SET
             blob_hash = excluded.blob_hash, content_type = excluded.content_type,
             extension = excluded.extension, size = excluded.size, width = excluded.width,
             height = excluded.height, duration_ms = excluded.duration_ms,
             generated_at = excluded.generated_at, expires_at = excluded.expires_at",
    )
    .bind(&id)
    .bind(e.tenant.as_str())
    .bind(&e.fingerprint)
    .bind(e.asset_type.as_str())
    .bind(&e.model)
    .bind(&e.source)
    .bind(e.blob.as_str())
    .bind(&e.content_type)
    .bind(&e.extension)
    .bind(e.size as i64)
    .bind(e.width.map(i64::from))
    .bind(e.height.map(i64::from))
    .bind(e.duration_ms.map(|v| v as i64))
    .bind(to_ms(e.generated_at))
    .bind(to_ms(e.expires_at))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    // Checked with the entry in place, so bytes it replaces are not counted twice; failing here
    // rolls the whole store back.
    usage::ensure_temp_room(&mut tx, &e.tenant, 0, e.default_quota).await?;
    let entry = find(&mut tx, "id = $1", &[&id])
        .await?
        .ok_or(CatalogError::NotFound)?;
    tx.commit().await.map_err(backend)?;
    Ok((entry, replaced.filter(|old| *old != e.blob)))
}

/// Records the backreference from a cache entry to the file it was persisted as.
async fn link(conn: &mut Conn, entry_id: &CacheEntryId, file: &FileRecord) -> CatalogResult<()> {
    sqlx::query("UPDATE cache_entries SET persisted_file_id = $1 WHERE id = $2")
        .bind(file.id.as_str())
        .bind(entry_id.as_str())
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

const EXPIRED: &str = "blob_hash IS NOT NULL AND expires_at < $1";

pub async fn purge(pool: &Pool, rule: &SweepRule) -> CatalogResult<Vec<CacheEntry>> {
    let cutoff = to_ms(rule.cache_cutoff);
    if rule.dry_run {
        let rows: Vec<CacheRow> = sqlx::query_as(&format!(
            "SELECT {CACHE_COLUMNS} FROM cache_entries WHERE {EXPIRED} ORDER BY expires_at"
        ))
        .bind(cutoff)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        return rows.into_iter().map(CacheEntry::try_from).collect();
    }
    let mut purged = Vec::new();
    loop {
        let candidates: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT tenant_id, id FROM cache_entries WHERE {EXPIRED} LIMIT $2"
        ))
        .bind(cutoff)
        .bind(BATCH)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        if candidates.is_empty() {
            return Ok(purged);
        }
        for (tenant, id) in candidates {
            let tenant = ClientId::parse(&tenant)
                .map_err(|_| CatalogError::Backend("corrupt client id".into()))?;
            let mut tx = write_tx(pool).await?;
            lock_tenant(&mut tx, &tenant).await?;
            // Checked again: the entry may have been regenerated since it was picked.
            let row: Option<CacheRow> = sqlx::query_as(&format!(
                "SELECT {CACHE_COLUMNS} FROM cache_entries WHERE {EXPIRED} AND id = $2"
            ))
            .bind(cutoff)
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            let Some(row) = row else { continue };
            let entry = CacheEntry::try_from(row)?;
            sqlx::query("UPDATE cache_entries SET blob_hash = NULL WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            if let Some(blob) = &entry.blob {
                refs::unreference(&mut tx, blob, 1).await?;
            }
            tx.commit().await.map_err(backend)?;
            purged.push(entry);
        }
    }
}

#[async_trait]
impl CacheStore for Backend {
    async fn cache_entry(
        &self,
        tenant: &ClientId,
        fingerprint: &str,
    ) -> CatalogResult<Option<CacheEntry>> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        let condition = "tenant_id = $1 AND fingerprint = $2";
        find(&mut conn, condition, &[tenant.as_str(), fingerprint]).await
    }

    async fn cache_entry_by_id(&self, id: &CacheEntryId) -> CatalogResult<Option<CacheEntry>> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        find(&mut conn, "id = $1", &[id.as_str()]).await
    }

    async fn cache_entries_of_files(
        &self,
        files: &[FileId],
    ) -> CatalogResult<Vec<(FileId, CacheEntry)>> {
        of_files(&self.pool, files).await
    }

    async fn store_cache_entry(
        &self,
        entry: &NewCacheEntry,
    ) -> CatalogResult<(CacheEntry, Option<ContentHash>)> {
        store(&self.pool, entry).await
    }

    async fn promote_cache_entry(&self, p: &Promotion) -> CatalogResult<FileRecord> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &p.tenant).await?;
        let entry = find(
            &mut tx,
            "id = $1 AND tenant_id = $2",
            &[p.entry_id.as_str(), p.tenant.as_str()],
        )
        .await?
        .ok_or(CatalogError::NotFound)?;
        if let Some(file) = entry.persisted {
            return Ok(file);
        }
        let blob = entry.blob.clone().ok_or(CatalogError::NotFound)?;
        for name in &p.names {
            files::drop_lapsed_pending(&mut tx, &p.tenant, &p.folder, name, p.now).await?;
            match files::find(&mut tx, &p.tenant, &p.folder, name).await? {
                // The same asset is already there (an earlier persist, or an upload of these bytes).
                Some(file) if p.share && file.blob.as_ref() == Some(&blob) => {
                    link(&mut tx, &entry.id, &file).await?;
                    tx.commit().await.map_err(backend)?;
                    return Ok(file);
                }
                Some(_) => continue,
                None => {}
            }
            usage::charge(
                &mut tx,
                &p.tenant,
                FileStatus::Uploaded,
                entry.size,
                p.default_quota,
            )
            .await?;
            folders::ensure(&mut tx, &p.tenant, &p.folder, p.now).await?;
            let now = to_ms(p.now);
            let row: FileRow = sqlx::query_as(&format!(
                "INSERT INTO files (id, tenant_id, folder, name, content_type, media_type, size, status,
                                    temporary, blob_hash, created_at, updated_at, uploaded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'uploaded', FALSE, $8, $9, $9, $9)
                 RETURNING {FILE_COLUMNS}"
            ))
            .bind(uuid::Uuid::new_v4().simple().to_string())
            .bind(p.tenant.as_str())
            .bind(p.folder.as_str())
            .bind(name.as_str())
            .bind(&entry.content_type)
            .bind(MediaType::from_content_type(&entry.content_type).as_str())
            .bind(entry.size as i64)
            .bind(blob.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            let file = FileRecord::try_from(row)?;
            // The entry holds its own reference, so the blob cannot be in reclaim here.
            sqlx::query("UPDATE blobs SET refcount = refcount + 1 WHERE hash = $1")
                .bind(blob.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            link(&mut tx, &entry.id, &file).await?;
            tx.commit().await.map_err(backend)?;
            return Ok(file);
        }
        Err(CatalogError::FileExists)
    }
}
