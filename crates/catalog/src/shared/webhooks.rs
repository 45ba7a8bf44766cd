// Webhooks: endpoints, the outbox of events with one delivery per target, the attempt log.

use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::CatalogResult, AttemptOutcome, AttemptRecord, CatalogError, ClientId, DeliveryRecord,
    DueDelivery, EndpointUpdate, NewEndpoint, NewEvent, WebhookEndpoint,
};

use super::{backend, lock_tenant, prep, write_tx, Conn, Pool};
use crate::time::{from_ms, to_ms};

const ENDPOINT_COLUMNS: &str = "id, tenant_id, url, event_types, description, enabled, \
     failure_streak, disabled_reason, created_at, updated_at";

type EndpointRow = (
    String,
    String,
    String,
    String,
    String,
    bool,
    i64,
    Option<String>,
    i64,
    i64,
);

fn endpoint(row: EndpointRow) -> CatalogResult<WebhookEndpoint> {
    let (id, tenant, url, types, description, enabled, streak, reason, created, updated) = row;
    Ok(WebhookEndpoint {
        id,
        tenant: ClientId::parse(&tenant)
            .map_err(|_| CatalogError::Backend("corrupt client id in catalog".into()))?,
        url,
        event_types: serde_json::from_str(&types)
            .map_err(|_| CatalogError::Backend("corrupt event types in catalog".into()))?,
        description,
        enabled,
        failure_streak: streak.max(0) as u32,
        disabled_reason: reason,
        created_at: from_ms(created),
        updated_at: from_ms(updated),
    })
}

fn types_json(types: &[String]) -> String {
    serde_json::to_string(types).expect("strings serialise")
}

pub async fn create(pool: &Pool, e: &NewEndpoint) -> CatalogResult<WebhookEndpoint> {
    let row: EndpointRow = sqlx::query_as(&prep(&format!(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, secret, event_types, description,
                                        enabled, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, TRUE, ?7, ?7)
         RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(e.tenant.as_str())
    .bind(&e.url)
    .bind(&e.secret)
    .bind(types_json(&e.event_types))
    .bind(&e.description)
    .bind(to_ms(e.now))
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    endpoint(row)
}

pub async fn list(pool: &Pool, tenant: &ClientId) -> CatalogResult<Vec<WebhookEndpoint>> {
    let rows: Vec<EndpointRow> = sqlx::query_as(&prep(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 ORDER BY created_at, id"
    )))
    .bind(tenant.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.into_iter().map(endpoint).collect()
}

async fn find(
    conn: &mut Conn,
    tenant: &ClientId,
    id: &str,
) -> CatalogResult<Option<WebhookEndpoint>> {
    let row: Option<EndpointRow> = sqlx::query_as(&prep(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2"
    )))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(backend)?;
    row.map(endpoint).transpose()
}

pub async fn get(
    pool: &Pool,
    tenant: &ClientId,
    id: &str,
) -> CatalogResult<Option<WebhookEndpoint>> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    find(&mut conn, tenant, id).await
}

pub async fn update(
    pool: &Pool,
    tenant: &ClientId,
    id: &str,
    u: &EndpointUpdate,
    now: DateTime<Utc>,
) -> CatalogResult<Option<WebhookEndpoint>> {
    let mut tx = write_tx(pool).await?;
    lock_tenant(&mut tx, tenant).await?;
    // One statement, so a failure counted meanwhile is neither lost nor undone. Enabling starts
    // the count afresh; disabling by hand names no failure.
    sqlx::query(&prep(
        "UPDATE webhook_endpoints SET
             url = COALESCE(?1, url),
             event_types = COALESCE(?2, event_types),
             description = COALESCE(?3, description),
             enabled = COALESCE(?4, enabled),
             failure_streak = CASE WHEN ?4 = TRUE THEN 0 ELSE failure_streak END,
             disabled_reason = CASE WHEN ?4 IS NULL THEN disabled_reason
                                    WHEN ?4 = TRUE THEN NULL
                                    ELSE 'disabled by a user' END,
             updated_at = ?5
         WHERE id = ?6 AND tenant_id = ?7",
    ))
    .bind(u.url.as_deref())
    .bind(u.event_types.as_deref().map(types_json))
    .bind(u.description.as_deref())
    .bind(u.enabled)
    .bind(to_ms(now))
    .bind(id)
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let updated = find(&mut tx, tenant, id).await?;
    tx.commit().await.map_err(backend)?;
    Ok(updated)
}

pub async fn delete(
    pool: &Pool,
    tenant: &ClientId,
    id: &str,
    now: DateTime<Utc>,
) -> CatalogResult<bool> {
    let mut tx = write_tx(pool).await?;
    // The tenant's lock orders this against `enqueue`: no delivery is queued for a deleted
    // endpoint. Its waiting deliveries are given up.
    lock_tenant(&mut tx, tenant).await?;
    sqlx::query(&prep(
        "UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint deleted',
                claim_until = NULL, updated_at = ?1
         WHERE endpoint_id = ?2 AND tenant_id = ?3 AND status = 'pending'",
    ))
    .bind(to_ms(now))
    .bind(id)
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let gone = sqlx::query(&prep(
        "DELETE FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2",
    ))
    .bind(id)
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(gone.rows_affected() == 1)
}

