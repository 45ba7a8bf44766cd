//! The one way bytes enter the store: a body read chunk by chunk under the idle timeout and the
//! shutdown cut-off, counted, staged while hashed, leased, committed and recorded.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::{stream::BoxStream, StreamExt};
use mediadrive_core::{
    blobs::{HeldBlob, StagedBlob},
    CatalogError, FileRecord,
};

use crate::{
    blob_lease::BlobLease,
    error::{AppError, AppResult, ErrorKind},
    metrics, App,
};

/// A body as the surfaces hand it over: the chunks a client sends, or why it broke off.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

pub fn size_mismatch() -> AppError {
    AppError::bad_request("Uploaded size does not match the declared size")
}

/// Seed 002's refusal of a file past `MAX_UPLOAD_BYTES`, whichever way it comes in.
pub fn too_large() -> AppError {
    AppError::new(ErrorKind::TooLarge, "File exceeds maximum size of 500 MB")
}

/// Content types travel in a header of the signed PUT, so they must be a plain `type/subtype`.
pub fn valid_content_type(ct: &str) -> bool {
    ct.len() <= 255
        && ct
            .split_once('/')
            .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
        && ct.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// A request body read chunk by chunk, counting what arrived.
///
/// A node whose shutdown grace period ran out cuts the body off with a 503, so that the caller
/// releases its claim and the client may retry on another node at once. A body that sends nothing
/// for `body_idle_timeout_secs` gets a 408, so a trickling client cannot hold an upload slot.
pub struct BodyReader {
    stream: ByteStream,
    idle: Duration,
    cut_off: tokio_util::sync::CancellationToken,
    received: u64,
    _in_flight: metrics::InFlight,
}

impl BodyReader {
    pub fn new(state: &App, body: ByteStream) -> Self {
        Self {
            stream: body,
            idle: Duration::from_secs(state.config.limits.body_idle_timeout_secs),
            cut_off: state.cut_off.clone(),
            received: 0,
            _in_flight: metrics::InFlight::start(),
        }
    }

    /// Bytes that arrived so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk; `None` once the body ended.
    pub async fn next(&mut self) -> AppResult<Option<bytes::Bytes>> {
        let chunk = tokio::select! {
            chunk = self.stream.next() => chunk,
            _ = tokio::time::sleep(self.idle) => {
                return Err(AppError::new(
                    ErrorKind::Timeout,
                    format!("Upload sent no bytes for {} seconds", self.idle.as_secs()),
                ));
            }
            _ = self.cut_off.cancelled() => {
                return Err(AppError::new(
                    ErrorKind::Unavailable,
                    "The server is shutting down; retry the upload",
                )
                .retry_after(1));
            }
        };
        let Some(chunk) = chunk else { return Ok(None) };
        let chunk = chunk.map_err(|e| AppError::bad_request(format!("Upload interrupted: {e}")))?;
        metrics::received(chunk.len());
        self.received += chunk.len() as u64;
        Ok(Some(chunk))
    }
}

/// Streams a request body into `staged`; `too_long` is the answer once more than `limit` bytes
/// arrived. Returns how many did.
pub async fn stream_body(
    state: &App,
    staged: &mut dyn StagedBlob,
    body: ByteStream,
    limit: u64,
    too_long: fn() -> AppError,
) -> AppResult<u64> {
    let mut body = BodyReader::new(state, body);
    while let Some(chunk) = body.next().await? {
        if body.received() > limit {
            return Err(too_long());
        }
        staged.write(chunk).await?;
    }
    Ok(body.received())
}

/// Streams the body into a staged blob for a pending file of a declared size; nothing becomes
/// visible unless every byte arrived.
pub async fn fill_pending(
    state: &App,
    record: &FileRecord,
    body: ByteStream,
) -> AppResult<FileRecord> {
    let mut staged = state.blobs.stage().await?;
    let received = stream_body(state, staged.as_mut(), body, record.size, size_mismatch).await?;
    if received != record.size {
        return Err(size_mismatch());
    }
    let (hash, len) = staged.finish().await?;
    let lease = BlobLease::take(state, &hash, len).await?;
    commit(state, record, staged, lease).await
}

/// Places leased staged bytes under their hash and makes the pending file `uploaded` with them.
pub async fn commit(
    state: &App,
    record: &FileRecord,
    staged: Box<dyn HeldBlob>,
    lease: BlobLease,
) -> AppResult<FileRecord> {
    if let Err(e) = staged.commit(lease.hash()).await {
        lease.release().await;
        return Err(e.into());
    }
    complete(state, record, lease).await
}

/// Makes a pending file `uploaded` with the committed, leased blob, announced.
pub async fn complete(state: &App, record: &FileRecord, lease: BlobLease) -> AppResult<FileRecord> {
    let hash = lease.hash().clone();
    let announce = |f: &FileRecord| crate::webhooks::file_event(state, "file.uploaded", f);
    let record_it = || {
        state
            .catalog
            .complete_upload(&record.id, &hash, Utc::now(), &announce)
    };
    let recorded = match record_it().await {
        // The lease lapsed (its renewals failed) and the blob was reclaimed meanwhile, perhaps
        // before these bytes were placed, which would leave them held by no row. Lease it afresh,
        // so no reclaim can start, and record the file if the bytes are there; if not, nothing is
        // lost and the upload may be retried.
        Err(CatalogError::BlobBusy) => {
            lease.settled();
            let lease = BlobLease::take(state, &hash, record.size).await?;
            if !state.blobs.exists(&hash).await? {
                lease.release().await;
                return Err(CatalogError::BlobBusy.into());
            }
            settle(lease, record_it().await).await
        }
        other => settle(lease, other).await,
    };
    let file = recorded.map_err(|e| match e {
        CatalogError::NotFound => AppError::not_found("Upload not found"),
        other => other.into(),
    })?;
    state.wakeups.probe.notify_one();
    state.wakeups.webhooks.notify_one();
    Ok(file)
}

/// Recording took the lease over, or it failed and the lease goes back.
async fn settle<T>(lease: BlobLease, recorded: Result<T, CatalogError>) -> Result<T, CatalogError> {
    match recorded {
        Ok(done) => {
            lease.settled();
            Ok(done)
        }
        Err(e) => {
            lease.release().await;
            Err(e)
        }
    }
}
