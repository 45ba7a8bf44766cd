//! Projects: create, list, get and delete, in Video Jungle's shapes; what they do is
//! `mediadrive_app::projects`.

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use mediadrive_app::projects;
use mediadrive_core::{AssetQuery, Project};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{
    assets::{query_integer, MAX_LIMIT},
    error::{Caller, Detail, VjError, VjResult},
    views::{asset_view, script_view, summary, Deleted, ProjectView, DEFAULT_LIMIT},
};

use crate::{auth::can, http::body::JsonObject, App};

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

async fn project_view(state: &App, project: &Project, shown: u32) -> VjResult<ProjectView> {
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
        (status = 403, description = "Insufficient permissions | Project limit reached. Delete a project to create another.", body = Detail),
        (status = 422, description = "name is missing or too long; description or data larger than [limits] project_field_bytes", body = Detail),
    ))]
pub async fn create_project(
    State(state): State<App>,
    caller: Caller<can::Upload>,
    body: Result<JsonObject, crate::error::ApiError>,
) -> VjResult<Json<ProjectView>> {
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
    let description = body.raw_text("description");
    VjError::check_size(&state, "description", description.unwrap_or_default())?;
    let data = body.get("data").map(Value::to_string);
    VjError::check_size(&state, "data", data.as_deref().unwrap_or_default())?;
    let project = projects::create(
        &state,
        projects::ProjectRequest {
            tenant: caller.tenant.clone(),
            name,
            description,
            data,
        },
    )
    .await?;
    Ok(Json(project_view(&state, &project, ASSETS_SHOWN).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectListParams {
    /// How many projects, 1 to 100 (default 50).
    limit: Option<String>,
    /// How many of the newest projects to skip (default 0).
    offset: Option<String>,
}

/// Projects a page holds unless `limit` says otherwise: the official client's `projects.list()`
/// reads this first page.
const PROJECTS_PAGE: i64 = 50;

/// A page of the caller's projects, newest first, each with its newest ten assets and its
/// scripts; `Link: <…>; rel="next"` when more follow.
#[utoipa::path(get, path = "/videojungle/projects", tag = "videojungle",
    params(ProjectListParams),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<ProjectView>),
        (status = 422, description = "limit or offset is not an integer in range", body = Detail),
    ))]
pub async fn list_projects(
    State(state): State<App>,
    caller: Caller<can::List>,
    Query(params): Query<ProjectListParams>,
) -> VjResult<Response> {
    let limit = query_integer(
        params.limit.as_deref(),
        "limit",
        PROJECTS_PAGE,
        1,
        MAX_LIMIT.into(),
    )?;
    let offset = query_integer(params.offset.as_deref(), "offset", 0, 0, i64::MAX)?;
    let (limit, offset) = (limit as u32, offset as u64);
    let page = projects::list(&state, &caller.tenant, limit, offset, DEFAULT_LIMIT).await?;
    let views: Vec<ProjectView> = page
        .projects
        .iter()
        .map(|listed| ProjectView {
            summary: summary(&listed.project),
            asset_count: listed.project.asset_count,
            assets: listed
                .assets
                .iter()
                .map(|a| asset_view(&state, a))
                .collect(),
            prompts: Vec::new(),
            scripts: listed.scripts.iter().map(script_view).collect(),
        })
        .collect();
    let mut response = Json(views).into_response();
    if page.more {
        let next = format!(
            "<{}/videojungle/projects?limit={limit}&offset={}>; rel=\"next\"",
            state.config.public_url,
            offset + u64::from(limit)
        );
        if let Ok(value) = HeaderValue::from_str(&next) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
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
    State(state): State<App>,
    caller: Caller<can::List>,
    Path(id): Path<String>,
) -> VjResult<Json<ProjectView>> {
    let project = projects::project(&state, &caller.tenant, &id).await?;
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
    State(state): State<App>,
    caller: Caller<can::Delete>,
    Path(id): Path<String>,
) -> VjResult<Json<Deleted>> {
    let project = projects::project(&state, &caller.tenant, &id).await?;
    projects::delete_project(&state, &project).await?;
    Ok(Json(Deleted { id, deleted: true }))
}
