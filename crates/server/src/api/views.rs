//! The JSON shapes the v2 surface answers with (seed 002 and JSON2Video's API reference).

use chrono::Utc;
pub use mediadrive_app::representations::timestamp;
use std::collections::{HashMap, HashSet};

use mediadrive_core::{
    BlobProbe, CacheEntry, ContentHash, FileId, FileRecord, FileStatus, FolderEntry, FolderStats,
    MediaType, ProbeStatus, TempUsage, Tenant,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{error::ApiResult, App};

pub fn now_timestamp() -> String {
    timestamp(Utc::now())
}

#[derive(Serialize, ToSchema)]
pub struct FileView {
    pub name: String,
    /// Folder path, empty for the root.
    pub folder: String,
    /// image, video, audio or other.
    #[serde(rename = "type")]
    pub media_type: String,
    #[serde(rename = "contentType")]
    pub content_type: String,
    pub size: u64,
    /// The stable URL.
    pub url: String,
    /// The same URL, served as an attachment.
    #[serde(rename = "downloadUrl")]
    pub download_url: String,
    /// A 256-pixel WebP thumbnail of an image, or of a video's poster frame.
    #[serde(rename = "thumbnailUrl")]
    pub thumbnail_url: Option<String>,
    /// pending or uploaded.
    pub status: String,
    /// True for files under `temp`, which the lifecycle rule deletes.
    pub temporary: bool,
    pub created_at: String,
    pub updated_at: String,
    /// pending, done or failed: whether mediadrive has looked inside the file yet.
    pub probe_status: String,
    /// What the bytes really are (kind, type, container, codecs, dimensions, duration, …) once probed.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// The peaks of an audio file's waveform (JSON), once they were computed.
    #[serde(rename = "waveformUrl", skip_serializing_if = "Option::is_none")]
    pub waveform_url: Option<String>,
    /// For a generated asset persisted with save-to-media: what made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where a generated asset came from (seed 001: the `generated/` folder says so).
#[derive(Serialize, ToSchema, Clone)]
pub struct Origin {
    /// The preload item type: image, video, audio, voice, html or component.
    #[serde(rename = "type")]
    pub item_type: String,
    pub model: String,
    /// The generator's inputs (prompt, text, voice, src, …).
    #[schema(value_type = Object)]
    pub inputs: serde_json::Value,
    pub generated_at: String,
    /// Always true for a drive file: it stays until deleted, unlike the temporary cache.
    pub persistent: bool,
}

impl Origin {
    pub fn of(entry: &CacheEntry) -> Self {
        let source: serde_json::Value = serde_json::from_str(&entry.source).unwrap_or_default();
        Self {
            item_type: entry.asset_type.to_string(),
            model: entry.model.clone(),
            inputs: source["inputs"].clone(),
            generated_at: timestamp(entry.generated_at),
            persistent: true,
        }
    }
}

/// The preview a file's `thumbnailUrl` names.
const THUMBNAIL: &str = "thumb-256";
const WAVEFORM: &str = "waveform";

/// What the views of some files need besides the files: probes, made previews, origins.
#[derive(Default)]
struct Extras {
    probes: HashMap<ContentHash, BlobProbe>,
    thumbnails: HashSet<ContentHash>,
    waveforms: HashSet<ContentHash>,
    origins: HashMap<FileId, Origin>,
}

/// Views of files with what probing found out about their bytes, which previews exist and where
/// generated files came from: four catalog queries for a whole page.
pub async fn file_views(state: &App, files: &[FileRecord]) -> ApiResult<Vec<FileView>> {
    let hashes: Vec<ContentHash> = files.iter().filter_map(|f| f.blob.clone()).collect();
    let mut extras = Extras::default();
    if !hashes.is_empty() {
        let catalog = &state.catalog;
        let ids: Vec<FileId> = files.iter().map(|f| f.id.clone()).collect();
        extras = Extras {
            probes: catalog
                .blob_probes(&hashes)
                .await?
                .into_iter()
                .map(|p| (p.hash.clone(), p))
                .collect(),
            thumbnails: catalog
                .with_preview(&hashes, THUMBNAIL)
                .await?
                .into_iter()
                .collect(),
            waveforms: catalog
                .with_preview(&hashes, WAVEFORM)
                .await?
                .into_iter()
                .collect(),
            origins: catalog
                .cache_entries_of_files(&ids)
                .await?
                .into_iter()
                .map(|(id, entry)| (id, Origin::of(&entry)))
                .collect(),
        };
    }
    Ok(files
        .iter()
        .map(|f| FileView::new(state, f, &extras))
        .collect())
}

pub async fn file_view(state: &App, file: &FileRecord) -> ApiResult<FileView> {
    Ok(file_views(state, std::slice::from_ref(file))
        .await?
        .remove(0))
}

/// A stored probe's metadata as JSON; a row that does not parse is a catalog fault, not the client's.
pub fn metadata_json(probe: &BlobProbe) -> Option<serde_json::Value> {
    probe
        .metadata
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
}

/// A file declared an image is its own thumbnail until one is made (as serving falls back); any
/// other file has one once it is made, so the URL never answers 404.
fn thumbnail(url: &str, f: &FileRecord, made: bool) -> Option<String> {
    ((f.media_type == MediaType::Image || made) && f.status == FileStatus::Uploaded)
        .then(|| format!("{url}?preview={THUMBNAIL}"))
}

impl FileView {
    fn new(state: &App, f: &FileRecord, extras: &Extras) -> Self {
        let url = state.record_url(f);
        let blob = f.blob.as_ref();
        let probe = blob.and_then(|h| extras.probes.get(h));
        let made = |set: &HashSet<ContentHash>| blob.is_some_and(|h| set.contains(h));
        Self {
            name: f.name.as_str().to_string(),
            folder: f.folder.as_str().to_string(),
            media_type: f.media_type.as_str().to_string(),
            content_type: f.content_type.clone(),
            size: f.size,
            download_url: format!("{url}?download=1"),
            thumbnail_url: thumbnail(&url, f, made(&extras.thumbnails)),
            waveform_url: made(&extras.waveforms).then(|| format!("{url}?preview={WAVEFORM}")),
            url,
            status: f.status.as_str().to_string(),
            temporary: f.temporary,
            created_at: timestamp(f.created_at),
            updated_at: timestamp(f.updated_at),
            probe_status: probe
                .map_or(ProbeStatus::Pending, |p| p.status)
                .as_str()
                .to_string(),
            metadata: probe.and_then(metadata_json),
            origin: extras.origins.get(&f.id).cloned(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FolderView {
    pub name: String,
    pub path: String,
    pub created_at: String,
}

impl From<&FolderEntry> for FolderView {
    fn from(f: &FolderEntry) -> Self {
        Self {
            name: f.path.name().to_string(),
            path: f.path.as_str().to_string(),
            created_at: timestamp(f.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FolderStatsView {
    pub path: String,
    pub files: u64,
    pub bytes: u64,
}

impl From<&FolderStats> for FolderStatsView {
    fn from(f: &FolderStats) -> Self {
        Self {
            path: f.path.as_str().to_string(),
            files: f.files,
            bytes: f.bytes,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StorageView {
    /// Bytes of uploaded files outside `temp`.
    pub used_bytes: u64,
    /// The storage quota in bytes; null when unlimited.
    pub free_allowance: Option<u64>,
    pub credits_per_week: i64,
    pub blocked: bool,
    pub blocked_at: Option<String>,
    /// Bytes kept outside the quota above: files in `temp` (pending ones included) and temporary
    /// cache entries (generated assets, `src` downloads, render outputs not hosted).
    pub temp_used_bytes: u64,
    /// The budget for `temp_used_bytes`, the quota's unless set apart; null when unlimited.
    pub temp_quota: Option<u64>,
}

impl StorageView {
    pub fn new(state: &App, t: &Tenant, temp: &TempUsage) -> Self {
        Self {
            used_bytes: t.used_bytes,
            free_allowance: t.quota.or(state.config.default_quota),
            credits_per_week: state.config.credits_per_week,
            blocked: t.storage_blocked,
            blocked_at: t.blocked_at.map(timestamp),
            temp_used_bytes: temp.used_bytes,
            temp_quota: temp.quota,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FolderListing {
    pub success: bool,
    pub folder: String,
    /// Direct subfolders; on the first page only.
    pub folders: Vec<FolderView>,
    pub files: Vec<FileView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Done {
    pub success: bool,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Done {
    pub fn now() -> Self {
        Self {
            success: true,
            timestamp: now_timestamp(),
            message: None,
        }
    }
}
