//! The lifecycle rule and blob reclamation: what is no longer referenced leaves the disk.

use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{ContentHash, FileRecord, SweepReport, SweepRule};
use tokio::time::Interval;

use crate::{
    worker::{self, Round, Worker},
    App,
};

/// How long after its URL lapsed a pending upload is kept when its bytes come through mediadrive.
const UPLOAD_CONFIRM_GRACE: Duration = Duration::from_secs(120);
/// Staged bytes older than this belong to an upload that died.
const STAGING_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Hashes named in one reclaim call, so the statement stays well within bind-parameter limits.
const RECLAIM_CHUNK: usize = 500;

/// Removes the bytes of blobs that nothing references any more: the row is marked first, the bytes
/// go next, the row last (only by the same mark), so a concurrent ingest of the same content never
/// loses its bytes. Leases are judged at the real time `now`. A full pass (`only` = None) goes on
/// until nothing reclaimable is left.
async fn reclaim_blobs(
    state: &App,
    now: DateTime<Utc>,
    only: Option<&[ContentHash]>,
) -> Result<Vec<ContentHash>, String> {
    let mut reclaimed = Vec::new();
    // Reclaiming a blob releases its previews, which are reclaimed in the next round.
    let mut released = Vec::new();
    match only {
        Some(hashes) => {
            let mut queue = hashes.to_vec();
            while !queue.is_empty() {
                for chunk in queue.chunks(RECLAIM_CHUNK) {
                    reclaim_batch(state, now, Some(chunk), &mut reclaimed, &mut released).await?;
                }
                queue = std::mem::take(&mut released);
            }
        }
        None => while reclaim_batch(state, now, None, &mut reclaimed, &mut released).await? > 0 {},
    }
    Ok(reclaimed)
}

/// One marked batch; returns how many blobs it marked (reclaimed or not).
async fn reclaim_batch(
    state: &App,
    now: DateTime<Utc>,
    only: Option<&[ContentHash]>,
    reclaimed: &mut Vec<ContentHash>,
    released: &mut Vec<ContentHash>,
) -> Result<usize, String> {
    let marked = state
        .catalog
        .begin_blob_reclaim(now, only, now - state.config.ingest_lease)
        .await
        .map_err(|e| e.to_string())?;
    let count = marked.hashes.len();
    let mut removed = 0;
    for hash in marked.hashes {
        state.cache.forget_content(&hash);
        if let Err(e) = state.blobs.delete(&hash).await {
            tracing::warn!(blob = %hash, error = %e, "could not delete blob; the next sweep retries");
            let _ = state
                .catalog
                .abandon_blob_reclaim(&hash, &marked.token)
                .await;
            continue;
        }
        match state
            .catalog
            .finish_blob_reclaim(&hash, &marked.token)
            .await
        {
            Ok(previews) => released.extend(previews),
            Err(e) => {
                tracing::warn!(blob = %hash, error = %e, "could not forget reclaimed blob");
                continue;
            }
        }
        removed += 1;
        reclaimed.push(hash);
    }
    // A batch of which nothing could be removed would be marked again at once: stop there and let
    // the next sweep retry.
    Ok(if removed == 0 { 0 } else { count })
}

/// Reclaims the blobs of files just deleted. Failures are logged: the periodic sweep retries them.
pub async fn reclaim(state: &App, deleted: &[FileRecord]) {
    reclaim_hashes(
        state,
        deleted.iter().filter_map(|f| f.blob.clone()).collect(),
    )
    .await;
}

/// Reclaims blobs just released, if nothing else references them.
pub async fn reclaim_hashes(state: &App, mut hashes: Vec<ContentHash>) {
    hashes.sort();
    hashes.dedup();
    if hashes.is_empty() {
        return;
    }
    if let Err(e) = reclaim_blobs(state, Utc::now(), Some(&hashes)).await {
        tracing::warn!(error = %e, "blob reclaim after delete failed; the sweeper retries");
    }
}

/// Finds blobs in the store that the catalog holds no row for and, unless `dry_run`, records
/// them as unreferenced so the reclaim that follows takes them. Such bytes are left by a process
/// that died after placing them under a lease that had lapsed (a catalog too slow to renew it),
/// or by an object store that finished a copy its client had given up on. Recording cannot hurt
/// an ingest of the same content: a recorded row is leased and reclaimed as any other.
async fn stray_blobs(state: &App, dry_run: bool) -> Result<Vec<ContentHash>, String> {
    let stored = state.blobs.blobs().await.map_err(|e| e.to_string())?;
    let strays = if dry_run {
        let hashes: Vec<ContentHash> = stored.into_iter().map(|(h, _)| h).collect();
        state.catalog.unrecorded_blobs(&hashes).await
    } else {
        state.catalog.record_stray_blobs(&stored, Utc::now()).await
    }
    .map_err(|e| e.to_string())?;
    if !strays.is_empty() {
        tracing::warn!(
            count = strays.len(),
            "blobs in the store that no row accounted for"
        );
    }
    Ok(strays)
}

