//! A tenant's projects and assets, looked up by id, and how they go: an asset before its file, so
//! a removal cut short leaves a drive file without an asset, never an asset without its bytes.

use mediadrive_core::{
    AssetId, AssetQuery, AssetRemoval, ClientId, Project, ProjectAsset, ProjectId,
};

use crate::{
    drive,
    error::{AppError, AppResult},
    App,
};

/// Assets removed per step of a project's deletion, so a deletion cut short leaves a smaller
/// project.
const REMOVAL_PAGE: u32 = 100;

/// The tenant's project `id`; a malformed id names no project: the same 404 as an unknown one.
pub async fn project(state: &App, tenant: &ClientId, id: &str) -> AppResult<Project> {
    let not_found = || AppError::not_found("Project not found");
    let id = ProjectId::parse(id).map_err(|_| not_found())?;
    state
        .catalog
        .project(tenant, &id)
        .await?
        .ok_or_else(not_found)
}

/// The tenant's asset `id`; a malformed id names no asset: the same 404 as an unknown one.
pub async fn asset(state: &App, tenant: &ClientId, id: &str) -> AppResult<ProjectAsset> {
    let not_found = || AppError::not_found("Asset not found");
    let id = AssetId::parse(id).map_err(|_| not_found())?;
    state
        .catalog
        .project_asset(tenant, &id)
        .await?
        .ok_or_else(not_found)
}

/// Forgets assets, then deletes the files no other asset holds; returns how many assets were
/// still there.
pub async fn remove_assets(state: &App, assets: &[ProjectAsset]) -> AppResult<usize> {
    let mut files = Vec::new();
    let mut removed = 0;
    for asset in assets {
        let removal = state
            .catalog
            .delete_project_asset(&asset.tenant, &asset.id)
            .await?;
        if let AssetRemoval::Removed { last_holder } = removal {
            removed += 1;
            if last_holder {
                files.extend(asset.file.clone());
            }
        }
    }
    drive::delete_records(state, &files).await?;
    Ok(removed)
}

/// Deletes a project and its assets; their files leave the drive (and the quota).
pub async fn delete_project(state: &App, project: &Project) -> AppResult<()> {
    loop {
        let page = state
            .catalog
            .project_assets(&AssetQuery {
                tenant: project.tenant.clone(),
                project_id: project.id.clone(),
                limit: REMOVAL_PAGE,
                after: None,
            })
            .await?;
        if page.is_empty() {
            break;
        }
        remove_assets(state, &page).await?;
    }
    match state
        .catalog
        .delete_project(&project.tenant, &project.id)
        .await?
    {
        true => Ok(()),
        false => Err(AppError::not_found("Project not found")),
    }
}
