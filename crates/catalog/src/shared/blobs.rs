// Blob reference counts, ingest leases and the two-step reclaim that keeps bytes and rows in step.

use chrono::{DateTime, Utc};
use mediadrive_core::{catalog::CatalogResult, BlobReclaim, CatalogError, ContentHash};
use sqlx::QueryBuilder;

use super::{backend, prep, Conn, Db, Pool};
use crate::time::to_ms;

pub async fn lease(
    pool: &Pool,
    hash: &ContentHash,
    size: u64,
    until: DateTime<Utc>,
) -> CatalogResult<()> {
    let leased: Option<String> = sqlx::query_scalar(&prep("INSERT INTO blobs (hash, size, refcount, leases, lease_until, created_at)
         VALUES (?1, ?2, 0, 1, ?3, ?4)
         ON CONFLICT (hash) DO UPDATE SET leases = blobs.leases + 1,
                                          lease_until = CASE WHEN blobs.lease_until > excluded.lease_until
                                                            THEN blobs.lease_until ELSE excluded.lease_until END
         WHERE blobs.reclaim_token IS NULL
         RETURNING hash",))
    .bind(hash.as_str())
    .bind(size as i64)
    .bind(to_ms(until))
    .bind(to_ms(Utc::now()))
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    leased.map(|_| ()).ok_or(CatalogError::BlobBusy)
}

pub async fn release_lease(pool: &Pool, hash: &ContentHash) -> CatalogResult<()> {
    sqlx::query(&prep(
        "UPDATE blobs SET leases = CASE WHEN leases > 0 THEN leases - 1 ELSE 0 END WHERE hash = ?1",
    ))
    .bind(hash.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Drops one reference per deleted file.
/// Drops `n` references to a blob.
pub async fn unreference(conn: &mut Conn, hash: &ContentHash, n: i64) -> CatalogResult<()> {
    sqlx::query(&prep(
        "UPDATE blobs SET refcount = CASE WHEN refcount > ?2 THEN refcount - ?2 ELSE 0 END
         WHERE hash = ?1",
    ))
    .bind(hash.as_str())
    .bind(n)
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Blobs one reclaim pass marks at most, so that a pass ends long before its marks turn stale
/// (were one taken over, the work would only be done twice).
const RECLAIM_BATCH: i64 = 500;

/// Unreferenced blobs whose leases lapsed at `now`; for a full pass (`only` = None), also those
/// whose mark was set before `stale_before` by a reclaimer that died. Taking a mark over is safe
/// even from a reclaimer still at work: the row stays marked, so nothing can lease it meanwhile.
fn reclaimable<'a>(
    qb: &mut QueryBuilder<'a, Db>,
    now: i64,
    only: Option<&'a [ContentHash]>,
    stale_before: i64,
) {
    qb.push("((refcount = 0 AND (leases = 0 OR lease_until < ")
        .push_bind(now)
        .push(") AND reclaim_token IS NULL)");
    if only.is_none() {
        qb.push(" OR reclaim_started < ").push_bind(stale_before);
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

fn hashes(rows: Vec<String>) -> Vec<ContentHash> {
    rows.iter().filter_map(|h| ContentHash::parse(h)).collect()
}

pub async fn begin_reclaim(
    pool: &Pool,
    now: DateTime<Utc>,
    only: Option<&[ContentHash]>,
    stale_marks_before: DateTime<Utc>,
) -> CatalogResult<BlobReclaim> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    if only.is_some_and(|h| h.is_empty()) {
        return Ok(BlobReclaim {
            token,
            hashes: Vec::new(),
        });
    }
    let (now, stale) = (to_ms(now), to_ms(stale_marks_before));
    let mut qb = QueryBuilder::new("UPDATE blobs SET reclaim_token = ");
    qb.push_bind(token.clone())
        .push(", reclaim_started = ")
        .push_bind(now)
        .push(" WHERE hash IN (SELECT hash FROM blobs WHERE ");
    reclaimable(&mut qb, now, only, stale);
    qb.push(" LIMIT ").push_bind(RECLAIM_BATCH).push(")");
    // Checked again on the row itself: on PostgreSQL a row another node marked meanwhile is
    // re-read after its lock is released, and must no longer qualify.
    qb.push(" AND ");
    reclaimable(&mut qb, now, only, stale);
    qb.push(" RETURNING hash");
    let rows: Vec<String> = qb
        .build_query_scalar()
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    Ok(BlobReclaim {
        token,
        hashes: hashes(rows),
    })
}

pub async fn reclaimable_now(
    pool: &Pool,
    now: DateTime<Utc>,
    stale_marks_before: DateTime<Utc>,
) -> CatalogResult<Vec<ContentHash>> {
    let mut qb = QueryBuilder::new("SELECT hash FROM blobs WHERE ");
    reclaimable(&mut qb, to_ms(now), None, to_ms(stale_marks_before));
    let rows: Vec<String> = qb
        .build_query_scalar()
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    Ok(hashes(rows))
}

pub async fn finish_reclaim(
    pool: &Pool,
    hash: &ContentHash,
    token: &str,
) -> CatalogResult<Vec<ContentHash>> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let forgotten = sqlx::query(&prep(
        "DELETE FROM blobs WHERE hash = ?1 AND reclaim_token = ?2",
    ))
    .bind(hash.as_str())
    .bind(token)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if forgotten.rows_affected() == 0 {
        return Ok(Vec::new());
    }
    // The previews made from these bytes go with them.
    let mut released: Vec<String> = sqlx::query_scalar(&prep(
        "DELETE FROM previews WHERE source_hash = ?1 RETURNING preview_hash",
    ))
    .bind(hash.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    released.sort();
    let released: Vec<ContentHash> = released
        .iter()
        .filter_map(|h| ContentHash::parse(h))
        .collect();
    for preview in &released {
        unreference(&mut tx, preview, 1).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(released)
}

pub async fn abandon_reclaim(pool: &Pool, hash: &ContentHash, token: &str) -> CatalogResult<()> {
    sqlx::query(&prep(
        "UPDATE blobs SET reclaim_token = NULL, reclaim_started = NULL
         WHERE hash = ?1 AND reclaim_token = ?2",
    ))
    .bind(hash.as_str())
    .bind(token)
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}
