//! `/v2/renders` (seed 004): a renderer hands over the files of one render, by URL or by upload.
//! They are served from the temporary tier at once and hosted in the drive in the background.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    Json,
};
use chrono::Utc;
use mediadrive_core::{
    Action, CacheEntry, FileRecord, NewOutput, NewRender, OutputClaim, OutputKind, OutputOutcome,
    OutputStatus, RenderOutput, RenderRecord,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{body::JsonObject, views::timestamp};
use crate::{
    auth::Principal,
    config::MAX_UPLOAD_BYTES,
    error::{ApiError, ApiResult, ErrorBody},
    renders::{self, Done},
    state::AppState,
    temporary::StoreError,
    upload,
};

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "File exceeds maximum size of 500 MB",
    )
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct RenderRequest {
    /// The render's files: one `video`, at most one `thumbnail` and one `poster`.
    outputs: Vec<OutputRequest>,
    /// Copy the outputs into hosting (the drive, counted against the quota); default true. With
    /// false they live only in the temporary tier.
    hosting: Option<bool>,
    /// A URL told of each output's hosting (`asset.hosted`, `asset.failed`), signed like webhooks.
    callback: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Documents the body; see `RenderRequest`.
pub struct OutputRequest {
    /// video, thumbnail or poster.
    #[serde(rename = "type")]
    output_type: String,
    /// Where to download the file from; without it, PUT the bytes to the output's `upload_url`.
    src: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RenderView {
    pub success: bool,
    /// A UUID; `GET /serve/v1/assets/render/{id}` lists its hosted assets.
    pub id: String,
    pub hosting: bool,
    pub created_at: String,
    pub outputs: Vec<OutputView>,
}

#[derive(Serialize, ToSchema)]
pub struct OutputView {
    /// A UUID: the asset id of the Serve API.
    pub id: String,
    /// video, thumbnail, poster, or transfer (a file transferred by URL).
    #[serde(rename = "type")]
    pub output_type: &'static str,
    /// waiting (for its upload), fetching, importing (into hosting), temporary (not to be
    /// hosted), ready (hosted), failed, deleted.
    pub status: &'static str,
    /// Where to PUT the bytes (with the API key), while the output waits for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// The temporary URL; answers `410 Gone` after `expires_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The permanent URL, once hosted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_url: Option<String>,
    /// The hosted file's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Seconds, for videos.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An output as the API shows it, with its temporary-tier entry and hosted file if it has them.
pub(crate) fn output_view(
    state: &AppState,
    output: &RenderOutput,
    entry: Option<&CacheEntry>,
    file: Option<&FileRecord>,
) -> OutputView {
    let waiting = output.status == OutputStatus::Waiting;
    let hosted = file.filter(|_| output.status == OutputStatus::Ready);
    OutputView {
        id: output.id.clone(),
        output_type: output.kind.as_str(),
        status: output.status.as_str(),
        upload_url: waiting.then(|| {
            state.url(&format!(
                "/v2/renders/{}/outputs/{}",
                output.render_id, output.id
            ))
        }),
        src: output.src.clone(),
        url: entry.map(|e| state.url(&e.url_path())),
        expires_at: entry.map(|e| timestamp(e.expires_at)),
        hosted_url: hosted.map(|f| state.record_url(f)),
        filename: hosted.map(|f| f.name.to_string()),
        content_type: entry.map(|e| e.content_type.clone()),
        size: entry.map(|e| e.size),
        width: entry.and_then(|e| e.width),
        height: entry.and_then(|e| e.height),
        duration: entry
            .and_then(|e| e.duration_ms)
            .map(|ms| ms as f64 / 1000.0),
        error: output.error.clone(),
        created_at: timestamp(output.created_at),
        updated_at: timestamp(output.updated_at),
    }
}

/// An output with the records its view shows, read from the catalog.
pub(crate) async fn load_output_view(
    state: &AppState,
    output: &RenderOutput,
) -> ApiResult<OutputView> {
    let entry = match &output.cache_entry {
        Some(id) => state.catalog.cache_entry_by_id(id).await?,
        None => None,
    };
    let file = match &output.hosted_file {
        Some(id) => state.catalog.file_by_id(id).await?,
        None => None,
    };
    Ok(output_view(state, output, entry.as_ref(), file.as_ref()))
}

async fn render_view(state: &AppState, render: &RenderRecord) -> ApiResult<RenderView> {
    let mut outputs = Vec::with_capacity(render.outputs.len());
    for output in &render.outputs {
        outputs.push(load_output_view(state, output).await?);
    }
    Ok(RenderView {
        success: true,
        id: render.id.clone(),
        hosting: render.host,
        created_at: timestamp(render.created_at),
        outputs,
    })
}

/// One output checked; the error names its position and field.
fn output_request(state: &AppState, index: usize, raw: &Value) -> ApiResult<NewOutput> {
    let invalid = |message: &str| ApiError::bad_request(format!("outputs[{index}]: {message}"));
    let output = raw
        .as_object()
        .ok_or_else(|| invalid("each output must be an object"))?;
    let kind = match output.get("type").and_then(Value::as_str) {
        None => return Err(invalid("type is required")),
        Some(t) => OutputKind::parse(t)
            .filter(|k| OutputKind::RENDER_OUTPUTS.contains(k))
            .ok_or_else(|| invalid("type must be one of video, thumbnail, poster"))?,
    };
    let src = match output.get("src") {
        None | Some(Value::Null) => None,
        Some(Value::String(src)) => {
            Some(super::webhooks::target_url(state, src, "src").map_err(|e| invalid(&e.message))?)
        }
        Some(_) => return Err(invalid("src must be an http or https URL")),
    };
    Ok(NewOutput {
        kind,
        src,
        stem: None,
    })
}

/// Hands over the files of one render. Outputs with a `src` are downloaded in the background;
/// the others wait for their bytes at their `upload_url`.
#[utoipa::path(post, path = "/v2/renders", tag = "renders",
    request_body = RenderRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = RenderView),
        (status = 400, description = "outputs is required | outputs[i]: type must be one of video, thumbnail, poster | a render has exactly one video output | …", body = ErrorBody),
        (status = 403, description = "Insufficient permissions", body = ErrorBody),
    ))]
