//! Scripts: a project's saved preload item (seed 000's item: `type`, `model`, the generator's
//! fields) whose strings may hold `{{name}}` placeholders, and the parameters that fill them.
//! Running one is `generate.rs`; here they are kept, listed, read and deleted.

use axum::{
    extract::{Path, State},
    Json,
};
use chrono::Utc;
use mediadrive_core::{Action, AssetType, CatalogError, NewProjectScript, ProjectScript};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{
    error::{Caller, Detail, Invalid, VjError, VjResult},
    projects::{owned, Deleted},
    views::timestamp,
};
use crate::{api::JsonObject, state::AppState};

const MAX_NAME: usize = 200;
const MAX_INPUTS: usize = 50;
const MAX_INPUT_NAME: usize = 64;
/// The stored template, as JSON text.
const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

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

#[derive(Serialize, ToSchema)]
pub struct ScriptView {
    pub id: String,
    pub project_id: String,
    /// The preload item template.
    #[schema(value_type = Object)]
    pub value: Value,
    /// The parameters, each with its `name`, `type` and, when it has them, `description` and
    /// `default`.
    #[schema(value_type = Vec<Object>)]
    pub inputs: Vec<Value>,
    pub name: String,
    pub created_at: String,
    /// The generator the template names, if it names one.
    pub key: Option<String>,
    /// The template's own words: its `prompt` or `text`.
    pub manuscript: Option<String>,
}

/// The types a parameter may take; query strings are parsed into them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
}

impl ParamType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" | "str" => Self::String,
            "integer" | "int" => Self::Integer,
            "number" | "float" => Self::Number,
            "boolean" | "bool" => Self::Boolean,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }

    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::String(_) => Some(Self::String),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(Self::Integer),
            Value::Number(_) => Some(Self::Number),
            Value::Bool(_) => Some(Self::Boolean),
            _ => None,
        }
    }
}

/// One parameter of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamType,
    pub description: Option<String>,
    pub default: Option<Value>,
}

impl Param {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), self.name.clone().into());
        out.insert("type".into(), self.kind.as_str().into());
        if let Some(d) = &self.description {
            out.insert("description".into(), d.clone().into());
        }
        if let Some(d) = &self.default {
            out.insert("default".into(), d.clone());
        }
        out.insert("required".into(), self.default.is_none().into());
        Value::Object(out)
    }

    /// Reads a parameter as stored or as sent; the error is a pydantic message.
    fn read(name: &str, spec: &Value) -> Result<Self, String> {
        let valid_name = !name.is_empty()
            && name.len() <= MAX_INPUT_NAME
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(format!(
                "Value error, input names are 1 to {MAX_INPUT_NAME} letters, digits or \
                 underscores, not starting with a digit: {name:?}"
            ));
        }
        let Value::Object(spec) = spec else {
            let kind = ParamType::of(spec).ok_or_else(|| {
                format!("Value error, input {name}: a default must be a string, number or boolean")
            })?;
            return Ok(Self {
                name: name.to_string(),
                kind,
                description: None,
                default: Some(spec.clone()),
            });
        };
        let default = spec.get("default").filter(|d| !d.is_null()).cloned();
        let kind = match spec.get("type") {
            Some(Value::String(t)) => ParamType::parse(t).ok_or_else(|| {
                format!(
                    "Value error, input {name}: type must be string, integer, number or boolean"
                )
            })?,
            None | Some(Value::Null) => default
                .as_ref()
                .and_then(ParamType::of)
                .unwrap_or(ParamType::String),
            Some(_) => return Err(format!("Value error, input {name}: type must be a string")),
        };
        if let Some(d) = &default {
            let fits = ParamType::of(d) == Some(kind)
                || (kind == ParamType::Number && ParamType::of(d) == Some(ParamType::Integer));
            if !fits {
                return Err(format!(
                    "Value error, input {name}: its default is not of type {}",
                    kind.as_str()
                ));
            }
        }
        let description = match spec.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) => Some(d.clone()),
            Some(_) => {
                return Err(format!(
                    "Value error, input {name}: description must be a string"
                ))
            }
        };
        Ok(Self {
            name: name.to_string(),
            kind,
            description,
            default,
        })
    }
}

