// Webhooks: endpoints, the outbox of events with one delivery per target, the attempt log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, WebhookStore},
    CatalogError, ClientId, EndpointId, EndpointUpdate, NewEndpoint, WebhookEndpoint,
};

use super::{backend, lock_tenant, rows::stored_id, write_tx, Backend, Conn};
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
        id: stored_id(id, "endpoint id")?,
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

async fn find(
    conn: &mut Conn,
    tenant: &ClientId,
    id: &EndpointId,
) -> CatalogResult<Option<WebhookEndpoint>> {
    let row: Option<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(conn)
    .await
    .map_err(backend)?;
    row.map(endpoint).transpose()
}

#[async_trait]
impl WebhookStore for Backend {
    async fn create_webhook_endpoint(&self, e: &NewEndpoint) -> CatalogResult<WebhookEndpoint> {
        let pool = &self.pool;
        // Counted under the tenant's lock, so concurrent creations cannot pass the limit together.
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &e.tenant).await?;
        if e.max_endpoints > 0 {
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = $1")
                    .bind(e.tenant.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?;
            if count >= i64::from(e.max_endpoints) {
                return Err(CatalogError::TooManyEndpoints);
            }
        }
        let row: EndpointRow = sqlx::query_as(&format!(
            "INSERT INTO webhook_endpoints (id, tenant_id, url, secret, event_types, description,
                                            enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7)
             RETURNING {ENDPOINT_COLUMNS}"
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(e.tenant.as_str())
        .bind(&e.url)
        .bind(&e.secret)
        .bind(types_json(&e.event_types))
        .bind(&e.description)
        .bind(to_ms(e.now))
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        endpoint(row)
    }

    async fn webhook_endpoints(&self, tenant: &ClientId) -> CatalogResult<Vec<WebhookEndpoint>> {
        let pool = &self.pool;
        let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        rows.into_iter().map(endpoint).collect()
    }

    async fn webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &EndpointId,
    ) -> CatalogResult<Option<WebhookEndpoint>> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        find(&mut conn, tenant, id).await
    }

    async fn update_webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &EndpointId,
        u: &EndpointUpdate,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<WebhookEndpoint>> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, tenant).await?;
        // One statement, so a failure counted meanwhile is neither lost nor undone. Enabling starts
        // the count afresh; disabling by hand names no failure.
        sqlx::query(
            "UPDATE webhook_endpoints SET
                 url = COALESCE($1, url),
                 event_types = COALESCE($2, event_types),
                 description = COALESCE($3, description),
                 enabled = COALESCE($4, enabled),
                 failure_streak = CASE WHEN $4 = TRUE THEN 0 ELSE failure_streak END,
                 disabled_reason = CASE WHEN $4 IS NULL THEN disabled_reason
                                        WHEN $4 = TRUE THEN NULL
                                        ELSE 'disabled by a user' END,
                 updated_at = $5
             WHERE id = $6 AND tenant_id = $7",
        )
        .bind(u.url.as_deref())
        .bind(u.event_types.as_deref().map(types_json))
        .bind(u.description.as_deref())
        .bind(u.enabled)
        .bind(to_ms(now))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let updated = find(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(updated)
    }

    async fn delete_webhook_endpoint(
        &self,
        tenant: &ClientId,
        id: &EndpointId,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        // The tenant's lock orders this against `enqueue`: no delivery is queued for a deleted
        // endpoint. Its waiting deliveries are given up.
        lock_tenant(&mut tx, tenant).await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint deleted',
                    claim_until = NULL, updated_at = $1
             WHERE endpoint_id = $2 AND tenant_id = $3 AND status = 'pending'",
        )
        .bind(to_ms(now))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(gone.rows_affected() == 1)
    }

    async fn callback_secret(
        &self,
        tenant: &ClientId,
        generate: &(dyn Fn() -> String + Sync),
    ) -> CatalogResult<String> {
        let pool = &self.pool;
        sqlx::query(
            "INSERT INTO webhook_tenant_secrets (tenant_id, secret) VALUES ($1, $2)
             ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(generate())
        .execute(pool)
        .await
        .map_err(backend)?;
        sqlx::query_scalar("SELECT secret FROM webhook_tenant_secrets WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_one(pool)
            .await
            .map_err(backend)
    }

    async fn rotate_endpoint_secret(
        &self,
        tenant: &ClientId,
        id: &EndpointId,
        secret: &str,
        previous_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<WebhookEndpoint>> {
        let row: Option<EndpointRow> = sqlx::query_as(&format!(
            "UPDATE webhook_endpoints
             SET previous_secret = secret, previous_secret_until = $3, secret = $4, updated_at = $5
             WHERE tenant_id = $1 AND id = $2
             RETURNING {ENDPOINT_COLUMNS}"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(to_ms(previous_until))
        .bind(secret)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(endpoint).transpose()
    }

    async fn rotate_callback_secret(
        &self,
        tenant: &ClientId,
        secret: &str,
        previous_until: DateTime<Utc>,
    ) -> CatalogResult<()> {
        sqlx::query(
            "INSERT INTO webhook_tenant_secrets (tenant_id, secret) VALUES ($1, $2)
             ON CONFLICT (tenant_id) DO UPDATE
             SET previous_secret = webhook_tenant_secrets.secret,
                 previous_secret_until = $3, secret = excluded.secret",
        )
        .bind(tenant.as_str())
        .bind(secret)
        .bind(to_ms(previous_until))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}
