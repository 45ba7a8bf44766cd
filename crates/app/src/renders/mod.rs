//! Render outputs off the request path (seed 004): downloads of outputs handed over by URL into the
//! temporary tier, and the copy of every output into hosting, each claimed through the catalog so
//! that one node does it once. Hosting is a promotion of the output's cache entry: a reference to
//! the same blob, not a byte copy.

mod output_upload;

pub use output_upload::receive_output;

use std::time::Duration;

use chrono::{DateTime, Utc};
use mediadrive_core::{
    blobs::StagedBlob, AssetType, CacheEntry, CatalogError, FileName, FileRecord, FolderPath,
    NewEvent, OutputKind, OutputOutcome, OutputStatus, Promotion, RenderOutput,
};
use mediadrive_generate::{GenerateError, Output};
use mediadrive_probe::{Kind, MediaInfo};

use crate::{
    claimed::{Claimed, Settings},
    error::TEMP_STORAGE_FULL,
    representations::output_view,
    temporary::{self, StoreError},
    webhooks,
    worker::Worker,
    App,
};

/// Where hosted outputs live in the drive: `renders/{render_id}.mp4`, as Shotstack's CDN names them.
pub const HOSTING_FOLDER: &str = "renders";
/// A claim outlasts a download's own time limit by this much, for probing and storing.
const CLAIM_MARGIN: Duration = Duration::from_secs(120);

pub fn renderer(state: &App) -> impl Worker {
    let fetch_timeout = Duration::from_secs(state.config.generation.fetch_timeout_secs);
    let settings = Settings {
        slots: state.config.renders.concurrency,
        claim_for: fetch_timeout + CLAIM_MARGIN,
        wakeup: state.wakeups.renders.clone(),
        what: "render outputs",
    };
    Claimed::new(
        settings,
        |state, now, until, limit| async move {
            state.catalog.claim_render_work(now, until, limit).await
        },
        |state, output, until| async move { process(&state, output, until).await },
    )
}

async fn process(state: &App, output: RenderOutput, claimed_until: DateTime<Utc>) {
    let step = match output.status {
        OutputStatus::Fetching => download(state, &output, claimed_until).await,
        OutputStatus::Importing => host(state, &output).await,
        _ => return,
    };
    let Some(done) = step else {
        tracing::warn!(output = %output.id, "render output left to be retried when its claim lapses");
        return;
    };
    if let Err(e) = finish(state, &output, claimed_until, done).await {
        tracing::error!(output = %output.id, error = %e,
            "could not record a render output's progress; it is retried when its claim lapses");
    }
}

/// What a step did, with the records the announcement of its outcome shows.
pub struct Done {
    pub outcome: OutputOutcome,
    pub entry: Option<CacheEntry>,
    pub file: Option<FileRecord>,
}

impl Done {
    fn failed(message: impl Into<String>, entry: Option<CacheEntry>) -> Self {
        Done {
            outcome: OutputOutcome::Failed(message.into()),
            entry,
            file: None,
        }
    }
}

/// Records a step's outcome under the claim lasting `claimed_until`, with its events in the same
/// transaction; the output as it is now, or `None` when the claim was no longer its own.
pub async fn finish(
    state: &App,
    output: &RenderOutput,
    claimed_until: DateTime<Utc>,
    done: Done,
) -> Result<Option<RenderOutput>, CatalogError> {
    let announce =
        |o: &RenderOutput| announcements(state, o, done.entry.as_ref(), done.file.as_ref());
    let recorded = state
        .catalog
        .finish_render_output(&output.id, claimed_until, &done.outcome, &announce)
        .await?;
    match &recorded {
        Some(after) => {
            if after.status == OutputStatus::Importing {
                state.wakeups.renders.notify_one();
            }
            state.wakeups.webhooks.notify_one();
        }
        None => {
            if let Some(file) = &done.file {
                undo_hosting(state, output, file).await;
            }
        }
    }
    Ok(recorded)
}

