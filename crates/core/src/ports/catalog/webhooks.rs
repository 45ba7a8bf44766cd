//! Webhooks: the endpoints tenants register, and the outbox of deliveries to them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::CatalogResult;
use crate::{
    AttemptOutcome, ClientId, DeliveryId, DeliveryRecord, DueDelivery, EndpointId, EndpointUpdate,
    NewEndpoint, NewEvent, WebhookEndpoint,
};

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook_endpoint(
        &self,
        endpoint: &NewEndpoint,
    ) -> CatalogResult<WebhookEndpoint>;
    async fn webhook_endpoints(&self, tenant: &ClientId) -> CatalogResult<Vec<WebhookEndpoint>>;
    async fn webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &EndpointId,
    ) -> CatalogResult<Option<WebhookEndpoint>>;
    async fn update_webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &EndpointId,
        update: &EndpointUpdate,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<WebhookEndpoint>>;
    /// Deletes an endpoint; its deliveries still waiting are given up. False when there was none.
    async fn delete_webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &EndpointId,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool>;
    /// The tenant's secret for per-request callbacks, created with `generate` the first time.
    async fn callback_secret(
        &self,
        tenant: &ClientId,
        generate: &(dyn Fn() -> String + Sync),
    ) -> CatalogResult<String>;
    /// Gives endpoint `id` the signing secret `secret`; the one it had still signs beside it
    /// until `previous_until`. `None` when the tenant has no such endpoint.
    async fn rotate_endpoint_secret(
        &self,
        tenant: &ClientId,
        id: &EndpointId,
        secret: &str,
        previous_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<WebhookEndpoint>>;
    /// The same for the tenant's callback secret (made now if it had none).
    async fn rotate_callback_secret(
        &self,
        tenant: &ClientId,
        secret: &str,
        previous_until: DateTime<Utc>,
    ) -> CatalogResult<()>;
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Writes an event to the outbox with a delivery per target; returns how many targets.
    async fn enqueue_event(&self, event: &NewEvent) -> CatalogResult<usize>;
    /// Claims up to `limit` deliveries that are due, until `until`, oldest first, but never so
    /// many of one tenant's that it has more than `per_tenant` claimed at once (on every node):
    /// a tenant whose receiver is slow holds its share of the senders, not all of them.
    /// Deliveries of a disabled endpoint wait until it is enabled again.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        per_tenant: u32,
    ) -> CatalogResult<Vec<DueDelivery>>;
    /// Logs an attempt and moves the delivery on, if the claim lasting `claimed_until` is still
    /// its own. Failures count against the endpoint, which is disabled after a run of them.
    async fn record_attempt(
        &self,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        outcome: &AttemptOutcome,
    ) -> CatalogResult<bool>;
    /// The newest deliveries of a tenant (of one endpoint, if given), with their attempts.
    async fn webhook_deliveries(
        &self,
        tenant: &ClientId,
        endpoint: Option<&EndpointId>,
        limit: u32,
    ) -> CatalogResult<Vec<DeliveryRecord>>;
    /// Sends a delivery again as soon as possible, whatever became of it. False when there is none.
    async fn redeliver(
        &self,
        tenant: &ClientId,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool>;
}
