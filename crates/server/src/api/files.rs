//! `/v2/media/file`: request an upload URL (seed 002), look up, move or rename, delete.

use axum::{
    extract::{Query, State},
    Json,
};
use chrono::Utc;
use mediadrive_core::{
    paths::split_file_path, CatalogError, FileMove, FileName, FileRecord, FileStatus, FolderPath,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views::{file_view, now_timestamp, FileView};
use mediadrive_app::drive;

use crate::{
    auth::{can, Authorized, Principal},
    error::{ApiError, ApiResult, ErrorBody},
    http::body::JsonObject,
    App,
};
use mediadrive_app::uploads::presigned;

/// How long a status request waits for its file's upload to be confirmed before answering `pending`.
const CONFIRM_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Most files one bulk delete may name.
const MAX_BULK_DELETE: usize = 1000;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct UploadRequest {
    /// Filename. Non-`[a-zA-Z0-9._-]` characters are replaced with `_`.
    name: String,
    /// MIME type; determines the type shown by `GET /v2/media`.
    #[serde(rename = "contentType")]
    content_type: String,
    /// File size in bytes; must be > 0 and <= 500 MB.
    size: u64,
    /// Target folder; root when empty. `temp` flags the file as temporary.
    folder: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UploadTicket {
    pub success: bool,
    /// Presigned PUT URL, valid for `expiresIn` seconds.
    #[serde(rename = "uploadUrl")]
    pub upload_url: String,
    /// The stable URL the file will have once uploaded.
    #[serde(rename = "fileUrl")]
    pub file_url: String,
    #[serde(rename = "expiresIn")]
    pub expires_in: u64,
}

/// Requests a presigned upload URL; the file is registered as `pending`.
#[utoipa::path(post, path = "/v2/media/file", tag = "media",
    request_body = UploadRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = UploadTicket),
        (status = 400, description = "name is required | contentType is required | size is required and must be a positive number | Invalid folder name", body = ErrorBody),
        (status = 403, description = "Storage is blocked. Add credits to continue uploading. | Insufficient permissions", body = ErrorBody),
        (status = 409, description = "A file with this name already exists. Delete it first.", body = ErrorBody),
        (status = 413, description = "File exceeds maximum size of 500 MB", body = ErrorBody),
    ))]
