//! The presigned PUT for the filesystem backend: verify the grant, claim the file once, stream the
//! body into a staged blob while hashing it, and only then make the file `uploaded`.

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use chrono::Utc;
use futures_util::StreamExt;
use mediadrive_core::{
    blobs::{HeldBlob, StagedBlob},
    CatalogError, ContentHash, FileId, FileRecord, UploadClaim,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    held_claim::HeldClaim,
    signing::UploadGrant,
    state::AppState,
    telemetry,
};

pub fn upload_url(state: &AppState, grant: &UploadGrant) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("expires", &grant.expires.to_string())
        .append_pair("size", &grant.size.to_string())
        .append_pair("contentType", &grant.content_type)
        .append_pair("signature", &state.signer.sign(grant))
        .finish();
    format!("{}/upload/{}?{query}", state.config.public_url, grant.file)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedParams {
    expires: i64,
    size: u64,
    #[serde(rename = "contentType")]
    content_type: String,
    signature: String,
}

#[derive(Serialize, ToSchema)]
pub struct UploadDone {
    pub success: bool,
    pub status: String,
    #[serde(rename = "fileUrl")]
    pub file_url: String,
    pub size: u64,
}

fn size_mismatch() -> ApiError {
    ApiError::bad_request("Uploaded size does not match the declared size")
}

/// Receives the bytes of a pending file through the URL `POST /v2/media/file` returned.
#[utoipa::path(put, path = "/upload/{id}", tag = "upload",
    params(("id" = String, Path, description = "File id from the presigned URL"), SignedParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, body = UploadDone),
        (status = 400, description = "Uploaded size does not match the declared size", body = ErrorBody),
        (status = 403, description = "Signature does not match | Upload URL has expired | Content-Type does not match the signed upload", body = ErrorBody),
        (status = 404, description = "Upload not found", body = ErrorBody),
        (status = 409, description = "Upload already completed | Upload already in progress", body = ErrorBody),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<SignedParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Query(params) = params.map_err(|_| ApiError::forbidden("Signature does not match"))?;
    let file = FileId::parse(&id).map_err(|_| ApiError::forbidden("Signature does not match"))?;
    let grant = UploadGrant {
        file,
        size: params.size,
        content_type: params.content_type,
        expires: params.expires,
    };
    if !state.signer.verify(&grant, &params.signature) {
        return Err(ApiError::forbidden("Signature does not match"));
    }
    let now = Utc::now();
    if now.timestamp() > grant.expires {
        return Err(ApiError::forbidden("Upload URL has expired"));
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if sent_type != Some(grant.content_type.as_str()) {
        return Err(ApiError::forbidden(
            "Content-Type does not match the signed upload",
        ));
    }
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|len| len != grant.size) {
        return Err(size_mismatch());
    }
    let claim_until = now + state.config.upload_claim_ttl;
    let record = match state
        .catalog
        .claim_upload(&grant.file, now, claim_until)
        .await?
    {
        UploadClaim::Claimed(record) => record,
        UploadClaim::AlreadyUploaded => return Err(ApiError::conflict("Upload already completed")),
        UploadClaim::InProgress => return Err(ApiError::conflict("Upload already in progress")),
        UploadClaim::Missing => return Err(ApiError::not_found("Upload not found")),
    };
    let claim = HeldClaim::new(&state, &record.id, claim_until);
    let ingested = match state.limits.start_upload(&record.tenant) {
        Ok(_slot) => ingest(&state, &record, body).await,
        Err(e) => Err(e),
    };
    let file = match ingested {
        Ok(file) => {
            claim.recorded();
            file
        }
        Err(e) => {
            // The client may retry while the URL is still valid.
            claim.release().await;
            return Err(e);
        }
    };
    let etag = format!("\"{}\"", file.blob.as_ref().map_or("", |h| h.as_str()));
    let done = UploadDone {
        success: true,
        status: file.status.as_str().to_string(),
        file_url: state.record_url(&file),
        size: file.size,
    };
    Ok(([(header::ETAG, etag)], Json(done)).into_response())
}

/// A request body read chunk by chunk, counting what arrived.
///
/// A node whose shutdown grace period ran out cuts the body off with a 503, so that the caller
/// releases its claim and the client may retry on another node at once. A body that sends nothing
/// for `body_idle_timeout_secs` gets a 408, so a trickling client cannot hold an upload slot.
pub(crate) struct BodyReader {
    stream: axum::body::BodyDataStream,
    idle: Duration,
    cut_off: tokio_util::sync::CancellationToken,
    received: u64,
    _in_flight: telemetry::InFlight,
}

