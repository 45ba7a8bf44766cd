//! Blob reference counts, ingest leases and the two-step reclaim that keeps bytes and rows in step.

use chrono::{DateTime, Utc};
use mediadrive_core::{catalog::CatalogResult, CatalogError, ContentHash};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use super::backend;
use crate::time::to_ms;

pub async fn lease(
    pool: &SqlitePool,
    hash: &ContentHash,
    size: u64,
    until: DateTime<Utc>,
) -> CatalogResult<()> {
    let leased: Option<String> = sqlx::query_scalar(
        "INSERT INTO blobs (hash, size, refcount, leases, lease_until, reclaiming, created_at)
         VALUES (?1, ?2, 0, 1, ?3, 0, ?4)
         ON CONFLICT (hash) DO UPDATE SET leases = leases + 1,
                                          lease_until = MAX(lease_until, excluded.lease_until)
         WHERE reclaiming = 0
         RETURNING hash",
    )
    .bind(hash.as_str())
    .bind(size as i64)
    .bind(to_ms(until))
    .bind(to_ms(Utc::now()))
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    leased.map(|_| ()).ok_or(CatalogError::BlobBusy)
}

pub async fn release_lease(pool: &SqlitePool, hash: &ContentHash) -> CatalogResult<()> {
    sqlx::query("UPDATE blobs SET leases = MAX(leases - 1, 0) WHERE hash = ?")
        .bind(hash.as_str())
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Drops one reference per deleted file.
pub async fn unreference(conn: &mut SqliteConnection, hash: &ContentHash) -> CatalogResult<()> {
    sqlx::query("UPDATE blobs SET refcount = MAX(refcount - 1, 0) WHERE hash = ?")
        .bind(hash.as_str())
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

fn reclaimable<'a>(qb: &mut QueryBuilder<'a, Sqlite>, now: i64, only: Option<&'a [ContentHash]>) {
    qb.push(" WHERE ((refcount = 0 AND (leases = 0 OR lease_until < ")
        .push_bind(now)
        .push(") AND reclaiming = 0)");
    // A reclaim that died between its two steps is picked up again by a full sweep.
    if only.is_none() {
        qb.push(" OR reclaiming = 1");
    }
    qb.push(")");
    if let Some(hashes) = only {
        qb.push(" AND hash IN (");
        let mut list = qb.separated(", ");
        for h in hashes {
            list.push_bind(h.as_str());
        }
        list.push_unseparated(")");
    }
}

pub async fn begin_reclaim(
    pool: &SqlitePool,
    now: DateTime<Utc>,
    only: Option<&[ContentHash]>,
    dry_run: bool,
) -> CatalogResult<Vec<ContentHash>> {
    if only.is_some_and(|h| h.is_empty()) {
        return Ok(Vec::new());
    }
    let mut qb = if dry_run {
        QueryBuilder::new("SELECT hash FROM blobs")
    } else {
        QueryBuilder::new("UPDATE blobs SET reclaiming = 1")
    };
    reclaimable(&mut qb, to_ms(now), only);
    if !dry_run {
        qb.push(" RETURNING hash");
    }
    let hashes: Vec<String> = qb
        .build_query_scalar()
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    Ok(hashes
        .iter()
        .filter_map(|h| ContentHash::parse(h))
        .collect())
}

pub async fn finish_reclaim(pool: &SqlitePool, hash: &ContentHash) -> CatalogResult<()> {
    sqlx::query("DELETE FROM blobs WHERE hash = ? AND reclaiming = 1")
        .bind(hash.as_str())
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}
