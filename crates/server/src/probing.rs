//! Probes stored blobs off the request path: claimed through the catalog (so each blob is probed
//! by one node), a few at a time, each within a time limit. Results belong to the blob, so files
//! holding the same bytes share them.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::StreamExt;
use mediadrive_core::{BlobError, BlobProbe, ContentHash, Preview, ProbeStatus};
use tokio::sync::watch;

use crate::{error::ApiError, previews, state::AppState};

/// How long a node holds a claim; one that dies loses its blobs to the others after this.
const CLAIM: Duration = Duration::from_secs(300);
const BATCH: u32 = 16;
/// Probes at once on one node: they are CPU and disk work, off the async runtime.
const CONCURRENCY: usize = 2;
/// A file that takes longer than this to probe is treated as hostile.
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// How often pending blobs are looked for when no upload announced one.
const POLL: Duration = Duration::from_secs(2);

/// The content type of a probed blob's bytes; none when probing has not finished or recognised
/// no media, in which case the declared type stands.
pub fn real_type(probe: &BlobProbe) -> Option<String> {
    let metadata: serde_json::Value = serde_json::from_str(probe.metadata.as_deref()?).ok()?;
    if metadata["kind"] == "other" {
        return None;
    }
    metadata["mime"].as_str().map(str::to_string)
}

/// Probes one batch of claimed blobs; returns how many it claimed.
pub async fn probe_once(state: &AppState) -> Result<usize, String> {
    let now = Utc::now();
    let claimed = state
        .catalog
        .claim_probes(now, now + CLAIM, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let count = claimed.len();
    futures_util::stream::iter(claimed)
        .for_each_concurrent(CONCURRENCY, |hash| probe_blob(state, hash))
        .await;
    Ok(count)
}

async fn probe_blob(state: &AppState, hash: ContentHash) {
    // A preview's own bytes are probed like any blob's, but previews of previews would be endless.
    let wants_previews = match state.catalog.is_preview(&hash).await {
        Ok(is_preview) => !is_preview,
        Err(e) => {
            tracing::warn!(blob = %hash, error = %e, "could not look up blob; retried later");
            return;
        }
    };
    let outcome = match state.blobs.local(&hash).await {
        Ok(local) => {
            let path = local.path().to_path_buf();
            let task = tokio::task::spawn_blocking(move || {
                mediadrive_probe::probe_path(&path).map(|info| {
                    let rendered = if wants_previews {
                        previews::render(&path, &info)
                    } else {
                        Vec::new()
                    };
                    (rendered, info)
                })
            });
            let outcome = match tokio::time::timeout(TIME_LIMIT, task).await {
                Ok(Ok(Ok((rendered, info)))) => {
                    for preview in rendered {
                        if let Err(e) = store_preview(state, &hash, preview).await {
                            tracing::warn!(blob = %hash, error = e.message, "could not store preview");
                        }
                    }
                    Ok(serde_json::to_string(&info).expect("metadata serialises"))
                }
                Ok(Ok(Err(e))) => Err(e.to_string()),
                Ok(Err(_)) => Err("the file crashed the prober".to_string()),
                Err(_) => Err(format!(
                    "probing took longer than {} s",
                    TIME_LIMIT.as_secs()
                )),
            };
            drop(local);
            outcome
        }
        Err(BlobError::NotFound) => Err("the bytes are missing".to_string()),
        Err(e) => {
            // Transient: the claim lapses and the blob is tried again.
            tracing::warn!(blob = %hash, error = %e, "could not read blob to probe it");
            return;
        }
    };
    let probe = match outcome {
        Ok(metadata) => BlobProbe {
            hash,
            status: ProbeStatus::Done,
            metadata: Some(metadata),
            error: None,
        },
        Err(reason) => BlobProbe {
            hash,
            status: ProbeStatus::Failed,
            metadata: None,
            error: Some(reason),
        },
    };
    if let Err(e) = state.catalog.record_probe(&probe).await {
        tracing::warn!(blob = %probe.hash, error = %e, "could not store probe result");
    }
}

/// Stores a preview through the same protocol as an upload: staged, hashed, leased, placed, then
/// referenced by the catalog.
async fn store_preview(
    state: &AppState,
    source: &ContentHash,
    preview: previews::Rendered,
) -> Result<(), ApiError> {
    let mut staged = state.blobs.stage().await?;
    staged.write(Bytes::from(preview.bytes)).await?;
    let (blob, size) = staged.finish().await?;
    if &blob == source {
        // Re-encoding gave the very same bytes: the file is its own preview, and a blob that
        // referenced itself could never be reclaimed.
        return Ok(());
    }
    crate::upload::lease_blob(state, &blob, size).await?;
    if let Err(e) = staged.commit(&blob).await {
        let _ = state.catalog.release_blob_lease(&blob).await;
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
        let _ = state.catalog.release_blob_lease(&blob).await;
        return Err(e.into());
    }
    Ok(())
}

/// Probes until shutdown: woken by each completed upload, and every few seconds regardless.
pub async fn run_prober(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        loop {
            match probe_once(&state).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "probing failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = state.probe_wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}
