//! Confirms uploads that clients stored directly in object storage (seed 002: "asynchronously
//! confirmed by the server"): claims the pending file, hashes the bytes, moves them to their content
//! address and flips the file to `uploaded`, or drops bytes that do not match what was declared.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::Utc;
use futures_util::StreamExt;
use mediadrive_core::{FileId, FileRecord, UploadClaim};
use tokio::time::Interval;

use crate::{
    blob_lease::BlobLease,
    error::AppError,
    held_claim::HeldClaim,
    ingest,
    worker::{self, Round, Worker},
    App,
};

/// Uploads confirmed at once by one node: hashing is CPU work, copying is the object store's.
const CONCURRENCY: usize = 8;

/// Looks at every upload that has arrived once; returns how many files it confirmed.
pub async fn reconcile_once(state: &App) -> Result<usize, String> {
    let arrived = state
        .blobs
        .arrived_uploads()
        .await
        .map_err(|e| e.to_string())?;
    let confirmed = AtomicUsize::new(0);
    futures_util::stream::iter(arrived)
        .for_each_concurrent(CONCURRENCY, |(key, len)| {
            let confirmed = &confirmed;
            async move {
                match confirm(state, &key, len).await {
                    Ok(true) => {
                        confirmed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(upload = key, error = %e, "could not confirm upload"),
                }
            }
        })
        .await;
    Ok(confirmed.into_inner())
}

/// Confirms a pending file now if its bytes already arrived, so a client polling its status does
/// not wait for the next reconciler round. True when the file is now uploaded.
pub async fn confirm_if_arrived(state: &App, file: &FileRecord) -> Result<bool, String> {
    match state.blobs.arrived_upload(file.id.as_str()).await {
        Ok(Some(len)) => confirm(state, file.id.as_str(), len).await,
        Ok(None) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

/// Confirms one arrived upload of `len` bytes if this node wins its claim; true when the file is
/// now uploaded.
async fn confirm(state: &App, key: &str, len: u64) -> Result<bool, String> {
    let Ok(id) = FileId::parse(key) else {
        discard(state, key, "not a file id").await;
        return Ok(false);
    };
    let now = Utc::now();
    // Held while this node confirms, however long copying takes; if it dies, another node (or
    // this one restarted) takes the upload over once the short claim lapses.
    let lease = state.config.ingest_lease;
    let until = now + lease;
    let claim = state
        .catalog
        .claim_upload(&id, now, until)
        .await
        .map_err(|e| e.to_string())?;
    match claim {
        UploadClaim::Claimed(record) if len != record.size => {
            // Checked before copying anything: the PUT binds no length, so this may be huge.
            // The client may PUT again while its URL is valid.
            discard(state, key, "size differs from the declared size").await;
            let _ = state.catalog.release_upload_claim(&id, until).await;
        }
        UploadClaim::Claimed(record) => {
            let held = HeldClaim::new(state, &id, until).renewed(lease / 3, lease);
            match adopt(state, &record).await {
                Ok(()) => {
                    held.recorded();
                    discard(state, key, "confirmed").await;
                    return Ok(true);
                }
                Err(e) => {
                    // The upload stays where it arrived; the next round tries again.
                    tracing::warn!(file = %id, error = e.message, "could not confirm direct upload");
                    held.release().await;
                }
            }
        }
        UploadClaim::AlreadyUploaded | UploadClaim::Missing => {
            discard(state, key, "no pending file").await
        }
        // Another node is confirming it.
        UploadClaim::InProgress => {}
    }
    Ok(false)
}

async fn discard(state: &App, key: &str, why: &str) {
    tracing::debug!(upload = key, why, "removing direct upload");
    if let Err(e) = state.blobs.discard_upload(key).await {
        tracing::warn!(upload = key, error = %e, "could not remove direct upload");
    }
}

async fn adopt(state: &App, record: &FileRecord) -> Result<(), AppError> {
    let mut staged = state.blobs.adopt_upload(record.id.as_str()).await?;
    let (hash, len) = staged.finish().await?;
    if len != record.size {
        // Replaced by another PUT since it was listed; the next round judges the new bytes.
        return Err(AppError::bad_request(
            "Uploaded size does not match the declared size",
        ));
    }
    let lease = BlobLease::take(state, &hash, len).await?;
    ingest::commit(state, record, staged, lease).await?;
    Ok(())
}

/// Runs the reconciler every `reconcile_interval` until shutdown; a no-op for stores without direct uploads.
pub struct Reconciler(Interval);

pub fn reconciler(state: &App) -> Reconciler {
    Reconciler(worker::every(state.config.reconcile_interval))
}

#[async_trait]
impl Worker for Reconciler {
    async fn work(&mut self, state: &App) -> Round {
        match reconcile_once(state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(confirmed = n, "direct uploads confirmed"),
            Err(e) => tracing::error!(error = %e, "reconciling direct uploads failed"),
        }
        Round::Idle
    }

    async fn wait(&mut self, _: &App) {
        self.0.tick().await;
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
