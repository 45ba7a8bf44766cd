//! Makes preload items (seed 000) off the request path: items are claimed through the catalog (so
//! each is made by one node), a few at a time. Each generated asset lands in the temporary cache
//! as a content-addressed blob; `save-to-media` promotes it into the drive without a byte copy.
//! A cached asset is never generated twice, and promotion (or a regeneration because the cache
//! purged the bytes first) costs nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mediadrive_core::{
    AssetType, CacheEntry, CatalogError, Charge, CreditMovement, CreditReason, FileName,
    FileRecord, ItemOutcome, ItemResult, NewEvent, PreloadItem, PreloadRecord, Promotion,
};
use mediadrive_generate::{Model, Output};
use mediadrive_probe::{Kind, MediaInfo};
use serde_json::{Map, Value};

use crate::{
    claimed::{Claimed, Settings},
    error::TEMP_STORAGE_FULL,
    temporary, webhooks,
    worker::Worker,
    App,
};

/// A claim outlasts the generation's own time limit by this much, for probing and storing.
const CLAIM_MARGIN: Duration = Duration::from_secs(120);

/// The seed's warning when the drive cannot take a `save-to-media` asset.
pub const QUOTA_BLOCKED: &str = "quota_blocked";
/// Every name the asset could take in `generated/{type}/` holds another asset.
const PATH_TAKEN: &str = "path_taken";
/// The drive could not take the asset for another reason (logged); it stays in the cache.
const PERSIST_FAILED: &str = "persist_failed";

/// Runs until shutdown: claims as many items as there are free slots and makes each.
pub fn generator(state: &App) -> impl Worker {
    let settings = Settings {
        slots: state.config.generation.concurrency,
        claim_for: state.config.generation.timeout() + CLAIM_MARGIN,
        wakeup: state.wakeups.generation.clone(),
        what: "preload items",
    };
    Claimed::new(
        settings,
        |state, now, until, limit| async move {
            state.catalog.claim_preload_items(now, until, limit).await
        },
        |state, item, until| async move { process(&state, item, until).await },
    )
}

/// Why an item did not become ready.
enum Failure {
    /// The item failed; the message is its `error`.
    Item(String),
    /// Something the item's outcome depends on could not be recorded (a refund): the item is left
    /// to its claim, and made again once the claim lapses.
    Retry(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Item(message)
    }
}

async fn process(state: &App, item: PreloadItem, claimed_until: DateTime<Utc>) {
    let outcome = match produce(state, &item).await {
        Ok(result) => ItemOutcome::Ready(result),
        Err(Failure::Item(message)) => ItemOutcome::Failed(message),
        Err(Failure::Retry(cause)) => {
            tracing::error!(preload = %item.preload_id, position = item.position, %cause,
                "preload item left to be retried when its claim lapses");
            return;
        }
    };
    let announce =
        |preload: &PreloadRecord, position, last| announcements(state, preload, position, last);
    match state
        .catalog
        .finish_preload_item(
            &item.preload_id,
            item.position,
            claimed_until,
            &outcome,
            &announce,
        )
        .await
    {
        Ok(Some(_)) => state.wakeups.webhooks.notify_one(),
        Ok(None) => tracing::warn!(preload = %item.preload_id, position = item.position,
            "preload item was taken over by another node"),
        Err(e) => tracing::error!(preload = %item.preload_id, position = item.position, error = %e,
            "could not record preload item; it is retried when its claim lapses"),
    }
}

/// The events telling webhooks (and the preload's callback) how the item at `position` ended, and,
/// after the last one, that the preload is complete.
fn announcements(state: &App, preload: &PreloadRecord, position: u32, last: bool) -> Vec<NewEvent> {
    let view = crate::representations::preload_view(state, preload);
    let callback = preload.callback.as_deref();
    let item = view.items.get(position as usize);
    let event = match item.map(|i| i.status) {
        Some("ready") => "preload.item.ready",
        _ => "preload.item.failed",
    };
    let data = serde_json::json!({
        "client_id": preload.tenant,
        "preload_id": preload.id,
        "item": item,
    });
    let mut events = vec![webhooks::event(&preload.tenant, event, data, callback)];
    if last {
        let data = serde_json::json!({"client_id": preload.tenant, "preload": view});
        events.push(webhooks::event(
            &preload.tenant,
            "preload.completed",
            data,
            callback,
        ));
    }
    events
}

/// The generator an item names; looked up only when something must be generated, so promotions
/// keep working after an operator removed the model.
fn model_of<'a>(state: &'a App, item: &PreloadItem) -> Result<&'a Model, Failure> {
    let request = &item.request;
    state
        .generators
        .models()
        .iter()
        .find(|m| m.asset_type == request.asset_type && m.name == request.model)
        .ok_or_else(|| {
            Failure::Item(format!(
                "model {} is no longer available for type {}",
                request.model, request.asset_type
            ))
        })
}

