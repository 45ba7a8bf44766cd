//! The upload-signing key's life: shared by every node through the catalog, rotated by the
//! operator with an overlap, and picked up by every node on a schedule, or at once when a
//! signature does not verify (the URL may come from a node that already rotated).

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use mediadrive_core::{catalog::CatalogResult, Catalog};
use rand::RngCore;
use tokio::time::Interval;

use crate::{
    signing::{Grant, RetiredKey, UploadSigner},
    worker::{self, Round, Worker},
    App,
};

const UPLOAD_SIGNING_SECRET: &str = "upload-signing-key";

/// How often a node reloads the keys; a node may sign with a retired key for this long after a
/// rotation, so the overlap covers it too.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// Least time between two reloads caused by signatures that did not verify.
const RELOAD_GAP: Duration = Duration::from_secs(1);

fn new_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    key
}

/// The current key (made by the first node to ask) and the retired ones still in their overlap.
async fn keys(catalog: &dyn Catalog) -> CatalogResult<(Vec<u8>, Vec<RetiredKey>)> {
    let current = catalog.secret(UPLOAD_SIGNING_SECRET, &new_key).await?;
    let retired = catalog
        .retired_secrets(UPLOAD_SIGNING_SECRET, Utc::now())
        .await?;
    Ok((current, retired))
}

pub async fn load(catalog: &dyn Catalog) -> CatalogResult<UploadSigner> {
    let (current, retired) = keys(catalog).await?;
    Ok(UploadSigner::with_retired(current, retired))
}

async fn reload(state: &App) {
    match keys(state.catalog.as_ref()).await {
        Ok((current, retired)) => state.signer.replace(current, retired),
        Err(e) => tracing::warn!(error = %e, "could not reload the upload-signing keys"),
    }
}

/// Whether `signature` is one of `grant` by a key this node knows, or by one a rotation on
/// another node made since it last looked.
pub async fn verify(state: &App, grant: &impl Grant, signature: &str) -> bool {
    if state.signer.verify(grant, signature) {
        return true;
    }
    if !state.signer.may_reload(RELOAD_GAP) {
        return false;
    }
    reload(state).await;
    state.signer.verify(grant, signature)
}

/// Replaces the signing key. URLs signed with the old one keep working for `overlap`, which
/// should be the longest a URL lives plus [`REFRESH_EVERY`]; after it they get `403`.
pub async fn rotate(catalog: &dyn Catalog, overlap: Duration) -> CatalogResult<()> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::MAX);
    catalog
        .rotate_secret(UPLOAD_SIGNING_SECRET, &new_key(), until, now)
        .await
}

/// Reloads the keys every [`REFRESH_EVERY`], so this node signs with the current one and
/// forgets retired ones once their overlap ends.
pub struct Refresher(Interval);

pub fn refresher() -> Refresher {
    Refresher(worker::every(REFRESH_EVERY))
}

#[async_trait]
impl Worker for Refresher {
    async fn work(&mut self, state: &App) -> Round {
        reload(state).await;
        Round::Idle
    }

    async fn wait(&mut self, _: &App) {
        self.0.tick().await;
    }
}
