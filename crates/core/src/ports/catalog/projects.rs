//! Projects of the Video Jungle surface: the projects, their assets and their scripts.

use async_trait::async_trait;

use super::CatalogResult;
use crate::{
    AssetId, AssetQuery, AssetRemoval, ClientId, FileId, NewProject, NewProjectAsset,
    NewProjectScript, Project, ProjectAsset, ProjectId, ProjectScript, ScriptId,
};

#[async_trait]
pub trait ProjectStore: Send + Sync {
    async fn create_project(&self, project: &NewProject) -> CatalogResult<Project>;
    /// A page of the tenant's projects, newest first.
    async fn projects(
        &self,
        tenant: &ClientId,
        limit: u32,
        offset: u64,
    ) -> CatalogResult<Vec<Project>>;
    async fn project(&self, tenant: &ClientId, id: &ProjectId) -> CatalogResult<Option<Project>>;
    /// Forgets a project, its scripts and the assets still in it; their files must have been
    /// deleted first.
    /// False when there was none.
    async fn delete_project(&self, tenant: &ClientId, id: &ProjectId) -> CatalogResult<bool>;
}

#[async_trait]
pub trait AssetStore: Send + Sync {
    async fn create_project_asset(&self, asset: &NewProjectAsset) -> CatalogResult<ProjectAsset>;
    /// A page of a project's assets, newest first.
    async fn project_assets(&self, query: &AssetQuery) -> CatalogResult<Vec<ProjectAsset>>;
    /// The newest `each` assets of every one of `projects`, by project, newest first; in a
    /// fixed number of queries, however many projects and assets.
    async fn newest_assets(
        &self,
        tenant: &ClientId,
        projects: &[ProjectId],
        each: u32,
    ) -> CatalogResult<Vec<ProjectAsset>>;
    async fn project_asset(
        &self,
        tenant: &ClientId,
        id: &AssetId,
    ) -> CatalogResult<Option<ProjectAsset>>;
    async fn project_asset_by_key(&self, keyname: &str) -> CatalogResult<Option<ProjectAsset>>;
    /// Gives an asset still waiting for its bytes the (pending) file that takes them; false when
    /// it has one already or is gone.
    async fn attach_asset_file(
        &self,
        tenant: &ClientId,
        id: &AssetId,
        file: &FileId,
    ) -> CatalogResult<bool>;
    /// Forgets an asset; its file stays, for the caller to delete when no other asset holds it.
    async fn delete_project_asset(
        &self,
        tenant: &ClientId,
        id: &AssetId,
    ) -> CatalogResult<AssetRemoval>;
}

#[async_trait]
pub trait ScriptStore: Send + Sync {
    /// `NotFound` when the project is gone.
    async fn create_project_script(
        &self,
        script: &NewProjectScript,
    ) -> CatalogResult<ProjectScript>;
    /// A project's scripts, oldest first.
    async fn project_scripts(
        &self,
        tenant: &ClientId,
        project_id: &ProjectId,
    ) -> CatalogResult<Vec<ProjectScript>>;
    /// The scripts of every one of `projects`, by project, oldest first.
    async fn scripts_of_projects(
        &self,
        tenant: &ClientId,
        projects: &[ProjectId],
    ) -> CatalogResult<Vec<ProjectScript>>;
    async fn project_script(
        &self,
        tenant: &ClientId,
        project_id: &ProjectId,
        id: &ScriptId,
    ) -> CatalogResult<Option<ProjectScript>>;
    /// False when there was none.
    async fn delete_project_script(
        &self,
        tenant: &ClientId,
        project_id: &ProjectId,
        id: &ScriptId,
    ) -> CatalogResult<bool>;
}