/// Makes one item: from the cache when it holds the asset, by its generator otherwise.
async fn produce(state: &App, item: &PreloadItem) -> Result<ItemResult, Failure> {
    let request = &item.request;
    let now = Utc::now();
    let cached = state
        .catalog
        .cache_entry(&item.tenant, &request.fingerprint)
        .await
        .map_err(internal)?;
    let (entry, from_cache) = match cached {
        Some(entry) if request.save_to_media && entry.persisted.is_some() => {
            let file = entry.persisted.clone().expect("checked");
            return Ok(persisted(&entry, &file));
        }
        Some(entry) if entry.is_live(now) => (entry, true),
        // Compensating for the cache miss is on us (seed 000): a purged asset asked for again
        // with save-to-media is made again from its stored source, at no cost.
        Some(entry) if request.save_to_media => {
            let model = model_of(state, item)?;
            let reason = CreditReason::Regeneration;
            let made = generate(state, item, model, &entry.source, 0, reason).await?;
            (made, false)
        }
        _ => {
            let model = model_of(state, item)?;
            let reason = CreditReason::Generation;
            let made = generate(state, item, model, &request.source, model.credits, reason).await?;
            (made, false)
        }
    };
    if !request.save_to_media {
        return Ok(cached_result(&entry, None));
    }
    Ok(promote(state, item, &entry, from_cache).await)
}

/// The asset persisted into the drive as `generated/{type}/{filename}.{ext}`; when the drive is
/// blocked or full, the cached asset with the seed's warning. Save-to-media never fails an item
/// (seed 000): whatever keeps the asset out of the drive leaves it in the cache with a warning. A
/// promotion of an asset that was already cached is recorded in the ledger at zero cost.
async fn promote(
    state: &App,
    item: &PreloadItem,
    entry: &CacheEntry,
    from_cache: bool,
) -> ItemResult {
    let Some(hash) = entry.blob.as_ref() else {
        return cached_result(entry, Some(PERSIST_FAILED));
    };
    let promotion = Promotion {
        entry_id: entry.id.clone(),
        tenant: item.tenant.clone(),
        folder: entry.asset_type.folder(),
        names: file_names(
            item.request.item_id.as_deref(),
            hash.as_str(),
            &entry.extension,
        ),
        now: Utc::now(),
        default_quota: state.config.default_quota,
        share: true,
    };
    match state.catalog.promote_cache_entry(&promotion).await {
        Ok(file) => {
            state.cache.forget_tenant(&item.tenant);
            if from_cache {
                // The promotion happened; a ledger hiccup must not turn it into a failure.
                if let Err(e) = charge(state, item, &entry.model, 0, CreditReason::Promotion).await
                {
                    tracing::warn!(preload = %item.preload_id, error = ?e.message(),
                        "could not record the promotion in the ledger");
                }
            }
            persisted(entry, &file)
        }
        Err(CatalogError::StorageBlocked) => cached_result(entry, Some(QUOTA_BLOCKED)),
        Err(CatalogError::FileExists) => cached_result(entry, Some(PATH_TAKEN)),
        Err(e) => {
            tracing::error!(preload = %item.preload_id, position = item.position, error = %e,
                "could not persist a generated asset; it stays in the cache");
            cached_result(entry, Some(PERSIST_FAILED))
        }
    }
}

/// Seed 000: the item id when it is a safe identifier, else the first 12 characters of the
/// asset hash; a different asset already there makes it `-{hash[:6]}`, and should that be taken
/// too, the whole hash.
fn file_names(item_id: Option<&str>, hash: &str, ext: &str) -> Vec<FileName> {
    let safe = item_id.filter(|id| {
        !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    let stem = safe.unwrap_or(&hash[..12]);
    [
        format!("{stem}.{ext}"),
        format!("{stem}-{}.{ext}", &hash[..6]),
        format!("{hash}.{ext}"),
    ]
    .iter()
    .filter_map(|name| FileName::sanitise(name).ok())
    .collect()
}

/// Results hold paths below the public URL, so a changed public URL changes every link at once.
fn persisted(entry: &CacheEntry, file: &FileRecord) -> ItemResult {
    ItemResult {
        url_path: format!("/{}/files/{}", file.tenant, file.path()),
        persistent: true,
        expires_at: None,
        width: entry.width,
        height: entry.height,
        size: Some(file.size),
        duration_ms: entry.duration_ms,
        warning: None,
    }
}

fn cached_result(entry: &CacheEntry, warning: Option<&str>) -> ItemResult {
    ItemResult {
        url_path: entry.url_path(),
        persistent: false,
        expires_at: Some(entry.expires_at),
        width: entry.width,
        height: entry.height,
        size: Some(entry.size),
        duration_ms: entry.duration_ms,
        warning: warning.map(str::to_string),
    }
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Item(m) | Failure::Retry(m) => m,
        }
    }
}

fn internal(e: impl std::fmt::Display) -> String {
    tracing::error!(error = %e, "preload item failed");
    "internal error, the item can be retried in a new preload".to_string()
}

