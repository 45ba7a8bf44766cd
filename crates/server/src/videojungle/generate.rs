//! `POST /projects/{id}/{script_id}/generate?…` (seed 003): fills a script from the query's
//! parameters and runs it as a one-item preload, kept in the drive. The answer names the asset at
//! once; the asset reads `queued`, then `processing`, until it holds its file (or `failed`).

use axum::{
    extract::{Path, Query, State},
    Json,
};
use chrono::Utc;
use mediadrive_core::{
    templates::{fill, stored_inputs, Param, ParamType},
    CatalogError, NewGeneratedAsset, NewPreload, NewProjectAsset,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{
    error::{Caller, Detail, Invalid, VjError, VjResult},
    scripts::script_of,
};
use crate::{auth::can, http::body::JsonObject, App};
use mediadrive_app::{preloads::item_request, projects};

/// Longest parameter value taken from a query string.
const MAX_VALUE: usize = 4096;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct GenerateRequest {
    /// Replaces the template's `prompt` (its placeholders are filled too): to try out a change.
    prompt: Option<String>,
    /// Kept in `create_parameters`; mediadrive writes no prompts of its own.
    prompt_persona: Option<String>,
    /// Accepted for the official client; prompts are always used as given.
    render_prompt: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct Generated {
    /// Where the asset can be followed without an API key: `GET /assets/key/{keyname}`, whose
    /// `url` and `download_url` work once it is uploaded.
    pub url: String,
    pub asset_id: String,
    /// The asset's keyname.
    pub asset_key: String,
}

/// Parses one query value into the parameter's type, worded as pydantic words a failure.
fn typed(param: &Param, raw: &str) -> Result<Value, (&'static str, &'static str)> {
    match param.kind {
        ParamType::String => Ok(Value::String(raw.to_string())),
        ParamType::Integer => raw.trim().parse::<i64>().map(Value::from).map_err(|_| {
            (
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            )
        }),
        ParamType::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or((
                "float_parsing",
                "Input should be a valid number, unable to parse string as a number",
            )),
        ParamType::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Ok(Value::Bool(true)),
            "false" | "0" | "no" | "off" | "f" | "n" => Ok(Value::Bool(false)),
            _ => Err((
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
            )),
        },
    }
}

/// The optional JSON body's override, as a string or absent.
fn body_text<'a>(body: &'a JsonObject, field: &'static str) -> VjResult<Option<&'a str>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(VjError::invalid(&[Invalid {
            kind: "string_type",
            place: "body",
            field,
            msg: "Input should be a valid string".into(),
            input: None,
        }])),
    }
}

/// Every parameter's value from the query, or every missing, unknown and malformed one named.
/// `prompt` and `prompt_persona` in the query stand for the body's when the script takes no
/// parameter of that name.
fn values(
    inputs: &[Param],
    query: &[(String, String)],
    overrides: &mut Map<String, Value>,
) -> VjResult<Map<String, Value>> {
    let mut values = Map::new();
    let mut errors: Vec<(String, &'static str, String, Option<String>)> = Vec::new();
    for (name, raw) in query {
        let Some(param) = inputs.iter().find(|p| &p.name == name) else {
            if name == "prompt" || name == "prompt_persona" {
                overrides
                    .entry(name.clone())
                    .or_insert_with(|| Value::String(raw.clone()));
            } else {
                errors.push((
                    name.clone(),
                    "extra_forbidden",
                    "Extra inputs are not permitted".into(),
                    Some(raw.clone()),
                ));
            }
            continue;
        };
        if raw.len() > MAX_VALUE {
            errors.push((
                name.clone(),
                "string_too_long",
                format!("String should have at most {MAX_VALUE} characters"),
                None,
            ));
            continue;
        }
        match typed(param, raw) {
            Ok(v) => {
                values.insert(name.clone(), v);
            }
            Err((kind, msg)) => errors.push((name.clone(), kind, msg.into(), Some(raw.clone()))),
        }
    }
    for param in inputs {
        if values.contains_key(&param.name) || errors.iter().any(|e| e.0 == param.name) {
            continue;
        }
        match &param.default {
            Some(d) => {
                values.insert(param.name.clone(), d.clone());
            }
            None => errors.push((param.name.clone(), "missing", "Field required".into(), None)),
        }
    }
    if errors.is_empty() {
        return Ok(values);
    }
    let invalid: Vec<Invalid<'_>> = errors
        .iter()
        .map(|(field, kind, msg, input)| Invalid {
            kind,
            place: "query",
            field,
            msg: msg.clone(),
            input: input.as_deref(),
        })
        .collect();
    Err(VjError::invalid(&invalid))
}

/// Runs a script: the generated asset lands in the drive at `generated/{type}/`, counted against
/// the quota and charged as a preload item is.
#[utoipa::path(post, path = "/videojungle/projects/{project_id}/{script_id}/generate", tag = "videojungle",
    params(
        ("project_id" = String, Path, description = "The project id"),
        ("script_id" = String, Path, description = "The script id"),
        ("q" = Option<Object>, Query, style = Form, explode,
            description = "The script's parameters, each as its own query parameter"),
    ),
    request_body(content = Option<GenerateRequest>),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Generated),
        (status = 403, description = "Insufficient permissions", body = Detail),
        (status = 404, description = "Project not found | Script not found", body = Detail),
        (status = 422, description = "Parameters missing, unknown or malformed, named in `loc`; or the filled script is not a valid preload item", body = Detail),
    ))]
