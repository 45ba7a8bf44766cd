//! A renderer's PUT of an output's bytes: claimed once, streamed into the temporary tier under the
//! tenant's temp budget, checked to be what the output must be, then recorded.

use chrono::{DateTime, Utc};
use mediadrive_core::{
    CacheEntry, ClientId, OutputClaim, OutputId, OutputOutcome, OutputStatus, RenderId,
    RenderOutput,
};

use super::{finish, store_output, Done};
use crate::{
    config::MAX_UPLOAD_BYTES,
    error::{AppError, AppResult},
    ingest::{self, too_large, ByteStream},
    temporary, App,
};

fn not_found() -> AppError {
    AppError::not_found("Output not found")
}

/// Receives output `output_id` of render `render_id`, of `declared` bytes if the request said.
/// Malformed ids name no output: the same 404 as unknown ones. Returns the output as it now is
/// and the cache entry holding its bytes.
pub async fn receive_output(
    state: &App,
    tenant: &ClientId,
    (render_id, output_id): (&str, &str),
    declared: Option<u64>,
    body: ByteStream,
) -> AppResult<(RenderOutput, CacheEntry)> {
    if declared.is_some_and(|len| len > MAX_UPLOAD_BYTES) {
        return Err(too_large());
    }
    temporary::ensure_room(state, tenant, declared.unwrap_or(0)).await?;
    let (Ok(render_id), Ok(output_id)) = (RenderId::parse(render_id), OutputId::parse(output_id))
    else {
        return Err(not_found());
    };
    let now = Utc::now();
    let until = now + state.config.upload_claim_ttl;
    let output = match state
        .catalog
        .claim_output_upload(tenant, &render_id, &output_id, now, until)
        .await?
    {
        OutputClaim::Claimed(output) => *output,
        OutputClaim::NotWaiting => return Err(AppError::conflict("Output already received")),
        OutputClaim::InProgress => return Err(AppError::conflict("Upload already in progress")),
        OutputClaim::Missing => return Err(not_found()),
    };
    let stored = match state.limits.start_upload(tenant) {
        Ok(_slot) => stream_in(state, &output, body, until).await,
        Err(e) => Err(e),
    };
    let stored = match stored {
        Ok(stored) => stored,
        Err(e) => {
            release(state, &output, until).await;
            return Err(e);
        }
    };
    let done = Done {
        outcome: OutputOutcome::Stored(stored.id.clone()),
        entry: Some(stored.clone()),
        file: None,
    };
    match finish(state, &output, until, done).await? {
        Some(after) => Ok((after, stored)),
        // The claim was lost while the bytes streamed: the output was deleted, or the upload took
        // so long that another one took over.
        None => match state.catalog.render_output(tenant, &output_id).await? {
            Some(o) if o.status != OutputStatus::Deleted => {
                Err(AppError::conflict("Upload already in progress"))
            }
            _ => Err(not_found()),
        },
    }
}

/// The claim is given up so the renderer may send the bytes again.
async fn release(state: &App, output: &RenderOutput, until: DateTime<Utc>) {
    let done = Done {
        outcome: OutputOutcome::Released,
        entry: None,
        file: None,
    };
    if let Err(e) = finish(state, output, until, done).await {
        tracing::warn!(output = %output.id, error = %e, "could not release an output's upload claim");
    }
}

/// Streams the body into the temporary tier; nothing is kept unless every byte arrived and they
/// are what the output must be.
async fn stream_in(
    state: &App,
    output: &RenderOutput,
    body: ByteStream,
    claimed_until: DateTime<Utc>,
) -> AppResult<CacheEntry> {
    let mut staged = state.blobs.stage().await?;
    let received =
        ingest::stream_body(state, staged.as_mut(), body, MAX_UPLOAD_BYTES, too_large).await?;
    if received == 0 {
        return Err(AppError::bad_request("The upload is empty"));
    }
    Ok(store_output(state, output, staged, claimed_until).await?)
}
