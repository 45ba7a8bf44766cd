//! `/v2/webhooks`: endpoints a tenant registers for events, the log of their deliveries, manual
//! redelivery, and the secret per-request callbacks are signed with. Manager and above.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use mediadrive_core::{
    Action, DeliveryRecord, EndpointUpdate, NewEndpoint, WebhookEndpoint, EVENT_TYPES,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{body::JsonObject, views::timestamp};
use crate::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorBody},
    state::AppState,
    webhooks::new_secret,
};

/// Endpoints one tenant may register.
const MAX_ENDPOINTS: usize = 20;
const MAX_DESCRIPTION: usize = 500;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Read leniently through `JsonObject`; this type documents the body.
pub struct EndpointRequest {
    /// Where events are POSTed: http or https, not a private address unless allow-listed.
    url: String,
    /// Event types to receive (`file.uploaded`, `file.deleted`, `preload.item.ready`,
    /// `preload.item.failed`, `preload.completed`, `asset.hosted`, `asset.failed`); all when
    /// absent or empty.
    events: Option<Vec<String>>,
    description: Option<String>,
    /// PUT only: false pauses deliveries, true resumes them (and clears the failure count).
    enabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Failed attempts in a row.
    pub failure_streak: u32,
    /// Why the endpoint was disabled.
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The signing secret (`whsec_…`); shown once, when the endpoint is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&WebhookEndpoint> for EndpointView {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id.clone(),
            url: e.url.clone(),
            events: e.event_types.clone(),
            description: e.description.clone(),
            enabled: e.enabled,
            failure_streak: e.failure_streak,
            disabled_reason: e.disabled_reason.clone(),
            created_at: timestamp(e.created_at),
            updated_at: timestamp(e.updated_at),
            secret: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EndpointAnswer {
    pub success: bool,
    pub endpoint: EndpointView,
}

#[derive(Serialize, ToSchema)]
pub struct EndpointList {
    pub success: bool,
    pub endpoints: Vec<EndpointView>,
    /// The event types there are.
    pub event_types: Vec<String>,
}

/// Checks a URL events will be sent to: the seed's wording for a missing field, the fetch policy
/// for where it points (names are checked again when each delivery resolves them).
pub(crate) fn target_url(state: &AppState, url: &str, field: &str) -> ApiResult<String> {
    let parsed = url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| ApiError::bad_request(format!("{field} must be an http or https URL")))?;
    state
        .webhook_sender
        .check_url(parsed.as_str())
        .map_err(|e| ApiError::bad_request(format!("{field}: {e}")))?;
    Ok(parsed.to_string())
}

/// The `callback` of a request (a preload, a render): a URL told of its outcomes, signed with the
/// tenant's callback secret, which is made here on first use.
pub(crate) async fn callback(
    state: &AppState,
    principal: &Principal,
    body: &JsonObject,
) -> ApiResult<Option<String>> {
    match body.get("callback") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(url)) => {
            let url = target_url(state, url, "callback")?;
            state
                .catalog
                .callback_secret(&principal.tenant, &crate::webhooks::new_secret)
                .await?;
            Ok(Some(url))
        }
        Some(_) => Err(ApiError::bad_request(
            "callback must be an http or https URL",
        )),
    }
}

fn event_types(body: &JsonObject) -> ApiResult<Option<Vec<String>>> {
    match body.get("events") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v.as_str() {
                Some(t) if EVENT_TYPES.contains(&t) => Ok(t.to_string()),
                _ => Err(ApiError::bad_request(format!(
                    "events may hold only {}",
                    EVENT_TYPES.join(", ")
                ))),
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(ApiError::bad_request(
            "events must be a list of event types",
        )),
    }
}

fn description(body: &JsonObject) -> ApiResult<Option<String>> {
    match body.raw_text("description") {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(ApiError::bad_request(format!(
            "description must be at most {MAX_DESCRIPTION} characters"
        ))),
        other => Ok(other.map(str::to_string)),
    }
}

fn endpoint_not_found() -> ApiError {
    ApiError::not_found("Webhook endpoint not found")
}

