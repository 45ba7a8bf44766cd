//! A request's header block is held to nginx's default sizes: no field above 8 KiB and 32 KiB in
//! all. hyper reads far larger blocks; nothing this server speaks needs them, and a proxy in front
//! of it would refuse them anyway.

use axum::{
    extract::Request, http::StatusCode, middleware::Next, response::IntoResponse,
    response::Response,
};

use crate::error::ApiError;

const MAX_FIELD: usize = 8 * 1024;
const MAX_BLOCK: usize = 32 * 1024;
pub const HEADERS_TOO_LARGE: &str =
    "Request header fields are too large: at most 8 KiB per field and 32 KiB in all";

/// Refuses an oversized header block with `431`, rendered as `E`, the shape of the surface whose
/// router this layer wraps.
pub async fn refuse_large_headers<E>(request: Request, next: Next) -> Response
where
    E: From<ApiError> + IntoResponse,
{
    let mut block = 0;
    for (name, value) in request.headers() {
        let field = name.as_str().len() + value.len();
        block += field + 4;
        if field > MAX_FIELD || block > MAX_BLOCK {
            let refusal = ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                HEADERS_TOO_LARGE,
            );
            return E::from(refusal).into_response();
        }
    }
    next.run(request).await
}
