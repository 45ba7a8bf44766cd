// Files in the drive: lookup, keyset-paginated listing, moves and deletes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{CatalogResult, DriveStore, FileAnnouncer},
    CatalogError, ClientId, Cursor, FileId, FileMove, FileName, FilePage, FileRecord, FolderEntry,
    FolderMove, FolderPath, FolderStats, ListQuery, SortField, SortOrder,
};
use sqlx::QueryBuilder;

use super::{
    backend, lock_tenant,
    rows::{self, FileRow, FILE_COLUMNS},
    steps::{files, folders, folders::subtree_condition, usage},
    write_tx, Backend, Db,
};
use crate::time::to_ms;

#[async_trait]
impl DriveStore for Backend {
    async fn file(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        name: &FileName,
    ) -> CatalogResult<Option<FileRecord>> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await.map_err(backend)?;
        files::find(&mut conn, tenant, folder, name).await
    }

    async fn file_by_id(&self, id: &FileId) -> CatalogResult<Option<FileRecord>> {
        files::by_id(&self.pool, id).await
    }

    async fn list_files(&self, q: &ListQuery) -> CatalogResult<FilePage> {
        let pool = &self.pool;
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = "
        ));
        qb.push_bind(q.tenant.as_str())
            .push(" AND folder = ")
            .push_bind(q.folder.as_str());
        if let Some(t) = q.media_type {
            qb.push(" AND media_type = ").push_bind(t.as_str());
        }
        let (cmp, dir) = match q.order {
            SortOrder::Asc => (">", "ASC"),
            SortOrder::Desc => ("<", "DESC"),
        };
        if let Some(after) = &q.after {
            match (q.sort, after.created_ms) {
                (SortField::Date, Some(created)) => {
                    qb.push(format!(" AND (created_at, name) {cmp} ("))
                        .push_bind(created)
                        .push(", ")
                        .push_bind(after.name.clone())
                        .push(")");
                }
                _ => {
                    qb.push(format!(" AND name {cmp} "))
                        .push_bind(after.name.clone());
                }
            }
        }
        match q.sort {
            SortField::Date => qb.push(format!(" ORDER BY created_at {dir}, name {dir}")),
            SortField::Name => qb.push(format!(" ORDER BY name {dir}")),
        };
        // One row beyond the page tells whether another page follows.
        qb.push(" LIMIT ").push_bind(i64::from(q.limit) + 1);
        let rows: Vec<FileRow> = qb.build_query_as().fetch_all(pool).await.map_err(backend)?;
        let mut files = rows::files(rows)?;
        let next = if files.len() > q.limit as usize {
            files.truncate(q.limit as usize);
            files.last().map(|last| Cursor {
                name: last.name.as_str().to_string(),
                created_ms: (q.sort == SortField::Date).then(|| to_ms(last.created_at)),
            })
        } else {
            None
        };
        Ok(FilePage { files, next })
    }

    async fn subfolders(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
    ) -> CatalogResult<Vec<FolderEntry>> {
        folders::children(&self.pool, tenant, folder).await
    }

    async fn folder_exists(&self, tenant: &ClientId, folder: &FolderPath) -> CatalogResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        folders::exists(&mut conn, tenant, folder).await
    }

    async fn folder_tree(&self, tenant: &ClientId) -> CatalogResult<Vec<FolderStats>> {
        folders::tree(&self.pool, tenant).await
    }

    async fn create_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool> {
        let mut tx = write_tx(&self.pool).await?;
        lock_tenant(&mut tx, tenant).await?;
        let created = folders::ensure(&mut tx, tenant, folder, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(created)
    }

    async fn move_file(&self, m: &FileMove) -> CatalogResult<FileRecord> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &m.tenant).await?;
        let file = files::find(&mut tx, &m.tenant, &m.from_folder, &m.name)
            .await?
            .ok_or(CatalogError::NotFound)?;
        if m.from_folder == m.to_folder && m.name == m.to_name {
            return Ok(file);
        }
        files::drop_lapsed_pending(&mut tx, &m.tenant, &m.to_folder, &m.to_name, m.now).await?;
        if files::find(&mut tx, &m.tenant, &m.to_folder, &m.to_name)
            .await?
            .is_some()
        {
            return Err(CatalogError::FileExists);
        }
        let temporary = m.to_folder.is_temporary();
        let size = file.size as i64;
        match (file.temporary, temporary) {
            (false, true) => {
                usage::ensure_temp_room(&mut tx, &m.tenant, file.size, m.default_quota).await?;
                usage::adjust(&mut tx, &m.tenant, file.status, -size).await?
            }
            (true, false) => {
                usage::charge(&mut tx, &m.tenant, file.status, file.size, m.default_quota).await?
            }
            _ => {}
        }
        folders::ensure(&mut tx, &m.tenant, &m.to_folder, m.now).await?;
        let now = to_ms(m.now);
        let row: FileRow = sqlx::query_as(&format!(
            "UPDATE files SET folder = $1, name = $2, temporary = $3, updated_at = $4,
                temporary_since = CASE WHEN $3 THEN COALESCE(temporary_since, $4) ELSE NULL END
             WHERE id = $5
             RETURNING {FILE_COLUMNS}"
        ))
        .bind(m.to_folder.as_str())
        .bind(m.to_name.as_str())
        .bind(temporary)
        .bind(now)
        .bind(file.id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        row.try_into()
    }

    async fn move_folder(&self, m: &FolderMove) -> CatalogResult<()> {
        let pool = &self.pool;
        if m.to != m.from && m.to.is_within(&m.from) {
            return Err(CatalogError::MoveIntoSelf);
        }
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, &m.tenant).await?;
        if !folders::exists(&mut tx, &m.tenant, &m.from).await? {
            return Err(CatalogError::NotFound);
        }
        if m.to == m.from {
            return Ok(());
        }
        if folders::exists(&mut tx, &m.tenant, &m.to).await? {
            return Err(CatalogError::FolderExists);
        }
        let before = usage::counted_bytes(&mut tx, &m.tenant).await?;
        if let Some(parent) = m.to.parent() {
            folders::ensure(&mut tx, &m.tenant, &parent, m.now).await?;
        }
        let to_parent = m.to.parent().unwrap_or_default();
        sqlx::query(&format!(
            "UPDATE folders SET
                path = $2 || substr(path, length($1) + 1),
                parent = CASE WHEN path = $1 THEN $3 ELSE $2 || substr(parent, length($1) + 1) END
             WHERE tenant_id = $4 AND {}",
            subtree_condition("path", "$1")
        ))
        .bind(m.from.as_str())
        .bind(m.to.as_str())
        .bind(to_parent.as_str())
        .bind(m.tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let temporary = m.to.is_temporary();
        sqlx::query(&format!(
            "UPDATE files SET
                folder = $2 || substr(folder, length($1) + 1),
                temporary = $3, updated_at = $4,
                temporary_since = CASE WHEN $3 THEN COALESCE(temporary_since, $4) ELSE NULL END
             WHERE tenant_id = $5 AND {}",
            subtree_condition("folder", "$1")
        ))
        .bind(m.from.as_str())
        .bind(m.to.as_str())
        .bind(temporary)
        .bind(to_ms(m.now))
        .bind(m.tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        usage::recompute(&mut tx, &m.tenant).await?;
        // Moving files out of `temp` makes them count; that must fit like an upload would. Moving
        // them in must fit the temp budget.
        let after = usage::counted_bytes(&mut tx, &m.tenant).await?;
        if after > before {
            usage::ensure_within_quota(&mut tx, &m.tenant, m.default_quota).await?;
        } else if after < before {
            usage::ensure_temp_room(&mut tx, &m.tenant, 0, m.default_quota).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn delete_files(
        &self,
        tenant: &ClientId,
        names: &[(FolderPath, FileName)],
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<Vec<FileRecord>> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, tenant).await?;
        let mut deleted = Vec::new();
        for (folder, name) in names {
            let row: Option<FileRow> = sqlx::query_as(&format!(
                "DELETE FROM files WHERE tenant_id = $1 AND folder = $2 AND name = $3
                 RETURNING {FILE_COLUMNS}"
            ))
            .bind(tenant.as_str())
            .bind(folder.as_str())
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            if let Some(row) = row {
                let file: FileRecord = row.try_into()?;
                if !file.temporary {
                    usage::adjust(&mut tx, tenant, file.status, -(file.size as i64)).await?;
                }
                deleted.push(file);
            }
        }
        files::remove(&mut tx, &deleted, announce).await?;
        tx.commit().await.map_err(backend)?;
        Ok(deleted)
    }

    async fn delete_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        recursive: bool,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<Vec<FileRecord>> {
        let pool = &self.pool;
        let mut tx = write_tx(pool).await?;
        lock_tenant(&mut tx, tenant).await?;
        if !folders::exists(&mut tx, tenant, folder).await? {
            return Err(CatalogError::NotFound);
        }
        if !recursive {
            let occupied: bool = sqlx::query_scalar(&format!(
                "SELECT EXISTS (SELECT 1 FROM files WHERE tenant_id = $2 AND folder = $1)
                     OR EXISTS (SELECT 1 FROM folders WHERE tenant_id = $2 AND parent = $1)
                     OR EXISTS (SELECT 1 FROM files WHERE tenant_id = $2 AND {})",
                subtree_condition("folder", "$1")
            ))
            .bind(folder.as_str())
            .bind(tenant.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            if occupied {
                return Err(CatalogError::FolderNotEmpty);
            }
        }
        let rows: Vec<FileRow> = sqlx::query_as(&format!(
            "DELETE FROM files WHERE tenant_id = $2 AND {} RETURNING {FILE_COLUMNS}",
            subtree_condition("folder", "$1")
        ))
        .bind(folder.as_str())
        .bind(tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let deleted = rows::files(rows)?;
        files::remove(&mut tx, &deleted, announce).await?;
        sqlx::query(&format!(
            "DELETE FROM folders WHERE tenant_id = $2 AND {}",
            subtree_condition("path", "$1")
        ))
        .bind(folder.as_str())
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        usage::recompute(&mut tx, tenant).await?;
        tx.commit().await.map_err(backend)?;
        Ok(deleted)
    }
}