pub async fn generate(
    State(state): State<App>,
    caller: Caller<can::Generate>,
    Path((project_id, script_id)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    body: Result<JsonObject, crate::error::ApiError>,
) -> VjResult<Json<Generated>> {
    let project = projects::project(&state, &caller.tenant, &project_id).await?;
    let script = script_of(&state, &caller, &project.id, &script_id).await?;
    let body = body?;
    body_text(&body, "prompt")?;
    body_text(&body, "prompt_persona")?;
    let mut overrides: Map<String, Value> = ["prompt", "prompt_persona"]
        .into_iter()
        .filter_map(|f| Some((f.to_string(), body.get(f)?.as_str()?.into())))
        .collect();
    let inputs = stored_inputs(&script)
        .ok_or_else(|| CatalogError::Backend("corrupt script inputs in catalog".into()))?;
    let values = values(&inputs, &query, &mut overrides)?;
    let template: Value = serde_json::from_str(&script.template)
        .map_err(|_| CatalogError::Backend("corrupt script template in catalog".into()))?;
    let mut item = fill(&template, &values);
    if let (Some(prompt), Some(fields)) = (overrides.get("prompt"), item.as_object_mut()) {
        fields.insert("prompt".into(), fill(prompt, &values));
    }
    if let Some(fields) = item.as_object_mut() {
        fields.insert("save-to-media".into(), Value::Bool(true));
    }
    let request = item_request(&state, &format!("script {}", script.name), &item)
        .map_err(|e| VjError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, e.message))?;
    let mut create_parameters = values;
    create_parameters.extend(overrides);
    let now = Utc::now();
    let (_, asset) = state
        .catalog
        .create_generated_asset(&NewGeneratedAsset {
            asset: NewProjectAsset {
                tenant: project.tenant.clone(),
                project_id: project.id.clone(),
                keyname: projects::random_key(),
                name: script.name.clone(),
                asset_type: request.asset_type.to_string(),
                description: None,
                create_parameters: Some(Value::Object(create_parameters).to_string()),
                now,
                upload_expires_at: now,
            },
            script_id: script.id.clone(),
            preload: NewPreload {
                tenant: project.tenant.clone(),
                items: vec![request],
                callback: None,
                idempotency_key: None,
                idempotency_since: now,
                now,
            },
        })
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => VjError::not_found("Project"),
            other => other.into(),
        })?;
    state.wakeups.generation.notify_one();
    Ok(Json(Generated {
        url: format!(
            "{}/videojungle/assets/key/{}",
            state.config.public_url, asset.keyname
        ),
        asset_id: asset.id.to_string(),
        asset_key: asset.keyname,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use mediadrive_core::templates::params;

    fn inputs() -> Vec<Param> {
        params(&json!({"subject": {"type": "string"}, "n": {"type": "integer", "default": 1}}))
            .unwrap()
    }

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_fill_in_and_values_take_their_type() {
        let mut overrides = Map::new();
        let got = values(&inputs(), &query(&[("subject", "fox")]), &mut overrides).unwrap();
        assert_eq!(Value::Object(got), json!({"subject": "fox", "n": 1}));
        let got = values(
            &inputs(),
            &query(&[("subject", "fox"), ("n", "4")]),
            &mut overrides,
        );
        assert_eq!(got.unwrap()["n"], json!(4));
    }

    #[test]
    fn a_prompt_in_the_query_overrides_unless_the_script_takes_one() {
        let mut overrides = Map::new();
        values(
            &inputs(),
            &query(&[("subject", "a"), ("prompt", "p")]),
            &mut overrides,
        )
        .unwrap();
        assert_eq!(overrides["prompt"], json!("p"));
    }
}