impl BodyReader {
    pub(crate) fn new(state: &AppState, body: Body) -> Self {
        Self {
            stream: body.into_data_stream(),
            idle: Duration::from_secs(state.config.limits.body_idle_timeout_secs),
            cut_off: state.cut_off.clone(),
            received: 0,
            _in_flight: telemetry::InFlight::start(),
        }
    }

    /// Bytes that arrived so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk; `None` once the body ended.
    pub(crate) async fn next(&mut self) -> ApiResult<Option<bytes::Bytes>> {
        let chunk = tokio::select! {
            chunk = self.stream.next() => chunk,
            _ = tokio::time::sleep(self.idle) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("Upload sent no bytes for {} seconds", self.idle.as_secs()),
                ));
            }
            _ = self.cut_off.cancelled() => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server is shutting down; retry the upload",
                );
                e.retry_after = Some(1);
                return Err(e);
            }
        };
        let Some(chunk) = chunk else { return Ok(None) };
        let chunk = chunk.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("Upload interrupted: {e}"))
        })?;
        telemetry::received(chunk.len());
        self.received += chunk.len() as u64;
        Ok(Some(chunk))
    }
}

/// Streams a request body into `staged`; `too_long` is the answer once more than `limit` bytes
/// arrived. Returns how many did.
pub(crate) async fn stream_body(
    state: &AppState,
    staged: &mut dyn StagedBlob,
    body: Body,
    limit: u64,
    too_long: fn() -> ApiError,
) -> ApiResult<u64> {
    let mut body = BodyReader::new(state, body);
    while let Some(chunk) = body.next().await? {
        if body.received() > limit {
            return Err(too_long());
        }
        staged.write(chunk).await?;
    }
    Ok(body.received())
}

/// Streams the body into a staged blob; nothing becomes visible unless every byte arrived.
async fn ingest(state: &AppState, record: &FileRecord, body: Body) -> ApiResult<FileRecord> {
    let mut staged = state.blobs.stage().await?;
    let received = stream_body(state, staged.as_mut(), body, record.size, size_mismatch).await?;
    if received != record.size {
        return Err(size_mismatch());
    }
    let (hash, len) = staged.finish().await?;
    lease_blob(state, &hash, len).await?;
    commit(state, record, staged, &hash).await
}

pub(crate) async fn lease_blob(state: &AppState, hash: &ContentHash, len: u64) -> ApiResult<()> {
    // A reclaim of the same content may be finishing; it takes milliseconds.
    for _ in 0..50 {
        match state
            .catalog
            .lease_blob(hash, len, Utc::now() + state.config.ingest_lease)
            .await
        {
            Err(CatalogError::BlobBusy) => tokio::time::sleep(Duration::from_millis(20)).await,
            other => return Ok(other?),
        }
    }
    Err(CatalogError::BlobBusy.into())
}

pub(crate) async fn commit(
    state: &AppState,
    record: &FileRecord,
    staged: Box<dyn HeldBlob>,
    hash: &ContentHash,
) -> ApiResult<FileRecord> {
    if let Err(e) = staged.commit(hash).await {
        let _ = state.catalog.release_blob_lease(hash).await;
        return Err(e.into());
    }
    complete(state, record, hash).await
}

/// Makes a pending file `uploaded` with the committed, leased blob `hash`, announced.
pub(crate) async fn complete(
    state: &AppState,
    record: &FileRecord,
    hash: &ContentHash,
) -> ApiResult<FileRecord> {
    let announce = |f: &FileRecord| crate::webhooks::file_event(state, "file.uploaded", f);
    let record_it = || {
        state
            .catalog
            .complete_upload(&record.id, hash, Utc::now(), &announce)
    };
    let file = match record_it().await {
        // The ingest outlasted its lease and the blob was reclaimed meanwhile, perhaps before
        // these bytes were placed, which would leave them held by no row. Lease it afresh, so no
        // reclaim can start, and record the file if the bytes are there; if not, nothing is lost
        // and the upload may be retried.
        Err(CatalogError::BlobBusy) => {
            lease_blob(state, hash, record.size).await?;
            if !state.blobs.exists(hash).await? {
                let _ = state.catalog.release_blob_lease(hash).await;
                return Err(CatalogError::BlobBusy.into());
            }
            record_it().await
        }
        other => other,
    }
    .map_err(|e| match e {
        CatalogError::NotFound => ApiError::not_found("Upload not found"),
        other => other.into(),
    })?;
    state.probe_wakeup.notify_one();
    state.webhook_wakeup.notify_one();
    Ok(file)
}