/// The parameters, from the official client's object (`{name: spec}`) or a list of specs.
pub fn params(inputs: &Value) -> Result<Vec<Param>, String> {
    let named: Vec<(String, &Value)> = match inputs {
        Value::Null => Vec::new(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(list) => list
            .iter()
            .map(|spec| match spec.get("name").and_then(Value::as_str) {
                Some(name) => Ok((name.to_string(), spec)),
                None => Err("Value error, each input in a list needs a name".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("Input should be a valid dictionary".into()),
    };
    if named.len() > MAX_INPUTS {
        return Err(format!("Value error, at most {MAX_INPUTS} inputs"));
    }
    let mut out: Vec<Param> = Vec::with_capacity(named.len());
    for (name, spec) in named {
        if out.iter().any(|p| p.name == name) {
            return Err(format!("Value error, input {name} is named twice"));
        }
        out.push(Param::read(&name, spec)?);
    }
    Ok(out)
}

/// The names of the `{{name}}` placeholders in every string of `value`.
pub fn placeholders(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else { break };
                let name = after[..end].trim();
                if !name.is_empty() && !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
                rest = &after[end + 2..];
            }
        }
        Value::Array(items) => items.iter().for_each(|v| placeholders(v, out)),
        Value::Object(map) => map.values().for_each(|v| placeholders(v, out)),
        _ => {}
    }
}

/// `value` with every placeholder replaced by its parameter's value. A string that is exactly
/// one placeholder becomes the value itself, so a number stays a number.
pub fn fill(value: &Value, values: &Map<String, Value>) -> Value {
    match value {
        Value::String(s) => {
            let trimmed = s.trim();
            if let Some(name) = trimmed
                .strip_prefix("{{")
                .and_then(|r| r.strip_suffix("}}"))
                .map(str::trim)
                .filter(|n| !n.contains("{{") && !n.contains("}}"))
            {
                if let Some(v) = values.get(name) {
                    return v.clone();
                }
            }
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else { break };
                out.push_str(&rest[..start]);
                match values.get(after[..end].trim()) {
                    Some(Value::String(v)) => out.push_str(v),
                    Some(v) => out.push_str(&v.to_string()),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, values)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn body_error(field: &str, msg: String) -> VjError {
    VjError::invalid(&[Invalid {
        kind: "value_error",
        place: "body",
        field,
        msg,
        input: None,
    }])
}

/// Checks a template as far as it can be without its parameters: its type, its generator, that
/// every placeholder names a parameter. The generator's own fields are checked when it runs.
fn check_template(state: &AppState, data: &Map<String, Value>, inputs: &[Param]) -> VjResult<()> {
    let asset_type = match data.get("type") {
        Some(Value::String(t)) => AssetType::parse(t).ok_or_else(|| {
            body_error(
                "data",
                "Value error, type must be one of image, video, audio, voice, html, component"
                    .into(),
            )
        })?,
        _ => return Err(body_error("data", "Value error, type is required".into())),
    };
    let model = match data.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => Some(m.as_str()),
        Some(_) => {
            return Err(body_error(
                "data",
                "Value error, model must be a string".into(),
            ))
        }
    };
    let has_src = !matches!(data.get("src"), None | Some(Value::Null));
    state
        .generators
        .find(asset_type, model, has_src)
        .map_err(|e| body_error("data", format!("Value error, {e}")))?;
    let mut used = Vec::new();
    placeholders(&Value::Object(data.clone()), &mut used);
    let undeclared: Vec<&str> = used
        .iter()
        .filter(|name| !inputs.iter().any(|p| &p.name == *name))
        .map(String::as_str)
        .collect();
    if !undeclared.is_empty() {
        return Err(body_error(
            "data",
            format!(
                "Value error, placeholders name no input: {}",
                undeclared.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The parameters a saved script takes; `None` if what the catalog holds does not parse.
pub fn stored_inputs(script: &ProjectScript) -> Option<Vec<Param>> {
    params(&serde_json::from_str(&script.inputs).ok()?).ok()
}

pub fn script_view(script: &ProjectScript) -> ScriptView {
    let value: Value = serde_json::from_str(&script.template).unwrap_or_default();
    let inputs = stored_inputs(script).unwrap_or_default();
    let words = |field| value.get(field).and_then(Value::as_str).map(str::to_string);
    ScriptView {
        id: script.id.clone(),
        project_id: script.project_id.clone(),
        key: words("model"),
        manuscript: words("prompt").or_else(|| words("text")),
        value,
        inputs: inputs.iter().map(Param::to_json).collect(),
        name: script.name.clone(),
        created_at: timestamp(script.created_at),
    }
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
    State(state): State<AppState>,
    caller: Caller,
) -> VjResult<Json<Vec<ScriptTemplate>>> {
    caller.0.authorize(Action::List)?;
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
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    body: Result<JsonObject, crate::error::ApiError>,
) -> VjResult<Json<ScriptView>> {
    caller.0.authorize(Action::Generate)?;
    let project = owned(&state, &caller, &project_id).await?;
    let body = body?;
    let name = body
        .text("name")
        .ok_or_else(|| VjError::missing("body", "name"))?;
    if name.chars().count() > MAX_NAME {
        return Err(body_error(
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
        .map_err(|msg| body_error("inputs", msg))?;
    check_template(&state, data, &inputs)?;
    let template = Value::Object(data.clone()).to_string();
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(body_error(
            "data",
            format!("Value error, a template holds at most {MAX_TEMPLATE_BYTES} bytes of JSON"),
        ));
    }
    let inputs = Value::Array(inputs.iter().map(Param::to_json).collect()).to_string();
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
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> VjResult<Json<Vec<ScriptView>>> {
    caller.0.authorize(Action::List)?;
    let project = owned(&state, &caller, &project_id).await?;
    let scripts = state
        .catalog
        .project_scripts(&project.tenant, &project.id)
        .await?;
    Ok(Json(scripts.iter().map(script_view).collect()))
}

pub(super) async fn script_of(
    state: &AppState,
    caller: &Caller,
    project_id: &str,
    id: &str,
) -> VjResult<ProjectScript> {
    state
        .catalog
        .project_script(&caller.0.tenant, project_id, id)
        .await?
        .ok_or_else(|| VjError::not_found("Script"))
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
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
) -> VjResult<Json<ScriptView>> {
    caller.0.authorize(Action::List)?;
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
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
) -> VjResult<Json<Deleted>> {
    caller.0.authorize(Action::Delete)?;
    if !state
        .catalog
        .delete_project_script(&caller.0.tenant, &project_id, &id)
        .await?
    {
        return Err(VjError::not_found("Script"));
    }
    Ok(Json(Deleted { id, deleted: true }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_found_once_in_every_string() {
        let mut found = Vec::new();
        let template =
            json!({"prompt": "a {{ subject }} at {{time}}", "n": ["{{time}}"], "x": "{{"});
        placeholders(&template, &mut found);
        found.sort();
        assert_eq!(found, ["subject", "time"]);
    }

    #[test]
    fn a_whole_placeholder_keeps_its_type_and_a_partial_one_interpolates() {
        let values = json!({"n": 3, "who": "fox"}).as_object().cloned().unwrap();
        let filled = fill(
            &json!({"count": "{{n}}", "prompt": "{{n}} red {{who}}s {{unknown}}"}),
            &values,
        );
        assert_eq!(
            filled,
            json!({"count": 3, "prompt": "3 red foxs {{unknown}}"})
        );
    }

    #[test]
    fn inputs_come_as_an_object_or_a_list_and_bad_ones_are_named() {
        let from_object = params(&json!({"subject": {"type": "string"}, "n": 2})).unwrap();
        let n = from_object.iter().find(|p| p.name == "n").unwrap();
        assert_eq!(
            (n.kind, n.default.clone()),
            (ParamType::Integer, Some(json!(2)))
        );
        let from_list = params(&json!([{"name": "subject", "description": "who"}])).unwrap();
        assert_eq!(from_list[0].description.as_deref(), Some("who"));
        assert!(params(&json!({"1x": "a"})).unwrap_err().contains("1x"));
        assert!(params(&json!({"n": {"type": "integer", "default": "two"}}))
            .unwrap_err()
            .contains("not of type integer"));
        assert!(params(&json!([{"name": "a"}, {"name": "a"}]))
            .unwrap_err()
            .contains("twice"));
    }
}
