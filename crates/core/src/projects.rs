//! Projects (seed 003, the Video Jungle surface): a grouping over a tenant's drive. A project's
//! assets are drive files, counted against the same quota; an asset waits for its bytes until
//! its upload arrives or its upload time runs out.

use chrono::{DateTime, Utc};

use crate::{
    AssetId, ClientId, FileRecord, FolderPath, ItemStatus, NewPreload, ProjectId, ScriptId,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
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
    /// Projects the tenant may have at most, this one included; 0 leaves them unbounded.
    pub max_projects: u32,
}

/// An asset of a project. It reads as uploaded once `file` holds its bytes; deleting that file
/// from the drive deletes the asset with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectAsset {
    pub id: AssetId,
    pub tenant: ClientId,
    pub project_id: ProjectId,
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
    /// The parameters a script ran with, as a JSON object.
    pub create_parameters: Option<String>,
    /// Set for an asset made by running a script.
    pub generation: Option<AssetGeneration>,
}

/// How the making of a generated asset goes. Once its preload item ends, the asset holds the file
/// or `error` says why not; the preload itself may then be forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetGeneration {
    pub script_id: ScriptId,
    /// The preload item's status while the preload is kept.
    pub item_status: Option<ItemStatus>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewProjectAsset {
    pub tenant: ClientId,
    pub project_id: ProjectId,
    pub keyname: String,
    pub name: String,
    pub asset_type: String,
    pub description: Option<String>,
    pub create_parameters: Option<String>,
    pub now: DateTime<Utc>,
    pub upload_expires_at: DateTime<Utc>,
}

/// An asset made by running a script: the preload of its one item and the asset waiting for it
/// are recorded together.
#[derive(Debug, Clone)]
pub struct NewGeneratedAsset {
    pub asset: NewProjectAsset,
    pub script_id: ScriptId,
    pub preload: NewPreload,
}

/// What deleting an asset leaves to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetRemoval {
    /// There was no such asset.
    Missing,
    /// The asset is gone. When it was the last asset holding its file, the caller deletes that
    /// file as the drive does (assets generated from equal requests share one).
    Removed { last_holder: bool },
}

/// A script (seed 003): a saved preload item whose string fields may hold `{{name}}`
/// placeholders, filled from the parameters it is run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectScript {
    pub id: ScriptId,
    pub tenant: ClientId,
    pub project_id: ProjectId,
    pub name: String,
    /// The preload item, as JSON text.
    pub template: String,
    /// The parameters it takes, a JSON list of objects with a `name`.
    pub inputs: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewProjectScript {
    pub tenant: ClientId,
    pub project_id: ProjectId,
    pub name: String,
    pub template: String,
    pub inputs: String,
    pub now: DateTime<Utc>,
}

/// Where a page of a project's assets starts: after the asset created at `created_ms` with `id`
/// (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetCursor {
    pub created_ms: i64,
    /// The asset's id as the client's cursor carried it: a position, compared as text, so a
    /// cursor that names no asset still pages on from where it points.
    pub id: String,
}

#[derive(Debug, Clone)]
pub struct AssetQuery {
    pub tenant: ClientId,
    pub project_id: ProjectId,
    pub limit: u32,
    pub after: Option<AssetCursor>,
}
