//! Projects (seed 003, the Video Jungle surface): a grouping over a tenant's drive. A project's
//! assets are drive files, counted against the same quota; an asset waits for its bytes until
//! its upload arrives or its upload time runs out.

use chrono::{DateTime, Utc};

use crate::{ClientId, FileRecord, FolderPath};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// A UUID.
    pub id: String,
    pub tenant: ClientId,
    pub name: String,
    pub description: Option<String>,
    /// Any JSON value the client stored with the project, as JSON text.
    pub data: Option<String>,
    /// Where the project's uploads land in the drive.
    pub folder: FolderPath,
    pub created_at: DateTime<Utc>,
    /// How many assets the project holds, uploaded or awaiting their upload.
    pub asset_count: u64,
}

#[derive(Debug, Clone)]
pub struct NewProject {
    pub tenant: ClientId,
    pub name: String,
    pub description: Option<String>,
    pub data: Option<String>,
    pub folder: FolderPath,
    pub now: DateTime<Utc>,
}

/// An asset of a project. It reads as uploaded once `file` holds its bytes; deleting that file
/// from the drive deletes the asset with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectAsset {
    /// A UUID.
    pub id: String,
    pub tenant: ClientId,
    pub project_id: String,
    /// A random UUID: who holds it may read the asset without an API key.
    pub keyname: String,
    /// The name the client gave the asset; names its file in the drive.
    pub name: String,
    pub asset_type: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Until when its upload is awaited; the sweeper forgets it afterwards.
    pub upload_expires_at: DateTime<Utc>,
    pub file: Option<FileRecord>,
}

#[derive(Debug, Clone)]
pub struct NewProjectAsset {
    pub tenant: ClientId,
    pub project_id: String,
    pub keyname: String,
    pub name: String,
    pub asset_type: String,
    pub description: Option<String>,
    pub now: DateTime<Utc>,
    pub upload_expires_at: DateTime<Utc>,
}

/// Where a page of a project's assets starts: after the asset created at `created_ms` with `id`
/// (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetCursor {
    pub created_ms: i64,
    pub id: String,
}

#[derive(Debug, Clone)]
pub struct AssetQuery {
    pub tenant: ClientId,
    pub project_id: String,
    pub limit: u32,
    pub after: Option<AssetCursor>,
}
