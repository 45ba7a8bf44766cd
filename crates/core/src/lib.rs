//! Domain core of mediadrive: the newtypes with rules, the records, and the ports to storage.

pub mod blobs;
pub mod catalog;
pub mod generation;
pub mod hash;
pub mod ids;
pub mod model;
pub mod paths;
pub mod projects;
pub mod renders;
pub mod role;
pub mod webhooks;

pub use blobs::{BlobError, BlobStore};
pub use catalog::{Catalog, CatalogError};
pub use generation::*;
pub use hash::ContentHash;
pub use ids::{ClientId, FileId, IdError};
pub use model::*;
pub use paths::{FileName, FolderPath, PathError};
pub use projects::*;
pub use renders::*;
pub use role::{Action, Role};
pub use webhooks::*;