/// Records a credit movement for the item. A negative amount the balance cannot cover fails it.
async fn charge(
    state: &App,
    item: &PreloadItem,
    model: &str,
    amount: i64,
    reason: CreditReason,
) -> Result<(), Failure> {
    let movement = CreditMovement {
        tenant: item.tenant.clone(),
        amount,
        reason,
        model: Some(model.to_string()),
        item: Some((item.preload_id.clone(), item.position)),
        now: Utc::now(),
    };
    match state
        .catalog
        .move_credits(&movement)
        .await
        .map_err(internal)?
    {
        Charge::Done(_) | Charge::AlreadyRecorded => Ok(()),
        Charge::Insufficient { balance } => Err(Failure::Item(format!(
            "Not enough credits: model {model} costs {} credits and {balance} are left",
            -amount
        ))),
    }
}

/// Charges, runs the generator, stores the asset in the cache; refunds if anything fails. A refund
/// that cannot be recorded leaves the item to be retried rather than failed unrefunded.
async fn generate(
    state: &App,
    item: &PreloadItem,
    model: &Model,
    source: &str,
    cost: i64,
    reason: CreditReason,
) -> Result<CacheEntry, Failure> {
    // A full temp budget is found before credits are taken and the generator runs.
    temporary::ensure_room(state, &item.tenant, 0)
        .await
        .map_err(|e| Failure::Item(store_failure(e)))?;
    charge(state, item, &model.name, -cost, reason).await?;
    let made = make(state, item, model, source).await;
    if made.is_err() && cost > 0 {
        if let Err(refund) = charge(state, item, &model.name, cost, CreditReason::Refund).await {
            return Err(Failure::Retry(format!(
                "refund not recorded: {}",
                refund.message()
            )));
        }
    }
    Ok(made?)
}

/// What the bytes of each item type must turn out to be.
fn expected_kind(t: AssetType) -> Kind {
    match t {
        AssetType::Image | AssetType::Html => Kind::Image,
        AssetType::Audio | AssetType::Voice => Kind::Audio,
        AssetType::Video | AssetType::Component => Kind::Video,
    }
}

async fn make(
    state: &App,
    item: &PreloadItem,
    model: &Model,
    source: &str,
) -> Result<CacheEntry, String> {
    let source_json: Value = serde_json::from_str(source).map_err(internal)?;
    let inputs: Map<String, Value> = source_json["inputs"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let config = &state.config.generation;
    let mut staged = state.blobs.stage().await.map_err(internal)?;
    let run = async {
        let mut out = Output::new(staged.as_mut(), config.max_asset_bytes);
        model.generator.generate(&inputs, &mut out).await?;
        Ok::<u64, mediadrive_generate::GenerateError>(out.written())
    };
    let written = match tokio::time::timeout(config.timeout(), run).await {
        Ok(Ok(written)) => written,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => {
            return Err(format!(
                "the generation took longer than {} s",
                config.timeout_secs
            ))
        }
    };
    if written == 0 {
        return Err("the generator produced no data".into());
    }
    let expected = expected_kind(item.request.asset_type);
    let spec = temporary::EntrySpec {
        tenant: &item.tenant,
        fingerprint: &item.request.fingerprint,
        model: &model.name,
        source,
        ttl: chrono::Duration::from_std(config.cache_ttl()).unwrap_or(chrono::Duration::MAX),
    };
    let accept = |probed: Result<&MediaInfo, &str>| match probed {
        Ok(info) if info.kind == expected => Ok(item.request.asset_type),
        Ok(info) => Err(format!(
            "the generator returned {} ({}) where {} items need {}",
            article(&info.kind),
            info.mime,
            item.request.asset_type,
            article(&expected)
        )),
        Err(reason) => Err(format!(
            "the generator's output is not valid media: {reason}"
        )),
    };
    temporary::store(state, staged, &spec, accept)
        .await
        .map_err(store_failure)
}

fn store_failure(e: temporary::StoreError) -> String {
    match e {
        temporary::StoreError::Rejected(message) => message,
        temporary::StoreError::Full => TEMP_STORAGE_FULL.to_string(),
        temporary::StoreError::Internal(cause) => internal(cause),
        temporary::StoreError::Busy => {
            "the node was too busy checking files to check the output; the item can be retried \
             in a new preload"
                .to_string()
        }
    }
}

fn article(kind: &Kind) -> &'static str {
    match kind {
        Kind::Image => "an image",
        Kind::Video => "a video",
        Kind::Audio => "audio",
        Kind::Other => "data of no media type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(id: Option<&str>) -> Vec<String> {
        file_names(id, &"ab12cd34ef56".repeat(5), "webp")
            .into_iter()
            .map(|n| n.as_str().to_string())
            .collect()
    }

    #[test]
    fn a_safe_id_names_the_file_else_the_hash_does() {
        assert_eq!(names(Some("campaign_hero"))[0], "campaign_hero.webp");
        assert_eq!(names(Some("campaign_hero"))[1], "campaign_hero-ab12cd.webp");
        assert_eq!(names(Some("hero image!"))[0], "ab12cd34ef56.webp");
        assert_eq!(names(None)[0], "ab12cd34ef56.webp");
        assert_eq!(names(Some("../etc"))[0], "ab12cd34ef56.webp");
    }
}