/// A hosting copy made while the output was being deleted would outlive it: it goes too.
async fn undo_hosting(state: &App, output: &RenderOutput, file: &FileRecord) {
    let now = state
        .catalog
        .render_output(&output.tenant, &output.id)
        .await;
    if !matches!(now, Ok(Some(o)) if o.status == OutputStatus::Deleted) {
        return;
    }
    if let Err(e) = crate::drive::delete_records(state, std::slice::from_ref(file)).await {
        tracing::error!(output = %output.id, error = %e,
            "could not remove the hosting copy of a deleted render output");
    }
}

/// `asset.hosted` or `asset.failed`, to the tenant's endpoints and the render's callback.
fn announcements(
    state: &App,
    output: &RenderOutput,
    entry: Option<&CacheEntry>,
    file: Option<&FileRecord>,
) -> Vec<NewEvent> {
    let event = match output.status {
        OutputStatus::Ready => "asset.hosted",
        OutputStatus::Failed => "asset.failed",
        _ => return Vec::new(),
    };
    let data = serde_json::json!({
        "client_id": output.tenant,
        "render_id": output.render_id,
        "asset": output_view(state, output, entry, file),
    });
    vec![webhooks::event(
        &output.tenant,
        event,
        data,
        output.callback.as_deref(),
    )]
}

/// Whether probed bytes are what an output of `kind` must be; the cache's type for them.
fn accept(kind: OutputKind, probed: Result<&MediaInfo, &str>) -> Result<AssetType, String> {
    let info = probed.map_err(|reason| format!("the file is not valid media: {reason}"))?;
    let fits = match kind {
        OutputKind::Video => info.kind == Kind::Video,
        OutputKind::Thumbnail | OutputKind::Poster => info.kind == Kind::Image,
        OutputKind::Transfer => info.kind != Kind::Other,
    };
    let wanted = match kind {
        OutputKind::Video => "a video",
        OutputKind::Thumbnail | OutputKind::Poster => "an image",
        OutputKind::Transfer => "an image, a video or audio",
    };
    match temporary::asset_type_of(&info.kind).filter(|_| fits) {
        Some(asset_type) => Ok(asset_type),
        None => Err(format!(
            "a {} output must be {wanted}; this file is {}",
            kind.as_str(),
            info.mime
        )),
    }
}

/// Stores an output's finished bytes in the temporary tier, under the claim lasting
/// `claimed_until`: an attempt whose claim lapsed cannot replace what a later one stored.
pub async fn store_output(
    state: &App,
    output: &RenderOutput,
    staged: Box<dyn StagedBlob>,
    claimed_until: DateTime<Utc>,
) -> Result<CacheEntry, StoreError> {
    let fingerprint = format!("render:{}:{}", output.id, claimed_until.timestamp_millis());
    let source = serde_json::json!({
        "type": "render",
        "render_id": output.render_id,
        "output": output.kind.as_str(),
        "src": output.src,
    })
    .to_string();
    let spec = temporary::EntrySpec {
        tenant: &output.tenant,
        fingerprint: &fingerprint,
        model: "render",
        source: &source,
        ttl: state.config.renders.temporary_ttl(),
    };
    temporary::store(state, staged, &spec, |probed| accept(output.kind, probed)).await
}

