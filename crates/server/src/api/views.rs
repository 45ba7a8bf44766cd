//! The JSON shapes the v2 surface answers with (seed 002 and JSON2Video's API reference).

use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::{HashMap, HashSet};

use mediadrive_core::{
    BlobProbe, ContentHash, FileRecord, FolderEntry, FolderStats, MediaType, ProbeStatus, Tenant,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{error::ApiResult, state::AppState};

/// Timestamps as the seeds print them: `2026-05-12T10:49:52.924Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

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
}

/// The preview a file's `thumbnailUrl` names.
const THUMBNAIL: &str = "thumb-256";

/// Views of files with what probing found out about their bytes (one catalog query for all, and
/// one for which of them have a thumbnail).
pub async fn file_views(state: &AppState, files: &[FileRecord]) -> ApiResult<Vec<FileView>> {
    let hashes: Vec<ContentHash> = files.iter().filter_map(|f| f.blob.clone()).collect();
    let (probes, thumbnails): (HashMap<ContentHash, BlobProbe>, HashSet<ContentHash>) =
        if hashes.is_empty() {
            Default::default()
        } else {
            let probes = state.catalog.blob_probes(&hashes).await?;
            let thumbnails = state.catalog.with_preview(&hashes, THUMBNAIL).await?;
            (
                probes.into_iter().map(|p| (p.hash.clone(), p)).collect(),
                thumbnails.into_iter().collect(),
            )
        };
    Ok(files
        .iter()
        .map(|f| {
            let blob = f.blob.as_ref();
            let has_thumbnail = blob.is_some_and(|h| thumbnails.contains(h));
            FileView::new(state, f, blob.and_then(|h| probes.get(h)), has_thumbnail)
        })
        .collect())
}

pub async fn file_view(state: &AppState, file: &FileRecord) -> ApiResult<FileView> {
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

/// An image is its own thumbnail until one is made; anything else has one once it is made (a
/// video's comes from its poster, which needs ffmpeg), so the URL never answers 404.
fn thumbnail(url: &str, f: &FileRecord, probe: Option<&BlobProbe>, made: bool) -> Option<String> {
    let kind = probe
        .and_then(metadata_json)
        .and_then(|m| m["kind"].as_str().map(str::to_string));
    let image = match kind.as_deref() {
        Some(k) => k == "image",
        None => f.media_type == MediaType::Image,
    };
    ((image || made) && f.status == mediadrive_core::FileStatus::Uploaded)
        .then(|| format!("{url}?preview={THUMBNAIL}"))
}

impl FileView {
    pub fn new(
        state: &AppState,
        f: &FileRecord,
        probe: Option<&BlobProbe>,
        has_thumbnail: bool,
    ) -> Self {
        let url = state.record_url(f);
        Self {
            name: f.name.as_str().to_string(),
            folder: f.folder.as_str().to_string(),
            media_type: f.media_type.as_str().to_string(),
            content_type: f.content_type.clone(),
            size: f.size,
            download_url: format!("{url}?download=1"),
            thumbnail_url: thumbnail(&url, f, probe, has_thumbnail),
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
}

impl StorageView {
    pub fn new(state: &AppState, t: &Tenant) -> Self {
        Self {
            used_bytes: t.used_bytes,
            free_allowance: t.quota.or(state.config.default_quota),
            credits_per_week: state.config.credits_per_week,
            blocked: t.storage_blocked,
            blocked_at: t.blocked_at.map(timestamp),
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
