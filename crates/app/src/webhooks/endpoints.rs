//! The endpoints a tenant registers for events, and redelivery: the rules they are kept to.

use chrono::Utc;
use mediadrive_core::{
    ClientId, DeliveryId, EndpointId, EndpointUpdate, NewEndpoint, WebhookEndpoint, EVENT_TYPES,
};

use super::{new_secret, target_url};
use crate::{
    config::MAX_WEBHOOK_ENDPOINTS,
    error::{AppError, AppResult},
    App,
};

const MAX_DESCRIPTION: usize = 500;

fn endpoint_not_found() -> AppError {
    AppError::not_found("Webhook endpoint not found")
}

/// What a client asks an endpoint to be; on an update, `None` leaves a field as it is.
#[derive(Default)]
pub struct EndpointFields {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl EndpointFields {
    fn checked(self, state: &App) -> AppResult<EndpointUpdate> {
        let url = self.url.map(|u| target_url(state, &u, "url")).transpose()?;
        if self
            .events
            .iter()
            .flatten()
            .any(|t| !EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(AppError::bad_request(format!(
                "events may hold only {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            return Err(AppError::bad_request(format!(
                "description must be at most {MAX_DESCRIPTION} characters"
            )));
        }
        Ok(EndpointUpdate {
            url,
            event_types: self.events,
            description: self.description,
            enabled: self.enabled,
        })
    }
}

/// Registers an endpoint; returns it with its signing secret, which is shown this once.
pub async fn create(
    state: &App,
    tenant: &ClientId,
    url: &str,
    fields: EndpointFields,
) -> AppResult<(WebhookEndpoint, String)> {
    let fields = EndpointFields {
        url: Some(url.to_string()),
        ..fields
    }
    .checked(state)?;
    let secret = new_secret();
    let created = state
        .catalog
        .create_webhook_endpoint(&NewEndpoint {
            tenant: tenant.clone(),
            url: fields.url.unwrap_or_default(),
            secret: secret.clone(),
            event_types: fields.event_types.unwrap_or_default(),
            description: fields.description.unwrap_or_default(),
            now: Utc::now(),
            max_endpoints: MAX_WEBHOOK_ENDPOINTS,
        })
        .await?;
    Ok((created, secret))
}

/// Changes an endpoint. The fields are checked before the id, as for an unknown id: a malformed
/// id names no endpoint.
pub async fn update(
    state: &App,
    tenant: &ClientId,
    id: &str,
    fields: EndpointFields,
) -> AppResult<WebhookEndpoint> {
    let update = fields.checked(state)?;
    let id = EndpointId::parse(id).map_err(|_| endpoint_not_found())?;
    let endpoint = state
        .catalog
        .update_webhook_endpoint(tenant, &id, &update, Utc::now())
        .await?
        .ok_or_else(endpoint_not_found)?;
    if endpoint.enabled {
        // Deliveries that waited while it was disabled go out now.
        state.wakeups.webhooks.notify_one();
    }
    Ok(endpoint)
}

/// The tenant's endpoint `id`.
pub async fn endpoint(state: &App, tenant: &ClientId, id: &str) -> AppResult<WebhookEndpoint> {
    let id = EndpointId::parse(id).map_err(|_| endpoint_not_found())?;
    state
        .catalog
        .webhook_endpoint(tenant, &id)
        .await?
        .ok_or_else(endpoint_not_found)
}

pub async fn delete(state: &App, tenant: &ClientId, id: &str) -> AppResult<()> {
    let id = EndpointId::parse(id).map_err(|_| endpoint_not_found())?;
    match state
        .catalog
        .delete_webhook_endpoint(tenant, &id, Utc::now())
        .await?
    {
        true => Ok(()),
        false => Err(endpoint_not_found()),
    }
}

/// How long a replaced signing secret still signs beside the new one: a day, as Svix and the
/// Standard Webhooks libraries give receivers to switch.
const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// Gives endpoint `id` a new signing secret, shown this once; the old one signs beside it for a
/// day.
pub async fn rotate_secret(
    state: &App,
    tenant: &ClientId,
    id: &str,
) -> AppResult<(WebhookEndpoint, String)> {
    let id = EndpointId::parse(id).map_err(|_| endpoint_not_found())?;
    let secret = new_secret();
    let now = Utc::now();
    let endpoint = state
        .catalog
        .rotate_endpoint_secret(tenant, &id, &secret, now + ROTATION_OVERLAP, now)
        .await?
        .ok_or_else(endpoint_not_found)?;
    Ok((endpoint, secret))
}

/// Gives the tenant a new callback secret; the old one signs beside it for a day.
pub async fn rotate_callback_secret(state: &App, tenant: &ClientId) -> AppResult<String> {
    let secret = new_secret();
    let until = Utc::now() + ROTATION_OVERLAP;
    state
        .catalog
        .rotate_callback_secret(tenant, &secret, until)
        .await?;
    Ok(secret)
}

/// Sends delivery `id` again now, under the same event id.
pub async fn redeliver(state: &App, tenant: &ClientId, id: &str) -> AppResult<()> {
    let not_found = || AppError::not_found("Delivery not found");
    let id = DeliveryId::parse(id).map_err(|_| not_found())?;
    if !state.catalog.redeliver(tenant, &id, Utc::now()).await? {
        return Err(not_found());
    }
    state.wakeups.webhooks.notify_one();
    Ok(())
}
