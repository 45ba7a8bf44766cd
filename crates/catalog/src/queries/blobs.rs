// Blob reference counts, ingest leases and the two-step reclaim that keeps bytes and rows in step.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{BlobRefStore, CatalogResult},
    BlobReclaim, CatalogError, ContentHash,
};
use sqlx::QueryBuilder;

use super::{backend, steps::refs, Backend, Db, Pool};
use crate::time::to_ms;

pub async fn lease(
    pool: &Pool,
    hash: &ContentHash,
    size: u64,
    until: DateTime<Utc>,
) -> CatalogResult<()> {
    let leased: Option<String> = sqlx::query_scalar("INSERT INTO blobs (hash, size, refcount, leases, lease_until, created_at)
         VALUES ($1, $2, 0, 1, $3, $4)
         ON CONFLICT (hash) DO UPDATE SET leases = blobs.leases + 1,
                                          lease_until = CASE WHEN blobs.lease_until > excluded.lease_until
                                                            THEN blobs.lease_until ELSE excluded.lease_until END
         WHERE blobs.reclaim_token IS NULL
         RETURNING hash",)
    .bind(hash.as_str())
    .bind(size as i64)
    .bind(to_ms(until))
    .bind(to_ms(Utc::now()))
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    leased.map(|_| ()).ok_or(CatalogError::BlobBusy)
}

/// Rows one statement looks up or records, well within either engine's bind-parameter limit.
const STRAY_BATCH: usize = 500;

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

#[async_trait]
impl BlobRefStore for Backend {
    async fn lease_blob(
        &self,
        hash: &ContentHash,
        size: u64,
        until: DateTime<Utc>,
    ) -> CatalogResult<()> {
        lease(&self.pool, hash, size, until).await
    }

    async fn release_blob_lease(&self, hash: &ContentHash) -> CatalogResult<()> {
        refs::release_lease(&self.pool, hash).await
    }

    async fn begin_blob_reclaim(
        &self,
        now: DateTime<Utc>,
        only: Option<&[ContentHash]>,
        stale_marks_before: DateTime<Utc>,
    ) -> CatalogResult<BlobReclaim> {
        let pool = &self.pool;
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

    async fn reclaimable_blobs(
        &self,
        now: DateTime<Utc>,
        stale_marks_before: DateTime<Utc>,
    ) -> CatalogResult<Vec<ContentHash>> {
        let pool = &self.pool;
        let mut qb = QueryBuilder::new("SELECT hash FROM blobs WHERE ");
        reclaimable(&mut qb, to_ms(now), None, to_ms(stale_marks_before));
        let rows: Vec<String> = qb
            .build_query_scalar()
            .fetch_all(pool)
            .await
            .map_err(backend)?;
        Ok(hashes(rows))
    }

    async fn finish_blob_reclaim(
        &self,
        hash: &ContentHash,
        token: &str,
    ) -> CatalogResult<Vec<ContentHash>> {
        let pool = &self.pool;
        let mut tx = pool.begin().await.map_err(backend)?;
        let forgotten = sqlx::query("DELETE FROM blobs WHERE hash = $1 AND reclaim_token = $2")
            .bind(hash.as_str())
            .bind(token)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if forgotten.rows_affected() == 0 {
            return Ok(Vec::new());
        }
        // The previews made from these bytes go with them.
        let mut released: Vec<String> = sqlx::query_scalar(
            "DELETE FROM previews WHERE source_hash = $1 RETURNING preview_hash",
        )
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
            refs::unreference(&mut tx, preview, 1).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(released)
    }

    async fn unrecorded_blobs(&self, hashes: &[ContentHash]) -> CatalogResult<Vec<ContentHash>> {
        let mut unrecorded = Vec::new();
        for batch in hashes.chunks(STRAY_BATCH) {
            let mut qb = QueryBuilder::<Db>::new("SELECT hash FROM blobs WHERE hash IN (");
            let mut list = qb.separated(", ");
            for h in batch {
                list.push_bind(h.as_str());
            }
            list.push_unseparated(")");
            let recorded: Vec<String> = qb
                .build_query_scalar()
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
            unrecorded.extend(
                batch
                    .iter()
                    .filter(|h| !recorded.iter().any(|r| r == h.as_str()))
                    .cloned(),
            );
        }
        Ok(unrecorded)
    }

    async fn record_stray_blobs(
        &self,
        blobs: &[(ContentHash, u64)],
        now: DateTime<Utc>,
    ) -> CatalogResult<Vec<ContentHash>> {
        let now = to_ms(now);
        let mut recorded = Vec::new();
        for batch in blobs.chunks(STRAY_BATCH) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO blobs (hash, size, refcount, leases, lease_until, created_at) ",
            );
            qb.push_values(batch, |mut row, (hash, size)| {
                row.push_bind(hash.as_str())
                    .push_bind(*size as i64)
                    .push("0, 0")
                    .push_bind(now)
                    .push_bind(now);
            });
            qb.push(" ON CONFLICT (hash) DO NOTHING RETURNING hash");
            let rows: Vec<String> = qb
                .build_query_scalar()
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
            recorded.extend(hashes(rows));
        }
        Ok(recorded)
    }

    async fn abandon_blob_reclaim(&self, hash: &ContentHash, token: &str) -> CatalogResult<()> {
        let pool = &self.pool;
        sqlx::query(
            "UPDATE blobs SET reclaim_token = NULL, reclaim_started = NULL
             WHERE hash = $1 AND reclaim_token = $2",
        )
        .bind(hash.as_str())
        .bind(token)
        .execute(pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}
