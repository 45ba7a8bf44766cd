// Webhook deliveries: the outbox of events, claimed and attempted by any node, retried with a
// backoff, and the log of attempts tenants read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, DeliveryStore},
    AttemptOutcome, AttemptRecord, ClientId, DeliveryId, DeliveryRecord, DueDelivery, EndpointId,
    NewEvent,
};

use super::{
    backend, lock_tenant,
    rows::{stored_id, stored_opt_id},
    steps::outbox,
    write_tx, Backend,
};
use crate::time::{from_ms, to_ms};

#[derive(sqlx::FromRow)]
struct DueRow {
    event_id: String,
    url: String,
    payload: String,
    attempts: i64,
    endpoint_id: Option<String>,
    endpoint_secret: Option<String>,
    tenant_secret: Option<String>,
    /// The secret each had before its last rotation, while it still signs.
    endpoint_previous: Option<String>,
    tenant_previous: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    at: i64,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

// $1: the new claim, $2: now.
const DUE: &str = "d.status = 'pending' AND d.next_attempt_at <= $2
     AND (d.claim_until IS NULL OR d.claim_until < $2)
     AND (d.kind = 'callback'
          OR EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.enabled = TRUE))";

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

#[async_trait]
impl DeliveryStore for Backend {
    async fn enqueue_event(&self, e: &NewEvent) -> CatalogResult<usize> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &e.tenant).await?;
        let targets = outbox::enqueue_in(&mut tx, e).await?;
        tx.commit().await.map_err(backend)?;
        Ok(targets)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        per_tenant: u32,
    ) -> CatalogResult<Vec<DueDelivery>> {
        let pool = &self.pool;
        // Each tenant's due deliveries are ranked; one is taken only while its rank and the
        // tenant's claims in flight stay within its share.
        let claimed: Vec<String> = sqlx::query_scalar(&format!(
            "UPDATE webhook_deliveries SET claim_until = $1
             WHERE id IN (
                 SELECT id FROM (
                     SELECT d.id, d.next_attempt_at, d.created_at,
                            ROW_NUMBER() OVER (PARTITION BY d.tenant_id
                                ORDER BY d.next_attempt_at, d.created_at, d.id) AS rank,
                            (SELECT COUNT(*) FROM webhook_deliveries busy
                              WHERE busy.tenant_id = d.tenant_id AND busy.status = 'pending'
                                AND busy.claim_until >= $2) AS in_flight
                     FROM webhook_deliveries d WHERE {DUE}) fair
                 WHERE rank + in_flight <= $4
                 ORDER BY next_attempt_at, created_at LIMIT $3)
               AND status = 'pending' AND (claim_until IS NULL OR claim_until < $2)
             RETURNING id"
        ))
        .bind(to_ms(until))
        .bind(to_ms(now))
        .bind(limit as i64)
        .bind(i64::from(per_tenant))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        let mut due = Vec::with_capacity(claimed.len());
        for id in claimed {
            let row: Option<DueRow> = sqlx::query_as(
                "SELECT d.event_id, COALESCE(e.url, d.url) AS url, ev.payload, d.attempts,
                        d.endpoint_id, e.secret AS endpoint_secret, s.secret AS tenant_secret,
                        CASE WHEN e.previous_secret_until > $2 THEN e.previous_secret END
                            AS endpoint_previous,
                        CASE WHEN s.previous_secret_until > $2 THEN s.previous_secret END
                            AS tenant_previous
                 FROM webhook_deliveries d
                 JOIN webhook_events ev ON ev.id = d.event_id
                 LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 LEFT JOIN webhook_tenant_secrets s ON s.tenant_id = d.tenant_id
                 WHERE d.id = $1",
            )
            .bind(&id)
            .bind(to_ms(now))
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
            let Some(row) = row else {
                continue;
            };
            let (secret, previous_secret) = match &row.endpoint_id {
                Some(_) => (row.endpoint_secret.clone(), row.endpoint_previous.clone()),
                None => (row.tenant_secret.clone(), row.tenant_previous.clone()),
            };
            let Some(secret) = secret else {
                // Nothing to sign it with: give it up rather than stall every claim after it.
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'failed', claim_until = NULL,
                            last_error = 'no signing secret', updated_at = $1
                     WHERE id = $2",
                )
                .bind(to_ms(now))
                .bind(&id)
                .execute(pool)
                .await
                .map_err(backend)?;
                continue;
            };
            due.push(DueDelivery {
                id: stored_id(id, "delivery id")?,
                event_id: stored_id(row.event_id, "event id")?,
                url: row.url,
                payload: row.payload,
                secret,
                previous_secret,
                attempts: row.attempts.max(0) as u32,
                endpoint_id: stored_opt_id(row.endpoint_id, "endpoint id")?,
            });
        }
        Ok(due)
    }

    async fn record_attempt(
        &self,
        delivery: &DeliveryId,
        claimed_until: DateTime<Utc>,
        o: &AttemptOutcome,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        let (status, next) = match (o.delivered, o.retry_at) {
            (true, _) => ("delivered", None),
            (false, Some(at)) => ("pending", Some(to_ms(at))),
            (false, None) => ("failed", None),
        };
        let moved: Option<(i64, Option<String>)> = sqlx::query_as(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1,
                    next_attempt_at = COALESCE($2, next_attempt_at), claim_until = NULL,
                    last_error = $3, updated_at = $4
             WHERE id = $5 AND claim_until = $6
             RETURNING attempts, endpoint_id",
        )
        .bind(status)
        .bind(next)
        .bind(o.error.as_deref())
        .bind(to_ms(o.at))
        .bind(delivery.as_str())
        .bind(to_ms(claimed_until))
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some((attempt, endpoint)) = moved else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(delivery.as_str())
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
                sqlx::query("UPDATE webhook_endpoints SET failure_streak = 0 WHERE id = $1")
                    .bind(&endpoint)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            } else {
                sqlx::query(
                    "UPDATE webhook_endpoints SET failure_streak = failure_streak + 1,
                            enabled = CASE WHEN failure_streak + 1 >= $1 THEN FALSE ELSE enabled END,
                            disabled_reason = CASE WHEN failure_streak + 1 >= $1 AND enabled
                                                   THEN $2 ELSE disabled_reason END,
                            updated_at = $3
                     WHERE id = $4",
                )
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

    async fn webhook_deliveries(
        &self,
        tenant: &ClientId,
        endpoint: Option<&EndpointId>,
        limit: u32,
    ) -> CatalogResult<Vec<DeliveryRecord>> {
        let pool = &self.pool;
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT d.id, d.event_id, ev.event_type, d.endpoint_id, d.url, d.status, d.attempts,
                    d.next_attempt_at, d.last_error, d.created_at
             FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
             WHERE d.tenant_id = $1 AND ($2 = '' OR d.endpoint_id = $2)
             ORDER BY d.created_at DESC, d.id LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(endpoint.map_or("", EndpointId::as_str))
        .bind(limit as i64)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for (
            id,
            event_id,
            event_type,
            endpoint_id,
            url,
            status,
            attempts,
            next,
            last_error,
            created,
        ) in rows
        {
            let log: Vec<AttemptRow> = sqlx::query_as(
                "SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts
                 WHERE delivery_id = $1 ORDER BY attempt",
            )
            .bind(&id)
            .fetch_all(pool)
            .await
            .map_err(backend)?;
            out.push(DeliveryRecord {
                next_attempt_at: (status == "pending").then(|| from_ms(next)),
                id: stored_id(id, "delivery id")?,
                event_id: stored_id(event_id, "event id")?,
                event_type,
                endpoint_id: stored_opt_id(endpoint_id, "endpoint id")?,
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

    async fn redeliver(
        &self,
        tenant: &ClientId,
        delivery: &DeliveryId,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, claim_until = NULL,
                    updated_at = $1
             WHERE id = $2 AND tenant_id = $3 AND (kind = 'callback' OR endpoint_id IS NOT NULL)",
        )
        .bind(to_ms(now))
        .bind(delivery.as_str())
        .bind(tenant.as_str())
        .execute(pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
