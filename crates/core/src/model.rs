//! The records the catalog keeps and the queries it answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ApiKeyId, ClientId, ContentHash, FileId, FileName, FolderPath, Role};

/// What kind of media a file is, as `GET /v2/media` reports it (seed 002: from the content type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Image,
    Video,
    Audio,
    Other,
}

impl MediaType {
    pub fn from_content_type(content_type: &str) -> Self {
        let top = content_type
            .split('/')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match top.as_str() {
            "image" => MediaType::Image,
            "video" => MediaType::Video,
            "audio" => MediaType::Audio,
            _ => MediaType::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Video => "video",
            MediaType::Audio => "audio",
            MediaType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Image, Self::Video, Self::Audio, Self::Other]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Pending,
    Uploaded,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Pending => "pending",
            FileStatus::Uploaded => "uploaded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "uploaded" => Some(Self::Uploaded),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: ClientId,
    /// `None` means the configured default quota applies.
    pub quota: Option<u64>,
    /// The budget for what is kept outside the drive quota (`temp`, the cache); `None` means the
    /// drive quota applies.
    pub temp_quota: Option<u64>,
    pub storage_blocked: bool,
    pub blocked_at: Option<DateTime<Utc>>,
    pub credits: i64,
    /// Bytes of uploaded, non-temporary files.
    pub used_bytes: u64,
    /// Bytes reserved by pending, non-temporary uploads.
    pub pending_bytes: u64,
    pub created_at: DateTime<Utc>,
}

/// What a tenant keeps outside the drive quota: files in `temp` (pending ones included) and
/// cache entries that hold bytes and were not persisted into the drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TempUsage {
    pub used_bytes: u64,
    /// `None`: unlimited.
    pub quota: Option<u64>,
}

/// A change to a tenant's settings; `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub quota: Option<u64>,
    pub temp_quota: Option<u64>,
    pub storage_blocked: Option<bool>,
    pub credits: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub tenant: ClientId,
    /// What its owner calls it; empty when it was given no name.
    pub name: String,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When it was last used, to within a minute (recorded at most once a minute per node).
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub tenant: ClientId,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the key; the key itself is never stored.
    pub key_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub id: FileId,
    pub tenant: ClientId,
    pub folder: FolderPath,
    pub name: FileName,
    pub content_type: String,
    pub media_type: MediaType,
    pub size: u64,
    pub status: FileStatus,
    pub temporary: bool,
    pub blob: Option<ContentHash>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the bytes arrived; the served `Last-Modified`.
    pub uploaded_at: Option<DateTime<Utc>>,
    /// When the file entered the temporary folder; the lifecycle rule counts from here.
    pub temporary_since: Option<DateTime<Utc>>,
    /// Until when the presigned upload URL is valid (pending files only).
    pub upload_expires_at: Option<DateTime<Utc>>,
}

impl FileRecord {
    pub fn path(&self) -> String {
        if self.folder.is_root() {
            self.name.as_str().to_string()
        } else {
            format!("{}/{}", self.folder, self.name)
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUpload {
    pub tenant: ClientId,
    pub folder: FolderPath,
    pub name: FileName,
    pub content_type: String,
    pub size: u64,
    pub now: DateTime<Utc>,
    pub upload_expires_at: DateTime<Utc>,
    /// The quota to enforce when the tenant has none of its own.
    pub default_quota: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Date,
    Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// Where a page ends: the sort key of its last file, so the next page seeks instead of skipping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub name: String,
    /// Milliseconds since the epoch; set when sorting by date.
    pub created_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub tenant: ClientId,
    pub folder: FolderPath,
    pub media_type: Option<MediaType>,
    pub sort: SortField,
    pub order: SortOrder,
    pub limit: u32,
    pub after: Option<Cursor>,
}

#[derive(Debug, Clone)]
pub struct FilePage {
    pub files: Vec<FileRecord>,
    /// Present when more files follow.
    pub next: Option<Cursor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEntry {
    pub path: FolderPath,
    pub created_at: DateTime<Utc>,
}

/// One row of `tree=true`: a folder with how many files and bytes it holds directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderStats {
    pub path: FolderPath,
    pub files: u64,
    pub bytes: u64,
}

/// A file to move and where it goes; `to_name` renames it.
#[derive(Debug, Clone)]
pub struct FileMove {
    pub tenant: ClientId,
    pub from_folder: FolderPath,
    pub name: FileName,
    pub to_folder: FolderPath,
    pub to_name: FileName,
    pub now: DateTime<Utc>,
    pub default_quota: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct FolderMove {
    pub tenant: ClientId,
    pub from: FolderPath,
    pub to: FolderPath,
    pub now: DateTime<Utc>,
    pub default_quota: Option<u64>,
}

/// A pending file whose bytes arrive through the resumable (tus) protocol, and how far they got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumableUpload {
    pub file: FileRecord,
    /// Bytes the blob store holds durably; an uploaded file's are all of them.
    pub offset: u64,
    /// The client's `Upload-Metadata`, returned as it was sent.
    pub metadata: String,
}

/// How a claim on a pending upload turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadClaim {
    Claimed(Box<FileRecord>),
    /// The upload already completed; a presigned URL is good once.
    AlreadyUploaded,
    /// Another request is streaming bytes for this file right now.
    InProgress,
    /// The record is gone (expired and swept, or deleted).
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeStatus {
    Pending,
    Done,
    Failed,
}

impl ProbeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStatus::Pending => "pending",
            ProbeStatus::Done => "done",
            ProbeStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "done" => Some(Self::Done),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// What probing found out about a blob's bytes (and so about every file that holds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobProbe {
    pub hash: ContentHash,
    pub status: ProbeStatus,
    /// The metadata as JSON, when probing succeeded.
    pub metadata: Option<String>,
    /// Why probing failed.
    pub error: Option<String>,
}

/// A preview derived from a blob (a thumbnail, a waveform, a poster), itself stored as a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub source: ContentHash,
    /// e.g. `thumb-256`, `waveform`, `poster`.
    pub name: String,
    pub blob: ContentHash,
    pub content_type: String,
    pub size: u64,
}

/// Blobs one reclaimer marked; only the same token may finish them.
#[derive(Debug, Clone, Default)]
pub struct BlobReclaim {
    pub token: String,
    pub hashes: Vec<ContentHash>,
}

/// What a lifecycle sweep removes. Ages may be judged at another time than now
/// (`mediadrive sweep --at`); claims of uploads in flight are judged at the real time `now`, so a
/// sweep never cuts one off.
#[derive(Debug, Clone, Copy)]
pub struct SweepRule {
    pub now: DateTime<Utc>,
    /// Pending uploads whose URL lapsed before this go.
    pub uploads_lapsed_before: DateTime<Utc>,
    /// Files that entered `temp` before this go.
    pub temp_cutoff: DateTime<Utc>,
    /// Cache entries expiring before this are purged.
    pub cache_cutoff: DateTime<Utc>,
    /// Finished preloads created before this are forgotten.
    pub preloads_before: DateTime<Utc>,
    pub dry_run: bool,
}

/// Work waiting in the catalog's queues, shared by every node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Stored blobs not yet probed.
    pub probes: u64,
    /// Generated assets queued or being made.
    pub generations: u64,
    /// Render outputs waiting for their bytes, being fetched or being copied for hosting.
    pub render_outputs: u64,
    /// Webhook deliveries not yet delivered or given up.
    pub webhook_deliveries: u64,
}

