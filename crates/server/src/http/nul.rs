//! NUL characters are refused at the door: PostgreSQL cannot store them in text, SQLite and file
//! systems truncate at them, and no name, id or field of any surface has a use for one.

use axum::{extract::Request, middleware::Next, response::IntoResponse, response::Response};
use serde_json::Value;

use crate::error::ApiError;

pub const NUL_IN_URL: &str = "The request URL holds a NUL character";
pub const NUL_IN_BODY: &str = "Invalid JSON body: strings may not hold NUL characters";

/// A NUL can reach a URL only percent-encoded (hyper refuses raw control bytes). The refusal is
/// rendered as `E`, the error shape of the surface whose router this layer wraps.
pub async fn refuse_nul_in_url<E>(request: Request, next: Next) -> Response
where
    E: From<ApiError> + IntoResponse,
{
    let uri = request.uri();
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    if !target.to_ascii_lowercase().contains("%00") {
        return next.run(request).await;
    }
    E::from(ApiError::bad_request(NUL_IN_URL)).into_response()
}

/// Whether any string in `value`, key or value, holds a NUL.
pub fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}
