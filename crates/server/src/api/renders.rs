//! `/v2/renders` (seed 004): a renderer hands over the files of one render, by URL or by upload.
//! They are served from the temporary tier at once and hosted in the drive in the background.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    Json,
};
use chrono::Utc;
use mediadrive_app::representations::{load_output_view, output_view, OutputView};
use mediadrive_core::{NewOutput, NewRender, OutputKind, RenderId, RenderRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::views::timestamp;
use crate::http::body::JsonObject;
use crate::{
    auth::{can, Authorized},
    error::{ApiError, ApiResult, ErrorBody},
    upload, App,
};
use mediadrive_app::renders;

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

async fn render_view(state: &App, render: &RenderRecord) -> ApiResult<RenderView> {
    let mut outputs = Vec::with_capacity(render.outputs.len());
    for output in &render.outputs {
        outputs.push(load_output_view(state, output).await?);
    }
    Ok(RenderView {
        success: true,
        id: render.id.to_string(),
        hosting: render.host,
        created_at: timestamp(render.created_at),
        outputs,
    })
}

/// One output checked; the error names its position and field.
fn output_request(state: &App, index: usize, raw: &Value) -> ApiResult<NewOutput> {
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
        Some(Value::String(src)) => Some(
            mediadrive_app::webhooks::target_url(state, src, "src")
                .map_err(|e| invalid(&e.message))?,
        ),
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
    State(state): State<App>,
    principal: Authorized<can::Upload>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<RenderView>)> {
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
    state.wakeups.renders.notify_one();
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
    State(state): State<App>,
    principal: Authorized<can::List>,
    Path(id): Path<String>,
) -> ApiResult<Json<RenderView>> {
    // A malformed id names no render: the same 404 as an unknown one.
    let render = match RenderId::parse(&id) {
        Ok(id) => state.catalog.render(&principal.tenant, &id).await?,
        Err(_) => None,
    }
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
        (status = 403, description = "Temporary storage is full. Delete temporary files or wait for them to expire.", body = ErrorBody),
        (status = 409, description = "Output already received | Upload already in progress", body = ErrorBody),
        (status = 413, description = "File exceeds maximum size of 500 MB", body = ErrorBody),
        (status = 422, description = "a video output must be a video; this file is …", body = ErrorBody),
    ))]
pub async fn upload_output(
    State(state): State<App>,
    principal: Authorized<can::Upload>,
    Path((render_id, output_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<OutputView>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (output, stored) = renders::receive_output(
        &state,
        &principal.tenant,
        (&render_id, &output_id),
        declared,
        upload::byte_stream(body),
    )
    .await?;
    Ok(Json(output_view(&state, &output, Some(&stored), None)))
}