pub async fn create_render(
    State(state): State<AppState>,
    principal: Principal,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<RenderView>)> {
    principal.authorize(Action::Upload)?;
    let raw = body
        .get("outputs")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("outputs is required"))?;
    let outputs = raw
        .iter()
        .enumerate()
        .map(|(i, raw)| output_request(&state, i, raw))
        .collect::<ApiResult<Vec<_>>>()?;
    for kind in OutputKind::RENDER_OUTPUTS {
        let count = outputs.iter().filter(|o| o.kind == kind).count();
        if kind == OutputKind::Video && count != 1 {
            return Err(ApiError::bad_request(
                "a render has exactly one video output",
            ));
        }
        if count > 1 {
            return Err(ApiError::bad_request(format!(
                "a render has at most one {} output",
                kind.as_str()
            )));
        }
    }
    let host = match body.get("hosting") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("hosting must be true or false")),
    };
    let callback = super::webhooks::callback(&state, &principal, &body).await?;
    let render = state
        .catalog
        .create_render(&NewRender {
            tenant: principal.tenant.clone(),
            host,
            callback,
            outputs,
            now: Utc::now(),
        })
        .await?;
    state.render_wakeup.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(render_view(&state, &render).await?),
    ))
}

/// Reports each output of a render: status, temporary URL and when it expires, hosted URL.
#[utoipa::path(get, path = "/v2/renders/{render_id}", tag = "renders",
    params(("render_id" = String, Path, description = "The id POST /v2/renders returned")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = RenderView),
        (status = 404, description = "Render not found", body = ErrorBody),
    ))]
