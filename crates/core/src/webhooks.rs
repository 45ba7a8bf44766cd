//! Webhooks: endpoints a tenant registers, events written to a durable outbox, and their delivery
//! (Standard Webhooks signatures, retries with backoff, a log of every attempt).

use chrono::{DateTime, Utc};

use crate::{ClientId, DeliveryId, EndpointId, EventId};

/// The events mediadrive emits; endpoints subscribe to some or all of them.
pub const EVENT_TYPES: &[&str] = &[
    "file.uploaded",
    "file.deleted",
    "preload.item.ready",
    "preload.item.failed",
    "preload.completed",
    "asset.hosted",
    "asset.failed",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: EndpointId,
    pub tenant: ClientId,
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub failure_streak: u32,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub tenant: ClientId,
    pub url: String,
    pub secret: String,
    pub event_types: Vec<String>,
    pub description: String,
    pub now: DateTime<Utc>,
    /// Endpoints the tenant may have, counted with the creation (`TooManyEndpoints` beyond);
    /// 0 leaves them unbounded.
    pub max_endpoints: u32,
}

/// A change to an endpoint; `None` fields stay. Enabling clears the failure streak.
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// An event for the outbox: delivered to every enabled endpoint of the tenant that wants its type,
/// and to `callback` (a per-request URL) if given.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: EventId,
    pub tenant: ClientId,
    pub event_type: String,
    /// The exact body every target receives.
    pub payload: String,
    pub callback: Option<String>,
    pub now: DateTime<Utc>,
}

/// A delivery claimed for sending, with what signing and sending it needs.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub url: String,
    pub payload: String,
    pub secret: String,
    /// The secret a rotation replaced, while it still signs beside `secret`.
    pub previous_secret: Option<String>,
    /// Attempts made before this one.
    pub attempts: u32,
    pub endpoint_id: Option<EndpointId>,
}

/// How one attempt went.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub delivered: bool,
    /// When to try again after a failure; `None` gives up.
    pub retry_at: Option<DateTime<Utc>>,
    /// Failed attempts in a row after which the endpoint is disabled.
    pub disable_after: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub event_type: String,
    pub endpoint_id: Option<EndpointId>,
    pub url: String,
    /// pending, delivered or failed.
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub log: Vec<AttemptRecord>,
}
