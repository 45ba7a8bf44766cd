//! Webhook delivery, one mechanism for the whole product: events (built here, `event`) go to a
//! durable outbox in the catalog, written in the transaction of the change they announce, and a
//! worker on every node claims due deliveries and POSTs them, signed as
//! Standard Webhooks sign (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,…`), retried
//! on a backoff schedule with jitter. At least once: a node that dies mid-delivery loses its
//! claim, and another node sends again; receivers drop duplicates by `webhook-id`.

pub mod endpoints;

use std::time::{Duration, Instant};

use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use mediadrive_core::{AttemptOutcome, ClientId, DueDelivery, EventId, FileRecord, NewEvent};
use rand::{Rng, RngCore};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{
    claimed::{Claimed, Settings},
    error::{AppError, AppResult},
    worker::Worker,
    App,
};

/// Deliveries one node sends at once.
const SLOTS: usize = 8;

/// A new Standard Webhooks secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's key.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The event announcing a change to a file (`file.uploaded`, `file.deleted`), for the catalog to
/// write in the change's own transaction.
pub fn file_event(state: &App, event_type: &str, file: &FileRecord) -> NewEvent {
    let data = json!({
        "client_id": file.tenant,
        "path": file.path(),
        "folder": file.folder.as_str(),
        "name": file.name.as_str(),
        "url": state.record_url(file),
        "size": file.size,
        "contentType": file.content_type,
    });
    event(&file.tenant, event_type, data, None)
}

/// An event for the outbox: the body every target receives, and the callback it also goes to.
pub fn event(tenant: &ClientId, event_type: &str, data: Value, callback: Option<&str>) -> NewEvent {
    let now = Utc::now();
    NewEvent {
        id: EventId::from_random(rand::thread_rng().gen()),
        tenant: tenant.clone(),
        event_type: event_type.to_string(),
        payload: json!({
            "type": event_type,
            "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
        })
        .to_string(),
        callback: callback.map(str::to_string),
        now,
    }
}

/// Runs until shutdown: claims as many due deliveries as there are free slots and sends each on
/// its own, so a slow receiver holds up only its own slot.
pub fn deliverer(state: &App) -> impl Worker {
    let settings = Settings {
        slots: SLOTS,
        // A send ends within the timeout; a node that dies mid-send frees its claim soon after.
        claim_for: Duration::from_secs(state.config.webhooks.timeout_secs)
            + Duration::from_secs(10),
        wakeup: state.wakeups.webhooks.clone(),
        what: "webhook deliveries",
    };
    Claimed::new(
        settings,
        |state, now, until, limit| async move {
            let per_tenant = state.config.webhooks.deliveries_per_tenant;
            state
                .catalog
                .claim_deliveries(now, until, limit, per_tenant)
                .await
        },
        |state, delivery, until| async move { deliver(&state, delivery, until).await },
    )
}

/// When to try again after `attempts` failed ones; `None` once the schedule is spent.
fn retry_at(state: &App, attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let base = *state
        .config
        .webhooks
        .retry_schedule_secs
        .get(attempts as usize - 1)?;
    // Up to 20 % later, so receivers coming back up are not hit by every retry at the same
    // instant; never earlier, so the schedule's span (about 28 hours by default) is a minimum.
    let factor = rand::thread_rng().gen_range(1.0..1.2);
    Some(now + Duration::from_secs_f64(base as f64 * factor))
}

async fn deliver(state: &App, d: DueDelivery, claimed_until: DateTime<Utc>) {
    let timestamp = Utc::now().timestamp();
    let started = Instant::now();
    // During a rotation's overlap both secrets sign: a receiver that knows either accepts it.
    let signatures: Option<Vec<String>> = std::iter::once(&d.secret)
        .chain(d.previous_secret.as_ref())
        .map(|secret| sign(secret, d.event_id.as_str(), timestamp, &d.payload))
        .collect();
    let result = match signatures.map(|list| list.join(" ")) {
        None => Err("the signing secret is malformed".to_string()),
        Some(signature) => {
            let headers = [
                ("content-type", "application/json".to_string()),
                ("webhook-id", d.event_id.to_string()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ];
            state
                .webhook_sender
                .post(&d.url, &headers, d.payload.clone())
                .await
                .map_err(|e| e.to_string())
        }
    };
    let (delivered, status_code, error) = match result {
        Ok(code) if (200..300).contains(&code) => (true, Some(code), None),
        Ok(code) => (
            false,
            Some(code),
            Some(format!("the receiver answered {code}")),
        ),
        Err(e) => (false, None, Some(e)),
    };
    crate::metrics::webhook_attempt(delivered);
    let at = Utc::now();
    let outcome = AttemptOutcome {
        at,
        status_code,
        error,
        duration_ms: started.elapsed().as_millis() as u64,
        delivered,
        retry_at: if delivered {
            None
        } else {
            retry_at(state, d.attempts + 1, at)
        },
        disable_after: state.config.webhooks.disable_after_failures,
    };
    if let Err(e) = state
        .catalog
        .record_attempt(&d.id, claimed_until, &outcome)
        .await
    {
        tracing::warn!(delivery = %d.id, error = %e, "could not log a webhook attempt; it is sent again");
    }
}

/// Checks a URL events will be sent to: the seed's wording for a missing field, the fetch policy
/// for where it points (names are checked again when each delivery resolves them).
pub fn target_url(state: &App, url: &str, field: &str) -> AppResult<String> {
    let parsed = url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| AppError::bad_request(format!("{field} must be an http or https URL")))?;
    state
        .webhook_sender
        .check_url(parsed.as_str())
        .map_err(|e| AppError::bad_request(format!("{field}: {e}")))?;
    Ok(parsed.to_string())
}

/// The `callback` of a request (a preload, a render): a URL told of its outcomes, signed with the
/// tenant's callback secret, which is made here on first use.
pub async fn callback(state: &App, tenant: &ClientId, url: &str) -> AppResult<String> {
    let url = target_url(state, url, "callback")?;
    state.catalog.callback_secret(tenant, &new_secret).await?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert!(sign("no-prefix", id, 1, body).is_none());
    }
}
