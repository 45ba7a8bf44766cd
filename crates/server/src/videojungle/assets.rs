//! A project's assets: list (paged), get, check, status, delete, the lookup by keyname, and the
//! signed links that serve their bytes without an API key.

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Utc;
use mediadrive_core::{AssetCursor, AssetQuery, ProjectAsset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    error::{Caller, Detail, Invalid, VjError, VjResult},
    views::{asset_view, summary, AssetView, Deleted, DEFAULT_LIMIT},
};
use crate::{
    auth::{can, Principal},
    App,
};
use mediadrive_app::projects;
use mediadrive_app::signing::AssetGrant;

pub const MAX_LIMIT: u32 = 100;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// How many assets, 1 to 100 (default 10).
    limit: Option<String>,
    /// Where the page starts: the `cursor` of the previous page's `Link: <…>; rel="next"`.
    cursor: Option<String>,
}

fn parse_limit(raw: Option<&str>) -> VjResult<u32> {
    let limit = query_integer(raw, "limit", DEFAULT_LIMIT.into(), 1, MAX_LIMIT.into())?;
    Ok(limit as u32)
}

/// A query parameter that must be an integer within `min..=max` (`default` when absent), refused
/// as FastAPI refuses one.
pub(super) fn query_integer(
    raw: Option<&str>,
    field: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> VjResult<i64> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let invalid = |kind, msg: String| {
        VjError::invalid(&[Invalid {
            kind,
            place: "query",
            field,
            msg,
            input: Some(raw),
        }])
    };
    let value: i64 = raw.trim().parse().map_err(|_| {
        invalid(
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".into(),
        )
    })?;
    if value < min {
        return Err(invalid(
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(invalid(
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(value)
}

fn encode_cursor(asset: &ProjectAsset) -> String {
    let raw = format!("{}:{}", asset.created_at.timestamp_millis(), asset.id);
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(raw: &str) -> VjResult<AssetCursor> {
    let decoded = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    decoded
        .as_deref()
        .and_then(|d| d.split_once(':'))
        .and_then(|(ms, id)| {
            Some(AssetCursor {
                created_ms: ms.parse().ok()?,
                id: id.to_string(),
            })
        })
        .ok_or_else(|| {
            VjError::invalid(&[Invalid {
                kind: "value_error",
                place: "query",
                field: "cursor",
                msg: "Value error, not a cursor this API handed out".into(),
                input: Some(raw),
            }])
        })
}

async fn list(
    state: &App,
    caller: &Principal,
    project_id: &str,
    params: &ListParams,
    generated_only: bool,
) -> VjResult<Response> {
    let limit = parse_limit(params.limit.as_deref())?;
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let project = projects::project(state, &caller.tenant, project_id).await?;
    let assets = state
        .catalog
        .project_assets(&AssetQuery {
            tenant: project.tenant.clone(),
            project_id: project.id.clone(),
            limit,
            after,
        })
        .await?;
    let next = (assets.len() == limit as usize)
        .then(|| assets.last().map(encode_cursor))
        .flatten();
    let views: Vec<AssetView> = assets
        .iter()
        .filter(|a| !generated_only || a.generation.is_some())
        .map(|a| asset_view(state, a))
        .collect();
    let mut response = Json(views).into_response();
    if let Some(cursor) = next {
        let link = format!(
            "<{}/videojungle/projects/{}/assets?limit={limit}&cursor={cursor}>; rel=\"next\"",
            state.config.public_url, project.id
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// A page of a project's assets, newest first; `Link: <…>; rel="next"` when more follow.
#[utoipa::path(get, path = "/videojungle/projects/{id}/assets", tag = "videojungle",
    params(("id" = String, Path, description = "The project id"), ListParams),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<AssetView>),
        (status = 404, description = "Project not found", body = Detail),
        (status = 422, description = "limit is not a whole number from 1 to 100 | cursor is not one this API handed out", body = Detail),
    ))]
pub async fn list_assets(
    State(state): State<App>,
    caller: Caller<can::List>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> VjResult<Response> {
    list(&state, &caller, &id, &params, false).await
}

/// The same page, at the path the official client lists from.
#[utoipa::path(get, path = "/videojungle/projects/{id}/asset", tag = "videojungle",
    params(("id" = String, Path, description = "The project id"), ListParams),
    security(("api_key" = [])),
    responses((status = 200, body = Vec<AssetView>), (status = 404, description = "Project not found", body = Detail)))]
pub async fn list_assets_client(
    State(state): State<App>,
    caller: Caller<can::List>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> VjResult<Response> {
    list(&state, &caller, &id, &params, false).await
}

/// The generated assets of that page.
#[utoipa::path(get, path = "/videojungle/projects/{id}/asset/generated", tag = "videojungle",
    params(("id" = String, Path, description = "The project id"), ListParams),
    security(("api_key" = [])),
    responses((status = 200, body = Vec<AssetView>), (status = 404, description = "Project not found", body = Detail)))]
pub async fn list_generated(
    State(state): State<App>,
    caller: Caller<can::List>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> VjResult<Response> {
    list(&state, &caller, &id, &params, true).await
}

/// One asset, with its project.
#[utoipa::path(get, path = "/videojungle/assets/{id}", tag = "videojungle",
    params(("id" = String, Path, description = "The asset id")),
    security(("api_key" = [])),
    responses((status = 200, body = AssetView), (status = 404, description = "Asset not found", body = Detail)))]
pub async fn get_asset(
    State(state): State<App>,
    caller: Caller<can::List>,
    Path(id): Path<String>,
) -> VjResult<Json<AssetView>> {
    let asset = projects::asset(&state, &caller.tenant, &id).await?;
    with_project(&state, &asset).await.map(Json)
}

async fn with_project(state: &App, asset: &ProjectAsset) -> VjResult<AssetView> {
    let project = state
        .catalog
        .project(&asset.tenant, &asset.project_id)
        .await?
        .ok_or_else(|| VjError::not_found("Asset"))?;
    let mut view = asset_view(state, asset);
    view.project = Some(summary(&project));
    Ok(view)
}

/// The asset, for whoever holds its keyname: no API key needed.
#[utoipa::path(get, path = "/videojungle/assets/key/{keyname}", tag = "videojungle",
    params(("keyname" = String, Path, description = "The asset's keyname")),
    responses((status = 200, body = AssetView), (status = 404, description = "Asset not found", body = Detail)))]
