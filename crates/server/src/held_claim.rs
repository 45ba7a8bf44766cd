//! The upload claim a request holds while it streams bytes into a pending file (a presigned PUT,
//! a tus PATCH). hyper drops a handler whose client went away mid-body, so the claim is released
//! when it is dropped too: otherwise the client's retry would be refused until the claim lapsed.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use mediadrive_core::{catalog::CatalogResult, FileId};
use tokio::{
    sync::{Mutex, MutexGuard},
    task::JoinHandle,
};

use crate::state::AppState;

pub struct HeldClaim {
    state: AppState,
    file: FileId,
    until: Arc<Mutex<DateTime<Utc>>>,
    renewer: Option<JoinHandle<()>>,
    released: bool,
}

impl HeldClaim {
    /// The claim on `file` that `claim_upload` granted until `until`.
    pub fn new(state: &AppState, file: &FileId, until: DateTime<Utc>) -> Self {
        Self {
            state: state.clone(),
            file: file.clone(),
            until: Arc::new(Mutex::new(until)),
            renewer: None,
            released: false,
        }
    }

    /// Keeps the claim `hold` ahead of now, renewing it `every` while it is held, so that a short
    /// claim lasts as long as a long request and lapses soon after a node dies.
    pub fn renewed(mut self, every: Duration, hold: Duration) -> Self {
        let (state, id, until) = (self.state.clone(), self.file.clone(), self.until.clone());
        self.renewer = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match renew(&state, &id, &mut *until.lock().await, hold).await {
                    Ok(true) => {}
                    // Taken over or gone: whatever this request would still record is refused
                    // by the catalog's own checks.
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(file = %id, error = %e, "could not renew an upload claim")
                    }
                }
            }
        }));
        self
    }

    /// Until when the claim is held. The catalog checks a claim by this time, so it stays put
    /// (renewals wait) while the guard is held: a step that names it is not refused for a renewal
    /// that committed a moment before.
    pub async fn term(&self) -> MutexGuard<'_, DateTime<Utc>> {
        self.until.lock().await
    }

    /// Renews the claim for `hold` from now; false when it is no longer this request's.
    pub async fn confirm(&self, hold: Duration) -> CatalogResult<bool> {
        renew(&self.state, &self.file, &mut *self.until.lock().await, hold).await
    }

    /// The file was recorded: an uploaded file has no claim left to free.
    pub fn recorded(mut self) {
        self.released = true;
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
    }

    /// Frees the file for the next request before this one answers.
    pub async fn release(mut self) {
        self.released = true;
        release(
            self.state.clone(),
            self.file.clone(),
            self.until.clone(),
            self.renewer.take(),
        )
        .await;
    }
}

impl Drop for HeldClaim {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        // Outside a runtime (a process ending) there is nothing left to release it; the claim
        // then lapses on its own.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(release(
                self.state.clone(),
                self.file.clone(),
                self.until.clone(),
                self.renewer.take(),
            ));
        }
    }
}

async fn renew(
    state: &AppState,
    file: &FileId,
    until: &mut DateTime<Utc>,
    hold: Duration,
) -> CatalogResult<bool> {
    let next = Utc::now() + hold;
    let renewed = state.catalog.renew_upload_claim(file, *until, next).await?;
    if renewed {
        *until = next;
    }
    Ok(renewed)
}

async fn release(
    state: AppState,
    file: FileId,
    until: Arc<Mutex<DateTime<Utc>>>,
    renewer: Option<JoinHandle<()>>,
) {
    if let Some(renewer) = renewer {
        renewer.abort();
        // A renewal in flight may still move the claim; release the one it leaves.
        let _ = renewer.await;
    }
    let held = *until.lock().await;
    if let Err(e) = state.catalog.release_upload_claim(&file, held).await {
        tracing::warn!(file = %file, error = %e, "could not release an upload claim");
    }
}
