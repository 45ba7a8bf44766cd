//! The resource shapes that API answers and webhook bodies share: a render output and a preload
//! look the same whether a client asked for them or a webhook announces them.

use chrono::{DateTime, SecondsFormat, Utc};
use mediadrive_core::{
    ApiKeyRecord, CacheEntry, FileRecord, ItemStatus, OutputStatus, PreloadItem, PreloadRecord,
    RenderOutput,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{error::AppResult, keys::KeyStatus, App};

/// Timestamps as the seeds print them: `2026-05-12T10:49:52.924Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize, ToSchema)]
pub struct OutputView {
    /// A UUID: the asset id of the Serve API.
    pub id: String,
    /// video, thumbnail, poster, or transfer (a file transferred by URL).
    #[serde(rename = "type")]
    pub output_type: &'static str,
    /// waiting (for its upload), fetching, importing (into hosting), temporary (not to be
    /// hosted), ready (hosted), failed, deleted.
    pub status: &'static str,
    /// Where to PUT the bytes (with the API key), while the output waits for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// The temporary URL; answers `410 Gone` after `expires_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The permanent URL, once hosted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_url: Option<String>,
    /// The hosted file's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Seconds, for videos.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An output as the API shows it, with its temporary-tier entry and hosted file if it has them.
pub fn output_view(
    state: &App,
    output: &RenderOutput,
    entry: Option<&CacheEntry>,
    file: Option<&FileRecord>,
) -> OutputView {
    let waiting = output.status == OutputStatus::Waiting;
    let hosted = file.filter(|_| output.status == OutputStatus::Ready);
    OutputView {
        id: output.id.to_string(),
        output_type: output.kind.as_str(),
        status: output.status.as_str(),
        upload_url: waiting.then(|| {
            state.url(&format!(
                "/v2/renders/{}/outputs/{}",
                output.render_id, output.id
            ))
        }),
        src: output.src.clone(),
        url: entry.map(|e| state.url(&e.url_path())),
        expires_at: entry.map(|e| timestamp(e.expires_at)),
        hosted_url: hosted.map(|f| state.record_url(f)),
        filename: hosted.map(|f| f.name.to_string()),
        content_type: entry.map(|e| e.content_type.clone()),
        size: entry.map(|e| e.size),
        width: entry.and_then(|e| e.width),
        height: entry.and_then(|e| e.height),
        duration: entry
            .and_then(|e| e.duration_ms)
            .map(|ms| ms as f64 / 1000.0),
        error: output.error.clone(),
        created_at: timestamp(output.created_at),
        updated_at: timestamp(output.updated_at),
    }
}

/// An output with the records its view shows, read from the catalog.
pub async fn load_output_view(state: &App, output: &RenderOutput) -> AppResult<OutputView> {
    let entry = match &output.cache_entry {
        Some(id) => state.catalog.cache_entry_by_id(id).await?,
        None => None,
    };
    let file = match &output.hosted_file {
        Some(id) => state.catalog.file_by_id(id).await?,
        None => None,
    };
    Ok(output_view(state, output, entry.as_ref(), file.as_ref()))
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

/// Preload answers print seconds, as seed 000's examples do.
fn seconds(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn item_view(state: &App, item: &PreloadItem) -> ItemView {
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
        expires_at: result.map(|r| r.expires_at.map(seconds)),
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

pub fn preload_view(state: &App, preload: &PreloadRecord) -> PreloadView {
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
        id: preload.id.to_string(),
        status,
        created_at: seconds(preload.created_at),
        items: preload.items.iter().map(|i| item_view(state, i)).collect(),
    }
}

/// An API key as its managers see it: never the key itself, but at its creation.
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    /// The tenant the key is for.
    pub client_id: String,
    pub name: String,
    pub role: String,
    /// active, expired or revoked.
    pub status: String,
    pub created_at: String,
    /// To within a minute.
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The key itself (`md_…`): in the answer that created it, and never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl KeyView {
    pub fn of(key: &ApiKeyRecord, now: DateTime<Utc>) -> Self {
        Self {
            id: key.id.to_string(),
            client_id: key.tenant.to_string(),
            name: key.name.clone(),
            role: key.role.as_str().to_string(),
            status: KeyStatus::of(key, now).as_str().to_string(),
            created_at: timestamp(key.created_at),
            last_used_at: key.last_used_at.map(timestamp),
            expires_at: key.expires_at.map(timestamp),
            revoked_at: key.revoked_at.map(timestamp),
            key: None,
        }
    }
}