pub async fn asset_by_key(
    State(state): State<App>,
    Path(keyname): Path<String>,
) -> VjResult<Json<AssetView>> {
    let asset = state
        .catalog
        .project_asset_by_key(&keyname)
        .await?
        .ok_or_else(|| VjError::not_found("Asset"))?;
    with_project(&state, &asset).await.map(Json)
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    pub uploaded: bool,
}

/// Whether the asset's bytes have arrived.
#[utoipa::path(get, path = "/videojungle/assets/check/{id}", tag = "videojungle",
    params(("id" = String, Path, description = "The asset id")),
    security(("api_key" = [])),
    responses((status = 200, body = Check), (status = 404, description = "Asset not found", body = Detail)))]
pub async fn check_asset(
    State(state): State<App>,
    caller: Caller<can::List>,
    Path(id): Path<String>,
) -> VjResult<Json<Check>> {
    let asset = projects::asset(&state, &caller.tenant, &id).await?;
    Ok(Json(Check {
        uploaded: asset_view(&state, &asset).uploaded,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct AssetStatus {
    pub id: String,
    /// Seed 003: null for an uploaded asset; `queued`, `processing` or `failed` for a generated
    /// one that holds no file yet.
    pub status: Option<&'static str>,
    pub uploaded: bool,
    /// Why a generated asset failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The asset's status.
#[utoipa::path(get, path = "/videojungle/assets/{id}/status", tag = "videojungle",
    params(("id" = String, Path, description = "The asset id")),
    security(("api_key" = [])),
    responses((status = 200, body = AssetStatus), (status = 404, description = "Asset not found", body = Detail)))]
pub async fn asset_status(
    State(state): State<App>,
    caller: Caller<can::List>,
    Path(id): Path<String>,
) -> VjResult<Json<AssetStatus>> {
    let view = asset_view(&state, &projects::asset(&state, &caller.tenant, &id).await?);
    Ok(Json(AssetStatus {
        id: view.id,
        status: view.status,
        uploaded: view.uploaded,
        error: view.error,
    }))
}

/// Deletes the asset; its file leaves the drive (and the quota) for good.
#[utoipa::path(delete, path = "/videojungle/assets/{id}", tag = "videojungle",
    params(("id" = String, Path, description = "The asset id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Deleted),
        (status = 403, description = "Insufficient permissions", body = Detail),
        (status = 404, description = "Asset not found", body = Detail),
    ))]
pub async fn delete_asset(
    State(state): State<App>,
    caller: Caller<can::Delete>,
    Path(id): Path<String>,
) -> VjResult<Json<Deleted>> {
    let asset = projects::asset(&state, &caller.tenant, &id).await?;
    if projects::remove_assets(&state, std::slice::from_ref(&asset)).await? == 0 {
        return Err(VjError::not_found("Asset"));
    }
    Ok(Json(Deleted { id, deleted: true }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkParams {
    expires: Option<i64>,
    /// `1`: served as an attachment.
    download: Option<String>,
    signature: Option<String>,
}

/// An asset's bytes through the signed link its `url` or `download_url` holds.
#[utoipa::path(get, path = "/videojungle/files/{client_id}/{id}/{name}", tag = "videojungle",
    params(
        ("client_id" = String, Path, description = "The tenant"),
        ("id" = String, Path, description = "The asset id"),
        ("name" = String, Path, description = "The file name"),
        LinkParams,
    ),
    responses(
        (status = 200, description = "The file"),
        (status = 206, description = "One byte range of the file"),
        (status = 403, description = "Signature does not match | Request has expired", body = Detail),
        (status = 404, description = "Asset not found", body = Detail),
    ))]
pub async fn serve_link(
    State(state): State<App>,
    Path((client, id, _name)): Path<(String, String, String)>,
    Query(params): Query<LinkParams>,
    method: Method,
    headers: HeaderMap,
) -> VjResult<Response> {
    let forged = || VjError::new(StatusCode::FORBIDDEN, "Signature does not match");
    let (Some(expires), Some(signature)) = (params.expires, params.signature.as_deref()) else {
        return Err(forged());
    };
    let grant = AssetGrant {
        asset: id.clone(),
        download: params.download.as_deref() == Some("1"),
        expires,
    };
    if !mediadrive_app::signing_keys::verify(&state, &grant, signature).await {
        return Err(forged());
    }
    let now = Utc::now().timestamp();
    if now > expires {
        return Err(VjError::new(StatusCode::FORBIDDEN, "Request has expired"));
    }
    let tenant = mediadrive_core::ClientId::parse(&client).map_err(|_| forged())?;
    // A malformed id names no asset: the same 404 as an unknown one.
    let asset = match mediadrive_core::AssetId::parse(&id) {
        Ok(id) => state.catalog.project_asset(&tenant, &id).await?,
        Err(_) => None,
    }
    .ok_or_else(|| VjError::not_found("Asset"))?;
    let file = asset.file.ok_or_else(|| VjError::not_found("Asset"))?;
    let remaining = (expires - now).max(0) as u64;
    Ok(
        crate::serve::serve_record(&state, &file, &method, &headers, grant.download, remaining)
            .await?,
    )
}
