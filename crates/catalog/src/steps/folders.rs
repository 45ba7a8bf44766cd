// Folder markers: explicit rows so empty folders exist, listed by parent.

use super::{backend, Conn, Pool};
use crate::time::{from_ms, to_ms};
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::CatalogResult, CatalogError, ClientId, FolderEntry, FolderPath, FolderStats,
};

/// Creates the folder and every ancestor that is missing; true when the folder itself was new.
pub async fn ensure(
    conn: &mut Conn,
    tenant: &ClientId,
    folder: &FolderPath,
    now: DateTime<Utc>,
) -> CatalogResult<bool> {
    let mut created = false;
    for path in folder.ancestors_and_self() {
        let parent = path.parent().unwrap_or_default();
        let done = sqlx::query(
            "INSERT INTO folders (tenant_id, path, parent, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, path) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(path.as_str())
        .bind(parent.as_str())
        .bind(to_ms(now))
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        created = done.rows_affected() == 1;
    }
    Ok(created)
}

pub async fn exists(
    conn: &mut Conn,
    tenant: &ClientId,
    folder: &FolderPath,
) -> CatalogResult<bool> {
    if folder.is_root() {
        return Ok(true);
    }
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM folders WHERE tenant_id = $1 AND path = $2)")
        .bind(tenant.as_str())
        .bind(folder.as_str())
        .fetch_one(conn)
        .await
        .map_err(backend)
}

pub async fn children(
    pool: &Pool,
    tenant: &ClientId,
    folder: &FolderPath,
) -> CatalogResult<Vec<FolderEntry>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT path, created_at FROM folders WHERE tenant_id = $1 AND parent = $2 ORDER BY path",
    )
    .bind(tenant.as_str())
    .bind(folder.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.into_iter()
        .map(|(path, created)| {
            Ok(FolderEntry {
                path: FolderPath::from_stored(&path)
                    .map_err(|_| CatalogError::Backend("corrupt folder in catalog".into()))?,
                created_at: from_ms(created),
            })
        })
        .collect()
}

pub async fn tree(pool: &Pool, tenant: &ClientId) -> CatalogResult<Vec<FolderStats>> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "WITH all_folders (path) AS (
             SELECT '' UNION ALL SELECT path FROM folders WHERE tenant_id = $1
         )
         SELECT a.path, COUNT(f.id), CAST(COALESCE(SUM(f.size), 0) AS BIGINT)
         FROM all_folders a
         LEFT JOIN files f ON f.tenant_id = $1 AND f.folder = a.path AND f.status = 'uploaded'
         GROUP BY a.path ORDER BY a.path",
    )
    .bind(tenant.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.into_iter()
        .map(|(path, files, bytes)| {
            Ok(FolderStats {
                path: FolderPath::from_stored(&path)
                    .map_err(|_| CatalogError::Backend("corrupt folder in catalog".into()))?,
                files: files as u64,
                bytes: bytes as u64,
            })
        })
        .collect()
}

/// SQL matching a folder column against `?from` and everything inside it, without LIKE
/// (folder names may hold `_`, a LIKE wildcard). `'/' < '0'`, so the range is exactly the subtree.
pub fn subtree_condition(column: &str, from_param: &str) -> String {
    format!(
        "({column} = {from_param} OR ({column} > {from_param} || '/' AND {column} < {from_param} || '0'))"
    )
}
