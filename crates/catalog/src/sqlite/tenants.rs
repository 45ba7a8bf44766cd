//! Tenants, API keys and shared secrets.

use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::CatalogResult, ApiKeyRecord, ClientId, NewApiKey, Tenant, TenantUpdate,
};
use sqlx::{SqliteConnection, SqlitePool};

use super::{
    backend,
    rows::{KeyRow, TenantRow},
};
use crate::time::to_ms;

pub async fn fetch(conn: &mut SqliteConnection, id: &ClientId) -> CatalogResult<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as("SELECT * FROM tenants WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(backend)?;
    row.map(Tenant::try_from).transpose()
}

pub async fn ensure(pool: &SqlitePool, id: &ClientId, now: DateTime<Utc>) -> CatalogResult<Tenant> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    sqlx::query("INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING")
        .bind(id.as_str())
        .bind(to_ms(now))
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    fetch(&mut conn, id)
        .await?
        .ok_or(mediadrive_core::CatalogError::NotFound)
}

pub async fn update(
    pool: &SqlitePool,
    id: &ClientId,
    update: &TenantUpdate,
    now: DateTime<Utc>,
) -> CatalogResult<Tenant> {
    let mut tx = super::write_tx(pool).await?;
    if let Some(quota) = update.quota {
        sqlx::query("UPDATE tenants SET quota = ? WHERE id = ?")
            .bind(quota as i64)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    if let Some(blocked) = update.storage_blocked {
        // blocked_at records when the block began; re-blocking keeps the original time.
        sqlx::query(
            "UPDATE tenants SET storage_blocked = ?1,
                blocked_at = CASE WHEN ?1 THEN COALESCE(blocked_at, ?2) ELSE NULL END
             WHERE id = ?3",
        )
        .bind(blocked)
        .bind(to_ms(now))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    if let Some(credits) = update.credits {
        sqlx::query("UPDATE tenants SET credits = ? WHERE id = ?")
            .bind(credits)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    let tenant = fetch(&mut tx, id)
        .await?
        .ok_or(mediadrive_core::CatalogError::NotFound)?;
    tx.commit().await.map_err(backend)?;
    Ok(tenant)
}

pub async fn insert_key(
    pool: &SqlitePool,
    key: &NewApiKey,
    now: DateTime<Utc>,
) -> CatalogResult<ApiKeyRecord> {
    let row: KeyRow = sqlx::query_as(
        "INSERT INTO api_keys (id, tenant_id, key_hash, role, expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?)
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

pub async fn key_by_hash(pool: &SqlitePool, key_hash: &str) -> CatalogResult<Option<ApiKeyRecord>> {
    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT id, tenant_id, role, expires_at, created_at FROM api_keys WHERE key_hash = ?",
    )
    .bind(key_hash)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(ApiKeyRecord::try_from).transpose()
}

pub async fn secret(
    pool: &SqlitePool,
    name: &str,
    generate: &(dyn Fn() -> Vec<u8> + Sync),
) -> CatalogResult<Vec<u8>> {
    sqlx::query("INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(generate())
        .execute(pool)
        .await
        .map_err(backend)?;
    sqlx::query_scalar("SELECT value FROM secrets WHERE name = ?")
        .bind(name)
        .fetch_one(pool)
        .await
        .map_err(backend)
}
