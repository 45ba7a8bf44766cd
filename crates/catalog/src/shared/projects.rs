// Projects and their assets (seed 003): a grouping over the drive. An asset points at the drive
// file holding its bytes; the foreign key deletes the asset with the file.

use mediadrive_core::{
    catalog::CatalogResult, AssetCursor, AssetGeneration, AssetQuery, AssetRemoval, CatalogError,
    ClientId, FileId, FileRecord, FolderPath, ItemOutcome, ItemStatus, NewGeneratedAsset,
    NewProject, NewProjectAsset, PreloadRecord, Project, ProjectAsset, SweepRule,
};

use super::{
    backend, preloads, prep,
    rows::{FileRow, FILE_COLUMNS},
    write_tx, Conn, Pool,
};
use crate::time::{from_ms, to_ms};

const PROJECT_COLUMNS: &str = "p.id, p.tenant_id, p.name, p.description, p.data, p.folder, \
     p.created_at, (SELECT COUNT(*) FROM project_assets a WHERE a.project_id = p.id)";

type ProjectRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
);

fn corrupt(what: &str) -> CatalogError {
    CatalogError::Backend(format!("corrupt {what} in catalog"))
}

fn project(row: ProjectRow) -> CatalogResult<Project> {
    let (id, tenant, name, description, data, folder, created, count) = row;
    Ok(Project {
        id,
        tenant: ClientId::parse(&tenant).map_err(|_| corrupt("client id"))?,
        name,
        description,
        data,
        folder: FolderPath::from_stored(&folder).map_err(|_| corrupt("folder"))?,
        created_at: from_ms(created),
        asset_count: count as u64,
    })
}

// Read from `project_assets` without an alias; the last column is the status of the preload item
// making a generated asset, while that preload is kept.
const ASSET_COLUMNS: &str = "id, tenant_id, project_id, keyname, name, asset_type, description, \
     file_id, created_at, upload_expires_at, create_parameters, script_id, generation_error, \
     (SELECT i.status FROM preload_items i WHERE i.preload_id = project_assets.preload_id \
        AND i.position = project_assets.preload_position)";

type AssetRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn file_of(conn: &mut Conn, id: &str) -> CatalogResult<Option<FileRecord>> {
    let row: Option<FileRow> = sqlx::query_as(&prep(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE id = ?1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    row.map(FileRecord::try_from).transpose()
}

async fn assets(conn: &mut Conn, rows: Vec<AssetRow>) -> CatalogResult<Vec<ProjectAsset>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (
            id,
            tenant,
            project_id,
            keyname,
            name,
            asset_type,
            description,
            file,
            created,
            until,
            create_parameters,
            script_id,
            error,
            item_status,
        ) = row;
        let file = match file {
            Some(file) => file_of(conn, &file).await?,
            None => None,
        };
        let generation = script_id.map(|script_id| AssetGeneration {
            script_id,
            item_status: item_status.as_deref().and_then(ItemStatus::parse),
            error,
        });
        out.push(ProjectAsset {
            id,
            tenant: ClientId::parse(&tenant).map_err(|_| corrupt("client id"))?,
            project_id,
            keyname,
            name,
            asset_type,
            description,
            created_at: from_ms(created),
            upload_expires_at: from_ms(until),
            file,
            create_parameters,
            generation,
        });
    }
    Ok(out)
}

async fn asset_where(
    pool: &Pool,
    condition: &str,
    value: &str,
) -> CatalogResult<Option<ProjectAsset>> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    let rows: Vec<AssetRow> = sqlx::query_as(&prep(&format!(
        "SELECT {ASSET_COLUMNS} FROM project_assets WHERE {condition} = ?1"
    )))
    .bind(value)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(assets(&mut conn, rows).await?.pop())
}

