// The webhook outbox as other aggregates write to it: an event and its deliveries, in the
// transaction of the change it announces.

use mediadrive_core::{catalog::CatalogResult, NewEvent};

use super::{backend, Conn};
use crate::time::to_ms;

/// Writes an event and its deliveries in the caller's transaction, which holds the tenant's lock
/// (so no endpoint is deleted meanwhile).
pub async fn enqueue_in(conn: &mut Conn, e: &NewEvent) -> CatalogResult<usize> {
    let now = to_ms(e.now);
    // Disabled endpoints get their deliveries too: they wait, and go out once it is enabled.
    let endpoints: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, url, event_types FROM webhook_endpoints WHERE tenant_id = $1")
            .bind(e.tenant.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
    let mut targets: Vec<(Option<String>, String)> = endpoints
        .into_iter()
        .filter(|(_, _, types)| {
            let types: Vec<String> = serde_json::from_str(types).unwrap_or_default();
            types.is_empty() || types.contains(&e.event_type)
        })
        .map(|(id, url, _)| (Some(id), url))
        .collect();
    if let Some(callback) = &e.callback {
        targets.push((None, callback.clone()));
    }
    // An event nobody listens to is not kept.
    if targets.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "INSERT INTO webhook_events (id, tenant_id, event_type, payload, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(e.id.as_str())
    .bind(e.tenant.as_str())
    .bind(&e.event_type)
    .bind(&e.payload)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    for (endpoint, url) in &targets {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, event_id, tenant_id, kind, endpoint_id, url, status,
                                             next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7, $7)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(e.id.as_str())
        .bind(e.tenant.as_str())
        .bind(if endpoint.is_some() { "endpoint" } else { "callback" })
        .bind(endpoint.as_deref())
        .bind(url)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    Ok(targets.len())
}
