//! The upload flow of the official client: ask the project for an upload link, then POST the file
//! to it as multipart form data (field `file`). The quota is reserved from the declared length
//! first; the bytes are streamed through the shared body reader and hashed into staged storage and
//! probed; only then is the drive file made, counted at its exact size, and the asset pointed at it.

use std::sync::{Arc, Mutex};

use axum::{
    body::Body,
    extract::{multipart::MultipartError, FromRequest, Multipart, Path, Request, State},
    http::{header, StatusCode},
    Json,
};
use chrono::{Duration, Utc};
use mediadrive_core::{
    blobs::StagedBlob, Action, CatalogError, ContentHash, FileName, FileRecord, NewProjectAsset,
    NewUpload, ProjectAsset,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod reservation;

use reservation::Reservation;

use super::{
    assets::asset_of,
    error::{Caller, Detail, Invalid, VjError, VjResult},
    projects::{delete_files, owned},
    views::{asset_view, AssetView},
};
use crate::{
    api::JsonObject,
    config::MAX_UPLOAD_BYTES,
    error::{ApiError, STORAGE_BLOCKED},
    probing,
    state::AppState,
    temporary,
    upload::{self, BodyReader},
};

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

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "File exceeds maximum size of 500 MB",
    )
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
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonObject, ApiError>,
) -> VjResult<Json<NewAssetAnswer>> {
    caller.0.authorize(Action::Upload)?;
    let body = body?;
    let project = owned(&state, &caller, &id).await?;
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
            keyname: random_key(),
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

/// A random UUID (version 4): the keyname is a bearer key, so it must not be guessable.
pub(super) fn random_key() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
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
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> VjResult<Json<AssetView>> {
    caller.0.authorize(Action::Upload)?;
    let asset = asset_of(&state, &caller, &id).await?;
    if asset.file.is_some() {
        return Err(VjError::new(StatusCode::CONFLICT, "Asset already uploaded"));
    }
    if asset.generation.is_some() {
        return Err(VjError::new(
            StatusCode::CONFLICT,
            "Asset is generated by a script and takes no upload",
        ));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > BODY_LIMIT as u64) {
        return Err(too_large().into());
    }
    let _slot = state.limits.start_upload(&asset.tenant)?;
    let mut reservation = Reservation::take(&state, &asset, declared).await?;
    let outcome = receive_and_store(&state, &asset, request, &mut reservation).await;
    // Given up at once, so that an answer names quota that is already free again.
    reservation.cancel().await;
    let file = outcome?;
    let mut stored = asset.clone();
    stored.file = Some(file);
    Ok(Json(asset_view(&state, &stored)))
}

async fn receive_and_store(
    state: &AppState,
    asset: &ProjectAsset,
    request: Request,
    reservation: &mut Reservation,
) -> VjResult<FileRecord> {
    let (mut staged, sent_type) = receive(state, request).await?;
    let (hash, len) = staged.finish().await.map_err(ApiError::from)?;
    upload::lease_blob(state, &hash, len).await?;
    let stored = store(state, asset, staged, &hash, len, sent_type, reservation).await;
    if stored.is_err() {
        let _ = state.catalog.release_blob_lease(&hash).await;
    }
    stored
}

/// Streams the form's field `file` into a staged blob through the shared body reader (idle
/// timeout, shutdown cut-off, byte counts); other fields are skipped.
async fn receive(
    state: &AppState,
    request: Request,
) -> VjResult<(Box<dyn StagedBlob>, Option<String>)> {
    let (parts, body) = request.into_parts();
    // The form parser sees only that the stream failed; the reader's own answer (408, 503) is
    // kept here for the client.
    let failure: Arc<Mutex<Option<ApiError>>> = Arc::default();
    let reader = BodyReader::new(state, body);
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
            return too_large().into();
        }
        VjError::new(StatusCode::BAD_REQUEST, e.body_text())
    };
    // The route's body limit travels in `parts`, so the parser stops at it.
    let request = Request::from_parts(parts, Body::from_stream(stream));
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| VjError::new(e.status(), e.body_text()))?;
    let mut staged = state.blobs.stage().await.map_err(ApiError::from)?;
    while let Some(mut field) = form.next_field().await.map_err(broke)? {
        if field.name() != Some("file") {
            continue;
        }
        let sent_type = field.content_type().map(str::to_string);
        let mut total = 0u64;
        while let Some(chunk) = field.chunk().await.map_err(broke)? {
            total += chunk.len() as u64;
            if total > MAX_UPLOAD_BYTES {
                return Err(too_large().into());
            }
            staged.write(chunk).await.map_err(ApiError::from)?;
        }
        if total == 0 {
            return Err(VjError::invalid(&[Invalid {
                kind: "value_error",
                place: "body",
                field: "file",
                msg: "Value error, the file is empty".into(),
                input: None,
            }]));
        }
        return Ok((staged, sent_type));
    }
    Err(VjError::missing("body", "file"))
}

