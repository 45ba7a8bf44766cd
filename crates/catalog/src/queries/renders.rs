// Render outputs: a render's files, their way through the temporary tier into hosting, and the
// claims that let any node do each step once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, OutputAnnouncer, RenderStore},
    CatalogError, ClientId, NewRender, OutputClaim, OutputId, OutputOutcome, OutputStatus,
    RenderId, RenderOutput, RenderRecord,
};

use super::{
    backend, lock_tenant,
    rows::{stored_id, OutputRow, OUTPUT_COLUMNS},
    steps::outbox,
    write_tx, Backend, Conn,
};
use crate::time::{from_ms, to_ms};

const FROM: &str = "render_outputs o JOIN renders r ON r.id = o.render_id";

async fn output(conn: &mut Conn, id: &str) -> CatalogResult<Option<RenderOutput>> {
    let row: Option<OutputRow> = sqlx::query_as(&format!(
        "SELECT {OUTPUT_COLUMNS} FROM {FROM} WHERE o.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    row.map(RenderOutput::try_from).transpose()
}

async fn load(
    conn: &mut Conn,
    tenant: &ClientId,
    id: &RenderId,
) -> CatalogResult<Option<RenderRecord>> {
    let render: Option<(bool, Option<String>, i64)> = sqlx::query_as(
        "SELECT host, callback_url, created_at FROM renders WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id.as_str())
    .bind(tenant.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    let Some((host, callback, created)) = render else {
        return Ok(None);
    };
    let rows: Vec<OutputRow> = sqlx::query_as(&format!(
        "SELECT {OUTPUT_COLUMNS} FROM {FROM} WHERE o.render_id = $1 ORDER BY o.position"
    ))
    .bind(id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(Some(RenderRecord {
        id: id.clone(),
        tenant: tenant.clone(),
        host,
        callback,
        created_at: from_ms(created),
        outputs: rows
            .into_iter()
            .map(RenderOutput::try_from)
            .collect::<CatalogResult<_>>()?,
    }))
}

/// Row `t` has background work due ($2 is now): a download or a hosting copy, unclaimed or with
/// its claim lapsed (its node died).
fn due(t: &str) -> String {
    format!(
        "{t}.status IN ('fetching', 'importing')
         AND ({t}.claim_until IS NULL OR {t}.claim_until < $2)"
    )
}

#[async_trait]
impl RenderStore for Backend {
    async fn create_render(&self, r: &NewRender) -> CatalogResult<RenderRecord> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = to_ms(r.now);
        sqlx::query(
            "INSERT INTO renders (id, tenant_id, host, callback_url, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(r.tenant.as_str())
        .bind(r.host)
        .bind(r.callback.as_deref())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for (position, out) in r.outputs.iter().enumerate() {
            let status = match out.src {
                Some(_) => OutputStatus::Fetching,
                None => OutputStatus::Waiting,
            };
            sqlx::query(
                "INSERT INTO render_outputs (id, render_id, position, tenant_id, kind, src, stem,
                                             status, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&id)
            .bind(position as i64)
            .bind(r.tenant.as_str())
            .bind(out.kind.as_str())
            .bind(out.src.as_deref())
            .bind(out.stem.as_deref())
            .bind(status.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let record = load(&mut tx, &r.tenant, &stored_id(id, "render id")?)
            .await?
            .ok_or(CatalogError::NotFound)?;
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn render(
        &self,
        tenant: &ClientId,
        id: &RenderId,
    ) -> CatalogResult<Option<RenderRecord>> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        load(&mut conn, tenant, id).await
    }

    async fn render_output(
        &self,
        tenant: &ClientId,
        id: &OutputId,
    ) -> CatalogResult<Option<RenderOutput>> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        Ok(output(&mut conn, id.as_str())
            .await?
            .filter(|o| o.tenant == *tenant))
    }

    async fn claim_output_upload(
        &self,
        tenant: &ClientId,
        render: &RenderId,
        id: &OutputId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<OutputClaim> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        let claimed = sqlx::query(
            "UPDATE render_outputs SET claim_until = $1, updated_at = $2
             WHERE id = $3 AND tenant_id = $4 AND render_id = $5 AND status = 'waiting'
               AND (claim_until IS NULL OR claim_until < $2)",
        )
        .bind(to_ms(until))
        .bind(to_ms(now))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(render.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let found = output(&mut tx, id.as_str())
            .await?
            .filter(|o| o.tenant == *tenant && o.render_id == *render);
        tx.commit().await.map_err(backend)?;
        Ok(match found {
            None => OutputClaim::Missing,
            Some(o) if o.status == OutputStatus::Deleted => OutputClaim::Missing,
            Some(o) if claimed.rows_affected() == 1 => OutputClaim::Claimed(Box::new(o)),
            Some(o) if o.status == OutputStatus::Waiting => OutputClaim::InProgress,
            Some(_) => OutputClaim::NotWaiting,
        })
    }

    async fn claim_render_work(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<RenderOutput>> {
        let pool = &self.pool;
        // The condition is checked again on the row: on PostgreSQL another node may have claimed it
        // between the subquery and the update.
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "UPDATE render_outputs SET claim_until = $1
             WHERE id IN (SELECT candidate.id FROM render_outputs candidate WHERE {}
                          ORDER BY candidate.created_at, candidate.id LIMIT $3)
               AND {}
             RETURNING id",
            due("candidate"),
            due("render_outputs")
        ))
        .bind(to_ms(until))
        .bind(to_ms(now))
        .bind(limit as i64)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        let mut conn = pool.acquire().await.map_err(backend)?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            claimed.extend(output(&mut conn, &id).await?);
        }
        claimed.sort_by_key(|o| (o.created_at, o.id.clone()));
        Ok(claimed)
    }

    async fn finish_render_output(
        &self,
        id: &OutputId,
        claimed_until: DateTime<Utc>,
        outcome: &OutputOutcome,
        announce: OutputAnnouncer<'_>,
    ) -> CatalogResult<Option<RenderOutput>> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        let Some(before) = output(&mut conn, id.as_str()).await? else {
            return Ok(None);
        };
        drop(conn);
        let mut tx = write_tx(pool).await?;
        // The tenant first, as everywhere: the events below are queued under it.
        lock_tenant(&mut tx, &before.tenant).await?;
        let (status, entry, file, error) = match outcome {
            OutputOutcome::Stored(entry) if before.host => {
                (OutputStatus::Importing, Some(entry.as_str()), None, None)
            }
            OutputOutcome::Stored(entry) => {
                (OutputStatus::Temporary, Some(entry.as_str()), None, None)
            }
            OutputOutcome::Hosted(file) => (OutputStatus::Ready, None, Some(file.as_str()), None),
            OutputOutcome::Failed(error) => {
                (OutputStatus::Failed, None, None, Some(error.as_str()))
            }
            OutputOutcome::Released => (before.status, None, None, None),
        };
        let done = sqlx::query(
            "UPDATE render_outputs
             SET status = $1, cache_entry_id = COALESCE($2, cache_entry_id),
                 hosted_file_id = COALESCE($3, hosted_file_id), error = COALESCE($4, error),
                 claim_until = NULL, updated_at = $5
             WHERE id = $6 AND claim_until = $7 AND status IN ('waiting', 'fetching', 'importing')",
        )
        .bind(status.as_str())
        .bind(entry)
        .bind(file)
        .bind(error)
        .bind(to_ms(Utc::now()))
        .bind(id.as_str())
        .bind(to_ms(claimed_until))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let after = output(&mut tx, id.as_str())
            .await?
            .ok_or(CatalogError::NotFound)?;
        for event in announce(&after) {
            outbox::enqueue_in(&mut tx, &event).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Some(after))
    }

    async fn delete_render_output(
        &self,
        tenant: &ClientId,
        id: &OutputId,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<RenderOutput>> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, tenant).await?;
        let Some(before) = output(&mut tx, id.as_str())
            .await?
            .filter(|o| o.tenant == *tenant)
        else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE render_outputs SET status = 'deleted', claim_until = NULL, updated_at = $1
             WHERE id = $2",
        )
        .bind(to_ms(now))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(before))
    }
}
