//! A page of a tenant's projects with what each shows of itself (its newest assets and its
//! scripts), read in a fixed number of catalog queries however long the page.

use mediadrive_core::{ClientId, Project, ProjectAsset, ProjectId, ProjectScript};

use crate::{error::AppResult, App};

/// A project as a listing shows it.
pub struct Listed {
    pub project: Project,
    /// Its newest assets, newest first.
    pub assets: Vec<ProjectAsset>,
    pub scripts: Vec<ProjectScript>,
}

pub struct ProjectPage {
    pub projects: Vec<Listed>,
    /// Whether projects follow this page.
    pub more: bool,
}

/// Projects `offset..offset + limit` of the tenant, newest first, each with its newest
/// `assets_each` assets.
pub async fn list(
    state: &App,
    tenant: &ClientId,
    limit: u32,
    offset: u64,
    assets_each: u32,
) -> AppResult<ProjectPage> {
    let mut projects = state.catalog.projects(tenant, limit + 1, offset).await?;
    let more = projects.len() > limit as usize;
    projects.truncate(limit as usize);
    let ids: Vec<ProjectId> = projects.iter().map(|p| p.id.clone()).collect();
    let mut assets = state
        .catalog
        .newest_assets(tenant, &ids, assets_each)
        .await?;
    let mut scripts = state.catalog.scripts_of_projects(tenant, &ids).await?;
    let projects = projects
        .into_iter()
        .map(|project| {
            let (own_assets, rest) = assets.drain(..).partition(|a| a.project_id == project.id);
            assets = rest;
            let (own_scripts, rest) = scripts.drain(..).partition(|s| s.project_id == project.id);
            scripts = rest;
            Listed {
                project,
                assets: own_assets,
                scripts: own_scripts,
            }
        })
        .collect();
    Ok(ProjectPage { projects, more })
}