/// Downloads an output handed over by URL; `None` when the cause is ours and worth a retry.
async fn download(
    state: &App,
    output: &RenderOutput,
    claimed_until: DateTime<Utc>,
) -> Option<Done> {
    let src = output.src.as_deref()?;
    match temporary::ensure_room(state, &output.tenant, 0).await {
        Ok(()) => {}
        Err(StoreError::Internal(cause)) => {
            tracing::error!(output = %output.id, %cause, "could not check the temp budget");
            return None;
        }
        Err(_) => return Some(Done::failed(TEMP_STORAGE_FULL, None)),
    }
    let mut staged = match state.blobs.stage().await {
        Ok(staged) => staged,
        Err(e) => {
            tracing::error!(output = %output.id, error = %e, "could not stage a download");
            return None;
        }
    };
    let limit = state.config.generation.max_asset_bytes;
    let mut out = Output::new(staged.as_mut(), limit);
    match state.generators.fetcher().fetch(src, &mut out).await {
        Ok(()) => {}
        Err(GenerateError::Store(e)) => {
            tracing::error!(output = %output.id, error = %e, "could not stage a download");
            return None;
        }
        Err(e) => return Some(Done::failed(e.to_string(), None)),
    }
    if out.written() == 0 {
        return Some(Done::failed(format!("{src} answered with no data"), None));
    }
    match store_output(state, output, staged, claimed_until).await {
        Ok(entry) => Some(Done {
            outcome: OutputOutcome::Stored(entry.id.clone()),
            entry: Some(entry),
            file: None,
        }),
        Err(StoreError::Rejected(message)) => Some(Done::failed(message, None)),
        Err(StoreError::Full) => Some(Done::failed(TEMP_STORAGE_FULL, None)),
        Err(StoreError::Internal(cause)) => {
            tracing::error!(output = %output.id, %cause, "could not store a downloaded output");
            None
        }
        // Tried again once the claim lapses.
        Err(StoreError::Busy) => None,
    }
}

/// The names the hosted file may take: `{stem}{suffix}.{ext}`, then with a piece of the hash.
fn hosted_names(output: &RenderOutput, entry: &CacheEntry, hash: &str) -> Vec<FileName> {
    let stem = output.stem.as_deref().unwrap_or(output.render_id.as_str());
    let suffix = output.kind.name_suffix();
    let ext = &entry.extension;
    [
        format!("{stem}{suffix}.{ext}"),
        format!("{stem}{suffix}-{}.{ext}", &hash[..6]),
        format!("{}{suffix}.{ext}", output.id),
    ]
    .iter()
    .filter_map(|name| FileName::sanitise(name).ok())
    .collect()
}

/// Copies an output from the temporary tier into hosting: a drive file on the same blob, counted
/// against the quota. `None` when the cause is ours and worth a retry.
async fn host(state: &App, output: &RenderOutput) -> Option<Done> {
    let entry_id = output.cache_entry.as_ref()?;
    let entry = match state.catalog.cache_entry_by_id(entry_id).await {
        Ok(entry) => entry,
        Err(e) => {
            tracing::error!(output = %output.id, error = %e, "could not read a render output");
            return None;
        }
    };
    let Some(hash) = entry.as_ref().and_then(|e| e.blob.clone()) else {
        return Some(Done::failed(
            "the temporary copy expired before it could be hosted",
            entry,
        ));
    };
    let entry = entry.expect("checked");
    let promotion = Promotion {
        entry_id: entry.id.clone(),
        tenant: output.tenant.clone(),
        folder: FolderPath::from_stored(HOSTING_FOLDER).expect("a valid folder"),
        names: hosted_names(output, &entry, hash.as_str()),
        now: Utc::now(),
        default_quota: state.config.default_quota,
        share: false,
    };
    match state.catalog.promote_cache_entry(&promotion).await {
        Ok(file) => {
            state.cache.forget_tenant(&output.tenant);
            Some(Done {
                outcome: OutputOutcome::Hosted(file.id.clone()),
                entry: Some(entry),
                file: Some(file),
            })
        }
        Err(CatalogError::StorageBlocked) => {
            Some(Done::failed(crate::error::STORAGE_BLOCKED, Some(entry)))
        }
        Err(CatalogError::NotFound) => Some(Done::failed(
            "the temporary copy expired before it could be hosted",
            Some(entry),
        )),
        Err(CatalogError::FileExists) => Some(Done::failed(
            format!("every name in {HOSTING_FOLDER}/ this output could take is in use"),
            Some(entry),
        )),
        Err(e) => {
            tracing::error!(output = %output.id, error = %e, "could not host a render output");
            None
        }
    }
}
