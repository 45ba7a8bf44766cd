//! `/v2/keys`: a tenant's managers and admins list, create and revoke the tenant's API keys, up
//! to their own role. The key itself is in the creation's answer only.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use mediadrive_app::{
    keys::{self, Granter, KeyRequest},
    representations::KeyView,
};
use mediadrive_core::Role;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    auth::{can, Authorized},
    error::{ApiError, ApiResult, ErrorBody},
    http::body::JsonObject,
    App,
};

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct KeyBody {
    /// viewer, render, editor, manager or admin; at most the caller's own role.
    role: String,
    /// What the key is for (at most 100 characters).
    name: Option<String>,
    /// When the key stops working (RFC 3339, in the future); never when absent.
    expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyAnswer {
    pub success: bool,
    pub key: KeyView,
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    pub success: bool,
    pub keys: Vec<KeyView>,
}

/// The tenant's keys, revoked and expired ones included; never a key itself.
#[utoipa::path(get, path = "/v2/keys", tag = "keys",
    security(("api_key" = [])),
    responses((status = 200, body = KeyList), (status = 403, description = "Insufficient permissions", body = ErrorBody)))]
pub async fn list_keys(
    State(state): State<App>,
    principal: Authorized<can::ManageKeys>,
) -> ApiResult<Json<KeyList>> {
    let keys = keys::list(&state, Some(&principal.tenant)).await?;
    let now = Utc::now();
    Ok(Json(KeyList {
        success: true,
        keys: keys.iter().map(|k| KeyView::of(k, now)).collect(),
    }))
}

/// Makes a key for the tenant, of a role up to the caller's own.
#[utoipa::path(post, path = "/v2/keys", tag = "keys",
    request_body = KeyBody,
    security(("api_key" = [])),
    responses(
        (status = 201, body = KeyAnswer),
        (status = 400, description = "role is required | role must be one of viewer, render, editor, manager, admin | expires_at must be an RFC 3339 time | expires_at must be in the future", body = ErrorBody),
        (status = 403, description = "Insufficient permissions (a role above the caller's)", body = ErrorBody),
    ))]
pub async fn create_key(
    State(state): State<App>,
    principal: Authorized<can::ManageKeys>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<KeyAnswer>)> {
    let role = body
        .required("role")?
        .parse::<Role>()
        .map_err(|_| ApiError::bad_request(ROLE_VALUES))?;
    let name = match body.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(ApiError::bad_request("name must be a string")),
    };
    let expires_at = match body.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(at)) => Some(
            DateTime::parse_from_rfc3339(at)
                .map_err(|_| ApiError::bad_request("expires_at must be an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        Some(_) => return Err(ApiError::bad_request("expires_at must be an RFC 3339 time")),
    };
    let request = KeyRequest {
        name,
        role,
        expires_at,
    };
    let granter = Granter::Key(principal.role);
    let (record, key) = keys::create(&state, &principal.tenant, granter, request).await?;
    let mut view = KeyView::of(&record, Utc::now());
    view.key = Some(key);
    Ok((
        StatusCode::CREATED,
        Json(KeyAnswer {
            success: true,
            key: view,
        }),
    ))
}

const ROLE_VALUES: &str = "role must be one of viewer, render, editor, manager, admin";

/// Revokes one of the tenant's keys: it stops working at once, on every node.
#[utoipa::path(delete, path = "/v2/keys/{id}", tag = "keys",
    params(("id" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = KeyAnswer),
        (status = 403, description = "Insufficient permissions (a key of a role above the caller's)", body = ErrorBody),
        (status = 404, description = "API key not found", body = ErrorBody),
    ))]
pub async fn revoke_key(
    State(state): State<App>,
    principal: Authorized<can::ManageKeys>,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyAnswer>> {
    let granter = Granter::Key(principal.role);
    let record = keys::revoke(&state, Some(&principal.tenant), granter, &id).await?;
    Ok(Json(KeyAnswer {
        success: true,
        key: KeyView::of(&record, Utc::now()),
    }))
}
