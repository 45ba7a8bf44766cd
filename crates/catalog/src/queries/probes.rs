// Probe results per blob, and the claims that let one node at a time probe a blob.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, ProbeStore},
    BlobProbe, CatalogError, ContentHash, ProbeStatus,
};
use sqlx::QueryBuilder;

use super::{backend, Backend, Db};
use crate::time::to_ms;

/// Claims after which a blob whose prober never came back (it crashed or hung the node) is given up.
const MAX_ATTEMPTS: i64 = 3;

#[async_trait]
impl ProbeStore for Backend {
    async fn claim_probes(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<ContentHash>> {
        let pool = &self.pool;
        sqlx::query(
            "UPDATE blobs SET probe_status = 'failed', probe_claim_until = NULL,
                              probe_error = 'probing this file never finished'
             WHERE probe_status = 'pending' AND probe_attempts >= $1 AND probe_claim_until < $2",
        )
        .bind(MAX_ATTEMPTS)
        .bind(to_ms(now))
        .execute(pool)
        .await
        .map_err(backend)?;
        // The condition is repeated on the row: on PostgreSQL a row another node claimed meanwhile is
        // re-read after its lock is released, and must no longer qualify.
        let rows: Vec<String> = sqlx::query_scalar(
            "UPDATE blobs SET probe_claim_until = $1, probe_attempts = probe_attempts + 1
             WHERE hash IN (SELECT hash FROM blobs
                            WHERE probe_status = 'pending' AND refcount > 0 AND probe_attempts < $4
                              AND (probe_claim_until IS NULL OR probe_claim_until < $2)
                            LIMIT $3)
               AND probe_status = 'pending' AND (probe_claim_until IS NULL OR probe_claim_until < $2)
             RETURNING hash",
        )
        .bind(to_ms(until))
        .bind(to_ms(now))
        .bind(i64::from(limit))
        .bind(MAX_ATTEMPTS)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().filter_map(|h| ContentHash::parse(h)).collect())
    }

    /// Stores a result only while the claim that produced it still holds: a node whose claim lapsed
    /// and was taken over must not overwrite the new holder's result.
    async fn record_probe(
        &self,
        probe: &BlobProbe,
        claimed_until: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let done = sqlx::query(
            "UPDATE blobs SET probe_status = $2, metadata = $3, probe_error = $4, probe_claim_until = NULL
             WHERE hash = $1 AND probe_status = 'pending' AND probe_claim_until = $5",
        )
        .bind(probe.hash.as_str())
        .bind(probe.status.as_str())
        .bind(probe.metadata.as_deref())
        .bind(probe.error.as_deref())
        .bind(to_ms(claimed_until))
        .execute(pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn blob_probes(&self, hashes: &[ContentHash]) -> CatalogResult<Vec<BlobProbe>> {
        let pool = &self.pool;
        let mut probes = Vec::with_capacity(hashes.len());
        for chunk in hashes.chunks(500) {
            let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                "SELECT hash, probe_status, metadata, probe_error FROM blobs WHERE hash IN (",
            );
            let mut list = qb.separated(", ");
            for h in chunk {
                list.push_bind(h.as_str());
            }
            list.push_unseparated(")");
            let rows: Vec<(String, String, Option<String>, Option<String>)> =
                qb.build_query_as().fetch_all(pool).await.map_err(backend)?;
            for (hash, status, metadata, error) in rows {
                probes.push(BlobProbe {
                    hash: ContentHash::parse(&hash).ok_or_else(|| {
                        CatalogError::Backend("corrupt blob hash in catalog".into())
                    })?,
                    status: ProbeStatus::parse(&status).ok_or_else(|| {
                        CatalogError::Backend("corrupt probe status in catalog".into())
                    })?,
                    metadata,
                    error,
                });
            }
        }
        Ok(probes)
    }
}
