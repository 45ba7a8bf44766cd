//! Video Jungle's projects, as far as they hold files: creating one with its drive folder,
//! looking projects and assets up for their tenant, an asset's bytes uploaded into the folder,
//! and removal, assets before their files.

mod asset_upload;
mod create;
mod listing;
mod names;
mod owned;
mod reservation;

pub use asset_upload::AssetUpload;
pub use create::{create, random_key, ProjectRequest};
pub use listing::{list, Listed, ProjectPage};
pub use owned::{asset, delete_project, project, remove_assets};
