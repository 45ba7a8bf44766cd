// The per-tenant byte counters behind the quota, kept in the same transaction as the change they count.

use super::{backend, Conn};
use mediadrive_core::{catalog::CatalogResult, CatalogError, ClientId, FileStatus, TempUsage};

fn column(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Pending => "pending_bytes",
        FileStatus::Uploaded => "used_bytes",
    }
}

/// Adds `bytes` to the counter for `status` if the tenant is not blocked and stays within its quota
/// (adding nothing only checks the block: a tenant over its quota may still use `temp`).
/// One conditional UPDATE, so concurrent uploads cannot overshoot the quota together.
pub async fn charge(
    conn: &mut Conn,
    tenant: &ClientId,
    status: FileStatus,
    bytes: u64,
    default_quota: Option<u64>,
) -> CatalogResult<()> {
    let sql = format!(
        "UPDATE tenants SET {col} = {col} + $1
         WHERE id = $2 AND storage_blocked = FALSE
           AND ($1 = 0 OR used_bytes + pending_bytes + $1 <= COALESCE(quota, $3))",
        col = column(status)
    );
    let done = sqlx::query(&sql)
        .bind(bytes as i64)
        .bind(tenant.as_str())
        .bind(default_quota.map_or(i64::MAX, |q| q as i64))
        .execute(conn)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(CatalogError::StorageBlocked)
    }
}

/// Adds (or with a negative `delta`, removes) bytes without any check: for releases and transitions.
pub async fn adjust(
    conn: &mut Conn,
    tenant: &ClientId,
    status: FileStatus,
    delta: i64,
) -> CatalogResult<()> {
    let sql = format!(
        "UPDATE tenants SET {col} = CASE WHEN {col} + $1 > 0 THEN {col} + $1 ELSE 0 END WHERE id = $2",
        col = column(status)
    );
    sqlx::query(&sql)
        .bind(delta)
        .bind(tenant.as_str())
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Recounts both counters from the files themselves, after changes to many files at once.
pub async fn recompute(conn: &mut Conn, tenant: &ClientId) -> CatalogResult<()> {
    sqlx::query(
        "UPDATE tenants SET
            used_bytes = (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files
                          WHERE tenant_id = $1 AND temporary = FALSE AND status = 'uploaded'),
            pending_bytes = (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files
                             WHERE tenant_id = $1 AND temporary = FALSE AND status = 'pending')
         WHERE id = $1",
    )
    .bind(tenant.as_str())
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Fails when the tenant now holds more than it may: used after a bulk change that added bytes.
pub async fn ensure_within_quota(
    conn: &mut Conn,
    tenant: &ClientId,
    default_quota: Option<u64>,
) -> CatalogResult<()> {
    let ok: bool = sqlx::query_scalar(
        "SELECT storage_blocked = FALSE AND used_bytes + pending_bytes <= COALESCE(quota, $2)
         FROM tenants WHERE id = $1",
    )
    .bind(tenant.as_str())
    .bind(default_quota.map_or(i64::MAX, |q| q as i64))
    .fetch_one(conn)
    .await
    .map_err(backend)?;
    if ok {
        Ok(())
    } else {
        Err(CatalogError::StorageBlocked)
    }
}

/// The bytes a tenant's non-temporary files count for, pending and uploaded together.
pub async fn counted_bytes(conn: &mut Conn, tenant: &ClientId) -> CatalogResult<i64> {
    sqlx::query_scalar("SELECT used_bytes + pending_bytes FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_one(conn)
        .await
        .map_err(backend)
}

/// What the tenant keeps outside the drive quota and its budget for it. Summed from the rows
/// themselves: checked under the tenant's lock, the sum cannot be raced past the budget.
pub async fn temp(
    conn: &mut Conn,
    tenant: &ClientId,
    default_quota: Option<u64>,
) -> CatalogResult<TempUsage> {
    let (used, quota): (i64, Option<i64>) = sqlx::query_as(
        "SELECT
            CAST((SELECT COALESCE(SUM(size), 0) FROM files
                  WHERE tenant_id = $1 AND temporary = TRUE)
               + (SELECT COALESCE(SUM(size), 0) FROM cache_entries
                  WHERE tenant_id = $1 AND blob_hash IS NOT NULL AND persisted_file_id IS NULL)
             AS BIGINT),
            COALESCE(temp_quota, quota, $2)
         FROM tenants WHERE id = $1",
    )
    .bind(tenant.as_str())
    .bind(default_quota.map(|q| q as i64))
    .fetch_optional(conn)
    .await
    .map_err(backend)?
    .ok_or(CatalogError::NotFound)?;
    Ok(TempUsage {
        used_bytes: used.max(0) as u64,
        quota: quota.map(|q| q.max(0) as u64),
    })
}

/// Fails unless `adding` more bytes outside the drive quota keep the tenant within its temp
/// budget. Called under the tenant's lock, before the bytes are recorded.
pub async fn ensure_temp_room(
    conn: &mut Conn,
    tenant: &ClientId,
    adding: u64,
    default_quota: Option<u64>,
) -> CatalogResult<()> {
    let usage = temp(conn, tenant, default_quota).await?;
    match usage.quota {
        Some(quota) if usage.used_bytes.saturating_add(adding) > quota => {
            Err(CatalogError::TempStorageFull)
        }
        _ => Ok(()),
    }
}