pub async fn request_upload(
    State(state): State<App>,
    principal: Authorized<can::Upload>,
    body: JsonObject,
) -> ApiResult<Json<UploadTicket>> {
    let name = body.required("name")?;
    let name = FileName::sanitise(name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let content_type = body.required("contentType")?.trim().to_string();
    let size = body
        .positive_integer("size")
        .ok_or_else(|| ApiError::bad_request("size is required and must be a positive number"))?;
    let folder = FolderPath::sanitise_or_root(body.raw_text("folder"))
        .map_err(|_| ApiError::bad_request("Invalid folder name"))?;
    let ticket = presigned::grant(
        &state,
        presigned::UploadRequest {
            tenant: principal.tenant.clone(),
            folder,
            name,
            content_type,
            size,
        },
    )
    .await?;
    Ok(Json(UploadTicket {
        success: true,
        upload_url: ticket.upload_url,
        file_url: state.record_url(&ticket.file),
        expires_in: ticket.valid_for.as_secs(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// Folder and name, e.g. `videos/clip.mp4`.
    path: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FileAnswer {
    pub success: bool,
    pub file: FileView,
}

/// The caller's file at `path` (`folder/name`), for the endpoints that take one by query.
pub(super) async fn file_at(
    state: &App,
    principal: &Principal,
    path: Option<String>,
) -> ApiResult<FileRecord> {
    let path = path
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("path is required"))?;
    let (folder, name) = split_file_path(&path).map_err(|_| ApiError::file_not_found())?;
    state
        .catalog
        .file(&principal.tenant, &folder, &name)
        .await?
        .ok_or_else(ApiError::file_not_found)
}

/// One file's record.
#[utoipa::path(get, path = "/v2/media/file", tag = "media",
    params(FileQuery),
    security(("api_key" = [])),
    responses((status = 200, body = FileAnswer), (status = 404, description = "File not found", body = ErrorBody)))]
pub async fn get_file(
    State(state): State<App>,
    principal: Authorized<can::List>,
    Query(q): Query<FileQuery>,
) -> ApiResult<Json<FileAnswer>> {
    let mut file = file_at(&state, &principal, q.path).await?;
    if file.status == FileStatus::Pending {
        // In its own task: a client that stops waiting must not cut a confirmation off midway.
        let confirming = {
            let (state, file) = (state.clone(), file.clone());
            tokio::spawn(async move {
                mediadrive_app::reconcile::confirm_if_arrived(&state, &file).await
            })
        };
        match tokio::time::timeout(CONFIRM_WAIT, confirming)
            .await
            .unwrap_or(Ok(Ok(false)))
            .unwrap_or(Ok(false))
        {
            Ok(true) => {
                file = state
                    .catalog
                    .file(&principal.tenant, &file.folder, &file.name)
                    .await?
                    .ok_or_else(ApiError::file_not_found)?;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(file = %file.id, error = %e, "could not confirm upload"),
        }
    }
    Ok(Json(FileAnswer {
        success: true,
        file: file_view(&state, &file).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct MoveFileRequest {
    name: String,
    /// Current folder; root when absent.
    folder: Option<String>,
    /// Target folder (`/` for the root). Optional when only renaming.
    destination: Option<String>,
    /// New name; the file keeps its name when absent.
    #[serde(rename = "newName")]
    new_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MovedFile {
    pub success: bool,
    pub timestamp: String,
    pub file: FileView,
}

fn folder_field(body: &JsonObject, field: &str) -> ApiResult<FolderPath> {
    FolderPath::sanitise_or_root(body.raw_text(field))
        .map_err(|_| ApiError::bad_request("Invalid folder name"))
}

/// Moves and/or renames a file. Metadata only: no bytes are copied.
#[utoipa::path(put, path = "/v2/media/file", tag = "media",
    request_body = MoveFileRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = MovedFile),
        (status = 400, description = "name is required | destination is required", body = ErrorBody),
        (status = 404, description = "File not found", body = ErrorBody),
        (status = 409, description = "A file with this name already exists in the destination folder", body = ErrorBody),
    ))]
pub async fn move_file(
    State(state): State<App>,
    principal: Authorized<can::Move>,
    body: JsonObject,
) -> ApiResult<Json<MovedFile>> {
    let name = body.required("name")?;
    let name = FileName::sanitise(name).map_err(|_| ApiError::file_not_found())?;
    let from_folder = folder_field(&body, "folder")?;
    let new_name = body
        .text("newName")
        .map(FileName::sanitise)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let to_folder = match (body.text("destination"), &new_name) {
        (Some(_), _) => folder_field(&body, "destination")?,
        (None, Some(_)) => from_folder.clone(),
        (None, None) => return Err(ApiError::bad_request("destination is required")),
    };
    let moved = state
        .catalog
        .move_file(&FileMove {
            tenant: principal.tenant.clone(),
            from_folder,
            to_name: new_name.unwrap_or_else(|| name.clone()),
            name,
            to_folder,
            now: Utc::now(),
            default_quota: state.config.default_quota,
        })
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => ApiError::file_not_found(),
            CatalogError::FileExists => {
                ApiError::conflict("A file with this name already exists in the destination folder")
            }
            other => other.into(),
        })?;
    state.cache.forget_tenant(&principal.tenant);
    Ok(Json(MovedFile {
        success: true,
        timestamp: now_timestamp(),
        file: file_view(&state, &moved).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct DeleteFilesRequest {
    /// One file: its name...
    name: Option<String>,
    /// ...and folder (root when absent).
    folder: Option<String>,
    /// Many files at once (up to 1000): `{name, folder}` objects or `folder/name` paths.
    files: Option<Vec<serde_json::Value>>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedFiles {
    pub success: bool,
    pub timestamp: String,
    /// How many files were deleted.
    pub deleted: usize,
    /// Paths named in a bulk delete that did not exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_found: Vec<String>,
}

fn bulk_entry(entry: &serde_json::Value) -> Option<(FolderPath, FileName)> {
    match entry {
        serde_json::Value::String(path) => split_file_path(path).ok(),
        serde_json::Value::Object(map) => {
            let name = FileName::sanitise(map.get("name")?.as_str()?).ok()?;
            let folder =
                FolderPath::sanitise_or_root(map.get("folder").and_then(|f| f.as_str())).ok()?;
            Some((folder, name))
        }
        _ => None,
    }
}

fn display_path(folder: &FolderPath, name: &FileName) -> String {
    if folder.is_root() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    }
}

/// Deletes one file, or many with `files`. Their URLs answer 404 from then on.
#[utoipa::path(delete, path = "/v2/media/file", tag = "media",
    request_body = DeleteFilesRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = DeletedFiles),
        (status = 400, description = "name is required", body = ErrorBody),
        (status = 404, description = "File not found", body = ErrorBody),
    ))]
pub async fn delete_files(
    State(state): State<App>,
    principal: Authorized<can::Delete>,
    body: JsonObject,
) -> ApiResult<Json<DeletedFiles>> {
    let bulk = body.get("files").is_some();
    let wanted: Vec<(FolderPath, FileName)> = match body.get("files") {
        Some(serde_json::Value::Array(entries)) => {
            if entries.is_empty() || entries.len() > MAX_BULK_DELETE {
                return Err(ApiError::bad_request(
                    "files must list between 1 and 1000 files",
                ));
            }
            entries
                .iter()
                .map(|e| {
                    bulk_entry(e)
                        .ok_or_else(|| ApiError::bad_request("each entry of files needs a name"))
                })
                .collect::<ApiResult<_>>()?
        }
        Some(_) => return Err(ApiError::bad_request("files must be an array")),
        None => {
            let name = body.required("name")?;
            let name = FileName::sanitise(name).map_err(|_| ApiError::file_not_found())?;
            vec![(folder_field(&body, "folder")?, name)]
        }
    };
    let deleted = drive::delete_files(&state, &principal.tenant, &wanted).await?;
    if deleted.is_empty() && !bulk {
        return Err(ApiError::file_not_found());
    }
    let gone: std::collections::HashSet<String> = deleted.iter().map(|f| f.path()).collect();
    Ok(Json(DeletedFiles {
        success: true,
        timestamp: now_timestamp(),
        deleted: deleted.len(),
        not_found: wanted
            .iter()
            .map(|(f, n)| display_path(f, n))
            .filter(|p| !gone.contains(p))
            .collect(),
    }))
}
