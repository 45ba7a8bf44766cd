//! The quota an asset upload holds while its bytes arrive.

use std::time::Duration;

use chrono::Utc;
use mediadrive_core::{FileId, ProjectAsset, UploadClaim};

use super::names::reserve_named;
use crate::{config::MAX_UPLOAD_BYTES, error::AppResult, held_claim::HeldClaim, App};

/// How long a reservation outlives the request that holds it, should its node die; renewed
/// while the request lives.
const HOLD: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// The least a reservation grows by while a body of unknown length arrives.
const GROWTH: u64 = 8 * 1024 * 1024;

/// The quota an upload holds while its bytes arrive: a pending file in the project's folder of
/// the least size the file can have (the declared length less the room a form takes besides it),
/// so a tenant without room for it is refused before any byte is sent, and concurrent uploads
/// cannot take the room meanwhile. A body of unknown length (sent chunked) is reserved as it
/// arrives, doubling ahead of it, so it is refused once it passes the room rather than once it
/// ended. Its claim is renewed while the request lives, so the sweeper frees it soon after a node
/// dies; a request dropped mid-body frees it at once.
pub(super) struct Reservation {
    state: App,
    asset: ProjectAsset,
    held: Option<(FileId, HeldClaim)>,
    reserved: u64,
    /// The most the file can be: its form's declared length, or the upload limit.
    cap: u64,
}

impl Reservation {
    /// `declared` is the request's length, of which up to `allowance` is not the file's.
    pub(super) async fn take(
        state: &App,
        asset: &ProjectAsset,
        declared: Option<u64>,
        allowance: u64,
    ) -> AppResult<Self> {
        let mut reservation = Self {
            state: state.clone(),
            asset: asset.clone(),
            held: None,
            reserved: 0,
            cap: declared.unwrap_or(MAX_UPLOAD_BYTES).min(MAX_UPLOAD_BYTES),
        };
        let least = declared.unwrap_or(0).saturating_sub(allowance);
        if least > 0 {
            reservation.reserve(least).await?;
        }
        Ok(reservation)
    }

    /// Makes sure `received` bytes of the file are reserved; refused in this surface's shape when
    /// the tenant has no room for them.
    pub(super) async fn cover(&mut self, received: u64) -> AppResult<()> {
        if received <= self.reserved {
            return Ok(());
        }
        // Never past what the file can be: a form that fits the room must not be refused for
        // the reservation running ahead of it.
        let size = received
            .max(self.reserved.saturating_mul(2))
            .clamp(GROWTH.min(self.cap), self.cap);
        let Some((file, _)) = &self.held else {
            return self.reserve(size).await;
        };
        let default_quota = self.state.config.default_quota;
        match self
            .state
            .catalog
            .grow_pending_upload(file, size, default_quota)
            .await
        {
            Ok(_) => {
                self.reserved = size;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn reserve(&mut self, size: u64) -> AppResult<()> {
        let state = &self.state;
        let until = Utc::now() + HOLD;
        // Names taken by other files: the file may still get one once its type is known.
        let reserved = reserve_named(
            state,
            &self.asset,
            None,
            "application/octet-stream",
            size,
            until,
        )
        .await?;
        if let Some(file) = reserved {
            let now = Utc::now();
            if let UploadClaim::Claimed(_) =
                state.catalog.claim_upload(&file.id, now, until).await?
            {
                let claim = HeldClaim::new(state, &file.id, until).renewed(RENEW_EVERY, HOLD);
                self.held = Some((file.id, claim));
            } else {
                let _ = state.catalog.cancel_pending_upload(&file.id).await;
            }
        }
        // Should every name be taken, the upload goes on unreserved to this size, as the file's
        // own reservation is made once its bytes are known.
        self.reserved = size;
        Ok(())
    }

    /// Frees the reservation; nothing happens on a second call.
    pub(super) async fn cancel(&mut self) {
        self.reserved = 0;
        if let Some((file, claim)) = self.held.take() {
            // The pending file goes, and its claim with it.
            claim.recorded();
            if let Err(e) = self.state.catalog.cancel_pending_upload(&file).await {
                tracing::warn!(file = %file, error = %e, "could not free an asset upload's reservation; the sweeper will");
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some((file, claim)) = self.held.take() else {
            return;
        };
        claim.recorded();
        // Outside a runtime (a process ending) the sweeper frees it once the claim lapses.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let state = self.state.clone();
            runtime.spawn(async move {
                let _ = state.catalog.cancel_pending_upload(&file).await;
            });
        }
    }
}
