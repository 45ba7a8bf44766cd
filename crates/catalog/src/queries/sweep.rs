// The lifecycle rule: lapsed pending uploads and old temporary files go, expired cache entries lose
// their bytes, old finished preloads are forgotten, in bounded batches, one tenant per transaction (tenant lock first, as
// everywhere), so several nodes may sweep at once.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mediadrive_core::{
    catalog::{CatalogResult, FileAnnouncer, SweepStore},
    ClientId, FileRecord, SweepReport, SweepRule,
};

use super::{
    backend, cache, lock_tenant, preloads, projects,
    rows::{self, FileRow, FILE_COLUMNS},
    steps::{files, usage},
    write_tx, Backend, Pool,
};
use crate::time::to_ms;

/// Rows looked at per round, so a large sweep never holds a lock for long.
const BATCH: i64 = 500;

// $1: the upload URL cutoff, $2: the real time (for claims of uploads in flight), $3: the temp cutoff.
const EXPIRED_UPLOADS: &str = "status = 'pending' AND upload_expires_at < $1
     AND (upload_claim_until IS NULL OR upload_claim_until < $2)";
const EXPIRED_TEMP: &str = "temporary = TRUE AND status = 'uploaded' AND temporary_since < $3";

async fn run(
    pool: &Pool,
    condition: &str,
    rule: &SweepRule,
    announce: FileAnnouncer<'_>,
) -> CatalogResult<Vec<FileRecord>> {
    let (at, now, cutoff) = (
        to_ms(rule.uploads_lapsed_before),
        to_ms(rule.now),
        to_ms(rule.temp_cutoff),
    );
    if rule.dry_run {
        let rows: Vec<FileRow> = sqlx::query_as(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE {condition} ORDER BY created_at"
        ))
        .bind(at)
        .bind(now)
        .bind(cutoff)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        return rows::files(rows);
    }
    let mut removed = Vec::new();
    loop {
        let candidates: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT tenant_id, id FROM files WHERE {condition} LIMIT $4"
        ))
        .bind(at)
        .bind(now)
        .bind(cutoff)
        .bind(BATCH)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        if candidates.is_empty() {
            return Ok(removed);
        }
        let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (tenant, id) in candidates {
            by_tenant.entry(tenant).or_default().push(id);
        }
        for (tenant, ids) in by_tenant {
            let tenant = ClientId::parse(&tenant)
                .map_err(|_| mediadrive_core::CatalogError::Backend("corrupt client id".into()))?;
            let mut tx = write_tx(pool).await?;
            lock_tenant(&mut tx, &tenant).await?;
            let mut batch = Vec::with_capacity(ids.len());
            for id in &ids {
                // The condition is checked again: the upload may have completed since it was picked.
                let row: Option<FileRow> = sqlx::query_as(&format!(
                    "DELETE FROM files WHERE {condition} AND id = $4 RETURNING {FILE_COLUMNS}"
                ))
                .bind(at)
                .bind(now)
                .bind(cutoff)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
                if let Some(row) = row {
                    batch.push(FileRecord::try_from(row)?);
                }
            }
            files::remove(&mut tx, &batch, announce).await?;
            usage::recompute(&mut tx, &tenant).await?;
            tx.commit().await.map_err(backend)?;
            removed.extend(batch);
        }
    }
}

#[async_trait]
impl SweepStore for Backend {
    async fn sweep_files(
        &self,
        rule: &SweepRule,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<SweepReport> {
        let pool = &self.pool;
        Ok(SweepReport {
            expired_uploads: run(pool, EXPIRED_UPLOADS, rule, announce).await?,
            expired_temp_files: run(pool, EXPIRED_TEMP, rule, announce).await?,
            purged_cache_entries: cache::purge(pool, rule).await?,
            expired_preloads: preloads::expire(pool, rule).await?,
            expired_project_assets: projects::expire_waiting(pool, rule).await?,
            reclaimed_blobs: Vec::new(),
            stray_blobs: Vec::new(),
        })
    }
}
