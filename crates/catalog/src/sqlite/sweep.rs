//! The lifecycle rule: lapsed pending uploads and old temporary files go, in bounded batches.

use std::collections::BTreeSet;

use mediadrive_core::{catalog::CatalogResult, ClientId, FileRecord, SweepReport, SweepRule};
use sqlx::SqlitePool;

use super::{
    backend, drive,
    rows::{self, FileRow, FILE_COLUMNS},
    usage, write_tx,
};
use crate::time::to_ms;

/// Rows per transaction, so a large sweep never holds the write lock for long.
const BATCH: i64 = 500;

// ?1: the sweep's time, ?2: the real time (for claims of uploads in flight), ?3: the temp cutoff.
const EXPIRED_UPLOADS: &str = "status = 'pending' AND upload_expires_at < ?1
     AND (upload_claim_until IS NULL OR upload_claim_until < ?2)";
const EXPIRED_TEMP: &str = "temporary = 1 AND status = 'uploaded' AND temporary_since < ?3";

pub async fn sweep(pool: &SqlitePool, rule: &SweepRule) -> CatalogResult<SweepReport> {
    Ok(SweepReport {
        expired_uploads: run(pool, EXPIRED_UPLOADS, rule).await?,
        expired_temp_files: run(pool, EXPIRED_TEMP, rule).await?,
        reclaimed_blobs: Vec::new(),
    })
}

async fn run(
    pool: &SqlitePool,
    condition: &str,
    rule: &SweepRule,
) -> CatalogResult<Vec<FileRecord>> {
    if rule.dry_run {
        let rows: Vec<FileRow> = sqlx::query_as(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE {condition} ORDER BY created_at"
        ))
        .bind(to_ms(rule.at))
        .bind(to_ms(rule.now))
        .bind(to_ms(rule.temp_cutoff))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        return rows::files(rows);
    }
    let mut removed = Vec::new();
    loop {
        let mut tx = write_tx(pool).await?;
        let ids: Vec<String> =
            sqlx::query_scalar(&format!("SELECT id FROM files WHERE {condition} LIMIT ?4"))
                .bind(to_ms(rule.at))
                .bind(to_ms(rule.now))
                .bind(to_ms(rule.temp_cutoff))
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        if ids.is_empty() {
            return Ok(removed);
        }
        let batch = drive::delete_by_ids(&mut tx, &ids).await?;
        let tenants: BTreeSet<&ClientId> = batch.iter().map(|f| &f.tenant).collect();
        for tenant in tenants {
            usage::recompute(&mut tx, tenant).await?;
        }
        tx.commit().await.map_err(backend)?;
        removed.extend(batch);
    }
}
