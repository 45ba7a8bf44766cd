// Credits: the balance on the tenant row and the append-only ledger beside it, moved together.

use async_trait::async_trait;
use mediadrive_core::{
    catalog::{CatalogResult, CreditStore},
    Charge, ClientId, CreditMovement, LedgerEntry,
};

use super::{backend, lock_tenant, rows::LedgerRow, write_tx, Backend};
use crate::time::to_ms;

#[async_trait]
impl CreditStore for Backend {
    async fn move_credits(&self, m: &CreditMovement) -> CatalogResult<Charge> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &m.tenant).await?;
        if let Some((preload, position)) = &m.item {
            let recorded: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM credit_ledger
                                WHERE preload_id = $1 AND position = $2 AND reason = $3)",
            )
            .bind(preload.as_str())
            .bind(*position as i64)
            .bind(m.reason.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            if recorded {
                return Ok(Charge::AlreadyRecorded);
            }
        }
        let balance: Option<i64> = sqlx::query_scalar(
            "UPDATE tenants SET credits = credits + $1
             WHERE id = $2 AND ($1 >= 0 OR credits + $1 >= 0)
             RETURNING credits",
        )
        .bind(m.amount)
        .bind(m.tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(balance) = balance else {
            let balance: i64 = sqlx::query_scalar("SELECT credits FROM tenants WHERE id = $1")
                .bind(m.tenant.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
            return Ok(Charge::Insufficient { balance });
        };
        sqlx::query(
            "INSERT INTO credit_ledger (tenant_id, amount, balance, reason, model, preload_id, position,
                                        created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(m.tenant.as_str())
        .bind(m.amount)
        .bind(balance)
        .bind(m.reason.as_str())
        .bind(m.model.as_deref())
        .bind(m.item.as_ref().map(|(p, _)| p.as_str()))
        .bind(m.item.as_ref().map(|(_, n)| *n as i64))
        .bind(to_ms(m.now))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Charge::Done(balance))
    }

    async fn credit_ledger(
        &self,
        tenant: &ClientId,
        limit: u32,
    ) -> CatalogResult<Vec<LedgerEntry>> {
        let pool = &self.pool;
        let rows: Vec<LedgerRow> = sqlx::query_as(
            "SELECT amount, balance, reason, model, preload_id, position, created_at
             FROM credit_ledger WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(limit as i64)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        rows.into_iter().map(LedgerEntry::try_from).collect()
    }
}
