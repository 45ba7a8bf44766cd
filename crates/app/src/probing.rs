//! Probes stored blobs off the request path: claimed through the catalog (so each blob is probed
//! by one node), a few at a time, each within a time limit. Results belong to the blob, so files
//! holding the same bytes share them.

use std::time::Duration;

use bytes::Bytes;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use mediadrive_core::{blobs::LocalBlob, BlobError, BlobProbe, ContentHash, Preview, ProbeStatus};
use mediadrive_probe::MediaInfo;
use tokio::sync::Semaphore;

use crate::{
    blob_lease::BlobLease,
    error::AppError,
    previews,
    worker::{Round, Worker},
    App,
};

/// How long a node holds a claim; one that dies loses its blobs to the others after this.
const CLAIM: Duration = Duration::from_secs(600);
/// Probes (and preview renderings) running at once on one node: CPU and disk work, off the async
/// runtime. A permit is held by the thread doing the work, so work that overran its time limit
/// still counts until it really ends.
const CONCURRENCY: usize = 2;
/// A file that takes longer than this to probe is treated as hostile.
const PROBE_TIME_LIMIT: Duration = Duration::from_secs(60);
/// Previews get a budget of their own: a slow preview never costs a file its metadata.
const PREVIEW_TIME_LIMIT: Duration = Duration::from_secs(120);
/// How often pending blobs are looked for when no upload announced one.
const POLL: Duration = Duration::from_secs(2);

/// Permits of the background prober.
static PERMITS: Semaphore = Semaphore::const_new(CONCURRENCY);
/// Permits of the probes someone waits on (an upload's answer, a generation, a render output):
/// a pool of their own, so files the background prober struggles with never hold them up.
static INLINE: Semaphore = Semaphore::const_new(CONCURRENCY);
/// How long a probe someone waits on waits for a permit before it gives up as busy.
const INLINE_WAIT: Duration = Duration::from_secs(30);

/// Why a probe someone waits on gave no answer.
#[derive(Debug)]
pub enum InlineProbeError {
    /// Every inline permit stayed taken for [`INLINE_WAIT`]: retry later.
    Busy,
    /// The bytes could not be probed; the reason says why.
    Failed(String),
}

/// The content type of a probed blob's bytes; none when probing has not finished or recognised
/// no media, in which case the declared type stands.
pub fn real_type(probe: &BlobProbe) -> Option<String> {
    let metadata: serde_json::Value = serde_json::from_str(probe.metadata.as_deref()?).ok()?;
    if metadata["kind"] == "other" {
        return None;
    }
    metadata["mime"].as_str().map(str::to_string)
}

/// Claims as many blobs as can be probed at once and probes them; returns how many it claimed.
pub async fn probe_once(state: &App) -> Result<usize, String> {
    let now = Utc::now();
    let until = now + CLAIM;
    let claimed = state
        .catalog
        .claim_probes(now, until, CONCURRENCY as u32)
        .await
        .map_err(|e| e.to_string())?;
    let count = claimed.len();
    futures_util::stream::iter(claimed)
        .for_each_concurrent(CONCURRENCY, |hash| probe_blob(state, hash, until))
        .await;
    Ok(count)
}

/// Runs `work` on a blocking thread that holds a permit of `pool` until it really ends, and
/// waits for it at most `limit`. The caller has its permit already.
async fn bounded<T: Send + 'static>(
    pool: &'static Semaphore,
    limit: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let task = tokio::task::spawn_blocking(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        pool.add_permits(1);
        result
    });
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(_) => Err("the file crashed the prober".to_string()),
        Err(_) => Err(format!("took longer than {} s", limit.as_secs())),
    }
}

/// A permit of `pool`, given back by the thread that uses it (see [`bounded`]).
async fn take(pool: &'static Semaphore) -> Result<(), String> {
    pool.acquire().await.map_err(|e| e.to_string())?.forget();
    Ok(())
}

/// Probes a local copy of a blob within the time limit, with a permit of `pool` already taken.
/// The copy moves into the thread, so it outlives a thread that overruns its limit.
async fn probe_local(
    pool: &'static Semaphore,
    local: &Arc<LocalBlob>,
) -> Result<MediaInfo, String> {
    let probing = Arc::clone(local);
    bounded(pool, PROBE_TIME_LIMIT, move || {
        mediadrive_probe::probe_path(probing.path()).map_err(|e| e.to_string())
    })
    .await
    .and_then(|probed| probed)
}

/// Probes a blob now, for a caller that needs the answer before it can reply (an upload, a
/// generation, a render output), from a pool the background prober does not use, and gives up
/// as busy rather than wait long for a permit.
pub async fn probe_now(state: &App, hash: &ContentHash) -> Result<MediaInfo, InlineProbeError> {
    let failed = |e: &dyn std::fmt::Display| InlineProbeError::Failed(e.to_string());
    let local = state.blobs.local(hash).await.map_err(|e| failed(&e))?;
    match tokio::time::timeout(INLINE_WAIT, take(&INLINE)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(failed(&e)),
        Err(_) => return Err(InlineProbeError::Busy),
    }
    probe_local(&INLINE, &Arc::new(local))
        .await
        .map_err(InlineProbeError::Failed)
}

