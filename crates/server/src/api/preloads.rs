//! `/v2/preloads` (seed 000): queue generated assets, then poll for each item's result.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    Json,
};
use mediadrive_app::{
    preloads,
    representations::{preload_view, PreloadView},
};
use mediadrive_core::PreloadId;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::http::body::JsonObject;
use crate::{
    auth::{can, Authorized},
    error::{ApiError, ApiResult, ErrorBody},
    App,
};

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct PreloadRequest {
    /// The items to make.
    preload: Vec<PreloadItemRequest>,
    /// A URL told of each item's outcome and of the preload's end, signed like webhooks (with the
    /// secret of `GET /v2/webhooks/callback-secret`).
    callback: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Documents the body; see `PreloadRequest`.
pub struct PreloadItemRequest {
    /// Your id for the item; names the persisted file when it matches `^[a-zA-Z0-9_-]+$`.
    id: Option<String>,
    /// image, video, audio, voice, html or component.
    #[serde(rename = "type")]
    item_type: String,
    /// The generator (see `GET /v2/models`); the type's default when absent.
    model: Option<String>,
    /// An external URL to download once instead of generating (image and video items).
    src: Option<String>,
    /// Persist into the drive at `generated/{type}/`.
    #[serde(rename = "save-to-media")]
    save_to_media: Option<bool>,
    /// Further fields are the generator's own inputs: `prompt`, `text`, `voice`, `html`, …
    prompt: Option<String>,
    text: Option<String>,
    voice: Option<String>,
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 255 => Ok(Some(key.to_string())),
        _ => Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// Queues a preload and answers at once with its id; items are made in the background.
#[utoipa::path(post, path = "/v2/preloads", tag = "preloads",
    request_body = PreloadRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Repeating a key within 24 hours answers with the preload it created")),
    security(("api_key" = [])),
    responses(
        (status = 202, body = PreloadView),
        (status = 400, description = "preload is required | preload[i] (id X): <field> is required | …", body = ErrorBody),
        (status = 403, description = "Insufficient permissions", body = ErrorBody),
    ))]
pub async fn create_preload(
    State(state): State<App>,
    principal: Authorized<can::Generate>,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<PreloadView>)> {
    let idempotency_key = idempotency_key(&headers)?;
    let items = body
        .get("preload")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("preload is required"))?;
    let callback = super::webhooks::callback(&state, &principal, &body).await?;
    let preload = preloads::create(
        &state,
        preloads::PreloadRequest {
            tenant: principal.tenant.clone(),
            items,
            callback,
            idempotency_key,
        },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(preload_view(&state, &preload))))
}

/// Reports each item of a preload: status, URL, whether it is persistent, when it expires.
#[utoipa::path(get, path = "/v2/preloads/{preload_id}", tag = "preloads",
    params(("preload_id" = String, Path, description = "The id POST /v2/preloads returned")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = PreloadView),
        (status = 404, description = "Preload not found", body = ErrorBody),
    ))]
pub async fn get_preload(
    State(state): State<App>,
    principal: Authorized<can::List>,
    Path(id): Path<String>,
) -> ApiResult<Json<PreloadView>> {
    // A malformed id names no preload: the same 404 as an unknown one.
    let preload = match PreloadId::parse(&id) {
        Ok(id) => state.catalog.preload(&principal.tenant, &id).await?,
        Err(_) => None,
    }
    .ok_or_else(|| ApiError::not_found("Preload not found"))?;
    Ok(Json(preload_view(&state, &preload)))
}