pub async fn callback_secret(
    pool: &Pool,
    tenant: &ClientId,
    generate: &(dyn Fn() -> String + Sync),
) -> CatalogResult<String> {
    sqlx::query(&prep(
        "INSERT INTO webhook_tenant_secrets (tenant_id, secret) VALUES (?1, ?2)
         ON CONFLICT (tenant_id) DO NOTHING",
    ))
    .bind(tenant.as_str())
    .bind(generate())
    .execute(pool)
    .await
    .map_err(backend)?;
    sqlx::query_scalar(&prep(
        "SELECT secret FROM webhook_tenant_secrets WHERE tenant_id = ?1",
    ))
    .bind(tenant.as_str())
    .fetch_one(pool)
    .await
    .map_err(backend)
}

pub async fn enqueue(pool: &Pool, e: &NewEvent) -> CatalogResult<usize> {
    let mut tx = write_tx(pool).await?;
    lock_tenant(&mut tx, &e.tenant).await?;
    let targets = enqueue_in(&mut tx, e).await?;
    tx.commit().await.map_err(backend)?;
    Ok(targets)
}

/// Writes an event and its deliveries in the caller's transaction, which holds the tenant's lock
/// (so no endpoint is deleted meanwhile).
pub(super) async fn enqueue_in(conn: &mut Conn, e: &NewEvent) -> CatalogResult<usize> {
    let now = to_ms(e.now);
    // Disabled endpoints get their deliveries too: they wait, and go out once it is enabled.
    let endpoints: Vec<(String, String, String)> = sqlx::query_as(&prep(
        "SELECT id, url, event_types FROM webhook_endpoints WHERE tenant_id = ?1",
    ))
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
    sqlx::query(&prep(
        "INSERT INTO webhook_events (id, tenant_id, event_type, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    ))
    .bind(&e.id)
    .bind(e.tenant.as_str())
    .bind(&e.event_type)
    .bind(&e.payload)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    for (endpoint, url) in &targets {
        sqlx::query(&prep(
            "INSERT INTO webhook_deliveries (id, event_id, tenant_id, kind, endpoint_id, url, status,
                                             next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7, ?7)",
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&e.id)
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

#[derive(sqlx::FromRow)]
struct DueRow {
    event_id: String,
    url: String,
    payload: String,
    attempts: i64,
    endpoint_id: Option<String>,
    endpoint_secret: Option<String>,
    tenant_secret: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    at: i64,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

// ?1: the new claim, ?2: now.
const DUE: &str = "d.status = 'pending' AND d.next_attempt_at <= ?2
     AND (d.claim_until IS NULL OR d.claim_until < ?2)
     AND (d.kind = 'callback'
          OR EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.enabled = TRUE))";

pub async fn claim(
    pool: &Pool,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u32,
) -> CatalogResult<Vec<DueDelivery>> {
    let claimed: Vec<String> = sqlx::query_scalar(&prep(&format!(
        "UPDATE webhook_deliveries SET claim_until = ?1
         WHERE id IN (SELECT d.id FROM webhook_deliveries d WHERE {DUE}
                      ORDER BY d.next_attempt_at, d.created_at LIMIT ?3)
           AND status = 'pending' AND (claim_until IS NULL OR claim_until < ?2)
         RETURNING id"
    )))
    .bind(to_ms(until))
    .bind(to_ms(now))
    .bind(limit as i64)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut due = Vec::with_capacity(claimed.len());
    for id in claimed {
        let row: Option<DueRow> = sqlx::query_as(&prep(
            "SELECT d.event_id, COALESCE(e.url, d.url) AS url, ev.payload, d.attempts,
                    d.endpoint_id, e.secret AS endpoint_secret, s.secret AS tenant_secret
             FROM webhook_deliveries d
             JOIN webhook_events ev ON ev.id = d.event_id
             LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id
             LEFT JOIN webhook_tenant_secrets s ON s.tenant_id = d.tenant_id
             WHERE d.id = ?1",
        ))
        .bind(&id)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            continue;
        };
        let secret = match &row.endpoint_id {
            Some(_) => row.endpoint_secret.clone(),
            None => row.tenant_secret.clone(),
        };
        let Some(secret) = secret else {
            // Nothing to sign it with: give it up rather than stall every claim after it.
            sqlx::query(&prep(
                "UPDATE webhook_deliveries SET status = 'failed', claim_until = NULL,
                        last_error = 'no signing secret', updated_at = ?1
                 WHERE id = ?2",
            ))
            .bind(to_ms(now))
            .bind(&id)
            .execute(pool)
            .await
            .map_err(backend)?;
            continue;
        };
        due.push(DueDelivery {
            id,
            event_id: row.event_id,
            url: row.url,
            payload: row.payload,
            secret,
            attempts: row.attempts.max(0) as u32,
            endpoint_id: row.endpoint_id,
        });
    }
    Ok(due)
}

pub async fn record(
    pool: &Pool,
    delivery: &str,
    claimed_until: DateTime<Utc>,
    o: &AttemptOutcome,
) -> CatalogResult<bool> {
    let mut tx = write_tx(pool).await?;
    let (status, next) = match (o.delivered, o.retry_at) {
        (true, _) => ("delivered", None),
        (false, Some(at)) => ("pending", Some(to_ms(at))),
        (false, None) => ("failed", None),
    };
    let moved: Option<(i64, Option<String>)> = sqlx::query_as(&prep(
        "UPDATE webhook_deliveries SET status = ?1, attempts = attempts + 1,
                next_attempt_at = COALESCE(?2, next_attempt_at), claim_until = NULL,
                last_error = ?3, updated_at = ?4
         WHERE id = ?5 AND claim_until = ?6
         RETURNING attempts, endpoint_id",
    ))
    .bind(status)
    .bind(next)
    .bind(o.error.as_deref())
    .bind(to_ms(o.at))
    .bind(delivery)
    .bind(to_ms(claimed_until))
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some((attempt, endpoint)) = moved else {
        return Ok(false);
    };
    sqlx::query(&prep(
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    ))
    .bind(delivery)
    .bind(attempt)
    .bind(to_ms(o.at))
    .bind(o.status_code.map(i64::from))
    .bind(o.error.as_deref())
    .bind(o.duration_ms as i64)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if let Some(endpoint) = endpoint {
        if o.delivered {
            sqlx::query(&prep(
                "UPDATE webhook_endpoints SET failure_streak = 0 WHERE id = ?1",
            ))
            .bind(&endpoint)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        } else {
            sqlx::query(&prep(
                "UPDATE webhook_endpoints SET failure_streak = failure_streak + 1,
                        enabled = CASE WHEN failure_streak + 1 >= ?1 THEN FALSE ELSE enabled END,
                        disabled_reason = CASE WHEN failure_streak + 1 >= ?1 AND enabled
                                               THEN ?2 ELSE disabled_reason END,
                        updated_at = ?3
                 WHERE id = ?4",
            ))
            .bind(o.disable_after as i64)
            .bind(format!(
                "disabled after {} failed attempts in a row",
                o.disable_after
            ))
            .bind(to_ms(o.at))
            .bind(&endpoint)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
    }
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

type DeliveryRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    i64,
    Option<String>,
    i64,
);

pub async fn deliveries(
    pool: &Pool,
    tenant: &ClientId,
    endpoint: Option<&str>,
    limit: u32,
) -> CatalogResult<Vec<DeliveryRecord>> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(&prep(
        "SELECT d.id, d.event_id, ev.event_type, d.endpoint_id, d.url, d.status, d.attempts,
                d.next_attempt_at, d.last_error, d.created_at
         FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
         WHERE d.tenant_id = ?1 AND (?2 = '' OR d.endpoint_id = ?2)
         ORDER BY d.created_at DESC, d.id LIMIT ?3",
    ))
    .bind(tenant.as_str())
    .bind(endpoint.unwrap_or(""))
    .bind(limit as i64)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, event_id, event_type, endpoint_id, url, status, attempts, next, last_error, created) in
        rows
    {
        let log: Vec<AttemptRow> = sqlx::query_as(&prep(
            "SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts
             WHERE delivery_id = ?1 ORDER BY attempt",
        ))
        .bind(&id)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        out.push(DeliveryRecord {
            next_attempt_at: (status == "pending").then(|| from_ms(next)),
            id,
            event_id,
            event_type,
            endpoint_id,
            url,
            status,
            attempts: attempts.max(0) as u32,
            last_error,
            created_at: from_ms(created),
            log: log
                .into_iter()
                .map(|a| AttemptRecord {
                    attempt: a.attempt as u32,
                    at: from_ms(a.at),
                    status_code: a.status_code.map(|c| c as u16),
                    error: a.error,
                    duration_ms: a.duration_ms.max(0) as u64,
                })
                .collect(),
        });
    }
    Ok(out)
}

pub async fn redeliver(
    pool: &Pool,
    tenant: &ClientId,
    delivery: &str,
    now: DateTime<Utc>,
) -> CatalogResult<bool> {
    let done = sqlx::query(&prep(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?1, claim_until = NULL,
                updated_at = ?1
         WHERE id = ?2 AND tenant_id = ?3 AND (kind = 'callback' OR endpoint_id IS NOT NULL)",
    ))
    .bind(to_ms(now))
    .bind(delivery)
    .bind(tenant.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}
