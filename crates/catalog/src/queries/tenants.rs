// Tenants, API keys and shared secrets.

use super::{
    backend,
    rows::{KeyRow, TenantRow},
    steps::{ledger, usage},
    Backend, Conn,
};
use crate::time::to_ms;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, TenantStore},
    ApiKeyRecord, ClientId, CreditReason, NewApiKey, TempUsage, Tenant, TenantUpdate,
};

pub async fn fetch(conn: &mut Conn, id: &ClientId) -> CatalogResult<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as("SELECT * FROM tenants WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(backend)?;
    row.map(Tenant::try_from).transpose()
}

#[async_trait]
impl TenantStore for Backend {
    async fn ensure_tenant(
        &self,
        id: &ClientId,
        initial_credits: i64,
        now: DateTime<Utc>,
    ) -> CatalogResult<Tenant> {
        let pool = &self.pool;
        let mut tx = super::write_tx(pool).await?;
        let created: Option<String> = sqlx::query_scalar(
            "INSERT INTO tenants (id, credits, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING RETURNING id",
        )
        .bind(id.as_str())
        .bind(initial_credits)
        .bind(to_ms(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if created.is_some() && initial_credits != 0 {
            let reason = CreditReason::Initial;
            ledger::record(&mut tx, id, initial_credits, initial_credits, reason, now).await?;
        }
        let tenant = fetch(&mut tx, id)
            .await?
            .ok_or(mediadrive_core::CatalogError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(tenant)
    }

    async fn tenant(&self, id: &ClientId) -> CatalogResult<Option<Tenant>> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        fetch(&mut conn, id).await
    }

    async fn temp_usage(
        &self,
        id: &ClientId,
        default_quota: Option<u64>,
    ) -> CatalogResult<TempUsage> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        usage::temp(&mut conn, id, default_quota).await
    }

    async fn update_tenant(
        &self,
        id: &ClientId,
        update: &TenantUpdate,
        now: DateTime<Utc>,
    ) -> CatalogResult<Tenant> {
        let pool = &self.pool;
        let mut tx = super::write_tx(pool).await?;
        super::lock_tenant(&mut tx, id).await?;
        for (column, value) in [("quota", update.quota), ("temp_quota", update.temp_quota)] {
            let Some(bytes) = value else { continue };
            sqlx::query(&format!("UPDATE tenants SET {column} = $1 WHERE id = $2"))
                .bind(bytes as i64)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        if let Some(blocked) = update.storage_blocked {
            // blocked_at records when the block began; re-blocking keeps the original time.
            sqlx::query(
                "UPDATE tenants SET storage_blocked = $1,
                    blocked_at = CASE WHEN $1 THEN COALESCE(blocked_at, $2) ELSE NULL END
                 WHERE id = $3",
            )
            .bind(blocked)
            .bind(to_ms(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        if let Some(credits) = update.credits {
            let before: Option<i64> =
                sqlx::query_scalar("SELECT credits FROM tenants WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            sqlx::query("UPDATE tenants SET credits = $1 WHERE id = $2")
                .bind(credits)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            if let Some(before) = before.filter(|b| *b != credits) {
                let reason = CreditReason::Adjustment;
                ledger::record(&mut tx, id, credits - before, credits, reason, now).await?;
            }
        }
        let tenant = fetch(&mut tx, id)
            .await?
            .ok_or(mediadrive_core::CatalogError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(tenant)
    }

    async fn insert_key(&self, key: &NewApiKey, now: DateTime<Utc>) -> CatalogResult<ApiKeyRecord> {
        let pool = &self.pool;
        let row: KeyRow = sqlx::query_as(
            "INSERT INTO api_keys (id, tenant_id, key_hash, role, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, tenant_id, role, expires_at, created_at",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(key.tenant.as_str())
        .bind(&key.key_hash)
        .bind(key.role.as_str())
        .bind(key.expires_at.map(to_ms))
        .bind(to_ms(now))
        .fetch_one(pool)
        .await
        .map_err(backend)?;
        row.try_into()
    }

    async fn key_by_hash(&self, key_hash: &str) -> CatalogResult<Option<ApiKeyRecord>> {
        let pool = &self.pool;
        let row: Option<KeyRow> = sqlx::query_as(
            "SELECT id, tenant_id, role, expires_at, created_at FROM api_keys WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
        row.map(ApiKeyRecord::try_from).transpose()
    }

    async fn secret(
        &self,
        name: &str,
        generate: &(dyn Fn() -> Vec<u8> + Sync),
    ) -> CatalogResult<Vec<u8>> {
        let pool = &self.pool;
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(generate())
        .execute(pool)
        .await
        .map_err(backend)?;
        sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await
            .map_err(backend)
    }
}
