//! `/v2/media/folder`: create (seed 002), list or tree, move or rename, delete.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
    Json,
};
use chrono::Utc;
use mediadrive_core::{CatalogError, FolderMove, FolderPath};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    listing::{folder_page, ListParams},
    views::{Done, FolderListing, FolderStatsView},
};
use crate::{
    auth::{can, Authorized},
    error::{ApiError, ApiResult, ErrorBody},
    http::body::JsonObject,
    App,
};
use mediadrive_app::drive;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct CreateFolderRequest {
    /// Sanitised to `[a-zA-Z0-9/_-]+`; nested paths create every level.
    folder: String,
}

fn required_folder(body: &JsonObject) -> ApiResult<FolderPath> {
    let raw = body.required("folder")?;
    if raw.trim() == "/" {
        return Ok(FolderPath::root());
    }
    FolderPath::sanitise(raw).map_err(|_| ApiError::bad_request("Invalid folder name"))
}

/// Creates a folder (and its parents). An existing folder answers 200 with `Folder already exists`.
#[utoipa::path(post, path = "/v2/media/folder", tag = "media",
    request_body = CreateFolderRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = Done),
        (status = 400, description = "folder is required | Invalid folder name", body = ErrorBody),
        (status = 403, description = "Insufficient permissions", body = ErrorBody),
    ))]
pub async fn create_folder(
    State(state): State<App>,
    principal: Authorized<can::CreateFolder>,
    body: JsonObject,
) -> ApiResult<Json<Done>> {
    let folder = required_folder(&body)?;
    if folder.is_root() {
        return Err(ApiError::bad_request("Invalid folder name"));
    }
    let created = state
        .catalog
        .create_folder(&principal.tenant, &folder, Utc::now())
        .await?;
    let mut done = Done::now();
    if !created {
        done.message = Some("Folder already exists".into());
    }
    Ok(Json(done))
}

#[derive(Serialize, ToSchema)]
pub struct FolderTree {
    pub success: bool,
    /// Every folder, the root (`""`) first, with the files and bytes it holds directly.
    pub folders: Vec<FolderStatsView>,
}

/// Lists a folder's subfolders and one page of its files, or with `tree=true` every folder.
#[utoipa::path(get, path = "/v2/media/folder", tag = "media",
    params(ListParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A FolderListing, or a FolderTree with tree=true", body = FolderListing),
        (status = 400, description = "Invalid cursor | Invalid folder name", body = ErrorBody),
        (status = 404, description = "Folder not found", body = ErrorBody),
    ))]
pub async fn list_folder(
    State(state): State<App>,
    principal: Authorized<can::List>,
    Query(params): Query<ListParams>,
) -> ApiResult<Response> {
    if params.tree == Some(true) {
        let tree = state.catalog.folder_tree(&principal.tenant).await?;
        return Ok(Json(FolderTree {
            success: true,
            folders: tree.iter().map(FolderStatsView::from).collect(),
        })
        .into_response());
    }
    Ok(Json(folder_page(&state, &principal.tenant, &params).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct MoveFolderRequest {
    /// The folder to move.
    folder: String,
    /// The folder to move it into (`/` for the root). Optional when only renaming.
    destination: Option<String>,
    /// A new name for the folder's last segment.
    #[serde(rename = "newName")]
    new_name: Option<String>,
}

/// Moves and/or renames a folder with everything in it. Metadata only: no bytes are copied.
#[utoipa::path(put, path = "/v2/media/folder", tag = "media",
    request_body = MoveFolderRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = Done),
        (status = 400, description = "folder is required | destination is required | Cannot move root folder | Cannot move the temp folder", body = ErrorBody),
        (status = 404, description = "Folder not found", body = ErrorBody),
        (status = 409, description = "A folder with this name already exists in the destination folder", body = ErrorBody),
    ))]
pub async fn move_folder(
    State(state): State<App>,
    principal: Authorized<can::Move>,
    body: JsonObject,
) -> ApiResult<Json<Done>> {
    let from = required_folder(&body)?;
    if from.is_root() {
        return Err(ApiError::bad_request("Cannot move root folder"));
    }
    if from.is_temp_root() {
        return Err(ApiError::bad_request("Cannot move the temp folder"));
    }
    let new_name = match body.text("newName") {
        Some(n) if n.contains('/') => return Err(ApiError::bad_request("Invalid folder name")),
        Some(n) => Some(
            FolderPath::sanitise(n).map_err(|_| ApiError::bad_request("Invalid folder name"))?,
        ),
        None => None,
    };
    let parent = match (body.text("destination"), &new_name) {
        (Some(d), _) => FolderPath::sanitise_or_root(Some(d))
            .map_err(|_| ApiError::bad_request("Invalid folder name"))?,
        (None, Some(_)) => from.parent().unwrap_or_default(),
        (None, None) => return Err(ApiError::bad_request("destination is required")),
    };
    let last = new_name.as_ref().map_or(from.name(), FolderPath::as_str);
    let to = parent
        .join(last)
        .map_err(|_| ApiError::bad_request("Invalid folder name"))?;
    state
        .catalog
        .move_folder(&FolderMove {
            tenant: principal.tenant.clone(),
            from,
            to,
            now: Utc::now(),
            default_quota: state.config.default_quota,
        })
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => ApiError::folder_not_found(),
            CatalogError::FolderExists => ApiError::conflict(
                "A folder with this name already exists in the destination folder",
            ),
            other => other.into(),
        })?;
    state.cache.forget_tenant(&principal.tenant);
    Ok(Json(Done::now()))
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct DeleteFolderRequest {
    folder: String,
    /// Also delete every file and folder inside it.
    recursive: Option<bool>,
}

/// Deletes an empty folder, or with `recursive: true` the folder and everything in it.
#[utoipa::path(delete, path = "/v2/media/folder", tag = "media",
    request_body = DeleteFolderRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = Done),
        (status = 400, description = "folder is required | Cannot delete root folder | Cannot delete the temp folder", body = ErrorBody),
        (status = 404, description = "Folder not found", body = ErrorBody),
        (status = 409, description = "Folder is not empty. Delete all files first.", body = ErrorBody),
    ))]
pub async fn delete_folder(
    State(state): State<App>,
    principal: Authorized<can::Delete>,
    body: JsonObject,
) -> ApiResult<Json<Done>> {
    let folder = required_folder(&body)?;
    if folder.is_root() {
        return Err(ApiError::bad_request("Cannot delete root folder"));
    }
    if folder.is_temp_root() {
        return Err(ApiError::bad_request("Cannot delete the temp folder"));
    }
    drive::delete_folder(&state, &principal.tenant, &folder, body.flag("recursive")).await?;
    Ok(Json(Done::now()))
}
