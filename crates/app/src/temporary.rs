//! The one way bytes enter the temporary cache: leased, committed, probed and recorded under a
//! fingerprint. Generated assets and render outputs both take it.

use chrono::Duration;
use mediadrive_core::{
    blobs::StagedBlob, AssetType, CacheEntry, CatalogError, ClientId, NewCacheEntry,
};
use mediadrive_probe::{Kind, MediaInfo};

use crate::{
    blob_lease::BlobLease,
    error::{AppError, ErrorKind, TEMP_STORAGE_FULL},
    lifecycle,
    probing::{self, InlineProbeError},
    App,
};

/// What the entry is, besides its bytes.
pub struct EntrySpec<'a> {
    pub tenant: &'a ClientId,
    pub fingerprint: &'a str,
    /// The generator, or what else made the bytes (`render`).
    pub model: &'a str,
    /// The canonical source request, JSON.
    pub source: &'a str,
    pub ttl: Duration,
}

pub enum StoreError {
    /// The bytes are not what was asked for; the message says why.
    Rejected(String),
    /// The tenant's temp budget has no room for them ([`crate::error::TEMP_STORAGE_FULL`]).
    Full,
    /// Storage failed; the cause is for the log.
    Internal(String),
    /// The node had no probe to spare for them in time: retry later.
    Busy,
}

/// The answer when every probe a request may wait for is taken.
pub const PROBES_BUSY: &str = "The server is busy checking other files; retry shortly";

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rejected(message) => AppError::new(ErrorKind::Unprocessable, message),
            StoreError::Full => AppError::forbidden(TEMP_STORAGE_FULL),
            StoreError::Internal(cause) => AppError::internal(cause),
            StoreError::Busy => {
                let mut e = AppError::new(ErrorKind::Unavailable, PROBES_BUSY);
                e.retry_after = Some(5);
                e
            }
        }
    }
}

/// The file extension of a probed container; WebP stays `.webp` (seed 000).
pub fn extension(info: &MediaInfo) -> String {
    match info.container.as_deref() {
        Some("jpeg") => "jpg".into(),
        Some(other) => other.into(),
        None => "bin".into(),
    }
}

/// The cache's type for media of a kind; other data has none.
pub fn asset_type_of(kind: &Kind) -> Option<AssetType> {
    match kind {
        Kind::Image => Some(AssetType::Image),
        Kind::Video => Some(AssetType::Video),
        Kind::Audio => Some(AssetType::Audio),
        Kind::Other => None,
    }
}

/// Fails with [`StoreError::Full`] unless the tenant's temp budget has room for `bytes` more (at
/// least one, when the size is not known yet): checked before a download, a generation or an
/// upload begins, so a full budget costs no transfer. [`store`] checks again with the real size.
pub async fn ensure_room(state: &App, tenant: &ClientId, bytes: u64) -> Result<(), StoreError> {
    let usage = state
        .catalog
        .temp_usage(tenant, state.config.default_quota)
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    match usage.quota {
        Some(quota) if usage.used_bytes.saturating_add(bytes.max(1)) > quota => {
            Err(StoreError::Full)
        }
        _ => Ok(()),
    }
}

/// Stores finished staged bytes as the cache entry `spec` describes. `accept` sees what probing
/// found (or why it failed) and says which type the entry is, or why the bytes are refused.
pub async fn store(
    state: &App,
    mut staged: Box<dyn StagedBlob>,
    spec: &EntrySpec<'_>,
    accept: impl FnOnce(Result<&MediaInfo, &str>) -> Result<AssetType, String>,
) -> Result<CacheEntry, StoreError> {
    let internal = |e: &dyn std::fmt::Display| StoreError::Internal(e.to_string());
    let (hash, len) = staged.finish().await.map_err(|e| internal(&e))?;
    let lease = BlobLease::take(state, &hash, len)
        .await
        .map_err(|e| StoreError::Internal(e.message))?;
    if let Err(e) = staged.commit(&hash).await {
        lease.release().await;
        return Err(internal(&e));
    }
    let probed = match probing::probe_now(state, &hash).await {
        Ok(info) => Ok(info),
        Err(InlineProbeError::Failed(reason)) => Err(reason),
        Err(InlineProbeError::Busy) => {
            lease.release().await;
            return Err(StoreError::Busy);
        }
    };
    let accepted = match &probed {
        Ok(info) => accept(Ok(info)).map(|t| (t, info)),
        // Unprobed bytes are never stored, whatever `accept` makes of the reason.
        Err(reason) => Err(accept(Err(reason))
            .err()
            .unwrap_or_else(|| format!("the bytes are not valid media: {reason}"))),
    };
    let (asset_type, info) = match accepted {
        Ok(accepted) => accepted,
        Err(message) => {
            lease.release().await;
            return Err(StoreError::Rejected(message));
        }
    };
    let now = chrono::Utc::now();
    let stored = state
        .catalog
        .store_cache_entry(&NewCacheEntry {
            tenant: spec.tenant.clone(),
            fingerprint: spec.fingerprint.to_string(),
            asset_type,
            model: spec.model.to_string(),
            source: spec.source.to_string(),
            blob: hash.clone(),
            content_type: info.mime.clone(),
            extension: extension(info),
            size: len,
            width: info.width,
            height: info.height,
            duration_ms: info.duration_ms,
            generated_at: now,
            expires_at: now + spec.ttl,
            default_quota: state.config.default_quota,
        })
        .await;
    let (entry, replaced) = match stored {
        Ok(stored) => {
            lease.settled();
            stored
        }
        Err(e) => {
            lease.release().await;
            return Err(match e {
                CatalogError::TempStorageFull => StoreError::Full,
                other => internal(&other),
            });
        }
    };
    if let Some(old) = replaced {
        lifecycle::reclaim_hashes(state, vec![old]).await;
    }
    // Thumbnails and waveforms come from the prober, as for uploads.
    state.wakeups.probe.notify_one();
    Ok(entry)
}
