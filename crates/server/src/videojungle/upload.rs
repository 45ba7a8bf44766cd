//! The upload flow of the official client: ask the project for an upload link, then POST the file
//! to it as multipart form data (field `file`). The form is read here; its file's bytes go to the
//! asset upload use case, which reserves the quota ahead of them, stages, probes and records them.

use std::sync::{Arc, Mutex};

use axum::{
    body::Body,
    extract::{multipart::MultipartError, FromRequest, Multipart, Path, Request, State},
    http::{header, StatusCode},
    Json,
};
use chrono::{Duration, Utc};
use mediadrive_app::{
    ingest::{self, BodyReader},
    projects::{self, AssetUpload},
    AppError,
};
use mediadrive_core::{CatalogError, FileName, NewProjectAsset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    error::{Caller, Detail, Invalid, VjError, VjResult},
    views::{asset_view, AssetView},
};
use crate::{auth::can, error::ApiError, http::body::JsonObject, upload, App};
use mediadrive_app::config::MAX_UPLOAD_BYTES;

/// The one upload method offered: the file sent to the upload link in one request.
const UPLOAD_METHOD: &str = "file-no-chunk";
const MAX_NAME: usize = 200;
/// Room a form may take besides the file: its boundaries, part headers and small fields.
const FORM_ALLOWANCE: u64 = 64 * 1024;
/// The upload route's body limit: a file of the largest size, in its form.
pub const BODY_LIMIT: usize = (MAX_UPLOAD_BYTES + FORM_ALLOWANCE) as usize;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct AssetRequest {
    /// Only `file-no-chunk`.
    upload_method: String,
    /// Names the file in the drive. The asset's own keyname is always a fresh random key.
    keyname: String,
    /// Kept with the asset; `user` when absent.
    asset_type: Option<String>,
    description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UploadLink {
    /// Relative to the API's base URL, as the official client expects.
    pub url: String,
    pub method: &'static str,
    /// The form field that carries the file.
    pub field: &'static str,
    pub expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct NewAssetAnswer {
    #[serde(flatten)]
    pub asset: AssetView,
    pub upload_url: UploadLink,
}

/// Registers an asset waiting for its bytes and answers with the link to send them to.
#[utoipa::path(post, path = "/videojungle/projects/{id}/asset", tag = "videojungle",
    params(("id" = String, Path, description = "The project id")),
    request_body = AssetRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = NewAssetAnswer),
        (status = 403, description = "Insufficient permissions", body = Detail),
        (status = 404, description = "Project not found", body = Detail),
        (status = 422, description = "keyname is missing | upload_method is not offered", body = Detail),
    ))]
pub async fn request_upload(
    State(state): State<App>,
    caller: Caller<can::Upload>,
    Path(id): Path<String>,
    body: Result<JsonObject, ApiError>,
) -> VjResult<Json<NewAssetAnswer>> {
    let body = body?;
    let project = projects::project(&state, &caller.tenant, &id).await?;
    let method = body.text("upload_method").unwrap_or(UPLOAD_METHOD);
    if method != UPLOAD_METHOD {
        return Err(VjError::invalid(&[Invalid {
            kind: "literal_error",
            place: "body",
            field: "upload_method",
            msg: format!("Input should be '{UPLOAD_METHOD}'"),
            input: Some(method),
        }]));
    }
    let name = body
        .text("keyname")
        .or_else(|| body.text("name"))
        .ok_or_else(|| VjError::missing("body", "keyname"))?;
    if name.chars().count() > MAX_NAME || FileName::sanitise(name).is_err() {
        return Err(VjError::invalid(&[Invalid {
            kind: "value_error",
            place: "body",
            field: "keyname",
            msg: format!("Value error, a file name of 1 to {MAX_NAME} characters is needed"),
            input: Some(name),
        }]));
    }
    let now = Utc::now();
    let ttl = Duration::seconds(state.config.videojungle.upload_ttl_secs as i64);
    let asset = state
        .catalog
        .create_project_asset(&NewProjectAsset {
            tenant: project.tenant.clone(),
            project_id: project.id.clone(),
            keyname: projects::random_key(),
            name: name.to_string(),
            asset_type: body.text("asset_type").unwrap_or("user").to_string(),
            description: body.raw_text("description").map(str::to_string),
            create_parameters: None,
            now,
            upload_expires_at: now + ttl,
        })
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => VjError::not_found("Project"),
            other => other.into(),
        })?;
    Ok(Json(NewAssetAnswer {
        upload_url: UploadLink {
            url: format!("/assets/{}/upload", asset.id),
            method: "POST",
            field: "file",
            expires_at: super::views::timestamp(asset.upload_expires_at),
        },
        asset: asset_view(&state, &asset),
    }))
}

