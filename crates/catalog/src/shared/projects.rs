// Projects and their assets (seed 003): a grouping over the drive. An asset points at the drive
// file holding its bytes; the foreign key deletes the asset with the file.

use mediadrive_core::{
    catalog::CatalogResult, AssetCursor, AssetQuery, CatalogError, ClientId, FileId, FileRecord,
    FolderPath, NewProject, NewProjectAsset, Project, ProjectAsset, SweepRule,
};

use super::{
    backend, prep,
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

const ASSET_COLUMNS: &str = "id, tenant_id, project_id, keyname, name, asset_type, description, \
     file_id, created_at, upload_expires_at";

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
        let (id, tenant, project_id, keyname, name, asset_type, description, file, created, until) =
            row;
        let file = match file {
            Some(file) => file_of(conn, &file).await?,
            None => None,
        };
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
    sqlx::query(&prep(
        "DELETE FROM project_assets WHERE project_id = ?1 AND tenant_id = ?2",
    ))
    .bind(id)
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
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

pub async fn create_asset(pool: &Pool, a: &NewProjectAsset) -> CatalogResult<ProjectAsset> {
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query(&prep(
        "INSERT INTO project_assets (id, tenant_id, project_id, keyname, name, asset_type,
                                     description, created_at, upload_expires_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
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
    .execute(pool)
    .await
    .map_err(backend)?;
    if inserted.rows_affected() != 1 {
        return Err(CatalogError::NotFound);
    }
    get_asset(pool, &a.tenant, &id)
        .await?
        .ok_or(CatalogError::NotFound)
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
         WHERE id = ?2 AND tenant_id = ?3 AND file_id IS NULL",
    ))
    .bind(file.as_str())
    .bind(id)
    .bind(tenant.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_asset(pool: &Pool, tenant: &ClientId, id: &str) -> CatalogResult<bool> {
    let done = sqlx::query(&prep(
        "DELETE FROM project_assets WHERE id = ?1 AND tenant_id = ?2",
    ))
    .bind(id)
    .bind(tenant.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

/// Forgets assets whose upload never came; returns how many.
pub async fn expire_waiting(pool: &Pool, rule: &SweepRule) -> CatalogResult<u64> {
    if rule.dry_run {
        return Ok(0);
    }
    let done = sqlx::query(&prep(
        "DELETE FROM project_assets WHERE file_id IS NULL AND upload_expires_at < ?1",
    ))
    .bind(to_ms(rule.now))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected())
}
