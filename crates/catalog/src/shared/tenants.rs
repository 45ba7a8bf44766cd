// Tenants, API keys and shared secrets.

use super::{
    backend, credits, prep,
    rows::{KeyRow, TenantRow},
    Conn, Pool,
};
use crate::time::to_ms;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::CatalogResult, ApiKeyRecord, ClientId, CreditReason, NewApiKey, Tenant, TenantUpdate,
};

pub async fn fetch(conn: &mut Conn, id: &ClientId) -> CatalogResult<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as(&prep("SELECT * FROM tenants WHERE id = ?1"))
        .bind(id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(backend)?;
    row.map(Tenant::try_from).transpose()
}

pub async fn ensure(
    pool: &Pool,
    id: &ClientId,
    initial_credits: i64,
    now: DateTime<Utc>,
) -> CatalogResult<Tenant> {
    let mut tx = super::write_tx(pool).await?;
    let created: Option<String> = sqlx::query_scalar(&prep(
        "INSERT INTO tenants (id, credits, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO NOTHING RETURNING id",
    ))
    .bind(id.as_str())
    .bind(initial_credits)
    .bind(to_ms(now))
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    if created.is_some() && initial_credits != 0 {
        let reason = CreditReason::Initial;
        credits::record(&mut tx, id, initial_credits, initial_credits, reason, now).await?;
    }
    let tenant = fetch(&mut tx, id)
        .await?
        .ok_or(mediadrive_core::CatalogError::NotFound)?;
    tx.commit().await.map_err(backend)?;
    Ok(tenant)
}

pub async fn update(
    pool: &Pool,
    id: &ClientId,
    update: &TenantUpdate,
    now: DateTime<Utc>,
) -> CatalogResult<Tenant> {
    let mut tx = super::write_tx(pool).await?;
    super::lock_tenant(&mut tx, id).await?;
    if let Some(quota) = update.quota {
        sqlx::query(&prep("UPDATE tenants SET quota = ?1 WHERE id = ?2"))
            .bind(quota as i64)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    if let Some(blocked) = update.storage_blocked {
        // blocked_at records when the block began; re-blocking keeps the original time.
        sqlx::query(&prep(
            "UPDATE tenants SET storage_blocked = ?1,
                blocked_at = CASE WHEN ?1 THEN COALESCE(blocked_at, ?2) ELSE NULL END
             WHERE id = ?3",
        ))
        .bind(blocked)
        .bind(to_ms(now))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    if let Some(credits) = update.credits {
        let before: Option<i64> =
            sqlx::query_scalar(&prep("SELECT credits FROM tenants WHERE id = ?1"))
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        sqlx::query(&prep("UPDATE tenants SET credits = ?1 WHERE id = ?2"))
            .bind(credits)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if let Some(before) = before.filter(|b| *b != credits) {
            let reason = CreditReason::Adjustment;
            credits::record(&mut tx, id, credits - before, credits, reason, now).await?;
        }
    }
    let tenant = fetch(&mut tx, id)
        .await?
        .ok_or(mediadrive_core::CatalogError::NotFound)?;
    tx.commit().await.map_err(backend)?;
    Ok(tenant)
}

pub async fn insert_key(
    pool: &Pool,
    key: &NewApiKey,
    now: DateTime<Utc>,
) -> CatalogResult<ApiKeyRecord> {
    let row: KeyRow = sqlx::query_as(&prep(
        "INSERT INTO api_keys (id, tenant_id, key_hash, role, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         RETURNING id, tenant_id, role, expires_at, created_at",
    ))
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

pub async fn key_by_hash(pool: &Pool, key_hash: &str) -> CatalogResult<Option<ApiKeyRecord>> {
    let row: Option<KeyRow> = sqlx::query_as(&prep(
        "SELECT id, tenant_id, role, expires_at, created_at FROM api_keys WHERE key_hash = ?1",
    ))
    .bind(key_hash)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(ApiKeyRecord::try_from).transpose()
}

pub async fn secret(
    pool: &Pool,
    name: &str,
    generate: &(dyn Fn() -> Vec<u8> + Sync),
) -> CatalogResult<Vec<u8>> {
    sqlx::query(&prep(
        "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
    ))
    .bind(name)
    .bind(generate())
    .execute(pool)
    .await
    .map_err(backend)?;
    sqlx::query_scalar(&prep("SELECT value FROM secrets WHERE name = ?1"))
        .bind(name)
        .fetch_one(pool)
        .await
        .map_err(backend)
}