/// Receives an asset's bytes: multipart form data with the file in the field `file`.
#[utoipa::path(post, path = "/videojungle/assets/{id}/upload", tag = "videojungle",
    params(("id" = String, Path, description = "The asset id")),
    request_body(content = Vec<u8>, content_type = "multipart/form-data"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = AssetView),
        (status = 400, description = "The form is malformed or the upload broke off", body = Detail),
        (status = 403, description = "Storage is blocked. Add credits to continue uploading. | Insufficient permissions", body = Detail),
        (status = 404, description = "Asset not found", body = Detail),
        (status = 408, description = "Upload sent no bytes for the idle timeout", body = Detail),
        (status = 409, description = "Asset already uploaded | Asset is generated by a script and takes no upload", body = Detail),
        (status = 413, description = "File exceeds maximum size of 500 MB", body = Detail),
        (status = 422, description = "file is missing or empty", body = Detail),
        (status = 503, description = "The server is shutting down; retry the upload", body = Detail),
    ))]
pub async fn upload_asset(
    State(state): State<App>,
    caller: Caller<can::Upload>,
    Path(id): Path<String>,
    request: Request,
) -> VjResult<Json<AssetView>> {
    let asset = projects::asset(&state, &caller.tenant, &id).await?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut upload = AssetUpload::start(&state, asset, declared, FORM_ALLOWANCE).await?;
    let sent_type = match receive(&state, request, &mut upload).await {
        Ok(sent_type) => sent_type,
        Err(e) => {
            upload.abandon().await;
            return Err(e);
        }
    };
    let stored = upload.finish(sent_type).await?;
    Ok(Json(asset_view(&state, &stored)))
}

/// Streams the form's field `file` into the upload through the shared body reader (idle
/// timeout, shutdown cut-off, byte counts); other fields are skipped. Returns the type the client
/// gave the file.
async fn receive(
    state: &App,
    request: Request,
    upload: &mut AssetUpload,
) -> VjResult<Option<String>> {
    let (parts, body) = request.into_parts();
    // The form parser sees only that the stream failed; the reader's own answer (408, 503) is
    // kept here for the client.
    let failure: Arc<Mutex<Option<AppError>>> = Arc::default();
    let reader = BodyReader::new(state, upload::byte_stream(body));
    let noted = failure.clone();
    let stream = futures_util::stream::unfold(Some(reader), move |reader| {
        let noted = noted.clone();
        async move {
            let mut reader = reader?;
            match reader.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(reader))),
                Ok(None) => None,
                Err(e) => {
                    if let Ok(mut slot) = noted.lock() {
                        *slot = Some(e);
                    }
                    Some((Err(std::io::Error::other("the upload broke off")), None))
                }
            }
        }
    });
    let broke = |e: MultipartError| -> VjError {
        if let Some(cause) = failure.lock().ok().and_then(|mut slot| slot.take()) {
            return cause.into();
        }
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ingest::too_large().into();
        }
        VjError::new(StatusCode::BAD_REQUEST, e.body_text())
    };
    // The route's body limit travels in `parts`, so the parser stops at it.
    let request = Request::from_parts(parts, Body::from_stream(stream));
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| VjError::new(e.status(), e.body_text()))?;
    while let Some(mut field) = form.next_field().await.map_err(broke)? {
        if field.name() != Some("file") {
            continue;
        }
        let sent_type = field.content_type().map(str::to_string);
        while let Some(chunk) = field.chunk().await.map_err(broke)? {
            upload.write(chunk).await?;
        }
        if upload.received() == 0 {
            return Err(VjError::invalid(&[Invalid {
                kind: "value_error",
                place: "body",
                field: "file",
                msg: "Value error, the file is empty".into(),
                input: None,
            }]));
        }
        return Ok(sent_type);
    }
    Err(VjError::missing("body", "file"))
}
