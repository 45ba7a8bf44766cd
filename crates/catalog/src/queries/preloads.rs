// Preload jobs: the request as validated, its items' progress, and the claims that let any node
// work on them once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, PreloadStore},
    ClientId, ItemOutcome, NewPreload, PreloadId, PreloadItem, PreloadRecord, SweepRule,
};

use super::{
    backend,
    rows::{stored_id, ItemRow, ITEM_COLUMNS},
    write_tx, Backend, Conn, Pool,
};
use crate::time::{from_ms, to_ms};

pub(super) async fn load(
    conn: &mut Conn,
    tenant: &ClientId,
    id: &PreloadId,
) -> CatalogResult<Option<PreloadRecord>> {
    let preload: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT created_at, callback_url FROM preloads WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id.as_str())
    .bind(tenant.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    let Some((created, callback)) = preload else {
        return Ok(None);
    };
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM preload_items WHERE preload_id = $1 ORDER BY position"
    ))
    .bind(id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(Some(PreloadRecord {
        id: id.clone(),
        tenant: tenant.clone(),
        created_at: from_ms(created),
        callback,
        items: rows
            .into_iter()
            .map(PreloadItem::try_from)
            .collect::<CatalogResult<_>>()?,
    }))
}

/// The preload an idempotency key still answers with; an older use of the key is forgotten.
async fn replay(
    conn: &mut Conn,
    p: &NewPreload,
    key: &str,
) -> CatalogResult<Option<PreloadRecord>> {
    let earlier: Option<(String, i64)> = sqlx::query_as(
        "SELECT id, created_at FROM preloads WHERE tenant_id = $1 AND idempotency_key = $2",
    )
    .bind(p.tenant.as_str())
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    match earlier {
        Some((id, at)) if at >= to_ms(p.idempotency_since) => {
            load(conn, &p.tenant, &stored_id(id, "preload id")?).await
        }
        Some((id, _)) => {
            sqlx::query("UPDATE preloads SET idempotency_key = NULL WHERE id = $1")
                .bind(&id)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Records a preload and its items, queued; returns its id. The raw error lets the caller tell a
/// raced idempotency key from a failure.
pub(super) async fn insert(conn: &mut Conn, p: &NewPreload) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let now = to_ms(p.now);
    sqlx::query(
        "INSERT INTO preloads (id, tenant_id, idempotency_key, created_at, callback_url)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(p.tenant.as_str())
    .bind(p.idempotency_key.as_deref())
    .bind(now)
    .bind(p.callback.as_deref())
    .execute(&mut *conn)
    .await?;
    for (position, item) in p.items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO preload_items (preload_id, position, tenant_id, item_id, asset_type, model,
                                        source, fingerprint, save_to_media, status, queued_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10)",
        )
        .bind(&id)
        .bind(position as i64)
        .bind(p.tenant.as_str())
        .bind(item.item_id.as_deref())
        .bind(item.asset_type.as_str())
        .bind(&item.model)
        .bind(&item.source)
        .bind(&item.fingerprint)
        .bind(item.save_to_media)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

pub async fn create(pool: &Pool, p: &NewPreload) -> CatalogResult<(PreloadRecord, bool)> {
    let mut tx = write_tx(pool).await?;
    if let Some(key) = &p.idempotency_key {
        // Two requests with one key racing on PostgreSQL: the loser waits for the winner's
        // insert at the unique index and then fails; it is answered with the winner's preload.
        if let Some(earlier) = replay(&mut tx, p, key).await? {
            return Ok((earlier, false));
        }
    }
    let id = match insert(&mut tx, p).await {
        Ok(id) => id,
        Err(e) => {
            let raced = matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation());
            drop(tx);
            if raced {
                let mut conn = pool.acquire().await.map_err(backend)?;
                let key = p.idempotency_key.as_deref().unwrap_or_default();
                if let Some(earlier) = replay(&mut conn, p, key).await? {
                    return Ok((earlier, false));
                }
            }
            return Err(backend(e));
        }
    };
    let record = load(&mut tx, &p.tenant, &stored_id(id, "preload id")?)
        .await?
        .ok_or(mediadrive_core::CatalogError::NotFound)?;
    tx.commit().await.map_err(backend)?;
    Ok((record, true))
}

/// Whether row `t` may be claimed ($2 is now): queued, or its claim lapsed (its node died). Of the
/// open items of one source only the earliest is claimable, and none while one is being made: the
/// others then find the asset in the cache instead of generating (and charging) it again.
fn claimable(t: &str) -> String {
    format!(
        "({t}.status = 'queued' OR ({t}.status = 'processing' AND {t}.claim_until < $2))
         AND NOT EXISTS (
             SELECT 1 FROM preload_items other
             WHERE other.tenant_id = {t}.tenant_id AND other.fingerprint = {t}.fingerprint
               AND ((other.status = 'processing' AND other.claim_until >= $2)
                    OR (other.status IN ('queued', 'processing')
                        AND (other.queued_at, other.preload_id, other.position)
                            < ({t}.queued_at, {t}.preload_id, {t}.position))))"
    )
}

/// The tenant a preload belongs to, which a transaction finishing one of its items locks first.
pub async fn tenant_of(pool: &Pool, preload_id: &PreloadId) -> CatalogResult<Option<ClientId>> {
    let tenant: Option<String> = sqlx::query_scalar("SELECT tenant_id FROM preloads WHERE id = $1")
        .bind(preload_id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    Ok(tenant.and_then(|t| ClientId::parse(&t).ok()))
}

/// Records how an item ended in the caller's transaction, which holds the tenant's lock, if the
/// claim lasting `claimed_until` is still its own; `None` otherwise. `Some(true)` when no item
/// of the preload is left open.
pub async fn finish_in(
    conn: &mut Conn,
    preload_id: &PreloadId,
    position: u32,
    claimed_until: DateTime<Utc>,
    outcome: &ItemOutcome,
) -> CatalogResult<Option<bool>> {
    let (status, error, result) = match outcome {
        ItemOutcome::Ready(r) => ("ready", None, Some(r)),
        ItemOutcome::Failed(e) => ("failed", Some(e.as_str()), None),
    };
    // The preload's row first: of two items ending at once, exactly one sees the other's end.
    sqlx::query("UPDATE preloads SET created_at = created_at WHERE id = $1")
        .bind(preload_id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    let done = sqlx::query(
        "UPDATE preload_items SET status = $1, claim_until = NULL, error = $2, url_path = $3,
                persistent = $4, expires_at = $5, width = $6, height = $7, size = $8,
                duration_ms = $9, warning = $10
         WHERE preload_id = $11 AND position = $12 AND status = 'processing' AND claim_until = $13",
    )
    .bind(status)
    .bind(error)
    .bind(result.map(|r| r.url_path.as_str()))
    .bind(result.map(|r| r.persistent))
    .bind(result.and_then(|r| r.expires_at).map(to_ms))
    .bind(result.and_then(|r| r.width).map(i64::from))
    .bind(result.and_then(|r| r.height).map(i64::from))
    .bind(result.and_then(|r| r.size).map(|v| v as i64))
    .bind(result.and_then(|r| r.duration_ms).map(|v| v as i64))
    .bind(result.and_then(|r| r.warning.as_deref()))
    .bind(preload_id.as_str())
    .bind(position as i64)
    .bind(to_ms(claimed_until))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM preload_items
         WHERE preload_id = $1 AND status IN ('queued', 'processing')",
    )
    .bind(preload_id.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(Some(open == 0))
}

/// Preloads forgotten per round, so the sweep never holds a lock for long.
const EXPIRE_BATCH: i64 = 500;

// $1: the cutoff. A preload with items still queued or in progress is kept whatever its age.
const EXPIRED: &str = "created_at < $1 AND NOT EXISTS (
     SELECT 1 FROM preload_items i
     WHERE i.preload_id = preloads.id AND i.status IN ('queued', 'processing'))";

/// Forgets finished preloads created before `rule.preloads_before`; returns how many.
pub async fn expire(pool: &Pool, rule: &SweepRule) -> CatalogResult<u64> {
    let cutoff = to_ms(rule.preloads_before);
    if rule.dry_run {
        let count: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM preloads WHERE {EXPIRED}"))
                .bind(cutoff)
                .fetch_one(pool)
                .await
                .map_err(backend)?;
        return Ok(count as u64);
    }
    let mut expired = 0;
    loop {
        let ids: Vec<String> =
            sqlx::query_scalar(&format!("SELECT id FROM preloads WHERE {EXPIRED} LIMIT $2"))
                .bind(cutoff)
                .bind(EXPIRE_BATCH)
                .fetch_all(pool)
                .await
                .map_err(backend)?;
        if ids.is_empty() {
            return Ok(expired);
        }
        for id in ids {
            let mut tx = write_tx(pool).await?;
            sqlx::query("DELETE FROM preload_items WHERE preload_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query("DELETE FROM preloads WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            expired += 1;
        }
    }
}

#[async_trait]
impl PreloadStore for Backend {
    async fn create_preload(&self, preload: &NewPreload) -> CatalogResult<(PreloadRecord, bool)> {
        create(&self.pool, preload).await
    }

    async fn preload(
        &self,
        tenant: &ClientId,
        id: &PreloadId,
    ) -> CatalogResult<Option<PreloadRecord>> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        load(&mut conn, tenant, id).await
    }

    async fn claim_preload_items(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<PreloadItem>> {
        let pool = &self.pool;
        // The condition is checked again on the row: on PostgreSQL another node may have claimed it
        // between the subquery and the update.
        let rows: Vec<ItemRow> = sqlx::query_as(&format!(
            "UPDATE preload_items SET status = 'processing', claim_until = $1
             WHERE (preload_id, position) IN (
                     SELECT candidate.preload_id, candidate.position FROM preload_items candidate
                     WHERE {}
                     ORDER BY candidate.queued_at, candidate.preload_id, candidate.position LIMIT $3)
               AND {}
             RETURNING {ITEM_COLUMNS}",
            claimable("candidate"),
            claimable("preload_items")
        ))
        .bind(to_ms(until))
        .bind(to_ms(now))
        .bind(limit as i64)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        let mut items: Vec<PreloadItem> = rows
            .into_iter()
            .map(PreloadItem::try_from)
            .collect::<CatalogResult<_>>()?;
        items.sort_by(|a, b| (&a.preload_id, a.position).cmp(&(&b.preload_id, b.position)));
        Ok(items)
    }
}