/// Commits the leased bytes and makes them the asset's drive file; on failure nothing of it
/// stays visible (the caller gives up the lease).
async fn store(
    state: &AppState,
    asset: &ProjectAsset,
    staged: Box<dyn StagedBlob>,
    hash: &ContentHash,
    len: u64,
    sent_type: Option<String>,
    reservation: &mut Reservation,
) -> VjResult<FileRecord> {
    staged.commit(hash).await.map_err(ApiError::from)?;
    let probed = probing::probe_now(state, hash).await.ok();
    let content_type = probed
        .as_ref()
        .map(|info| info.mime.clone())
        .filter(|m| m != "application/octet-stream")
        .or(sent_type)
        .unwrap_or_else(|| "application/octet-stream".into());
    let extension = probed.as_ref().map(temporary::extension);
    let project = state
        .catalog
        .project(&asset.tenant, &asset.project_id)
        .await?
        .ok_or_else(|| VjError::not_found("Asset"))?;
    // The file's own reservation, of its exact size and name, takes the place of the estimate.
    reservation.cancel().await;
    let now = Utc::now();
    let mut pending = None;
    for name in file_names(&asset.name, &asset.id, extension.as_deref()) {
        let reserved = state
            .catalog
            .reserve_upload(&NewUpload {
                tenant: asset.tenant.clone(),
                folder: project.folder.clone(),
                name,
                content_type: content_type.clone(),
                size: len,
                now,
                upload_expires_at: now + state.config.upload_claim_ttl,
                default_quota: state.config.default_quota,
            })
            .await;
        match reserved {
            Ok(file) => {
                pending = Some(file);
                break;
            }
            Err(CatalogError::FileExists) => continue,
            Err(CatalogError::StorageBlocked) => {
                return Err(VjError::new(StatusCode::FORBIDDEN, STORAGE_BLOCKED))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let pending = pending.ok_or_else(|| {
        VjError::new(
            StatusCode::CONFLICT,
            "A file with this name already exists. Delete it first.",
        )
    })?;
    let attached = state
        .catalog
        .attach_asset_file(&asset.tenant, &asset.id, &pending.id)
        .await;
    if !matches!(attached, Ok(true)) {
        delete_files(state, std::slice::from_ref(&pending)).await?;
        return Err(match attached {
            Err(e) => e.into(),
            // Another upload got there first, or the asset was deleted meanwhile.
            Ok(_) => match asset_still_there(state, asset).await? {
                true => VjError::new(StatusCode::CONFLICT, "Asset already uploaded"),
                false => VjError::not_found("Asset"),
            },
        });
    }
    Ok(upload::complete(state, &pending, hash).await?)
}

async fn asset_still_there(state: &AppState, asset: &ProjectAsset) -> VjResult<bool> {
    Ok(state
        .catalog
        .project_asset(&asset.tenant, &asset.id)
        .await?
        .is_some())
}

/// The asset's name, with the real container's extension when it has none, then the same with
/// the asset id's first eight characters, should another file hold the name.
fn file_names(name: &str, id: &str, extension: Option<&str>) -> Vec<FileName> {
    let with_ext = match extension {
        Some(ext) if !name.contains('.') && ext != "bin" => format!("{name}.{ext}"),
        _ => name.to_string(),
    };
    let (stem, ext) = match with_ext.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem.to_string(), format!(".{ext}")),
        _ => (with_ext.clone(), String::new()),
    };
    [with_ext.clone(), format!("{stem}-{}{ext}", &id[..8])]
        .iter()
        .filter_map(|n| FileName::sanitise(n).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(name: &str, ext: Option<&str>) -> Vec<String> {
        file_names(name, "9c5e9ddd-2b99", ext)
            .into_iter()
            .map(|n| n.as_str().to_string())
            .collect()
    }

    #[test]
    fn a_name_without_extension_takes_the_real_one() {
        assert_eq!(
            names("intro", Some("mp4")),
            ["intro.mp4", "intro-9c5e9ddd.mp4"]
        );
        assert_eq!(
            names("intro.mov", Some("mp4")),
            ["intro.mov", "intro-9c5e9ddd.mov"]
        );
        assert_eq!(names("notes", None), ["notes", "notes-9c5e9ddd"]);
    }
}
