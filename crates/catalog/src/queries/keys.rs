// API keys and node-wide secrets.

use super::{backend, rows::KeyRow, Backend};
use crate::time::{from_ms, to_ms};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, KeyStore},
    ApiKeyId, ApiKeyRecord, ClientId, NewApiKey,
};

const KEY_COLUMNS: &str =
    "id, tenant_id, name, role, expires_at, created_at, last_used_at, revoked_at";

#[async_trait]
impl KeyStore for Backend {
    async fn insert_key(&self, key: &NewApiKey, now: DateTime<Utc>) -> CatalogResult<ApiKeyRecord> {
        let row: KeyRow = sqlx::query_as(&format!(
            "INSERT INTO api_keys (id, tenant_id, name, key_hash, role, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(key.tenant.as_str())
        .bind(&key.name)
        .bind(&key.key_hash)
        .bind(key.role.as_str())
        .bind(key.expires_at.map(to_ms))
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        row.try_into()
    }

    async fn key_by_hash(&self, key_hash: &str) -> CatalogResult<Option<ApiKeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(ApiKeyRecord::try_from).transpose()
    }

    async fn api_keys(&self, tenant: Option<&ClientId>) -> CatalogResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE $1 IS NULL OR tenant_id = $1
             ORDER BY tenant_id, created_at, id"
        ))
        .bind(tenant.map(ClientId::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter().map(ApiKeyRecord::try_from).collect()
    }

    async fn revoke_key(
        &self,
        tenant: Option<&ClientId>,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<ApiKeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3)
             WHERE id = $1 AND ($2 IS NULL OR tenant_id = $2)
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(tenant.map(ClientId::as_str))
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(ApiKeyRecord::try_from).transpose()
    }

    async fn touch_key(&self, id: &ApiKeyId, now: DateTime<Utc>) -> CatalogResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(to_ms(now))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
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

    async fn rotate_secret(
        &self,
        name: &str,
        value: &[u8],
        retired_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CatalogResult<()> {
        let mut tx = super::write_tx(&self.pool).await?;
        sqlx::query("DELETE FROM retired_secrets WHERE name = $1 AND retired_until <= $2")
            .bind(name)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO retired_secrets (name, value, retired_until)
             SELECT name, value, $2 FROM secrets WHERE name = $1",
        )
        .bind(name)
        .bind(to_ms(retired_until))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn retired_secrets(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<Vec<(Vec<u8>, DateTime<Utc>)>> {
        let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT value, retired_until FROM retired_secrets
             WHERE name = $1 AND retired_until > $2
             ORDER BY retired_until DESC",
        )
        .bind(name)
        .bind(to_ms(now))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(value, until)| (value, from_ms(until)))
            .collect())
    }
}
