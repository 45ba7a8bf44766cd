//! The drive: files and folders, listing them, moving and deleting them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CatalogResult, FileAnnouncer};
use crate::{
    ClientId, FileId, FileMove, FileName, FilePage, FileRecord, FolderEntry, FolderMove,
    FolderPath, FolderStats, ListQuery,
};

#[async_trait]
pub trait DriveStore: Send + Sync {
    async fn file(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        name: &FileName,
    ) -> CatalogResult<Option<FileRecord>>;
    /// A file in any state (pending ones too), by id.
    async fn file_by_id(&self, id: &FileId) -> CatalogResult<Option<FileRecord>>;
    async fn list_files(&self, query: &ListQuery) -> CatalogResult<FilePage>;
    async fn subfolders(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
    ) -> CatalogResult<Vec<FolderEntry>>;
    async fn folder_exists(&self, tenant: &ClientId, folder: &FolderPath) -> CatalogResult<bool>;
    async fn folder_tree(&self, tenant: &ClientId) -> CatalogResult<Vec<FolderStats>>;
    /// Creates the folder and its ancestors; false when it already existed.
    async fn create_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        now: DateTime<Utc>,
    ) -> CatalogResult<bool>;
    async fn move_file(&self, change: &FileMove) -> CatalogResult<FileRecord>;
    async fn move_folder(&self, change: &FolderMove) -> CatalogResult<()>;
    /// Deletes the named files that exist; returns them.
    async fn delete_files(
        &self,
        tenant: &ClientId,
        files: &[(FolderPath, FileName)],
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<Vec<FileRecord>>;
    /// Deletes a folder; with `recursive` also everything in it, otherwise it must be empty. Returns deleted files.
    async fn delete_folder(
        &self,
        tenant: &ClientId,
        folder: &FolderPath,
        recursive: bool,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<Vec<FileRecord>>;
}