/// Registers an endpoint; its signing secret is in this answer only.
#[utoipa::path(post, path = "/v2/webhooks", tag = "webhooks",
    request_body = EndpointRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = EndpointAnswer),
        (status = 400, description = "url is required | url must be an http or https URL | events may hold only …", body = ErrorBody),
        (status = 403, description = "Insufficient permissions", body = ErrorBody),
    ))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<EndpointAnswer>)> {
    principal.authorize(Action::ManageWebhooks)?;
    let url = target_url(&state, body.required("url")?, "url")?;
    let events = event_types(&body)?.unwrap_or_default();
    let description = description(&body)?.unwrap_or_default();
    if state
        .catalog
        .webhook_endpoints(&principal.tenant)
        .await?
        .len()
        >= MAX_ENDPOINTS
    {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_ENDPOINTS} webhook endpoints are allowed"
        )));
    }
    let secret = new_secret();
    let created = state
        .catalog
        .create_webhook_endpoint(&NewEndpoint {
            tenant: principal.tenant.clone(),
            url,
            secret: secret.clone(),
            event_types: events,
            description,
            now: Utc::now(),
        })
        .await?;
    let mut view = EndpointView::from(&created);
    view.secret = Some(secret);
    Ok((
        StatusCode::CREATED,
        Json(EndpointAnswer {
            success: true,
            endpoint: view,
        }),
    ))
}

/// Lists the tenant's endpoints.
#[utoipa::path(get, path = "/v2/webhooks", tag = "webhooks",
    security(("api_key" = [])),
    responses((status = 200, body = EndpointList), (status = 403, body = ErrorBody)))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<EndpointList>> {
    principal.authorize(Action::ManageWebhooks)?;
    let endpoints = state.catalog.webhook_endpoints(&principal.tenant).await?;
    Ok(Json(EndpointList {
        success: true,
        endpoints: endpoints.iter().map(EndpointView::from).collect(),
        event_types: EVENT_TYPES.iter().map(|t| t.to_string()).collect(),
    }))
}

#[utoipa::path(get, path = "/v2/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = EndpointAnswer), (status = 404, description = "Webhook endpoint not found", body = ErrorBody)))]
pub async fn get_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointAnswer>> {
    principal.authorize(Action::ManageWebhooks)?;
    let endpoint = state
        .catalog
        .webhook_endpoint(&principal.tenant, &id)
        .await?
        .ok_or_else(endpoint_not_found)?;
    Ok(Json(EndpointAnswer {
        success: true,
        endpoint: EndpointView::from(&endpoint),
    }))
}

/// Changes an endpoint: `url`, `events`, `description`, `enabled`.
#[utoipa::path(put, path = "/v2/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    request_body = EndpointRequest,
    security(("api_key" = [])),
    responses((status = 200, body = EndpointAnswer), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<EndpointAnswer>> {
    principal.authorize(Action::ManageWebhooks)?;
    let update = EndpointUpdate {
        url: body
            .text("url")
            .map(|u| target_url(&state, u, "url"))
            .transpose()?,
        event_types: event_types(&body)?,
        description: description(&body)?,
        enabled: match body.get("enabled") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(ApiError::bad_request("enabled must be true or false")),
        },
    };
    let endpoint = state
        .catalog
        .update_webhook_endpoint(&principal.tenant, &id, &update, Utc::now())
        .await?
        .ok_or_else(endpoint_not_found)?;
    if endpoint.enabled {
        // Deliveries that waited while it was disabled go out now.
        state.webhook_wakeup.notify_one();
    }
    Ok(Json(EndpointAnswer {
        success: true,
        endpoint: EndpointView::from(&endpoint),
    }))
}