/// One sweep with ages judged as if the time were `at`: lapsed uploads, expired temporary files,
/// expired cache entries, old preloads, unreferenced blobs, and with `scan_store` the blobs that
/// only a walk of the whole store finds (see [`stray_blobs`]). Uploads in flight, leases and staged
/// bytes are judged at the real time, so a sweep `--at` a future time never cuts off work that is
/// still running.
pub async fn sweep(
    state: &App,
    at: DateTime<Utc>,
    dry_run: bool,
    scan_store: bool,
) -> Result<SweepReport, String> {
    let now = Utc::now();
    // A PUT straight to object storage is only checked against its URL's expiry when it starts,
    // and may go on arriving long after; uploads through mediadrive hold a claim while they stream.
    let grace = if state.blobs.accepts_direct_uploads() {
        state.config.upload_claim_ttl
    } else {
        UPLOAD_CONFIRM_GRACE
    };
    let rule = SweepRule {
        now,
        uploads_lapsed_before: at - grace,
        temp_cutoff: at - state.config.temp_max_age,
        cache_cutoff: at,
        preloads_before: at
            - chrono::Duration::days(state.config.generation.preload_retention_days as i64),
        dry_run,
    };
    let mut report = state
        .catalog
        .sweep_files(&rule, &|f| {
            crate::webhooks::file_event(state, "file.deleted", f)
        })
        .await
        .map_err(|e| e.to_string())?;
    for file in report
        .expired_uploads
        .iter()
        .chain(&report.expired_temp_files)
    {
        state.cache.forget_tenant(&file.tenant);
    }
    state.wakeups.webhooks.notify_one();
    if scan_store {
        report.stray_blobs = stray_blobs(state, dry_run).await?;
    }
    report.reclaimed_blobs = if dry_run {
        let mut reclaimable = state
            .catalog
            .reclaimable_blobs(now, now - state.config.ingest_lease)
            .await
            .map_err(|e| e.to_string())?;
        reclaimable.extend(report.stray_blobs.iter().cloned());
        reclaimable
    } else {
        state
            .blobs
            .sweep_staging(SystemTime::now() - STAGING_MAX_AGE)
            .await
            .map_err(|e| e.to_string())?;
        crate::uploads::resumable::sweep_partials(state)
            .await
            .map_err(|e| e.to_string())?;
        reclaim_blobs(state, now, None).await?
    };
    Ok(report)
}

/// How often a node's sweeper walks the whole store for stray blobs, besides its first round: a
/// walk lists every blob, and strays arise only where a process died.
const STORE_SCAN_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Runs the sweep every `sweep_interval`; the first round after a start, and one a day, also
/// scans the store.
pub struct Sweeper {
    every: Interval,
    last_scan: Option<Instant>,
}

pub fn sweeper(state: &App) -> Sweeper {
    Sweeper {
        every: worker::every(state.config.sweep_interval),
        last_scan: None,
    }
}

#[async_trait]
impl Worker for Sweeper {
    async fn wait(&mut self, _: &App) {
        self.every.tick().await;
    }

    async fn work(&mut self, state: &App) -> Round {
        state.limits.forget_idle();
        let scan_store = self
            .last_scan
            .is_none_or(|at| at.elapsed() >= STORE_SCAN_EVERY);
        if scan_store {
            self.last_scan = Some(Instant::now());
        }
        match sweep(state, Utc::now(), false, scan_store).await {
            Ok(r) => {
                crate::metrics::swept(true, r.reclaimed_blobs.len());
                let removed = r.expired_uploads.len()
                    + r.expired_temp_files.len()
                    + r.purged_cache_entries.len()
                    + r.expired_preloads as usize
                    + r.expired_project_assets as usize;
                if removed + r.reclaimed_blobs.len() > 0 {
                    tracing::info!(
                        expired_uploads = r.expired_uploads.len(),
                        expired_temp_files = r.expired_temp_files.len(),
                        purged_cache_entries = r.purged_cache_entries.len(),
                        expired_preloads = r.expired_preloads,
                        expired_project_assets = r.expired_project_assets,
                        reclaimed_blobs = r.reclaimed_blobs.len(),
                        "sweep"
                    );
                }
            }
            Err(e) => {
                crate::metrics::swept(false, 0);
                tracing::error!(error = %e, "sweep failed");
            }
        }
        Round::Idle
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
