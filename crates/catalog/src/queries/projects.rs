// Projects and their assets (seed 003): a grouping over the drive. An asset points at the drive
// file holding its bytes; the foreign key deletes the asset with the file.

use std::collections::HashMap;

use async_trait::async_trait;
use mediadrive_core::{
    catalog::{AssetStore, CatalogResult, ProjectStore},
    AssetCursor, AssetGeneration, AssetId, AssetQuery, AssetRemoval, CatalogError, ClientId,
    FileId, FileRecord, FolderPath, ItemStatus, NewProject, NewProjectAsset, PreloadId, Project,
    ProjectAsset, ProjectId, ScriptId, SweepRule,
};

use super::{
    backend, lock_tenant, placeholders,
    rows::{stored_id, stored_opt_id, FileRow, FILE_COLUMNS},
    write_tx, Backend, Conn, Pool,
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
        id: stored_id(id, "project id")?,
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

/// The files of `ids`, in one query.
async fn files_of(conn: &mut Conn, ids: &[&str]) -> CatalogResult<HashMap<String, FileRecord>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query_as::<_, FileRow>(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(backend)?;
    rows.into_iter()
        .map(|row| FileRecord::try_from(row).map(|f| (f.id.to_string(), f)))
        .collect()
}

/// The assets of `rows`, their files read in one query.
async fn assets(conn: &mut Conn, rows: Vec<AssetRow>) -> CatalogResult<Vec<ProjectAsset>> {
    let ids: Vec<&str> = rows.iter().filter_map(|row| row.7.as_deref()).collect();
    let mut files = files_of(conn, &ids).await?;
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
        let file = file.and_then(|id| files.remove(&id));
        let script_id: Option<ScriptId> = stored_opt_id(script_id, "script id")?;
        let generation = script_id.map(|script_id| AssetGeneration {
            script_id,
            item_status: item_status.as_deref().and_then(ItemStatus::parse),
            error,
        });
        out.push(ProjectAsset {
            id: stored_id(id, "asset id")?,
            tenant: ClientId::parse(&tenant).map_err(|_| corrupt("client id"))?,
            project_id: stored_id(project_id, "project id")?,
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
    let rows: Vec<AssetRow> = sqlx::query_as(&format!(
        "SELECT {ASSET_COLUMNS} FROM project_assets WHERE {condition} = $1"
    ))
    .bind(value)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(assets(&mut conn, rows).await?.pop())
}

pub async fn get(pool: &Pool, tenant: &ClientId, id: &ProjectId) -> CatalogResult<Option<Project>> {
    let row: Option<ProjectRow> = sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.id = $1 AND p.tenant_id = $2"
    ))
    .bind(id.as_str())
    .bind(tenant.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(project).transpose()
}

/// Inserts the asset if its project exists; returns its id, `NotFound` otherwise. `made_by` is the
/// script and the preload id of a generated asset.
pub async fn insert_asset(
    conn: &mut Conn,
    a: &NewProjectAsset,
    made_by: Option<(&ScriptId, &PreloadId)>,
) -> CatalogResult<AssetId> {
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query(
        "INSERT INTO project_assets (id, tenant_id, project_id, keyname, name, asset_type,
                                     description, created_at, upload_expires_at,
                                     create_parameters, script_id, preload_id, preload_position)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
         WHERE EXISTS (SELECT 1 FROM projects WHERE id = $3 AND tenant_id = $2)",
    )
    .bind(&id)
    .bind(a.tenant.as_str())
    .bind(a.project_id.as_str())
    .bind(&a.keyname)
    .bind(&a.name)
    .bind(&a.asset_type)
    .bind(a.description.as_deref())
    .bind(to_ms(a.now))
    .bind(to_ms(a.upload_expires_at))
    .bind(a.create_parameters.as_deref())
    .bind(made_by.map(|(script, _)| script.as_str()))
    .bind(made_by.map(|(_, preload)| preload.as_str()))
    .bind(made_by.map(|_| 0_i64))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if inserted.rows_affected() != 1 {
        return Err(CatalogError::NotFound);
    }
    stored_id(id, "asset id")
}

pub async fn get_asset(
    pool: &Pool,
    tenant: &ClientId,
    id: &AssetId,
) -> CatalogResult<Option<ProjectAsset>> {
    Ok(asset_where(pool, "id", id.as_str())
        .await?
        .filter(|a| a.tenant == *tenant))
}

/// Forgets assets whose upload never came; returns how many.
pub async fn expire_waiting(pool: &Pool, rule: &SweepRule) -> CatalogResult<u64> {
    if rule.dry_run {
        return Ok(0);
    }
    let done = sqlx::query(
        "DELETE FROM project_assets
         WHERE file_id IS NULL AND preload_id IS NULL AND upload_expires_at < $1",
    )
    .bind(to_ms(rule.now))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl ProjectStore for Backend {
    async fn create_project(&self, p: &NewProject) -> CatalogResult<Project> {
        let pool = &self.pool;
        let id = uuid::Uuid::new_v4().to_string();
        // Counted under the tenant's lock, so concurrent creations cannot pass the limit together.
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &p.tenant).await?;
        if p.max_projects > 0 {
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE tenant_id = $1")
                    .bind(p.tenant.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?;
            if count >= i64::from(p.max_projects) {
                return Err(CatalogError::TooManyProjects);
            }
        }
        sqlx::query(
            "INSERT INTO projects (id, tenant_id, name, description, data, folder, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(p.tenant.as_str())
        .bind(&p.name)
        .bind(p.description.as_deref())
        .bind(p.data.as_deref())
        .bind(p.folder.as_str())
        .bind(to_ms(p.now))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        get(pool, &p.tenant, &stored_id(id, "project id")?)
            .await?
            .ok_or(CatalogError::NotFound)
    }

    async fn projects(
        &self,
        tenant: &ClientId,
        limit: u32,
        offset: u64,
    ) -> CatalogResult<Vec<Project>> {
        let pool = &self.pool;
        let rows: Vec<ProjectRow> = sqlx::query_as(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.tenant_id = $1
             ORDER BY p.created_at DESC, p.id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        rows.into_iter().map(project).collect()
    }

    async fn project(&self, tenant: &ClientId, id: &ProjectId) -> CatalogResult<Option<Project>> {
        get(&self.pool, tenant, id).await
    }

    async fn delete_project(&self, tenant: &ClientId, id: &ProjectId) -> CatalogResult<bool> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        for table in ["project_assets", "project_scripts"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE project_id = $1 AND tenant_id = $2"
            ))
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let done = sqlx::query("DELETE FROM projects WHERE id = $1 AND tenant_id = $2")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl AssetStore for Backend {
    async fn create_project_asset(&self, a: &NewProjectAsset) -> CatalogResult<ProjectAsset> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        let id = insert_asset(&mut conn, a, None).await?;
        drop(conn);
        get_asset(pool, &a.tenant, &id)
            .await?
            .ok_or(CatalogError::NotFound)
    }

    async fn project_assets(&self, q: &AssetQuery) -> CatalogResult<Vec<ProjectAsset>> {
        let pool = &self.pool;
        let (after_ms, after_id) = match &q.after {
            Some(AssetCursor { created_ms, id }) => (*created_ms, id.as_str()),
            None => (i64::MAX, ""),
        };
        let mut conn = pool.acquire().await.map_err(backend)?;
        let rows: Vec<AssetRow> = sqlx::query_as(&format!(
            "SELECT {ASSET_COLUMNS} FROM project_assets
             WHERE project_id = $1 AND tenant_id = $2
               AND (created_at < $3 OR (created_at = $3 AND id < $4))
             ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(q.project_id.as_str())
        .bind(q.tenant.as_str())
        .bind(after_ms)
        .bind(after_id)
        .bind(i64::from(q.limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        assets(&mut conn, rows).await
    }

    async fn newest_assets(
        &self,
        tenant: &ClientId,
        projects: &[ProjectId],
        each: u32,
    ) -> CatalogResult<Vec<ProjectAsset>> {
        if projects.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let sql = format!(
            "SELECT {ASSET_COLUMNS} FROM project_assets WHERE id IN (
                 SELECT id FROM (
                     SELECT id, ROW_NUMBER() OVER (
                         PARTITION BY project_id ORDER BY created_at DESC, id DESC) AS rank
                     FROM project_assets
                     WHERE tenant_id = $1 AND project_id IN ({})) ranked
                 WHERE rank <= $2)
             ORDER BY project_id, created_at DESC, id DESC",
            placeholders(3, projects.len())
        );
        let mut query = sqlx::query_as::<_, AssetRow>(&sql)
            .bind(tenant.as_str())
            .bind(i64::from(each));
        for project in projects {
            query = query.bind(project.as_str());
        }
        let rows = query.fetch_all(&mut *conn).await.map_err(backend)?;
        assets(&mut conn, rows).await
    }

    async fn project_asset(
        &self,
        tenant: &ClientId,
        id: &AssetId,
    ) -> CatalogResult<Option<ProjectAsset>> {
        get_asset(&self.pool, tenant, id).await
    }

    async fn project_asset_by_key(&self, keyname: &str) -> CatalogResult<Option<ProjectAsset>> {
        let pool = &self.pool;
        asset_where(pool, "keyname", keyname).await
    }

    async fn attach_asset_file(
        &self,
        tenant: &ClientId,
        id: &AssetId,
        file: &FileId,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let done = sqlx::query(
            "UPDATE project_assets SET file_id = $1
             WHERE id = $2 AND tenant_id = $3 AND file_id IS NULL AND preload_id IS NULL",
        )
        .bind(file.as_str())
        .bind(id.as_str())
        .bind(tenant.as_str())
        .execute(pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_project_asset(
        &self,
        tenant: &ClientId,
        id: &AssetId,
    ) -> CatalogResult<AssetRemoval> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        let file: Option<Option<String>> = sqlx::query_scalar(
            "DELETE FROM project_assets WHERE id = $1 AND tenant_id = $2 RETURNING file_id",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(file) = file else {
            return Ok(AssetRemoval::Missing);
        };
        let last_holder = match file {
            Some(file) => {
                let others: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM project_assets WHERE file_id = $1")
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
}
