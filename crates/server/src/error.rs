//! The one API error type: every failure leaves the server here, in the seeds' shape and wording.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use mediadrive_core::{BlobError, CatalogError};
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds after which a `429` may be retried, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always false.
    pub success: bool,
    /// What went wrong, worded as the vendor documents word it.
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Seed 002's answer when the drive cannot take more bytes.
pub const STORAGE_BLOCKED: &str = "Storage is blocked. Add credits to continue uploading.";

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn insufficient_permissions() -> Self {
        Self::forbidden("Insufficient permissions")
    }

    pub fn storage_blocked() -> Self {
        Self::forbidden(STORAGE_BLOCKED)
    }

    pub fn file_not_found() -> Self {
        Self::not_found("File not found")
    }

    pub fn folder_not_found() -> Self {
        Self::not_found("Folder not found")
    }

    /// 5xx answers say nothing of the cause; the log gets it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => Self::not_found("Not found"),
            CatalogError::FileExists => {
                Self::conflict("A file with this name already exists. Delete it first.")
            }
            CatalogError::FolderExists => Self::conflict("A folder with this name already exists"),
            CatalogError::StorageBlocked => Self::storage_blocked(),
            CatalogError::FolderNotEmpty => {
                Self::conflict("Folder is not empty. Delete all files first.")
            }
            CatalogError::MoveIntoSelf => Self::bad_request("A folder cannot be moved into itself"),
            CatalogError::BlobBusy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Storage is busy, retry the request",
            ),
            CatalogError::Backend(cause) => Self::internal(cause),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            success: false,
            message: self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        retry_after(&mut response, self.retry_after);
        response
    }
}

/// Adds `Retry-After` to an answer that has one.
pub fn retry_after(response: &mut Response, seconds: Option<u64>) {
    if let Some(seconds) = seconds {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
    }
}