async fn probe_blob(state: &App, hash: ContentHash, claimed_until: DateTime<Utc>) {
    // A preview's own bytes are probed like any blob's, but previews of previews would be endless.
    let wants_previews = match state.catalog.is_preview(&hash).await {
        Ok(is_preview) => !is_preview,
        Err(e) => {
            tracing::warn!(blob = %hash, error = %e, "could not look up blob; retried later");
            return;
        }
    };
    let local = match state.blobs.local(&hash).await {
        Ok(local) => Arc::new(local),
        Err(BlobError::NotFound) => {
            record(
                state,
                &hash,
                Err("the bytes are missing".into()),
                claimed_until,
            )
            .await;
            return;
        }
        Err(e) => {
            // Transient: the claim lapses and the blob is tried again.
            tracing::warn!(blob = %hash, error = %e, "could not read blob to probe it");
            return;
        }
    };
    if let Err(e) = take(&PERMITS).await {
        tracing::warn!(blob = %hash, error = %e, "could not take a probe permit");
        return;
    }
    let info = match probe_local(&PERMITS, &local).await {
        Ok(info) => info,
        Err(reason) => {
            record(state, &hash, Err(reason), claimed_until).await;
            return;
        }
    };
    let metadata = serde_json::to_string(&info).expect("metadata serialises");
    if !record(state, &hash, Ok(metadata), claimed_until).await || !wants_previews {
        return;
    }
    let rendering = Arc::clone(&local);
    drop(local);
    if let Err(e) = take(&PERMITS).await {
        tracing::warn!(blob = %hash, error = %e, "could not take a preview permit");
        return;
    }
    match bounded(&PERMITS, PREVIEW_TIME_LIMIT, move || {
        previews::render(rendering.path(), &info)
    })
    .await
    {
        Ok(rendered) => {
            for preview in rendered {
                if let Err(e) = store_preview(state, &hash, preview).await {
                    tracing::warn!(blob = %hash, error = e.message, "could not store preview");
                }
            }
        }
        Err(reason) => tracing::warn!(blob = %hash, reason, "previews left out"),
    }
}

/// Stores a probe result; false when this node no longer holds the blob's claim.
async fn record(
    state: &App,
    hash: &ContentHash,
    outcome: Result<String, String>,
    claimed_until: DateTime<Utc>,
) -> bool {
    let probe = match outcome {
        Ok(metadata) => BlobProbe {
            hash: hash.clone(),
            status: ProbeStatus::Done,
            metadata: Some(metadata),
            error: None,
        },
        Err(reason) => BlobProbe {
            hash: hash.clone(),
            status: ProbeStatus::Failed,
            metadata: None,
            error: Some(reason),
        },
    };
    match state.catalog.record_probe(&probe, claimed_until).await {
        Ok(recorded) => recorded,
        Err(e) => {
            tracing::warn!(blob = %hash, error = %e, "could not store probe result");
            false
        }
    }
}

/// Stores a preview through the same protocol as an upload: staged, hashed, leased, placed, then
/// referenced by the catalog.
async fn store_preview(
    state: &App,
    source: &ContentHash,
    preview: previews::Rendered,
) -> Result<(), AppError> {
    let mut staged = state.blobs.stage().await?;
    staged.write(Bytes::from(preview.bytes)).await?;
    let (blob, size) = staged.finish().await?;
    if &blob == source {
        // Re-encoding gave the very same bytes: the file is its own preview, and a blob that
        // referenced itself could never be reclaimed.
        return Ok(());
    }
    let lease = BlobLease::take(state, &blob, size).await?;
    if let Err(e) = staged.commit(&blob).await {
        lease.release().await;
        return Err(e.into());
    }
    let link = Preview {
        source: source.clone(),
        name: preview.name,
        blob: blob.clone(),
        content_type: preview.content_type.to_string(),
        size,
    };
    if let Err(e) = state.catalog.add_preview(&link).await {
        lease.release().await;
        return Err(e.into());
    }
    lease.settled();
    Ok(())
}

/// Probes what is due: woken by each completed upload, and every few seconds regardless.
pub struct Prober;

#[async_trait]
impl Worker for Prober {
    async fn work(&mut self, state: &App) -> Round {
        match probe_once(state).await {
            Ok(0) => Round::Idle,
            Ok(_) => Round::Busy,
            Err(e) => {
                tracing::error!(error = %e, "probing failed");
                Round::Idle
            }
        }
    }

    async fn wait(&mut self, state: &App) {
        tokio::select! {
            _ = state.wakeups.probe.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
#[path = "probing_tests.rs"]
mod tests;