/// What one lifecycle sweep removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    pub expired_uploads: Vec<FileRecord>,
    pub expired_temp_files: Vec<FileRecord>,
    pub purged_cache_entries: Vec<crate::CacheEntry>,
    /// How many finished preloads were forgotten.
    pub expired_preloads: u64,
    /// How many project assets were forgotten because their upload never came.
    pub expired_project_assets: u64,
    pub reclaimed_blobs: Vec<ContentHash>,
    /// Bytes found in the store that no row accounted for (left by a process that died between
    /// placing and recording them); a sweep that is not a dry run also reclaims them.
    pub stray_blobs: Vec<ContentHash>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn media_type_comes_from_the_top_level_type_in_any_case() {
        let cases = [
            ("image/png", MediaType::Image),
            ("IMAGE/webp", MediaType::Image),
            (" Video /mp4", MediaType::Video),
            ("audio/mpeg; rate=44100", MediaType::Audio),
            ("audio", MediaType::Audio),
            ("text/html", MediaType::Other),
            ("application/octet-stream", MediaType::Other),
            ("imagex/png", MediaType::Other),
            ("", MediaType::Other),
        ];
        for (content_type, expected) in cases {
            assert_eq!(
                MediaType::from_content_type(content_type),
                expected,
                "{content_type}"
            );
        }
    }

    #[test]
    fn stored_enums_round_trip_through_their_text_and_nothing_else_parses() {
        let media = [
            (MediaType::Image, "image"),
            (MediaType::Video, "video"),
            (MediaType::Audio, "audio"),
            (MediaType::Other, "other"),
        ];
        for (t, text) in media {
            assert_eq!(t.as_str(), text);
            assert_eq!(MediaType::parse(text), Some(t));
        }
        assert_eq!(MediaType::parse("Image"), None);
        assert_eq!(MediaType::parse(""), None);
        for (s, text) in [
            (FileStatus::Pending, "pending"),
            (FileStatus::Uploaded, "uploaded"),
        ] {
            assert_eq!(s.as_str(), text);
            assert_eq!(FileStatus::parse(text), Some(s));
        }
        assert_eq!(FileStatus::parse("done"), None);
        for (s, text) in [
            (ProbeStatus::Pending, "pending"),
            (ProbeStatus::Done, "done"),
            (ProbeStatus::Failed, "failed"),
        ] {
            assert_eq!(s.as_str(), text);
            assert_eq!(ProbeStatus::parse(text), Some(s));
        }
        assert_eq!(ProbeStatus::parse("uploaded"), None);
    }

    fn record(folder: &str, name: &str) -> FileRecord {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        FileRecord {
            id: FileId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            tenant: ClientId::parse("acme").unwrap(),
            folder: FolderPath::from_stored(folder).unwrap(),
            name: FileName::sanitise(name).unwrap(),
            content_type: "video/mp4".into(),
            media_type: MediaType::Video,
            size: 1,
            status: FileStatus::Uploaded,
            temporary: false,
            blob: None,
            created_at: at,
            updated_at: at,
            uploaded_at: None,
            temporary_since: None,
            upload_expires_at: None,
        }
    }

    /// The path is what a served URL names after `/{client}/files/`.
    #[test]
    fn a_file_path_is_its_folder_and_name() {
        assert_eq!(record("", "clip.mp4").path(), "clip.mp4");
        assert_eq!(
            record("videos/raw", "clip.mp4").path(),
            "videos/raw/clip.mp4"
        );
    }
}
