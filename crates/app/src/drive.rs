//! Deleting from the drive, the one way every surface and worker does it: the catalog removes the
//! files and writes their `file.deleted` events in one transaction; then the cached paths are
//! forgotten, the deliverer woken, and the bytes no file holds any more reclaimed.

use mediadrive_core::{CatalogError, ClientId, FileName, FileRecord, FolderPath};

use crate::{error::AppResult, lifecycle, webhooks, App, AppError};

/// Deletes the files at these places; returns those that were there.
pub async fn delete_files(
    state: &App,
    tenant: &ClientId,
    files: &[(FolderPath, FileName)],
) -> AppResult<Vec<FileRecord>> {
    let announce = |f: &FileRecord| webhooks::file_event(state, "file.deleted", f);
    let deleted = state.catalog.delete_files(tenant, files, &announce).await?;
    deleted_from(state, tenant, &deleted).await;
    Ok(deleted)
}

/// Deletes these file records, where they still are.
pub async fn delete_records(state: &App, files: &[FileRecord]) -> AppResult<Vec<FileRecord>> {
    let Some(first) = files.first() else {
        return Ok(Vec::new());
    };
    let places: Vec<_> = files
        .iter()
        .map(|f| (f.folder.clone(), f.name.clone()))
        .collect();
    delete_files(state, &first.tenant, &places).await
}

/// Deletes a folder; with `recursive` also everything in it, otherwise it must be empty.
pub async fn delete_folder(
    state: &App,
    tenant: &ClientId,
    folder: &FolderPath,
    recursive: bool,
) -> AppResult<Vec<FileRecord>> {
    let announce = |f: &FileRecord| webhooks::file_event(state, "file.deleted", f);
    let deleted = state
        .catalog
        .delete_folder(tenant, folder, recursive, &announce)
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => AppError::not_found("Folder not found"),
            other => other.into(),
        })?;
    deleted_from(state, tenant, &deleted).await;
    Ok(deleted)
}

async fn deleted_from(state: &App, tenant: &ClientId, deleted: &[FileRecord]) {
    state.cache.forget_tenant(tenant);
    state.wakeups.webhooks.notify_one();
    lifecycle::reclaim(state, deleted).await;
}
