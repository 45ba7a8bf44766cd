//! The one error of the use cases. It says what kind of failure happened and carries the seeds'
//! wording; each surface turns the kind into its own status code and error shape, in one place.

use mediadrive_core::{BlobError, CatalogError};

/// What went wrong, as far as a client is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    /// No key, or one that does not (or no longer) work.
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    /// The body stopped arriving.
    Timeout,
    TooLarge,
    /// Well-formed, but not what it must be (a file of the wrong kind, a value out of bounds).
    Unprocessable,
    TooManyRequests,
    /// Retry soon, perhaps on another node.
    Unavailable,
    Internal,
}

#[derive(Debug)]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    /// Seconds after which the request may be retried.
    pub retry_after: Option<u64>,
}

pub type AppResult<T> = Result<T, AppError>;

/// Seed 002's answer when the drive cannot take more bytes.
pub const STORAGE_BLOCKED: &str = "Storage is blocked. Add credits to continue uploading.";

/// The answer when what a tenant keeps outside the drive (`temp`, the cache) reached its budget;
/// worded like seed 002's, and saying what frees room.
pub const TEMP_STORAGE_FULL: &str =
    "Temporary storage is full. Delete temporary files or wait for them to expire.";

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    pub fn storage_blocked() -> Self {
        Self::forbidden(STORAGE_BLOCKED)
    }

    /// Internal failures say nothing of the cause to the client; the log gets it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        Self::new(ErrorKind::Internal, "Internal server error")
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl From<CatalogError> for AppError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => Self::not_found("Not found"),
            CatalogError::FileExists => {
                Self::conflict("A file with this name already exists. Delete it first.")
            }
            CatalogError::FolderExists => Self::conflict("A folder with this name already exists"),
            CatalogError::StorageBlocked => Self::storage_blocked(),
            CatalogError::TempStorageFull => Self::forbidden(TEMP_STORAGE_FULL),
            CatalogError::TooManyProjects => {
                Self::forbidden("Project limit reached. Delete a project to create another.")
            }
            CatalogError::TooManyEndpoints => Self::bad_request(format!(
                "at most {} webhook endpoints are allowed",
                crate::config::MAX_WEBHOOK_ENDPOINTS
            )),
            CatalogError::FolderNotEmpty => {
                Self::conflict("Folder is not empty. Delete all files first.")
            }
            CatalogError::MoveIntoSelf => Self::bad_request("A folder cannot be moved into itself"),
            CatalogError::BlobBusy => {
                Self::new(ErrorKind::Unavailable, "Storage is busy, retry the request")
            }
            CatalogError::Backend(cause) => Self::internal(cause),
        }
    }
}

impl From<BlobError> for AppError {
    fn from(e: BlobError) -> Self {
        Self::internal(e)
    }
}
