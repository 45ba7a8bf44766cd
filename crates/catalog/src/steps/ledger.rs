// The credit ledger as other aggregates append to it (a tenant's initial credits).

use chrono::{DateTime, Utc};
use mediadrive_core::{catalog::CatalogResult, ClientId, CreditReason};

use super::{backend, Conn};
use crate::time::to_ms;

/// Appends a ledger row; the caller has already moved the balance to `balance`.
pub async fn record(
    conn: &mut Conn,
    tenant: &ClientId,
    amount: i64,
    balance: i64,
    reason: CreditReason,
    now: DateTime<Utc>,
) -> CatalogResult<()> {
    sqlx::query(
        "INSERT INTO credit_ledger (tenant_id, amount, balance, reason, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.as_str())
    .bind(amount)
    .bind(balance)
    .bind(reason.as_str())
    .bind(to_ms(now))
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}
