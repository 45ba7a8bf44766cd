//! Queuing generated assets (seed 000's preloads): each item checked against its generator and
//! named by the fingerprint of what it asks for, so the same request is made once.

use chrono::Utc;
use mediadrive_core::{AssetType, ClientId, ItemRequest, NewPreload, PreloadRecord};
use mediadrive_generate::inputs::{canonical_json, validate};
use serde_json::{json, Value};

use crate::{
    error::{AppError, AppResult},
    App,
};

/// Most items one preload may hold.
pub const MAX_ITEMS: usize = 100;
/// How long an idempotency key answers with the preload it created.
const IDEMPOTENCY_WINDOW: chrono::Duration = chrono::Duration::hours(24);
const MAX_ITEM_ID: usize = 200;

/// What a client asks to preload.
pub struct PreloadRequest<'a> {
    pub tenant: ClientId,
    /// The items as the client sent them.
    pub items: &'a [Value],
    /// Checked with [`crate::webhooks::callback`].
    pub callback: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Queues a preload, or finds the one an idempotency key created within a day; its items are
/// made in the background.
pub async fn create(state: &App, request: PreloadRequest<'_>) -> AppResult<PreloadRecord> {
    if request.items.is_empty() {
        return Err(AppError::bad_request("preload must hold at least one item"));
    }
    if request.items.len() > MAX_ITEMS {
        return Err(AppError::bad_request(format!(
            "preload holds {} items; at most {MAX_ITEMS} are allowed",
            request.items.len()
        )));
    }
    let items = request
        .items
        .iter()
        .enumerate()
        .map(|(i, raw)| item_request(state, &position(i, raw), raw))
        .collect::<AppResult<Vec<_>>>()?;
    let now = Utc::now();
    let (preload, created) = state
        .catalog
        .create_preload(&NewPreload {
            tenant: request.tenant,
            items,
            callback: request.callback,
            idempotency_key: request.idempotency_key,
            idempotency_since: now - IDEMPOTENCY_WINDOW,
            now,
        })
        .await?;
    if created {
        state.wakeups.generation.notify_one();
    }
    Ok(preload)
}

/// Where an item is in a preload, for its errors: `preload[2] (id hero)`.
fn position(index: usize, raw: &Value) -> String {
    match raw.get("id").and_then(Value::as_str) {
        Some(id) => format!("preload[{index}] (id {id})"),
        None => format!("preload[{index}]"),
    }
}

/// One item checked against its generator; the error names the item (`at`) and the field.
pub fn item_request(state: &App, at: &str, raw: &Value) -> AppResult<ItemRequest> {
    let item_id = raw.get("id").and_then(Value::as_str);
    let invalid = |message: &str| AppError::bad_request(format!("{at}: {message}"));
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
