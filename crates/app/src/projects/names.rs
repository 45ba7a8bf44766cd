//! The drive file an asset's bytes get: its name, and a pending file under the first name that
//! is free.

use chrono::{DateTime, Utc};
use mediadrive_core::{CatalogError, FileName, FileRecord, NewUpload, ProjectAsset};

use crate::{
    error::{AppError, AppResult},
    App,
};

/// Reserves a pending file of `size` bytes for `asset` in its project's folder, under the first
/// of its [`file_names`] that no other file holds; `None` when every one is taken.
pub(super) async fn reserve_named(
    state: &App,
    asset: &ProjectAsset,
    extension: Option<&str>,
    content_type: &str,
    size: u64,
    until: DateTime<Utc>,
) -> AppResult<Option<FileRecord>> {
    let project = state
        .catalog
        .project(&asset.tenant, &asset.project_id)
        .await?
        .ok_or_else(|| AppError::not_found("Asset not found"))?;
    let now = Utc::now();
    for name in file_names(&asset.name, asset.id.as_str(), extension) {
        let reserved = state
            .catalog
            .reserve_upload(&NewUpload {
                tenant: asset.tenant.clone(),
                folder: project.folder.clone(),
                name,
                content_type: content_type.to_string(),
                size,
                now,
                upload_expires_at: until,
                default_quota: state.config.default_quota,
            })
            .await;
        match reserved {
            Ok(file) => return Ok(Some(file)),
            Err(CatalogError::FileExists) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// The asset's name, with the real container's extension when it has none, then the same with
/// the asset id's first eight characters, should another file hold the name.
fn file_names(name: &str, id: &str, extension: Option<&str>) -> Vec<FileName> {
    let with_ext = match extension {
        Some(ext) if !name.contains('.') && ext != "bin" => format!("{name}.{ext}"),
        _ => name.to_string(),
    };
    let (stem, ext) = match with_ext.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem.to_string(), format!(".{ext}")),
        _ => (with_ext.clone(), String::new()),
    };
    [with_ext.clone(), format!("{stem}-{}{ext}", &id[..8])]
        .iter()
        .filter_map(|n| FileName::sanitise(n).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(name: &str, ext: Option<&str>) -> Vec<String> {
        file_names(name, "9c5e9ddd-2b99", ext)
            .into_iter()
            .map(|n| n.as_str().to_string())
            .collect()
    }

    #[test]
    fn a_name_without_extension_takes_the_real_one() {
        assert_eq!(
            names("intro", Some("mp4")),
            ["intro.mp4", "intro-9c5e9ddd.mp4"]
        );
        assert_eq!(
            names("intro.mov", Some("mp4")),
            ["intro.mov", "intro-9c5e9ddd.mov"]
        );
        assert_eq!(names("notes", None), ["notes", "notes-9c5e9ddd"]);
    }
}
