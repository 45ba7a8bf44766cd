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

use crate::App;

pub struct HeldClaim {
    state: App,
    file: FileId,
    until: Arc<Mutex<DateTime<Utc>>>,
    renewer: Option<JoinHandle<()>>,
    released: bool,
}

impl HeldClaim {
    /// The claim on `file` that `claim_upload` granted until `until`.
    pub fn new(state: &App, file: &FileId, until: DateTime<Utc>) -> Self {
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
    state: &App,
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
    state: App,
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use chrono::Utc;
    use mediadrive_core::{FileRecord, UploadClaim};

    use super::HeldClaim;
    use crate::{
        claimed::tests::{eventually, node, pending},
        App,
    };

    async fn claim(state: &App, file: &FileRecord, for_: Duration) -> UploadClaim {
        let now = Utc::now();
        state
            .catalog
            .claim_upload(&file.id, now, now + for_)
            .await
            .unwrap()
    }

    /// A pending file and a claim on it held by a request, lasting `for_`.
    async fn held(state: &App, for_: Duration) -> (FileRecord, HeldClaim) {
        let file = pending(state, "", "f.bin", 10, chrono::Duration::minutes(2)).await;
        let until = Utc::now() + for_;
        let granted = state
            .catalog
            .claim_upload(&file.id, Utc::now(), until)
            .await
            .unwrap();
        assert!(matches!(granted, UploadClaim::Claimed(_)));
        (file.clone(), HeldClaim::new(state, &file.id, until))
    }

    fn is_claimed(claim: &UploadClaim) -> bool {
        matches!(claim, UploadClaim::Claimed(_))
    }

    #[tokio::test]
    async fn a_held_claim_is_exclusive_and_dropping_it_frees_the_upload() {
        let node = node(|_| {}).await;
        let state = &node.state;
        let (file, held) = held(state, Duration::from_secs(3600)).await;
        assert_eq!(
            claim(state, &file, Duration::from_secs(60)).await,
            UploadClaim::InProgress
        );
        // A client that went away mid-body: hyper drops the handler, and the claim with it.
        drop(held);
        eventually(
            Duration::from_secs(5),
            "the dropped claim freed",
            || async { is_claimed(&claim(state, &file, Duration::from_secs(60)).await) },
        )
        .await;
    }

    #[tokio::test]
    async fn a_release_frees_the_upload_before_it_returns() {
        let node = node(|_| {}).await;
        let state = &node.state;
        let (file, held) = held(state, Duration::from_secs(3600)).await;
        held.release().await;
        assert!(is_claimed(
            &claim(state, &file, Duration::from_secs(60)).await
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_recorded_upload_stops_renewing_and_frees_nothing() {
        let node = node(|_| {}).await;
        let state = &node.state;
        let term = Duration::from_millis(600);
        let (file, held) = held(state, term).await;
        let held = held.renewed(Duration::from_millis(100), term);
        // Recorded means the file is no longer this request's to free or keep.
        held.recorded();
        assert_eq!(
            claim(state, &file, Duration::from_secs(60)).await,
            UploadClaim::InProgress
        );
        // With no renewals the claim runs out on its own.
        eventually(Duration::from_secs(5), "the claim lapsed", || async {
            is_claimed(&claim(state, &file, Duration::from_secs(60)).await)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_renewed_claim_outlasts_its_first_term_and_frees_when_dropped() {
        let node = node(|_| {}).await;
        let state = &node.state;
        let first_term = Duration::from_millis(800);
        let (file, held) = held(state, first_term).await;
        let started = *held.term().await;
        let held = held.renewed(Duration::from_millis(150), first_term);
        // Well past the first term, every other request is still refused.
        let until = Instant::now() + 3 * first_term;
        while Instant::now() < until {
            assert_eq!(
                claim(state, &file, Duration::from_secs(60)).await,
                UploadClaim::InProgress
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(*held.term().await > started + chrono::Duration::milliseconds(1000));
        assert!(held.confirm(first_term).await.unwrap());
        drop(held);
        eventually(
            Duration::from_secs(5),
            "the renewed claim freed",
            || async { is_claimed(&claim(state, &file, Duration::from_secs(60)).await) },
        )
        .await;
    }

    #[tokio::test]
    async fn a_claim_taken_over_is_no_longer_the_old_holders_to_renew_or_free() {
        let node = node(|_| {}).await;
        let state = &node.state;
        // The old holder's claim lapsed a moment ago (its node stalled).
        let file = pending(state, "", "f.bin", 10, chrono::Duration::minutes(2)).await;
        let lapsed = Utc::now() - chrono::Duration::seconds(1);
        let granted = state
            .catalog
            .claim_upload(&file.id, lapsed - chrono::Duration::seconds(1), lapsed)
            .await
            .unwrap();
        assert!(is_claimed(&granted));
        let old = HeldClaim::new(state, &file.id, lapsed);
        assert!(is_claimed(
            &claim(state, &file, Duration::from_secs(3600)).await
        ));
        assert!(!old.confirm(Duration::from_secs(60)).await.unwrap());
        old.release().await;
        assert_eq!(
            claim(state, &file, Duration::from_secs(60)).await,
            UploadClaim::InProgress,
            "the old holder freed the new holder's claim"
        );
    }

    #[tokio::test]
    async fn a_claim_dropped_outside_a_runtime_is_left_to_lapse() {
        let node = node(|_| {}).await;
        let state = &node.state;
        let (file, held) = held(state, Duration::from_secs(3600)).await;
        // As a process ending drops what it held: no runtime, no panic.
        std::thread::spawn(move || drop(held)).join().unwrap();
        assert_eq!(
            claim(state, &file, Duration::from_secs(60)).await,
            UploadClaim::InProgress
        );
    }
}
