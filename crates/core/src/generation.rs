//! Generated assets (seed 000): preload jobs, the temporary cache they fill, promotion into the
//! drive, and the credits generation costs.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CacheEntryId, ClientId, ContentHash, FileRecord, FolderPath, PreloadId};

/// The generable types of seed 000; persisted assets land in `generated/{type}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetType {
    Image,
    Video,
    Audio,
    Voice,
    Html,
    Component,
}

impl AssetType {
    pub const ALL: [AssetType; 6] = [
        Self::Image,
        Self::Video,
        Self::Audio,
        Self::Voice,
        Self::Html,
        Self::Component,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Voice => "voice",
            Self::Html => "html",
            Self::Component => "component",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// `generated/{type}`.
    pub fn folder(self) -> FolderPath {
        FolderPath::from_stored(&format!("generated/{}", self.as_str()))
            .expect("generated folders are valid paths")
    }
}

impl fmt::Display for AssetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Queued,
    Processing,
    Ready,
    Failed,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Processing, Self::Ready, Self::Failed]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// One item of a preload as validated: what to make and whether to keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRequest {
    /// The client's own id for the item, if it gave one.
    pub item_id: Option<String>,
    pub asset_type: AssetType,
    pub model: String,
    /// The canonical source request (type, model and the generator's inputs) as JSON; what a
    /// regeneration replays.
    pub source: String,
    /// BLAKE3 of `source`: items with equal sources share one cache entry.
    pub fingerprint: String,
    pub save_to_media: bool,
}

#[derive(Debug, Clone)]
pub struct NewPreload {
    pub tenant: ClientId,
    pub items: Vec<ItemRequest>,
    /// A URL told of each item's outcome and of the preload's end (signed like webhooks).
    pub callback: Option<String>,
    pub idempotency_key: Option<String>,
    /// A key used earlier than this no longer answers with its preload.
    pub idempotency_since: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// How an item turned out once it is ready.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemResult {
    /// Path of the asset's URL below the public URL, e.g. `/acme/files/generated/image/a.webp`.
    pub url_path: String,
    pub persistent: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub size: Option<u64>,
    pub duration_ms: Option<u64>,
    pub warning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    Ready(ItemResult),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadItem {
    pub preload_id: PreloadId,
    pub position: u32,
    pub tenant: ClientId,
    pub request: ItemRequest,
    pub status: ItemStatus,
    pub error: Option<String>,
    pub result: Option<ItemResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadRecord {
    pub id: PreloadId,
    pub tenant: ClientId,
    pub created_at: DateTime<Utc>,
    pub callback: Option<String>,
    pub items: Vec<PreloadItem>,
}

/// A generated asset in the temporary cache. Its row outlives its bytes: once purged (`blob` is
/// `None`) the stored source still allows a regeneration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub id: CacheEntryId,
    pub tenant: ClientId,
    pub fingerprint: String,
    pub asset_type: AssetType,
    pub model: String,
    pub source: String,
    pub blob: Option<ContentHash>,
    pub content_type: String,
    /// File extension of the real container, e.g. `webp`.
    pub extension: String,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub generated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The drive file this asset was persisted as, while that file exists (the backreference).
    pub persisted: Option<FileRecord>,
}

impl CacheEntry {
    /// Whether its bytes may still be served or promoted at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.blob.is_some() && self.expires_at > now
    }

    /// Path of its cache URL below the public URL.
    pub fn url_path(&self) -> String {
        format!("/tmp/assets/{}/{}.{}", self.tenant, self.id, self.extension)
    }
}

/// Freshly generated bytes for a cache entry; the blob must hold a lease, which storing the entry
/// turns into the entry's reference.
#[derive(Debug, Clone)]
pub struct NewCacheEntry {
    pub tenant: ClientId,
    pub fingerprint: String,
    pub asset_type: AssetType,
    pub model: String,
    pub source: String,
    pub blob: ContentHash,
    pub content_type: String,
    pub extension: String,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub generated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The drive quota of a tenant without one of its own, which its temp budget falls back to.
    pub default_quota: Option<u64>,
}

/// Where a promotion may put the file: the names are tried in order, the first free one (or,
/// when `share` allows, one already holding the same bytes) wins.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub entry_id: CacheEntryId,
    pub tenant: ClientId,
    pub folder: FolderPath,
    pub names: Vec<crate::FileName>,
    /// A file already there with the same bytes may stand for the entry (a generated asset). A
    /// render output's hosting copy is its own file, which deleting that asset removes.
    pub share: bool,
    pub now: DateTime<Utc>,
    pub default_quota: Option<u64>,
}

