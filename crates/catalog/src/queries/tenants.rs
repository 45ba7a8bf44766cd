// Tenants.

use super::{
    backend,
    rows::TenantRow,
    steps::{ledger, usage},
    Backend, Conn,
};
use crate::time::to_ms;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, TenantStore},
    ClientId, CreditReason, TempUsage, Tenant, TenantUpdate,
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
}
