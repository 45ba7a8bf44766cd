//! Confirms uploads that clients stored directly in object storage (seed 002: "asynchronously
//! confirmed by the server"): claims the pending file, hashes the bytes, moves them to their content
//! address and flips the file to `uploaded`, or drops bytes that do not match what was declared.

use chrono::Utc;
use mediadrive_core::{FileId, FileRecord, UploadClaim};
use tokio::sync::watch;

use crate::{error::ApiError, state::AppState, upload};

/// How long a node holds a direct upload it is confirming; if it dies, another node takes the
/// upload over once this lapses. Hashing and copying 500 MB takes seconds, not minutes.
const CONFIRM_CLAIM: std::time::Duration = std::time::Duration::from_secs(600);

/// Looks at every upload that has arrived once; returns how many files it confirmed.
pub async fn reconcile_once(state: &AppState) -> Result<usize, String> {
    let arrived = state
        .blobs
        .arrived_uploads()
        .await
        .map_err(|e| e.to_string())?;
    let mut confirmed = 0;
    for (key, len) in arrived {
        let Ok(id) = FileId::parse(&key) else {
            discard(state, &key, "not a file id").await;
            continue;
        };
        let now = Utc::now();
        let claim = state
            .catalog
            .claim_upload(&id, now, now + CONFIRM_CLAIM)
            .await
            .map_err(|e| e.to_string())?;
        match claim {
            UploadClaim::Claimed(record) => match adopt(state, &record, len).await {
                Ok(()) => confirmed += 1,
                Err(e) => {
                    tracing::warn!(file = %id, error = e.message, "direct upload refused");
                    let _ = state.catalog.release_upload_claim(&id).await;
                }
            },
            UploadClaim::AlreadyUploaded | UploadClaim::Missing => {
                discard(state, &key, "no pending file").await
            }
            // Another node is confirming it.
            UploadClaim::InProgress => {}
        }
    }
    Ok(confirmed)
}

async fn discard(state: &AppState, key: &str, why: &str) {
    tracing::info!(upload = key, why, "dropping direct upload");
    if let Err(e) = state.blobs.discard_upload(key).await {
        tracing::warn!(upload = key, error = %e, "could not drop direct upload");
    }
}

async fn adopt(state: &AppState, record: &FileRecord, len: u64) -> Result<(), ApiError> {
    let key = record.id.as_str();
    if len != record.size {
        // The client may PUT again while its URL is valid.
        discard(state, key, "size differs from the declared size").await;
        return Err(ApiError::bad_request(
            "Uploaded size does not match the declared size",
        ));
    }
    let mut staged = state.blobs.adopt_upload(key).await?;
    let (hash, hashed) = staged.finish().await?;
    if hashed != record.size {
        discard(state, key, "size changed while reading").await;
        return Err(ApiError::bad_request(
            "Uploaded size does not match the declared size",
        ));
    }
    upload::lease_blob(state, &hash, hashed).await?;
    upload::commit(state, record, staged, &hash).await?;
    Ok(())
}

/// Runs the reconciler every `reconcile_interval` until shutdown; a no-op for stores without direct uploads.
pub async fn run_reconciler(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.config.reconcile_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match reconcile_once(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(confirmed = n, "direct uploads confirmed"),
            Err(e) => tracing::error!(error = %e, "reconciling direct uploads failed"),
        }
    }
}
