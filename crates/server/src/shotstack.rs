//! The Shotstack Serve–compatible surface under `/serve/v1` (seed 004, PRODUCT.md): hosted assets by
//! id and by render, deletes, and transfers from a URL, in the response shapes Shotstack's SDK
//! parses. It translates to the render outputs of the core and holds no logic of its own.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use chrono::Utc;
use mediadrive_core::{
    NewOutput, NewRender, OutputId, OutputKind, OutputStatus, RenderId, RenderOutput,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    auth::{can, Authorized, Principal},
    error::{ApiError, ApiResult, ErrorBody},
    http::body::JsonObject,
    http::surface::surface,
    App,
};
use mediadrive_app::{
    drive,
    representations::{load_output_view, OutputView},
    webhooks::target_url,
};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The surface's routes; its errors have the v2 shape.
pub fn router() -> OpenApiRouter<App> {
    let routes = OpenApiRouter::new()
        .routes(routes!(transfer))
        .routes(routes!(get_asset, delete_asset))
        .routes(routes!(render_assets));
    surface::<ApiError>(routes)
}

/// Where our assets are, in the place Shotstack names a hosting region.
const REGION: &str = "local";

#[derive(Serialize, ToSchema)]
pub struct AssetAttributes {
    pub id: String,
    /// The client id.
    pub owner: String,
    pub region: &'static str,
    #[serde(rename = "renderId")]
    pub render_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The hosted URL, once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// importing, ready, failed or deleted.
    pub status: &'static str,
    pub created: String,
    pub updated: String,
}

#[derive(Serialize, ToSchema)]
pub struct AssetData {
    /// Always `asset`.
    #[serde(rename = "type")]
    pub data_type: &'static str,
    pub attributes: AssetAttributes,
}

#[derive(Serialize, ToSchema)]
pub struct AssetResponse {
    pub data: AssetData,
}

#[derive(Serialize, ToSchema)]
pub struct AssetRenderResponse {
    pub data: Vec<AssetData>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct TransferRequest {
    /// The file to fetch and host.
    url: String,
    /// Your identifier for the asset; names the hosted file when it matches `^[a-zA-Z0-9_-]+$`.
    id: String,
    /// Where to send it: only `{"provider": "shotstack"}` (hosting) is offered here.
    destinations: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct TransferAttributes {
    /// The asset's id, for `GET /serve/v1/assets/{id}`.
    pub id: String,
    pub owner: String,
    /// Always `queued`.
    pub status: &'static str,
    pub created: String,
}

#[derive(Serialize, ToSchema)]
pub struct TransferData {
    /// Always `transfer`.
    #[serde(rename = "type")]
    pub data_type: &'static str,
    pub attributes: TransferAttributes,
}

#[derive(Serialize, ToSchema)]
pub struct TransferResponse {
    pub data: TransferData,
}

/// The Serve API's status of an output; `None` for one that is not to be hosted.
fn serve_status(status: OutputStatus) -> Option<&'static str> {
    match status {
        OutputStatus::Waiting | OutputStatus::Fetching | OutputStatus::Importing => {
            Some("importing")
        }
        OutputStatus::Ready => Some("ready"),
        OutputStatus::Failed => Some("failed"),
        OutputStatus::Deleted => Some("deleted"),
        OutputStatus::Temporary => None,
    }
}

fn asset_data(output: &RenderOutput, view: OutputView) -> Option<AssetData> {
    Some(AssetData {
        data_type: "asset",
        attributes: AssetAttributes {
            id: view.id,
            owner: output.tenant.to_string(),
            region: REGION,
            render_id: output.render_id.to_string(),
            filename: view.filename,
            url: view.hosted_url,
            status: serve_status(output.status)?,
            created: view.created_at,
            updated: view.updated_at,
        },
    })
}

fn asset_not_found() -> ApiError {
    ApiError::not_found("Asset not found")
}

/// An output of the tenant's that is hosted or meant to be.
/// A malformed id names no output: the same 404 as an unknown one.
async fn hosted_output(state: &App, principal: &Principal, id: &str) -> ApiResult<RenderOutput> {
    let id = OutputId::parse(id).map_err(|_| asset_not_found())?;
    state
        .catalog
        .render_output(&principal.tenant, &id)
        .await?
        .filter(|o| serve_status(o.status).is_some())
        .ok_or_else(asset_not_found)
}

/// One asset: its status, and its hosted URL once ready.
#[utoipa::path(get, path = "/serve/v1/assets/{id}", tag = "serve",
    params(("id" = String, Path, description = "The asset id (a UUID)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = AssetResponse),
        (status = 404, description = "Asset not found", body = ErrorBody),
    ))]
