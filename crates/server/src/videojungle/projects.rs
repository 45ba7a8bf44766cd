//! Projects: create, list, get and delete. A project's uploads land in a folder of its own,
//! `projects/{name}-{id prefix}`, so they show in the dashboard beside everything else.

use axum::{
    extract::{Path, State},
    Json,
};
use chrono::Utc;
use mediadrive_core::{
    Action, AssetQuery, AssetRemoval, FileRecord, FolderPath, NewProject, Project, ProjectAsset,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    error::{Caller, Detail, VjError, VjResult},
    scripts::script_view,
    views::{asset_view, summary, ProjectView},
};
use crate::{api::JsonObject, lifecycle, state::AppState, webhooks};

/// Assets a project answers with; the rest are paged through `GET /projects/{id}/assets`.
const ASSETS_SHOWN: u32 = 100;
const MAX_NAME: usize = 200;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct ProjectRequest {
    name: String,
    description: Option<String>,
    /// Any JSON value, kept with the project (the official client sends its generation method).
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

/// `projects/{slug}-{first 8 of the id}`: readable in the dashboard, never shared by two projects.
fn folder_for(name: &str, id: &str) -> FolderPath {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug: Vec<&str> = slug.split('-').filter(|s| !s.is_empty()).collect();
    let slug = match slug.join("-") {
        s if s.is_empty() => "project".to_string(),
        s => s.chars().take(60).collect(),
    };
    FolderPath::from_stored(&format!("projects/{slug}-{}", &id[..8]))
        .expect("slugs and hex are valid folder names")
}

pub(super) async fn owned(state: &AppState, caller: &Caller, id: &str) -> VjResult<Project> {
    state
        .catalog
        .project(&caller.0.tenant, id)
        .await?
        .ok_or_else(|| VjError::not_found("Project"))
}

async fn project_view(state: &AppState, project: &Project, shown: u32) -> VjResult<ProjectView> {
    let assets = state
        .catalog
        .project_assets(&AssetQuery {
            tenant: project.tenant.clone(),
            project_id: project.id.clone(),
            limit: shown,
            after: None,
        })
        .await?;
    let scripts = state
        .catalog
        .project_scripts(&project.tenant, &project.id)
        .await?;
    Ok(ProjectView {
        summary: summary(project),
        asset_count: project.asset_count,
        assets: assets.iter().map(|a| asset_view(state, a)).collect(),
        prompts: Vec::new(),
        scripts: scripts.iter().map(script_view).collect(),
    })
}

/// Creates a project.
#[utoipa::path(post, path = "/videojungle/projects", tag = "videojungle",
    request_body = ProjectRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = ProjectView),
        (status = 403, description = "Insufficient permissions", body = Detail),
        (status = 422, description = "name is missing or too long", body = Detail),
    ))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<JsonObject, crate::error::ApiError>,
) -> VjResult<Json<ProjectView>> {
    caller.0.authorize(Action::Upload)?;
    let body = body?;
    let name = body
        .text("name")
        .ok_or_else(|| VjError::missing("body", "name"))?;
    if name.chars().count() > MAX_NAME {
        return Err(VjError::invalid(&[super::error::Invalid {
            kind: "string_too_long",
            place: "body",
            field: "name",
            msg: format!("String should have at most {MAX_NAME} characters"),
            input: Some(name),
        }]));
    }
    // The suffix only keeps two projects of one name apart.
    let folder_id = super::upload::random_key();
    let project = state
        .catalog
        .create_project(&NewProject {
            tenant: caller.0.tenant.clone(),
            name: name.to_string(),
            description: body.raw_text("description").map(str::to_string),
            data: body.get("data").map(Value::to_string),
            folder: folder_for(name, &folder_id),
            now: Utc::now(),
        })
        .await?;
    Ok(Json(project_view(&state, &project, ASSETS_SHOWN).await?))
}

/// The caller's projects, newest first, each with its newest ten assets.
#[utoipa::path(get, path = "/videojungle/projects", tag = "videojungle",
    security(("api_key" = [])),
    responses((status = 200, body = Vec<ProjectView>)))]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> VjResult<Json<Vec<ProjectView>>> {
    caller.0.authorize(Action::List)?;
    let mut views = Vec::new();
    for project in state.catalog.projects(&caller.0.tenant).await? {
        views.push(project_view(&state, &project, super::assets::DEFAULT_LIMIT).await?);
    }
    Ok(Json(views))
}

/// One project with its newest hundred assets.
#[utoipa::path(get, path = "/videojungle/projects/{id}", tag = "videojungle",
    params(("id" = String, Path, description = "The project id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ProjectView),
        (status = 404, description = "Project not found", body = Detail),
    ))]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> VjResult<Json<ProjectView>> {
    caller.0.authorize(Action::List)?;
    let project = owned(&state, &caller, &id).await?;
    Ok(Json(project_view(&state, &project, ASSETS_SHOWN).await?))
}

/// Deletes a project and its assets; their files leave the drive (and the quota).
#[utoipa::path(delete, path = "/videojungle/projects/{id}", tag = "videojungle",
    params(("id" = String, Path, description = "The project id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Deleted),
        (status = 403, description = "Insufficient permissions", body = Detail),
        (status = 404, description = "Project not found", body = Detail),
    ))]
pub async fn delete_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> VjResult<Json<Deleted>> {
    caller.0.authorize(Action::Delete)?;
    let project = owned(&state, &caller, &id).await?;
    // A page at a time, so a delete cut short leaves a smaller project.
    loop {
        let page = state
            .catalog
            .project_assets(&AssetQuery {
                tenant: project.tenant.clone(),
                project_id: project.id.clone(),
                limit: ASSETS_SHOWN,
                after: None,
            })
            .await?;
        if page.is_empty() {
            break;
        }
        remove_assets(&state, &page).await?;
    }
    if !state.catalog.delete_project(&project.tenant, &id).await? {
        return Err(VjError::not_found("Project"));
    }
    Ok(Json(Deleted { id, deleted: true }))
}

/// Forgets assets, then deletes the files no other asset holds; returns how many assets were
/// still there. An asset goes before its file: a removal cut short leaves a drive file without an
/// asset, never an asset without its bytes.
pub(super) async fn remove_assets(state: &AppState, assets: &[ProjectAsset]) -> VjResult<usize> {
    let mut files = Vec::new();
    let mut removed = 0;
    for asset in assets {
        let removal = state
            .catalog
            .delete_project_asset(&asset.tenant, &asset.id)
            .await?;
        if let AssetRemoval::Removed { last_holder } = removal {
            removed += 1;
            if last_holder {
                files.extend(asset.file.clone());
            }
        }
    }
    delete_files(state, &files).await?;
    Ok(removed)
}

/// Deletes drive files as the drive's own delete does: announced, and their bytes reclaimed.
/// Returns how many were still there.
pub(super) async fn delete_files(state: &AppState, files: &[FileRecord]) -> VjResult<usize> {
    let Some(first) = files.first() else {
        return Ok(0);
    };
    let targets: Vec<_> = files
        .iter()
        .map(|f| (f.folder.clone(), f.name.clone()))
        .collect();
    let announce = |f: &FileRecord| webhooks::file_event(state, "file.deleted", f);
    let deleted = state
        .catalog
        .delete_files(&first.tenant, &targets, &announce)
        .await?;
    state.cache.forget_tenant(&first.tenant);
    state.webhook_wakeup.notify_one();
    lifecycle::reclaim(state, &deleted).await;
    Ok(deleted.len())
}
