//! Scripts: a project's saved preload item (seed 000's item: `type`, `model`, the generator's
//! fields) whose strings may hold `{{name}}` placeholders, and the parameters that fill them.
//! Running one is `generate.rs`; here they are kept, listed, read and deleted.

use axum::{
    extract::{Path, State},
    Json,
};
use chrono::Utc;
use mediadrive_core::{
    templates::{params, placeholders, Param},
    AssetType, CatalogError, NewProjectScript, ProjectId, ProjectScript, ScriptId,
};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{
    error::{Caller, Detail, Invalid, VjError, VjResult},
    views::{script_view, timestamp, Deleted, ScriptView},
};
use crate::{
    auth::{can, Principal},
    http::body::JsonObject,
    App,
};
use mediadrive_app::projects;

const MAX_NAME: usize = 200;

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct ScriptRequest {
    name: String,
    /// The preload item to make, as `POST /v2/preloads` takes one: `type`, optionally `model`,
    /// `id` and `src`, and the generator's fields (`prompt`, `text`, `voice`, …). Any string may
    /// hold `{{name}}` placeholders; a string that is exactly one placeholder takes the
    /// parameter's typed value. The asset is always kept in the drive.
    #[schema(value_type = Object)]
    data: Value,
    /// The parameters: `{"name": {"type": "string" | "integer" | "number" | "boolean",
    /// "description": "...", "default": ...}}`, or `{"name": default}`; or a list of such objects
    /// with a `name`. A parameter without a default is required.
    #[schema(value_type = Object)]
    inputs: Value,
}

/// Checks a template as far as it can be without its parameters: its type, its generator, that
/// every placeholder names a parameter. The generator's own fields are checked when it runs.
fn check_template(state: &App, data: &Map<String, Value>, inputs: &[Param]) -> VjResult<()> {
    let asset_type = match data.get("type") {
        Some(Value::String(t)) => AssetType::parse(t).ok_or_else(|| {
            VjError::value_error(
                "data",
                "Value error, type must be one of image, video, audio, voice, html, component"
                    .into(),
            )
        })?,
        _ => {
            return Err(VjError::value_error(
                "data",
                "Value error, type is required".into(),
            ))
        }
    };
    let model = match data.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => Some(m.as_str()),
        Some(_) => {
            return Err(VjError::value_error(
                "data",
                "Value error, model must be a string".into(),
            ))
        }
    };
    let has_src = !matches!(data.get("src"), None | Some(Value::Null));
    state
        .generators
        .find(asset_type, model, has_src)
        .map_err(|e| VjError::value_error("data", format!("Value error, {e}")))?;
    let mut used = Vec::new();
    placeholders(&Value::Object(data.clone()), &mut used);
    let undeclared: Vec<&str> = used
        .iter()
        .filter(|name| !inputs.iter().any(|p| &p.name == *name))
        .map(String::as_str)
        .collect();
    if !undeclared.is_empty() {
        return Err(VjError::value_error(
            "data",
            format!(
                "Value error, placeholders name no input: {}",
                undeclared.join(", ")
            ),
        ));
    }
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct ScriptTemplate {
    /// `{type}-{model}`.
    pub id: String,
    pub name: String,
    /// The generator.
    pub key: String,
    pub manuscript: String,
    /// When this list was made: templates follow the server's configured generators.
    pub created_at: String,
    pub updated_at: String,
    pub description: String,
    /// A script's `data` that runs the generator, its required fields as placeholders.
    #[schema(value_type = Object)]
    pub template: Value,
    /// The matching `inputs`.
    #[schema(value_type = Object)]
    pub inputs: Value,
}

/// A starting template for every configured generator (seed 003's script options).
#[utoipa::path(get, path = "/videojungle/scripts", tag = "videojungle",
    security(("api_key" = [])),
    responses((status = 200, body = Vec<ScriptTemplate>)))]
pub async fn list_templates(
    State(state): State<App>,
    _: Caller<can::List>,
) -> VjResult<Json<Vec<ScriptTemplate>>> {
    let now = timestamp(Utc::now());
    let templates = state
        .generators
        .models()
        .iter()
        .map(|m| {
            let required: Vec<&str> = m
                .generator
                .inputs()
                .iter()
                .filter(|i| matches!(i.default, mediadrive_generate::inputs::Default::Required))
                .map(|i| i.name)
                .collect();
            let mut template = Map::new();
            template.insert("type".into(), m.asset_type.as_str().into());
            template.insert("model".into(), m.name.clone().into());
            let mut inputs = Map::new();
            for name in &required {
                template.insert((*name).into(), format!("{{{{{name}}}}}").into());
                inputs.insert((*name).into(), serde_json::json!({"type": "string"}));
            }
            ScriptTemplate {
                id: format!("{}-{}", m.asset_type, m.name),
                name: m.name.clone(),
                key: m.name.clone(),
                manuscript: String::new(),
                created_at: now.clone(),
                updated_at: now.clone(),
                description: m.generator.description(),
                template: Value::Object(template),
                inputs: Value::Object(inputs),
            }
        })
        .collect();
    Ok(Json(templates))
}