#[utoipa::path(delete, path = "/v2/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = super::views::Done), (status = 404, body = ErrorBody)))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<super::views::Done>> {
    principal.authorize(Action::ManageWebhooks)?;
    if !state
        .catalog
        .delete_webhook_endpoint(&principal.tenant, &id, Utc::now())
        .await?
    {
        return Err(endpoint_not_found());
    }
    Ok(Json(super::views::Done::now()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Newest first, 1 to 200 (default 50).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: u32,
    pub at: String,
    /// The receiver's status code; absent when it could not be reached.
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    /// The endpoint it goes to; null for a per-request callback.
    pub endpoint_id: Option<String>,
    /// The `webhook-id` the receiver saw: the same for every attempt and every redelivery.
    pub event_id: String,
    pub event_type: String,
    pub url: String,
    /// pending, delivered or failed (given up).
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub log: Vec<AttemptView>,
}

fn delivery_view(d: &DeliveryRecord) -> DeliveryView {
    let at = |t: DateTime<Utc>| timestamp(t);
    DeliveryView {
        id: d.id.clone(),
        endpoint_id: d.endpoint_id.clone(),
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        url: d.url.clone(),
        status: d.status.clone(),
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at.map(at),
        last_error: d.last_error.clone(),
        created_at: at(d.created_at),
        log: d
            .log
            .iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                at: at(a.at),
                status_code: a.status_code,
                error: a.error.clone(),
                duration_ms: a.duration_ms,
            })
            .collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub success: bool,
    pub deliveries: Vec<DeliveryView>,
}

/// The delivery log of an endpoint, newest first, with every attempt.
#[utoipa::path(get, path = "/v2/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), DeliveryQuery),
    security(("api_key" = [])),
    responses((status = 200, body = DeliveryList), (status = 404, body = ErrorBody)))]
pub async fn endpoint_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<DeliveryList>> {
    principal.authorize(Action::ManageWebhooks)?;
    if state
        .catalog
        .webhook_endpoint(&principal.tenant, &id)
        .await?
        .is_none()
    {
        return Err(endpoint_not_found());
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let deliveries = state
        .catalog
        .webhook_deliveries(&principal.tenant, Some(&id), limit)
        .await?;
    Ok(Json(DeliveryList {
        success: true,
        deliveries: deliveries.iter().map(delivery_view).collect(),
    }))
}

/// Every delivery of the tenant, newest first: endpoints' and per-request callbacks'.
#[utoipa::path(get, path = "/v2/webhooks/deliveries", tag = "webhooks",
    params(DeliveryQuery),
    security(("api_key" = [])),
    responses((status = 200, body = DeliveryList), (status = 403, body = ErrorBody)))]
pub async fn all_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<DeliveryList>> {
    principal.authorize(Action::ManageWebhooks)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let deliveries = state
        .catalog
        .webhook_deliveries(&principal.tenant, None, limit)
        .await?;
    Ok(Json(DeliveryList {
        success: true,
        deliveries: deliveries.iter().map(delivery_view).collect(),
    }))
}

/// Sends a delivery again now (the same event id, so receivers can still drop duplicates).
#[utoipa::path(post, path = "/v2/webhooks/deliveries/{id}/redeliver", tag = "webhooks",
    params(("id" = String, Path)),
    security(("api_key" = [])),
    responses((status = 202, body = super::views::Done), (status = 404, description = "Delivery not found", body = ErrorBody)))]
pub async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<super::views::Done>)> {
    principal.authorize(Action::ManageWebhooks)?;
    if !state
        .catalog
        .redeliver(&principal.tenant, &id, Utc::now())
        .await?
    {
        return Err(ApiError::not_found("Delivery not found"));
    }
    state.webhook_wakeup.notify_one();
    Ok((StatusCode::ACCEPTED, Json(super::views::Done::now())))
}

#[derive(Serialize, ToSchema)]
pub struct CallbackSecret {
    pub success: bool,
    /// Signs every per-request `callback` of this tenant (`whsec_…`).
    pub secret: String,
}

/// The secret per-request callbacks are signed with.
#[utoipa::path(get, path = "/v2/webhooks/callback-secret", tag = "webhooks",
    security(("api_key" = [])),
    responses((status = 200, body = CallbackSecret), (status = 403, body = ErrorBody)))]
pub async fn callback_secret(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<CallbackSecret>> {
    principal.authorize(Action::ManageWebhooks)?;
    let secret = state
        .catalog
        .callback_secret(&principal.tenant, &new_secret)
        .await?;
    Ok(Json(CallbackSecret {
        success: true,
        secret,
    }))
}
