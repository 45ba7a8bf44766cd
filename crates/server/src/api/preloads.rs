//! `/v2/preloads` (seed 000): queue generated assets, then poll for each item's result.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    Json,
};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use mediadrive_core::{
    Action, AssetType, ItemRequest, ItemStatus, NewPreload, PreloadItem, PreloadRecord,
};
use mediadrive_generate::inputs::{canonical_json, validate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::body::JsonObject;
use crate::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    state::AppState,
};

/// Most items one preload may hold.
pub const MAX_ITEMS: usize = 100;
/// How long an `Idempotency-Key` answers with the preload it created.
const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;
const IDEMPOTENCY_HEADER: &str = "idempotency-key";
const MAX_ITEM_ID: usize = 200;

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

#[derive(Serialize, ToSchema)]
pub struct PreloadView {
    pub success: bool,
    pub id: String,
    /// queued, processing or done.
    pub status: &'static str,
    pub created_at: String,
    pub items: Vec<ItemView>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemView {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub item_type: String,
    pub model: String,
    /// queued, processing, ready or failed.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// True when the URL is in the drive and permanent; false for the temporary cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
    /// When a temporary URL stops working; null for persistent ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Seconds, for audio and video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `quota_blocked` when save-to-media could not persist the asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Why a failed item failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn item_view(state: &AppState, item: &PreloadItem) -> ItemView {
    let result = item
        .result
        .as_ref()
        .filter(|_| item.status == ItemStatus::Ready);
    ItemView {
        id: item.request.item_id.clone(),
        item_type: item.request.asset_type.to_string(),
        model: item.request.model.clone(),
        status: item.status.as_str(),
        url: result.map(|r| state.url(&r.url_path)),
        persistent: result.map(|r| r.persistent),
        expires_at: result.map(|r| r.expires_at.map(timestamp)),
        width: result.and_then(|r| r.width),
        height: result.and_then(|r| r.height),
        size: result.and_then(|r| r.size),
        duration: result
            .and_then(|r| r.duration_ms)
            .map(|ms| ms as f64 / 1000.0),
        warning: result.and_then(|r| r.warning.clone()),
        error: item.error.clone(),
    }
}

pub(crate) fn view(state: &AppState, preload: &PreloadRecord) -> PreloadView {
    let statuses: Vec<ItemStatus> = preload.items.iter().map(|i| i.status).collect();
    let finished = |s: &ItemStatus| matches!(s, ItemStatus::Ready | ItemStatus::Failed);
    let status = if statuses.iter().all(finished) {
        "done"
    } else if statuses.iter().all(|s| *s == ItemStatus::Queued) {
        "queued"
    } else {
        "processing"
    };
    PreloadView {
        success: true,
        id: preload.id.clone(),
        status,
        created_at: timestamp(preload.created_at),
        items: preload.items.iter().map(|i| item_view(state, i)).collect(),
    }
}

/// Where an item is in a preload, for its errors: `preload[2] (id hero)`.
fn position(index: usize, raw: &Value) -> String {
    match raw.get("id").and_then(Value::as_str) {
        Some(id) => format!("preload[{index}] (id {id})"),
        None => format!("preload[{index}]"),
    }
}

/// One item checked against its generator; the error names the item (`at`) and the field.
pub(crate) fn item_request(state: &AppState, at: &str, raw: &Value) -> ApiResult<ItemRequest> {
    let item_id = raw.get("id").and_then(Value::as_str);
    let invalid = |message: &str| ApiError::bad_request(format!("{at}: {message}"));
    let item = raw
        .as_object()
        .ok_or_else(|| invalid("each item must be an object"))?;
    match item.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) if !id.is_empty() && id.chars().count() <= MAX_ITEM_ID => {}
        Some(_) => {
            return Err(invalid(&format!(
                "id must be a non-empty string of at most {MAX_ITEM_ID} characters"
            )))
        }
    }
    let asset_type = match item.get("type").and_then(Value::as_str) {
        None => return Err(invalid("type is required")),
        Some(t) => AssetType::parse(t).ok_or_else(|| {
            invalid("type must be one of image, video, audio, voice, html, component")
        })?,
    };
    let save_to_media = match item.get("save-to-media") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("save-to-media must be true or false")),
    };
    let model = match item.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => Some(m.as_str()),
        Some(_) => return Err(invalid("model must be a string")),
    };
    let has_src = !matches!(item.get("src"), None | Some(Value::Null));
    let found = state
        .generators
        .find(asset_type, model, has_src)
        .map_err(|e| invalid(&e.to_string()))?;
    let inputs = validate(found.generator.inputs(), item).map_err(|e| invalid(&e))?;
    if let Some(src) = inputs.get("src").and_then(Value::as_str) {
        // A literal private address is refused now; names are checked when they are resolved.
        state
            .generators
            .fetcher()
            .check_url(src)
            .map_err(|e| invalid(&format!("src: {e}")))?;
    }
    let source = canonical_json(&json!({
        "type": asset_type.as_str(),
        "model": found.name,
        "inputs": Value::Object(inputs),
    }));
    Ok(ItemRequest {
        item_id: item_id.map(str::to_string),
        asset_type,
        model: found.name.clone(),
        fingerprint: blake3::hash(source.as_bytes()).to_hex().to_string(),
        source,
        save_to_media,
    })
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
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<PreloadView>)> {
    principal.authorize(Action::Generate)?;
    let key = idempotency_key(&headers)?;
    let items = body
        .get("preload")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("preload is required"))?;
    if items.is_empty() {
        return Err(ApiError::bad_request("preload must hold at least one item"));
    }
    if items.len() > MAX_ITEMS {
        return Err(ApiError::bad_request(format!(
            "preload holds {} items; at most {MAX_ITEMS} are allowed",
            items.len()
        )));
    }
    let items = items
        .iter()
        .enumerate()
        .map(|(i, raw)| item_request(&state, &position(i, raw), raw))
        .collect::<ApiResult<Vec<_>>>()?;
    let callback = super::webhooks::callback(&state, &principal, &body).await?;
    let now = Utc::now();
    let (preload, created) = state
        .catalog
        .create_preload(&NewPreload {
            tenant: principal.tenant.clone(),
            items,
            callback,
            idempotency_key: key,
            idempotency_since: now - Duration::hours(IDEMPOTENCY_WINDOW_HOURS),
            now,
        })
        .await?;
    if created {
        state.generation_wakeup.notify_one();
    }
    Ok((StatusCode::ACCEPTED, Json(view(&state, &preload))))
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
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PreloadView>> {
    principal.authorize(Action::List)?;
    let preload = state
        .catalog
        .preload(&principal.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Preload not found"))?;
    Ok(Json(view(&state, &preload)))
}
