//! The lifecycle rule and blob reclamation: what is no longer referenced leaves the disk.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use mediadrive_core::{ContentHash, FileRecord, SweepReport, SweepRule};
use tokio::sync::watch;

use crate::state::AppState;

/// How long after its URL lapsed a pending upload is kept, so the reconciler can confirm bytes a
/// client stored directly in object storage at the last moment.
const UPLOAD_CONFIRM_GRACE: Duration = Duration::from_secs(120);
/// Staged bytes older than this belong to an upload that died.
const STAGING_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Removes the bytes of blobs that nothing references any more: the row is marked first, the bytes
/// go next, the row last (only by the same mark), so a concurrent ingest of the same content never
/// loses its bytes. Leases are judged at the real time `now`.
async fn reclaim_blobs(
    state: &AppState,
    now: DateTime<Utc>,
    only: Option<&[ContentHash]>,
) -> Result<Vec<ContentHash>, String> {
    let marked = state
        .catalog
        .begin_blob_reclaim(now, only)
        .await
        .map_err(|e| e.to_string())?;
    let mut reclaimed = Vec::with_capacity(marked.hashes.len());
    for hash in marked.hashes {
        state.cache.forget_content(&hash);
        if let Err(e) = state.blobs.delete(&hash).await {
            tracing::warn!(blob = %hash, error = %e, "could not delete blob; the next sweep retries");
            continue;
        }
        if let Err(e) = state
            .catalog
            .finish_blob_reclaim(&hash, &marked.token)
            .await
        {
            tracing::warn!(blob = %hash, error = %e, "could not forget reclaimed blob");
            continue;
        }
        reclaimed.push(hash);
    }
    Ok(reclaimed)
}

/// Reclaims the blobs of files just deleted. Failures are logged: the periodic sweep retries them.
pub async fn reclaim(state: &AppState, deleted: &[FileRecord]) {
    let hashes: Vec<ContentHash> = deleted.iter().filter_map(|f| f.blob.clone()).collect();
    if hashes.is_empty() {
        return;
    }
    if let Err(e) = reclaim_blobs(state, Utc::now(), Some(&hashes)).await {
        tracing::warn!(error = %e, "blob reclaim after delete failed; the sweeper retries");
    }
}

/// One sweep with ages judged as if the time were `at`: lapsed uploads, expired temporary files,
/// unreferenced blobs. Uploads in flight, leases and staged bytes are judged at the real time, so a
/// sweep `--at` a future time never cuts off work that is still running.
pub async fn sweep(
    state: &AppState,
    at: DateTime<Utc>,
    dry_run: bool,
) -> Result<SweepReport, String> {
    let now = Utc::now();
    let rule = SweepRule {
        now,
        // Bytes that reached object storage just before the URL lapsed still get confirmed.
        uploads_lapsed_before: at - UPLOAD_CONFIRM_GRACE,
        temp_cutoff: at - state.config.temp_max_age,
        dry_run,
    };
    let mut report = state
        .catalog
        .sweep_files(&rule)
        .await
        .map_err(|e| e.to_string())?;
    for file in report
        .expired_uploads
        .iter()
        .chain(&report.expired_temp_files)
    {
        state.cache.forget_tenant(&file.tenant);
    }
    report.reclaimed_blobs = if dry_run {
        state
            .catalog
            .reclaimable_blobs(now)
            .await
            .map_err(|e| e.to_string())?
    } else {
        state
            .blobs
            .sweep_staging(SystemTime::now() - STAGING_MAX_AGE)
            .await
            .map_err(|e| e.to_string())?;
        reclaim_blobs(state, now, None).await?
    };
    Ok(report)
}

/// Runs the sweep every `sweep_interval` until shutdown.
pub async fn run_sweeper(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.config.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match sweep(&state, Utc::now(), false).await {
            Ok(r) => {
                let removed = r.expired_uploads.len() + r.expired_temp_files.len();
                if removed + r.reclaimed_blobs.len() > 0 {
                    tracing::info!(
                        expired_uploads = r.expired_uploads.len(),
                        expired_temp_files = r.expired_temp_files.len(),
                        reclaimed_blobs = r.reclaimed_blobs.len(),
                        "sweep"
                    );
                }
            }
            Err(e) => tracing::error!(error = %e, "sweep failed"),
        }
    }
}