pub async fn create(pool: &Pool, p: &NewProject) -> CatalogResult<Project> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(&prep(
        "INSERT INTO projects (id, tenant_id, name, description, data, folder, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    ))
    .bind(&id)
    .bind(p.tenant.as_str())
    .bind(&p.name)
    .bind(p.description.as_deref())
    .bind(p.data.as_deref())
    .bind(p.folder.as_str())
    .bind(to_ms(p.now))
    .execute(pool)
    .await
    .map_err(backend)?;
    get(pool, &p.tenant, &id)
        .await?
        .ok_or(CatalogError::NotFound)
}

pub async fn list(pool: &Pool, tenant: &ClientId) -> CatalogResult<Vec<Project>> {
    let rows: Vec<ProjectRow> = sqlx::query_as(&prep(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.tenant_id = ?1
         ORDER BY p.created_at DESC, p.id DESC"
    )))
    .bind(tenant.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.into_iter().map(project).collect()
}

pub async fn get(pool: &Pool, tenant: &ClientId, id: &str) -> CatalogResult<Option<Project>> {
    let row: Option<ProjectRow> = sqlx::query_as(&prep(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.id = ?1 AND p.tenant_id = ?2"
    )))
    .bind(id)
    .bind(tenant.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(project).transpose()
}

pub async fn delete(pool: &Pool, tenant: &ClientId, id: &str) -> CatalogResult<bool> {
    let mut tx = write_tx(pool).await?;
    for table in ["project_assets", "project_scripts"] {
        sqlx::query(&prep(&format!(
            "DELETE FROM {table} WHERE project_id = ?1 AND tenant_id = ?2"
        )))
        .bind(id)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    let done = sqlx::query(&prep(
        "DELETE FROM projects WHERE id = ?1 AND tenant_id = ?2",
    ))
    .bind(id)
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

/// Inserts the asset if its project exists; returns its id, `NotFound` otherwise. `made_by` is the
/// script and the preload id of a generated asset.
async fn insert_asset(
    conn: &mut Conn,
    a: &NewProjectAsset,
    made_by: Option<(&str, &str)>,
) -> CatalogResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query(&prep(
        "INSERT INTO project_assets (id, tenant_id, project_id, keyname, name, asset_type,
                                     description, created_at, upload_expires_at,
                                     create_parameters, script_id, preload_id, preload_position)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
         WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?3 AND tenant_id = ?2)",
    ))
    .bind(&id)
    .bind(a.tenant.as_str())
    .bind(&a.project_id)
    .bind(&a.keyname)
    .bind(&a.name)
    .bind(&a.asset_type)
    .bind(a.description.as_deref())
    .bind(to_ms(a.now))
    .bind(to_ms(a.upload_expires_at))
    .bind(a.create_parameters.as_deref())
    .bind(made_by.map(|(script, _)| script))
    .bind(made_by.map(|(_, preload)| preload))
    .bind(made_by.map(|_| 0_i64))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if inserted.rows_affected() != 1 {
        return Err(CatalogError::NotFound);
    }
    Ok(id)
}

pub async fn create_asset(pool: &Pool, a: &NewProjectAsset) -> CatalogResult<ProjectAsset> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    let id = insert_asset(&mut conn, a, None).await?;
    drop(conn);
    get_asset(pool, &a.tenant, &id)
        .await?
        .ok_or(CatalogError::NotFound)
}

pub async fn create_generated(
    pool: &Pool,
    g: &NewGeneratedAsset,
) -> CatalogResult<(PreloadRecord, ProjectAsset)> {
    let mut tx = write_tx(pool).await?;
    let preload_id = preloads::insert(&mut tx, &g.preload)
        .await
        .map_err(backend)?;
    let id = insert_asset(&mut tx, &g.asset, Some((&g.script_id, &preload_id))).await?;
    let preload = preloads::load(&mut tx, &g.preload.tenant, &preload_id)
        .await?
        .ok_or(CatalogError::NotFound)?;
    tx.commit().await.map_err(backend)?;
    let asset = get_asset(pool, &g.asset.tenant, &id)
        .await?
        .ok_or(CatalogError::NotFound)?;
    Ok((preload, asset))
}

