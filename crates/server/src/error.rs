//! The one API error type: every failure leaves the server here, in the seeds' shape and wording.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use mediadrive_app::{AppError, ErrorKind};
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

pub use mediadrive_app::error::STORAGE_BLOCKED;

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

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = match e.kind {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            message: e.message,
            retry_after: e.retry_after,
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        AppError::from(e).into()
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        AppError::from(e).into()
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