pub async fn get_asset(
    State(state): State<App>,
    principal: Authorized<can::List>,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetResponse>> {
    let output = hosted_output(&state, &principal, &id).await?;
    let view = load_output_view(&state, &output).await?;
    let data = asset_data(&output, view).ok_or_else(asset_not_found)?;
    Ok(Json(AssetResponse { data }))
}

/// Every hosted asset of a render (the video, and its thumbnail and poster if it has them), each
/// with its own status.
#[utoipa::path(get, path = "/serve/v1/assets/render/{id}", tag = "serve",
    params(("id" = String, Path, description = "The render id (a UUID)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = AssetRenderResponse),
        (status = 404, description = "Render not found", body = ErrorBody),
    ))]
pub async fn render_assets(
    State(state): State<App>,
    principal: Authorized<can::List>,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetRenderResponse>> {
    let render = match RenderId::parse(&id) {
        Ok(id) => state.catalog.render(&principal.tenant, &id).await?,
        // A malformed id names no render: the same 404 as an unknown one.
        Err(_) => None,
    }
    .ok_or_else(|| ApiError::not_found("Render not found"))?;
    let mut data = Vec::new();
    for output in &render.outputs {
        let view = load_output_view(&state, output).await?;
        data.extend(asset_data(output, view));
    }
    Ok(Json(AssetRenderResponse { data }))
}

/// Deletes a hosted asset: its file leaves the drive (and the quota); its status becomes
/// `deleted`. The temporary URL keeps working until it expires.
#[utoipa::path(delete, path = "/serve/v1/assets/{id}", tag = "serve",
    params(("id" = String, Path, description = "The asset id (a UUID)")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Insufficient permissions", body = ErrorBody),
        (status = 404, description = "Asset not found", body = ErrorBody),
    ))]
pub async fn delete_asset(
    State(state): State<App>,
    principal: Authorized<can::Delete>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let output = hosted_output(&state, &principal, &id).await?;
    // The file goes first: once it is gone the asset reads `deleted` whatever happens next.
    let hosted = match &output.hosted_file {
        Some(file) => state.catalog.file_by_id(file).await?,
        None => None,
    };
    if let Some(file) = hosted {
        drive::delete_records(&state, &[file]).await?;
    }
    // An asset still on its way into hosting stops there.
    state
        .catalog
        .delete_render_output(&principal.tenant, &output.id, Utc::now())
        .await?
        .ok_or_else(asset_not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The client's identifier names the hosted file when it is a safe identifier.
fn stem(id: &str) -> Option<String> {
    let safe = !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    safe.then(|| id.to_string())
}

/// Whether the destinations ask for hosting; any other provider is refused.
fn wants_hosting(destinations: &[Value]) -> ApiResult<bool> {
    let mut hosting = false;
    for destination in destinations {
        // A bare value names no provider: taking it for the default would host what nobody asked for.
        let Some(destination) = destination.as_object() else {
            return Err(ApiError::bad_request(
                "destinations must be a list of objects",
            ));
        };
        let provider = destination
            .get("provider")
            .and_then(Value::as_str)
            .unwrap_or("shotstack");
        if provider != "shotstack" {
            return Err(ApiError::bad_request(format!(
                "destination provider {provider} is not offered here; only shotstack (hosting) is"
            )));
        }
        let excluded = matches!(destination.get("exclude"), Some(Value::Bool(true)));
        hosting |= !excluded;
    }
    Ok(hosting)
}

/// Fetches a file from a URL into hosting, in the background; poll the asset for its status.
#[utoipa::path(post, path = "/serve/v1/assets", tag = "serve",
    request_body = TransferRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = TransferResponse),
        (status = 400, description = "url is required | id is required | destinations is required | destinations must be a list of objects | …", body = ErrorBody),
        (status = 403, description = "Insufficient permissions", body = ErrorBody),
    ))]
pub async fn transfer(
    State(state): State<App>,
    principal: Authorized<can::Upload>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<TransferResponse>)> {
    let url = target_url(&state, body.required("url")?, "url")?;
    let id = body.required("id")?;
    let destinations = body
        .get("destinations")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("destinations is required"))?;
    if !wants_hosting(destinations)? {
        return Err(ApiError::bad_request(
            "no destination takes the file: hosting is excluded",
        ));
    }
    let render = state
        .catalog
        .create_render(&NewRender {
            tenant: principal.tenant.clone(),
            host: true,
            callback: None,
            outputs: vec![NewOutput {
                kind: OutputKind::Transfer,
                src: Some(url),
                stem: stem(id),
            }],
            now: Utc::now(),
        })
        .await?;
    state.wakeups.renders.notify_one();
    let output = render.outputs.first().ok_or_else(asset_not_found)?;
    let data = TransferData {
        data_type: "transfer",
        attributes: TransferAttributes {
            id: output.id.to_string(),
            owner: principal.tenant.to_string(),
            status: "queued",
            created: mediadrive_app::representations::timestamp(output.created_at),
        },
    };
    Ok((StatusCode::CREATED, Json(TransferResponse { data })))
}
