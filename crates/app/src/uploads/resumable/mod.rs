//! Resumable (tus) uploads below any protocol: creating one, appending to it, finishing it,
//! and dropping the bytes of those the catalog no longer holds.

mod checksum;
mod engine;
mod error;

pub use checksum::{Checksum, ALGORITHMS};
pub use engine::{append_claimed, create, remove, resumed_at, upload_of, Appended, Creation};
pub use error::{ResumableError, ResumableResult};

use mediadrive_core::{BlobError, CatalogError, FileStatus};

use crate::App;

/// Drops the bytes of resumable uploads the catalog no longer holds pending: expired, terminated,
/// completed, or deleted through the drive. One that cannot be dropped now is left for the next
/// sweep, without holding up the others.
pub async fn sweep_partials(state: &App) -> Result<(), BlobError> {
    let mut removed = 0;
    for upload in state.blobs.partial_uploads().await? {
        let pending = match state.catalog.file_by_id(&upload).await {
            Ok(file) => file.is_some_and(|f| f.status == FileStatus::Pending),
            Err(CatalogError::NotFound) => false,
            Err(e) => {
                tracing::warn!(upload = %upload, error = %e, "could not check a resumable upload");
                continue;
            }
        };
        if pending {
            continue;
        }
        match state.blobs.discard_partial(&upload).await {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(upload = %upload, error = %e, "could not remove a resumable upload's bytes")
            }
        }
    }
    if removed > 0 {
        tracing::info!(
            removed,
            "dropped the bytes of finished or abandoned resumable uploads"
        );
    }
    Ok(())
}
