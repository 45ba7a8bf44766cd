//! API keys and their lifecycle, and the node-wide secrets (with the retired versions that still
//! verify during a rotation's overlap).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::CatalogResult;
use crate::{ApiKeyId, ApiKeyRecord, ClientId, NewApiKey};

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_key(&self, key: &NewApiKey, now: DateTime<Utc>) -> CatalogResult<ApiKeyRecord>;
    async fn key_by_hash(&self, key_hash: &str) -> CatalogResult<Option<ApiKeyRecord>>;
    /// The keys of `tenant` (of every tenant when `None`), revoked ones included, oldest first.
    async fn api_keys(&self, tenant: Option<&ClientId>) -> CatalogResult<Vec<ApiKeyRecord>>;
    /// Revokes key `id` (only when it is `tenant`'s, if given); the key as it is now, or `None`
    /// when there is no such key. Revoking a revoked key keeps its first revocation time.
    async fn revoke_key(
        &self,
        tenant: Option<&ClientId>,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<ApiKeyRecord>>;
    /// Records that the key was used at `now`.
    async fn touch_key(&self, id: &ApiKeyId, now: DateTime<Utc>) -> CatalogResult<()>;
    /// A node-wide secret by name, created with `generate` the first time so that every node shares it.
    async fn secret(
        &self,
        name: &str,
        generate: &(dyn Fn() -> Vec<u8> + Sync),
    ) -> CatalogResult<Vec<u8>>;
    /// Replaces secret `name` with `value`; the value it had still counts as retired until
    /// `retired_until`. Retired values whose time has passed are forgotten.
    async fn rotate_secret(
        &self,
        name: &str,
        value: &[u8],
        retired_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CatalogResult<()>;
    /// The retired values of secret `name` still within their overlap at `now`, each with the
    /// end of its overlap, newest first.
    async fn retired_secrets(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> CatalogResult<Vec<(Vec<u8>, DateTime<Utc>)>>;
}