/// Called as the preload item at (`preload_id`, `position`) ends, in its transaction: the
/// generated assets waiting for it take the drive file it was persisted as, or keep why not.
pub(super) async fn settle(
    conn: &mut Conn,
    preload_id: &str,
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
        sqlx::query_scalar(&prep(
            "SELECT c.persisted_file_id FROM preload_items i
             JOIN cache_entries c ON c.tenant_id = i.tenant_id AND c.fingerprint = i.fingerprint
             WHERE i.preload_id = ?1 AND i.position = ?2",
        ))
        .bind(preload_id)
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
    sqlx::query(&prep(
        "UPDATE project_assets SET file_id = ?1, generation_error = ?2
         WHERE preload_id = ?3 AND preload_position = ?4 AND file_id IS NULL
           AND generation_error IS NULL",
    ))
    .bind(file.as_deref())
    .bind(error.as_deref())
    .bind(preload_id)
    .bind(position as i64)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

pub async fn list_assets(pool: &Pool, q: &AssetQuery) -> CatalogResult<Vec<ProjectAsset>> {
    let (after_ms, after_id) = match &q.after {
        Some(AssetCursor { created_ms, id }) => (*created_ms, id.as_str()),
        None => (i64::MAX, ""),
    };
    let mut conn = pool.acquire().await.map_err(backend)?;
    let rows: Vec<AssetRow> = sqlx::query_as(&prep(&format!(
        "SELECT {ASSET_COLUMNS} FROM project_assets
         WHERE project_id = ?1 AND tenant_id = ?2
           AND (created_at < ?3 OR (created_at = ?3 AND id < ?4))
         ORDER BY created_at DESC, id DESC LIMIT ?5"
    )))
    .bind(&q.project_id)
    .bind(q.tenant.as_str())
    .bind(after_ms)
    .bind(after_id)
    .bind(i64::from(q.limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    assets(&mut conn, rows).await
}

pub async fn get_asset(
    pool: &Pool,
    tenant: &ClientId,
    id: &str,
) -> CatalogResult<Option<ProjectAsset>> {
    Ok(asset_where(pool, "id", id)
        .await?
        .filter(|a| a.tenant == *tenant))
}

pub async fn asset_by_key(pool: &Pool, keyname: &str) -> CatalogResult<Option<ProjectAsset>> {
    asset_where(pool, "keyname", keyname).await
}

pub async fn attach_file(
    pool: &Pool,
    tenant: &ClientId,
    id: &str,
    file: &FileId,
) -> CatalogResult<bool> {
    let done = sqlx::query(&prep(
        "UPDATE project_assets SET file_id = ?1
         WHERE id = ?2 AND tenant_id = ?3 AND file_id IS NULL AND preload_id IS NULL",
    ))
    .bind(file.as_str())
    .bind(id)
    .bind(tenant.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_asset(pool: &Pool, tenant: &ClientId, id: &str) -> CatalogResult<AssetRemoval> {
    let mut tx = write_tx(pool).await?;
    let file: Option<Option<String>> = sqlx::query_scalar(&prep(
        "DELETE FROM project_assets WHERE id = ?1 AND tenant_id = ?2 RETURNING file_id",
    ))
    .bind(id)
    .bind(tenant.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(file) = file else {
        return Ok(AssetRemoval::Missing);
    };
    let last_holder = match file {
        Some(file) => {
            let others: i64 = sqlx::query_scalar(&prep(
                "SELECT COUNT(*) FROM project_assets WHERE file_id = ?1",
            ))
            .bind(&file)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            others == 0
        }
        None => false,
    };
    tx.commit().await.map_err(backend)?;
    Ok(AssetRemoval::Removed { last_holder })
}

/// Forgets assets whose upload never came; returns how many.
pub async fn expire_waiting(pool: &Pool, rule: &SweepRule) -> CatalogResult<u64> {
    if rule.dry_run {
        return Ok(0);
    }
    let done = sqlx::query(&prep(
        "DELETE FROM project_assets
         WHERE file_id IS NULL AND preload_id IS NULL AND upload_expires_at < ?1",
    ))
    .bind(to_ms(rule.now))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected())
}
