// Generated assets: a preload that makes an asset of a project, and the asset waiting for it.
// Their transactions span both aggregates, so they are composed here and neither module names
// the other.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, GeneratedStore, PreloadAnnouncer},
    CatalogError, ItemOutcome, NewGeneratedAsset, PreloadId, PreloadRecord, ProjectAsset,
};

use super::{
    backend, lock_tenant, preloads, projects, rows::stored_id, steps::outbox, write_tx, Backend,
    Conn, Pool,
};

async fn create(
    pool: &Pool,
    g: &NewGeneratedAsset,
) -> CatalogResult<(PreloadRecord, ProjectAsset)> {
    let mut tx = write_tx(pool).await?;
    let preload_id: PreloadId = stored_id(
        preloads::insert(&mut tx, &g.preload)
            .await
            .map_err(backend)?,
        "preload id",
    )?;
    let id = projects::insert_asset(&mut tx, &g.asset, Some((&g.script_id, &preload_id))).await?;
    let preload = preloads::load(&mut tx, &g.preload.tenant, &preload_id)
        .await?
        .ok_or(CatalogError::NotFound)?;
    tx.commit().await.map_err(backend)?;
    let asset = projects::get_asset(pool, &g.asset.tenant, &id)
        .await?
        .ok_or(CatalogError::NotFound)?;
    Ok((preload, asset))
}

/// Called as the preload item at (`preload_id`, `position`) ends, in its transaction: the
/// generated assets waiting for it take the drive file it was persisted as, or keep why not.
async fn settle_in(
    conn: &mut Conn,
    preload_id: &PreloadId,
    position: u32,
    outcome: &ItemOutcome,
) -> CatalogResult<()> {
    let error = match outcome {
        ItemOutcome::Failed(message) => Some(message.clone()),
        ItemOutcome::Ready(result) if !result.persistent => Some(
            result
                .warning
                .clone()
                .unwrap_or_else(|| "the asset was not persisted".into()),
        ),
        ItemOutcome::Ready(_) => None,
    };
    let file: Option<String> = if error.is_none() {
        sqlx::query_scalar(
            "SELECT c.persisted_file_id FROM preload_items i
             JOIN cache_entries c ON c.tenant_id = i.tenant_id AND c.fingerprint = i.fingerprint
             WHERE i.preload_id = $1 AND i.position = $2",
        )
        .bind(preload_id.as_str())
        .bind(position as i64)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .flatten()
    } else {
        None
    };
    // The file may have been deleted between its promotion and now.
    let error = match (&file, error) {
        (None, None) => {
            Some("the generated file was deleted before the asset could hold it".into())
        }
        (_, error) => error,
    };
    sqlx::query(
        "UPDATE project_assets SET file_id = $1, generation_error = $2
         WHERE preload_id = $3 AND preload_position = $4 AND file_id IS NULL
           AND generation_error IS NULL",
    )
    .bind(file.as_deref())
    .bind(error.as_deref())
    .bind(preload_id.as_str())
    .bind(position as i64)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl GeneratedStore for Backend {
    async fn create_generated_asset(
        &self,
        asset: &NewGeneratedAsset,
    ) -> CatalogResult<(PreloadRecord, ProjectAsset)> {
        create(&self.pool, asset).await
    }

    /// Ends an item, settles the assets waiting for it and announces it, in one transaction.
    async fn finish_preload_item(
        &self,
        preload_id: &PreloadId,
        position: u32,
        claimed_until: DateTime<Utc>,
        outcome: &ItemOutcome,
        announce: PreloadAnnouncer<'_>,
    ) -> CatalogResult<Option<bool>> {
        let pool = &self.pool;
        let Some(tenant) = preloads::tenant_of(pool, preload_id).await? else {
            return Ok(None);
        };
        let mut tx = write_tx(pool).await?;
        // The tenant first, as everywhere (the events below need it).
        lock_tenant(&mut tx, &tenant).await?;
        let Some(last) =
            preloads::finish_in(&mut tx, preload_id, position, claimed_until, outcome).await?
        else {
            return Ok(None);
        };
        settle_in(&mut tx, preload_id, position, outcome).await?;
        if let Some(record) = preloads::load(&mut tx, &tenant, preload_id).await? {
            for event in announce(&record, position, last) {
                outbox::enqueue_in(&mut tx, &event).await?;
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(Some(last))
    }
}
