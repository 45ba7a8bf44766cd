//! Tenants, and the credits they spend on generation.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::CatalogResult;
use crate::{Charge, ClientId, CreditMovement, LedgerEntry, TempUsage, Tenant, TenantUpdate};

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates the tenant with `initial_credits` (recorded in its ledger) unless it exists.
    async fn ensure_tenant(
        &self,
        id: &ClientId,
        initial_credits: i64,
        now: DateTime<Utc>,
    ) -> CatalogResult<Tenant>;
    async fn tenant(&self, id: &ClientId) -> CatalogResult<Option<Tenant>>;
    /// What the tenant keeps outside the drive quota, against its budget (the drive quota's, or
    /// `default_quota`, when it has none of its own).
    async fn temp_usage(
        &self,
        id: &ClientId,
        default_quota: Option<u64>,
    ) -> CatalogResult<TempUsage>;
    async fn update_tenant(
        &self,
        id: &ClientId,
        update: &TenantUpdate,
        now: DateTime<Utc>,
    ) -> CatalogResult<Tenant>;
}

#[async_trait]
pub trait CreditStore: Send + Sync {
    /// Moves credits and appends the movement to the ledger in one step. A negative amount is
    /// taken only if the balance covers it.
    async fn move_credits(&self, movement: &CreditMovement) -> CatalogResult<Charge>;
    /// The newest `limit` ledger entries of a tenant, newest first.
    async fn credit_ledger(&self, tenant: &ClientId, limit: u32)
        -> CatalogResult<Vec<LedgerEntry>>;
}
