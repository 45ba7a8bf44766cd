//! How appending to a resumable upload fails; the tus surface gives each its status and wording.

use mediadrive_core::{BlobError, CatalogError};

use crate::error::AppError;

#[derive(Debug)]
pub enum ResumableError {
    /// No such upload, or not the caller's.
    NotFound,
    /// Another request holds the upload while it appends.
    AnotherRequest,
    /// The client's offset is not the upload's.
    OffsetMismatch {
        sent: u64,
        actual: u64,
    },
    /// The bytes go past the upload's declared length.
    PastLength,
    ChecksumMismatch,
    AlreadyCompleted,
    /// The store lost bytes the catalog had counted; the upload was removed.
    Lost,
    App(AppError),
}

pub type ResumableResult<T> = Result<T, ResumableError>;

impl From<AppError> for ResumableError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl From<CatalogError> for ResumableError {
    fn from(e: CatalogError) -> Self {
        Self::App(e.into())
    }
}

impl From<BlobError> for ResumableError {
    fn from(e: BlobError) -> Self {
        Self::App(e.into())
    }
}
