//! The quota a Video Jungle upload holds while its bytes arrive.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use mediadrive_core::{CatalogError, FileId, NewUpload, ProjectAsset, UploadClaim};

use super::{file_names, FORM_ALLOWANCE};
use crate::{
    error::STORAGE_BLOCKED,
    held_claim::HeldClaim,
    state::AppState,
    videojungle::error::{VjError, VjResult},
};

/// How long a reservation outlives the request that holds it, should its node die; renewed
/// while the request lives.
const HOLD: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// The quota an upload holds while its bytes arrive: a pending file in the project's folder of
/// the least size the file can have (the declared length less the room a form takes besides it),
/// so a tenant without room for it is refused before any byte is sent, and concurrent uploads
/// cannot take the room meanwhile. Its claim is renewed while the request lives, so the sweeper
/// frees it soon after a node dies; a request dropped mid-body frees it at once.
pub(super) struct Reservation {
    state: AppState,
    held: Option<(FileId, HeldClaim)>,
}

impl Reservation {
    pub(super) async fn take(
        state: &AppState,
        asset: &ProjectAsset,
        declared: Option<u64>,
    ) -> VjResult<Self> {
        let mut reservation = Self {
            state: state.clone(),
            held: None,
        };
        let least = declared.unwrap_or(0).saturating_sub(FORM_ALLOWANCE);
        if least == 0 {
            return Ok(reservation);
        }
        let project = state
            .catalog
            .project(&asset.tenant, &asset.project_id)
            .await?
            .ok_or_else(|| VjError::not_found("Asset"))?;
        let now = Utc::now();
        let until = now + HOLD;
        for name in file_names(&asset.name, &asset.id, None) {
            let reserved = state
                .catalog
                .reserve_upload(&NewUpload {
                    tenant: asset.tenant.clone(),
                    folder: project.folder.clone(),
                    name,
                    content_type: "application/octet-stream".into(),
                    size: least,
                    now,
                    upload_expires_at: until,
                    default_quota: state.config.default_quota,
                })
                .await;
            let file = match reserved {
                Ok(file) => file,
                // Names taken by other files: the file may still get one once its type is known.
                Err(CatalogError::FileExists) => continue,
                Err(CatalogError::StorageBlocked) => {
                    return Err(VjError::new(StatusCode::FORBIDDEN, STORAGE_BLOCKED))
                }
                Err(e) => return Err(e.into()),
            };
            if let UploadClaim::Claimed(_) =
                state.catalog.claim_upload(&file.id, now, until).await?
            {
                let claim = HeldClaim::new(state, &file.id, until).renewed(RENEW_EVERY, HOLD);
                reservation.held = Some((file.id, claim));
            } else {
                let _ = state.catalog.cancel_pending_upload(&file.id).await;
            }
            break;
        }
        Ok(reservation)
    }

    /// Frees the reservation; nothing happens on a second call.
    pub(super) async fn cancel(&mut self) {
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
