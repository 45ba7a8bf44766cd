//! A new project, with a drive folder of its own, `projects/{name}-{id prefix}`, so its uploads
//! show in the dashboard beside everything else.

use chrono::Utc;
use mediadrive_core::{ClientId, FolderPath, NewProject, Project};

use crate::{error::AppResult, App};

pub struct ProjectRequest<'a> {
    pub tenant: ClientId,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// Any JSON value, as text.
    pub data: Option<String>,
}

/// Creates a project, within the tenant's `[limits] projects_per_tenant`.
pub async fn create(state: &App, request: ProjectRequest<'_>) -> AppResult<Project> {
    // The suffix only keeps two projects of one name apart.
    let folder = folder_for(request.name, &random_key());
    Ok(state
        .catalog
        .create_project(&NewProject {
            tenant: request.tenant,
            name: request.name.to_string(),
            description: request.description.map(str::to_string),
            data: request.data,
            folder,
            now: Utc::now(),
            max_projects: state.config.limits.projects_per_tenant,
        })
        .await?)
}

/// `projects/{slug}-{first 8 of the id}`: readable in the dashboard, never shared by two projects.
fn folder_for(name: &str, id: &str) -> FolderPath {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug: Vec<&str> = slug.split('-').filter(|s| !s.is_empty()).collect();
    let slug = match slug.join("-") {
        s if s.is_empty() => "project".to_string(),
        s => s.chars().take(60).collect(),
    };
    FolderPath::from_stored(&format!("projects/{slug}-{}", &id[..8]))
        .expect("slugs and hex are valid folder names")
}

/// A random UUID (version 4): an asset's keyname is a bearer key, so it must not be guessable.
pub fn random_key() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