/// Saves a script on a project.
#[utoipa::path(post, path = "/videojungle/scripts/{project_id}/scripts", tag = "videojungle",
    params(("project_id" = String, Path, description = "The project id")),
    request_body = ScriptRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = ScriptView),
        (status = 403, description = "Insufficient permissions", body = Detail),
        (status = 404, description = "Project not found", body = Detail),
        (status = 422, description = "name, data or inputs missing or invalid; placeholders name no input", body = Detail),
    ))]
pub async fn create_script(
    State(state): State<App>,
    caller: Caller<can::Generate>,
    Path(project_id): Path<String>,
    body: Result<JsonObject, crate::error::ApiError>,
) -> VjResult<Json<ScriptView>> {
    let project = projects::project(&state, &caller.tenant, &project_id).await?;
    let body = body?;
    let name = body
        .text("name")
        .ok_or_else(|| VjError::missing("body", "name"))?;
    if name.chars().count() > MAX_NAME {
        return Err(VjError::value_error(
            "name",
            format!("String should have at most {MAX_NAME} characters"),
        ));
    }
    let data = match body.get("data") {
        None | Some(Value::Null) => return Err(VjError::missing("body", "data")),
        Some(Value::Object(data)) => data,
        Some(_) => {
            return Err(VjError::invalid(&[Invalid {
                kind: "dict_type",
                place: "body",
                field: "data",
                msg: "Input should be a valid dictionary".into(),
                input: None,
            }]))
        }
    };
    let inputs = params(body.get("inputs").unwrap_or(&Value::Null))
        .map_err(|msg| VjError::value_error("inputs", msg))?;
    check_template(&state, data, &inputs)?;
    let template = Value::Object(data.clone()).to_string();
    VjError::check_size(&state, "data", &template)?;
    let inputs = Value::Array(inputs.iter().map(Param::to_json).collect()).to_string();
    VjError::check_size(&state, "inputs", &inputs)?;
    let script = state
        .catalog
        .create_project_script(&NewProjectScript {
            tenant: project.tenant.clone(),
            project_id: project.id.clone(),
            name: name.to_string(),
            template,
            inputs,
            now: Utc::now(),
        })
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => VjError::not_found("Project"),
            other => other.into(),
        })?;
    Ok(Json(script_view(&script)))
}

/// The scripts of a project, oldest first.
#[utoipa::path(get, path = "/videojungle/projects/{project_id}/scripts", tag = "videojungle",
    params(("project_id" = String, Path, description = "The project id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<ScriptView>),
        (status = 404, description = "Project not found", body = Detail),
    ))]
pub async fn list_scripts(
    State(state): State<App>,
    caller: Caller<can::List>,
    Path(project_id): Path<String>,
) -> VjResult<Json<Vec<ScriptView>>> {
    let project = projects::project(&state, &caller.tenant, &project_id).await?;
    let scripts = state
        .catalog
        .project_scripts(&project.tenant, &project.id)
        .await?;
    Ok(Json(scripts.iter().map(script_view).collect()))
}

pub(super) async fn script_of(
    state: &App,
    caller: &Principal,
    project_id: &ProjectId,
    id: &str,
) -> VjResult<ProjectScript> {
    let not_found = || VjError::not_found("Script");
    // A malformed id names no script: the same 404 as an unknown one.
    let id = ScriptId::parse(id).map_err(|_| not_found())?;
    state
        .catalog
        .project_script(&caller.tenant, project_id, &id)
        .await?
        .ok_or_else(not_found)
}

/// A script of a project.
#[utoipa::path(get, path = "/videojungle/scripts/{project_id}/{script_id}", tag = "videojungle",
    params(
        ("project_id" = String, Path, description = "The project id"),
        ("script_id" = String, Path, description = "The script id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ScriptView),
        (status = 404, description = "Script not found", body = Detail),
    ))]
pub async fn get_script(
    State(state): State<App>,
    caller: Caller<can::List>,
    Path((project_id, id)): Path<(String, String)>,
) -> VjResult<Json<ScriptView>> {
    let Ok(project_id) = ProjectId::parse(&project_id) else {
        return Err(VjError::not_found("Script"));
    };
    Ok(Json(script_view(
        &script_of(&state, &caller, &project_id, &id).await?,
    )))
}

/// Deletes a script; the assets it made stay.
#[utoipa::path(delete, path = "/videojungle/scripts/{project_id}/{script_id}", tag = "videojungle",
    params(
        ("project_id" = String, Path, description = "The project id"),
        ("script_id" = String, Path, description = "The script id"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Deleted),
        (status = 403, description = "Insufficient permissions", body = Detail),
        (status = 404, description = "Script not found", body = Detail),
    ))]
pub async fn delete_script(
    State(state): State<App>,
    caller: Caller<can::Delete>,
    Path((project_id, id)): Path<(String, String)>,
) -> VjResult<Json<Deleted>> {
    let (Ok(project_id), Ok(script_id)) = (ProjectId::parse(&project_id), ScriptId::parse(&id))
    else {
        return Err(VjError::not_found("Script"));
    };
    if !state
        .catalog
        .delete_project_script(&caller.tenant, &project_id, &script_id)
        .await?
    {
        return Err(VjError::not_found("Script"));
    }
    Ok(Json(Deleted { id, deleted: true }))
}