/// Why credits moved; the ledger keeps one row per movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CreditReason {
    /// A tenant's starting balance.
    Initial,
    /// Set by an operator (`mediadrive client set --credits`).
    Adjustment,
    Generation,
    /// A generation that was charged but failed.
    Refund,
    /// A cached asset persisted into the drive: zero cost.
    Promotion,
    /// An asset regenerated because the cache purged it before its promotion: zero cost.
    Regeneration,
}

impl CreditReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Adjustment => "adjustment",
            Self::Generation => "generation",
            Self::Refund => "refund",
            Self::Promotion => "promotion",
            Self::Regeneration => "regeneration",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Initial,
            Self::Adjustment,
            Self::Generation,
            Self::Refund,
            Self::Promotion,
            Self::Regeneration,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A movement of credits to record. For the generation of a preload item it is recorded once per
/// item and reason, so an item retried after a node died is not charged twice.
#[derive(Debug, Clone)]
pub struct CreditMovement {
    pub tenant: ClientId,
    /// Negative when credits are spent.
    pub amount: i64,
    pub reason: CreditReason,
    pub model: Option<String>,
    /// The preload item it is for: preload id and position.
    pub item: Option<(PreloadId, u32)>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    /// Recorded; the balance after it.
    Done(i64),
    /// This item was already charged for this reason.
    AlreadyRecorded,
    /// The balance does not cover it.
    Insufficient { balance: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub amount: i64,
    pub balance: i64,
    pub reason: CreditReason,
    pub model: Option<String>,
    pub preload_id: Option<PreloadId>,
    pub position: Option<u32>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_types_round_trip_and_name_their_folder() {
        let texts = ["image", "video", "audio", "voice", "html", "component"];
        for (t, text) in AssetType::ALL.into_iter().zip(texts) {
            assert_eq!(t.as_str(), text);
            assert_eq!(t.to_string(), text);
            assert_eq!(AssetType::parse(text), Some(t));
            assert_eq!(t.folder().as_str(), format!("generated/{text}"));
        }
        assert_eq!(AssetType::parse("Image"), None);
        assert_eq!(AssetType::parse(""), None);
    }

    #[test]
    fn item_statuses_round_trip() {
        let all = [
            (ItemStatus::Queued, "queued"),
            (ItemStatus::Processing, "processing"),
            (ItemStatus::Ready, "ready"),
            (ItemStatus::Failed, "failed"),
        ];
        for (s, text) in all {
            assert_eq!(s.as_str(), text);
            assert_eq!(ItemStatus::parse(text), Some(s));
        }
        assert_eq!(ItemStatus::parse("done"), None);
    }

    #[test]
    fn credit_reasons_round_trip() {
        let all = [
            (CreditReason::Initial, "initial"),
            (CreditReason::Adjustment, "adjustment"),
            (CreditReason::Generation, "generation"),
            (CreditReason::Refund, "refund"),
            (CreditReason::Promotion, "promotion"),
            (CreditReason::Regeneration, "regeneration"),
        ];
        for (r, text) in all {
            assert_eq!(r.as_str(), text);
            assert_eq!(CreditReason::parse(text), Some(r));
        }
        assert_eq!(CreditReason::parse("gift"), None);
    }

    fn entry(blob: Option<ContentHash>, expires_at: DateTime<Utc>) -> CacheEntry {
        CacheEntry {
            id: CacheEntryId::parse("0190c0de0000000000000000000000aa").unwrap(),
            tenant: ClientId::parse("acme").unwrap(),
            fingerprint: "f".into(),
            asset_type: AssetType::Image,
            model: "m".into(),
            source: "{}".into(),
            blob,
            content_type: "image/webp".into(),
            extension: "webp".into(),
            size: 1,
            width: None,
            height: None,
            duration_ms: None,
            generated_at: expires_at,
            expires_at,
            persisted: None,
        }
    }

    /// An entry is served until the moment it expires, and never once its bytes are purged.
    #[test]
    fn cache_entries_live_while_they_hold_bytes_and_have_not_expired() {
        use chrono::TimeZone;
        let now = Utc.timestamp_opt(1_000, 0).unwrap();
        let hash = || Some(ContentHash::from_bytes([1; 32]));
        let later = Utc.timestamp_opt(1_001, 0).unwrap();
        let earlier = Utc.timestamp_opt(999, 0).unwrap();
        assert!(entry(hash(), later).is_live(now));
        assert!(!entry(hash(), now).is_live(now));
        assert!(!entry(hash(), earlier).is_live(now));
        assert!(!entry(None, later).is_live(now));
        assert_eq!(
            entry(None, now).url_path(),
            "/tmp/assets/acme/0190c0de0000000000000000000000aa.webp"
        );
    }
}
