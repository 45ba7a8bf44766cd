// Drive files as other aggregates touch them: finding one by name, freeing a lapsed name,
// removing rows with their references and announcements.

use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, FileAnnouncer},
    ClientId, ContentHash, FileId, FileName, FileRecord, FileStatus, FolderPath,
};

use super::{
    backend, outbox, refs,
    rows::{FileRow, FILE_COLUMNS},
    usage, Conn, Pool,
};
use crate::time::to_ms;

pub async fn find(
    conn: &mut Conn,
    tenant: &ClientId,
    folder: &FolderPath,
    name: &FileName,
) -> CatalogResult<Option<FileRecord>> {
    let row: Option<FileRow> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND folder = $2 AND name = $3"
    ))
    .bind(tenant.as_str())
    .bind(folder.as_str())
    .bind(name.as_str())
    .fetch_optional(conn)
    .await
    .map_err(backend)?;
    row.map(FileRecord::try_from).transpose()
}

/// A pending upload whose URL lapsed no longer holds its name; a new request may take it.
pub async fn drop_lapsed_pending(
    conn: &mut Conn,
    tenant: &ClientId,
    folder: &FolderPath,
    name: &FileName,
    now: DateTime<Utc>,
) -> CatalogResult<()> {
    let lapsed: Option<(i64, bool)> = sqlx::query_as(
        "DELETE FROM files
         WHERE tenant_id = $1 AND folder = $2 AND name = $3 AND status = 'pending'
           AND upload_expires_at < $4 AND (upload_claim_until IS NULL OR upload_claim_until < $4)
         RETURNING size, temporary",
    )
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

/// Deletes the rows and drops their blob references; the caller reclaims the bytes.
/// Drops the blob references of deleted files and announces the uploaded ones.
pub async fn remove(
    conn: &mut Conn,
    files: &[FileRecord],
    announce: FileAnnouncer<'_>,
) -> CatalogResult<()> {
    // One update per blob, in hash order: concurrent deletes lock blob rows in the same order.
    let mut counts: std::collections::BTreeMap<&ContentHash, i64> = Default::default();
    for hash in files.iter().filter_map(|f| f.blob.as_ref()) {
        *counts.entry(hash).or_default() += 1;
    }
    for (hash, n) in counts {
        refs::unreference(conn, hash, n).await?;
    }
    for file in files.iter().filter(|f| f.status == FileStatus::Uploaded) {
        outbox::enqueue_in(conn, &announce(file)).await?;
    }
    Ok(())
}

pub async fn by_id(pool: &Pool, id: &FileId) -> CatalogResult<Option<FileRecord>> {
    let row: Option<FileRow> =
        sqlx::query_as(&format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    row.map(FileRecord::try_from).transpose()
}
