//! `/v2/webhooks`: endpoints a tenant registers for events, the log of their deliveries, manual
//! redelivery, and the secret per-request callbacks are signed with. Manager and above.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use mediadrive_core::{DeliveryRecord, EndpointId, WebhookEndpoint, EVENT_TYPES};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::views::timestamp;
use crate::http::body::JsonObject;
use crate::{
    auth::{can, Authorized, Principal},
    error::{ApiError, ApiResult, ErrorBody},
    App,
};
use mediadrive_app::webhooks::{
    endpoints::{self, EndpointFields},
    new_secret,
};

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
            id: e.id.to_string(),
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

/// The `callback` of a request (a preload, a render): a URL told of its outcomes, signed with the
/// tenant's callback secret, which is made here on first use.
pub(crate) async fn callback(
    state: &App,
    principal: &Principal,
    body: &JsonObject,
) -> ApiResult<Option<String>> {
    match body.get("callback") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(url)) => Ok(Some(
            mediadrive_app::webhooks::callback(state, &principal.tenant, url).await?,
        )),
        Some(_) => Err(ApiError::bad_request(
            "callback must be an http or https URL",
        )),
    }
}

/// The endpoint fields of a body, as far as their JSON types go; `endpoints` checks the rest.
fn fields(body: &JsonObject) -> ApiResult<EndpointFields> {
    let events = match body.get("events") {
        None | Some(Value::Null) => None,
        // An item that is no string is kept as its JSON text, which names no event type.
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect(),
        ),
        Some(_) => {
            return Err(ApiError::bad_request(
                "events must be a list of event types",
            ))
        }
    };
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::bad_request("enabled must be true or false")),
    };
    Ok(EndpointFields {
        url: body.text("url").map(str::to_string),
        events,
        description: body.raw_text("description").map(str::to_string),
        enabled,
    })
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<EndpointAnswer>)> {
    let url = body.required("url")?;
    let (created, secret) =
        endpoints::create(&state, &principal.tenant, url, fields(&body)?).await?;
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
) -> ApiResult<Json<EndpointList>> {
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointAnswer>> {
    let endpoint = endpoints::endpoint(&state, &principal.tenant, &id).await?;
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<EndpointAnswer>> {
    let endpoint = endpoints::update(&state, &principal.tenant, &id, fields(&body)?).await?;
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
    Path(id): Path<String>,
) -> ApiResult<Json<super::views::Done>> {
    endpoints::delete(&state, &principal.tenant, &id).await?;
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
        id: d.id.to_string(),
        endpoint_id: d.endpoint_id.as_ref().map(EndpointId::to_string),
        event_id: d.event_id.to_string(),
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<DeliveryList>> {
    let id = endpoints::endpoint(&state, &principal.tenant, &id)
        .await?
        .id;
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<DeliveryList>> {
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<super::views::Done>)> {
    endpoints::redeliver(&state, &principal.tenant, &id).await?;
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
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
) -> ApiResult<Json<CallbackSecret>> {
    let secret = state
        .catalog
        .callback_secret(&principal.tenant, &new_secret)
        .await?;
    Ok(Json(CallbackSecret {
        success: true,
        secret,
    }))
}

/// Gives the callback secret a new value, shown here; the old one keeps signing beside it for
/// 24 hours (`webhook-signature` then carries both), so receivers switch without a gap.
#[utoipa::path(post, path = "/v2/webhooks/callback-secret", tag = "webhooks",
    security(("api_key" = [])),
    responses((status = 200, body = CallbackSecret), (status = 403, body = ErrorBody)))]
pub async fn rotate_callback_secret(
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
) -> ApiResult<Json<CallbackSecret>> {
    let secret = endpoints::rotate_callback_secret(&state, &principal.tenant).await?;
    Ok(Json(CallbackSecret {
        success: true,
        secret,
    }))
}

/// Gives an endpoint a new signing secret, shown in this answer only; the old one keeps signing
/// beside it for 24 hours (`webhook-signature` then carries both).
#[utoipa::path(post, path = "/v2/webhooks/{id}/secret", tag = "webhooks",
    params(("id" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = EndpointAnswer), (status = 404, description = "Webhook endpoint not found", body = ErrorBody)))]
pub async fn rotate_endpoint_secret(
    State(state): State<App>,
    principal: Authorized<can::ManageWebhooks>,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointAnswer>> {
    let (endpoint, secret) = endpoints::rotate_secret(&state, &principal.tenant, &id).await?;
    let mut view = EndpointView::from(&endpoint);
    view.secret = Some(secret);
    Ok(Json(EndpointAnswer {
        success: true,
        endpoint: view,
    }))
}