pub async fn get_render(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RenderView>> {
    principal.authorize(Action::List)?;
    let render = state
        .catalog
        .render(&principal.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Render not found"))?;
    Ok(Json(render_view(&state, &render).await?))
}

/// Receives the bytes of an output that waits for them. The type is sniffed from the bytes: a
/// video output must be a video, a thumbnail or poster an image.
#[utoipa::path(put, path = "/v2/renders/{render_id}/outputs/{output_id}", tag = "renders",
    params(
        ("render_id" = String, Path, description = "The render"),
        ("output_id" = String, Path, description = "The output, as POST /v2/renders listed it"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = OutputView),
        (status = 404, description = "Output not found", body = ErrorBody),
        (status = 409, description = "Output already received | Upload already in progress", body = ErrorBody),
        (status = 413, description = "File exceeds maximum size of 500 MB", body = ErrorBody),
        (status = 422, description = "a video output must be a video; this file is …", body = ErrorBody),
    ))]
pub async fn upload_output(
    State(state): State<AppState>,
    principal: Principal,
    Path((render_id, output_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<OutputView>> {
    principal.authorize(Action::Upload)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_UPLOAD_BYTES) {
        return Err(too_large());
    }
    let not_found = || ApiError::not_found("Output not found");
    let now = Utc::now();
    let until = now + state.config.upload_claim_ttl;
    let output = match state
        .catalog
        .claim_output_upload(&principal.tenant, &render_id, &output_id, now, until)
        .await?
    {
        OutputClaim::Claimed(output) => *output,
        OutputClaim::NotWaiting => return Err(ApiError::conflict("Output already received")),
        OutputClaim::InProgress => return Err(ApiError::conflict("Upload already in progress")),
        OutputClaim::Missing => return Err(not_found()),
    };
    let slot = match state.limits.start_upload(&principal.tenant) {
        Ok(slot) => slot,
        Err(e) => {
            release(&state, &output, until).await;
            return Err(e);
        }
    };
    let stored = receive(&state, &output, body, until).await;
    drop(slot);
    let stored = match stored {
        Ok(stored) => stored,
        Err(e) => {
            release(&state, &output, until).await;
            return Err(e);
        }
    };
    let done = Done {
        outcome: OutputOutcome::Stored(stored.id.clone()),
        entry: Some(stored.clone()),
        file: None,
    };
    match renders::finish(&state, &output, until, done).await? {
        Some(after) => Ok(Json(output_view(&state, &after, Some(&stored), None))),
        // The claim was lost while the bytes streamed: the output was deleted, or the upload took
        // so long that another one took over.
        None => match state
            .catalog
            .render_output(&principal.tenant, &output_id)
            .await?
        {
            Some(o) if o.status != OutputStatus::Deleted => {
                Err(ApiError::conflict("Upload already in progress"))
            }
            _ => Err(not_found()),
        },
    }
}

/// The claim is given up so the renderer may send the bytes again.
async fn release(state: &AppState, output: &RenderOutput, until: chrono::DateTime<Utc>) {
    let done = Done {
        outcome: OutputOutcome::Released,
        entry: None,
        file: None,
    };
    if let Err(e) = renders::finish(state, output, until, done).await {
        tracing::warn!(output = %output.id, error = %e, "could not release an output's upload claim");
    }
}

/// Streams the body into the temporary tier; nothing is kept unless every byte arrived and they
/// are what the output must be.
async fn receive(
    state: &AppState,
    output: &RenderOutput,
    body: Body,
    claimed_until: chrono::DateTime<Utc>,
) -> ApiResult<CacheEntry> {
    let mut staged = state.blobs.stage().await?;
    let received =
        upload::stream_body(state, staged.as_mut(), body, MAX_UPLOAD_BYTES, too_large).await?;
    if received == 0 {
        return Err(ApiError::bad_request("The upload is empty"));
    }
    renders::store_output(state, output, staged, claimed_until)
        .await
        .map_err(|e| match e {
            StoreError::Rejected(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
            }
            StoreError::Internal(cause) => ApiError::internal(cause),
        })
}
