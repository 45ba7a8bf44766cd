//! The Video Jungle surface's error shape: FastAPI's, `{"detail": "..."}`, and for a request
//! that fails validation `{"detail": [{"type", "loc", "msg", "input"}]}`, which the official
//! client prints on a 422.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use mediadrive_app::AppError;
use mediadrive_core::CatalogError;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::{auth::Authorized, error::ApiError};

#[derive(Debug)]
pub struct VjError {
    status: StatusCode,
    detail: Value,
    retry_after: Option<u64>,
}

pub type VjResult<T> = Result<T, VjError>;

/// What FastAPI answers: a message, or the list of fields that failed validation.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// One field that failed validation, worded as pydantic words it.
pub struct Invalid<'a> {
    pub kind: &'static str,
    /// Where the field is: `query`, `body` or `path`.
    pub place: &'static str,
    pub field: &'a str,
    pub msg: String,
    pub input: Option<&'a str>,
}

impl VjError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: Value::String(message.into()),
            retry_after: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    pub fn invalid(fields: &[Invalid<'_>]) -> Self {
        let detail = fields
            .iter()
            .map(|f| {
                json!({
                    "type": f.kind,
                    "loc": [f.place, f.field],
                    "msg": f.msg,
                    "input": f.input,
                })
            })
            .collect();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: Value::Array(detail),
            retry_after: None,
        }
    }

    /// A body field's value is wrong; `msg` says how, in pydantic's words (`Value error, ...`).
    pub fn value_error(field: &str, msg: String) -> Self {
        Self::invalid(&[Invalid {
            kind: "value_error",
            place: "body",
            field,
            msg,
            input: None,
        }])
    }

    /// Unless the body field `field`'s text (its JSON, for an object) fits `[limits]`'s
    /// `project_field_bytes`.
    pub fn check_size(state: &crate::App, field: &str, text: &str) -> VjResult<()> {
        let limit = state.config.limits.project_field_bytes;
        if text.len() > limit {
            return Err(Self::value_error(
                field,
                format!("Value error, {field} holds at most {limit} bytes"),
            ));
        }
        Ok(())
    }

    pub fn missing(place: &'static str, field: &str) -> Self {
        Self::invalid(&[Invalid {
            kind: "missing",
            place,
            field,
            msg: "Field required".into(),
            input: None,
        }])
    }
}

impl From<ApiError> for VjError {
    fn from(e: ApiError) -> Self {
        Self {
            retry_after: e.retry_after,
            ..Self::new(e.status, e.message)
        }
    }
}

impl From<AppError> for VjError {
    fn from(e: AppError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<CatalogError> for VjError {
    fn from(e: CatalogError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for VjError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "detail": self.detail }))).into_response();
        crate::error::retry_after(&mut response, self.retry_after);
        response
    }
}

/// The caller, known by the `X-API-Key` header the official client sends, whose role allows
/// `P`; refused in this surface's shape.
pub type Caller<P> = Authorized<P, VjError>;
