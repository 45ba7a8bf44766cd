//! The catalog port: where metadata lives (tenants, keys, files, folders, blob references), as one
//! small trait per aggregate so that a test fakes only the part its subject uses.

mod blobs;
mod cache;
mod drive;
mod generated;
mod health;
mod keys;
mod preloads;
mod probes;
mod projects;
mod renders;
mod sweeps;
mod tenants;
mod uploads;
mod webhooks;

use crate::{FileRecord, NewEvent, PreloadRecord, RenderOutput};

pub use blobs::BlobRefStore;
pub use cache::CacheStore;
pub use drive::DriveStore;
pub use generated::GeneratedStore;
pub use health::HealthStore;
pub use keys::KeyStore;
pub use preloads::PreloadStore;
pub use probes::{PreviewStore, ProbeStore};
pub use projects::{AssetStore, ProjectStore, ScriptStore};
pub use renders::RenderStore;
pub use sweeps::SweepStore;
pub use tenants::{CreditStore, TenantStore};
pub use uploads::UploadStore;
pub use webhooks::{DeliveryStore, WebhookStore};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("not found")]
    NotFound,
    #[error("a file with this name already exists")]
    FileExists,
    #[error("a folder with this name already exists")]
    FolderExists,
    #[error("storage is blocked or the quota would be exceeded")]
    StorageBlocked,
    #[error("the temporary storage budget would be exceeded")]
    TempStorageFull,
    #[error("the tenant has as many projects as it may")]
    TooManyProjects,
    #[error("the tenant has as many webhook endpoints as it may")]
    TooManyEndpoints,
    #[error("folder is not empty")]
    FolderNotEmpty,
    #[error("a folder cannot be moved into itself")]
    MoveIntoSelf,
    #[error("blob is being reclaimed")]
    BlobBusy,
    #[error("catalog backend failed: {0}")]
    Backend(String),
}

pub type CatalogResult<T> = Result<T, CatalogError>;

/// Builds the webhook event that announces a change to a file. The catalog writes it to the outbox
/// in the change's own transaction, so no committed change goes unannounced.
pub type FileAnnouncer<'a> = &'a (dyn Fn(&FileRecord) -> NewEvent + Sync);

/// Builds the events announcing that the item at a position of a preload ended (and, when the
/// flag says it was the last open one, that the preload is complete), written in the same
/// transaction as the item's result.
pub type PreloadAnnouncer<'a> = &'a (dyn Fn(&PreloadRecord, u32, bool) -> Vec<NewEvent> + Sync);

/// Builds the events announcing how a render output moved on (hosted or failed), written in the
/// same transaction as that change; none for the steps in between.
pub type OutputAnnouncer<'a> = &'a (dyn Fn(&RenderOutput) -> Vec<NewEvent> + Sync);

/// The whole catalog, as the server holds it (`Arc<dyn Catalog>`). Calling a method needs its
/// trait in scope: `use mediadrive_core::catalog::prelude::*;`.
pub trait Catalog:
    HealthStore
    + TenantStore
    + KeyStore
    + CreditStore
    + DriveStore
    + UploadStore
    + BlobRefStore
    + ProbeStore
    + PreviewStore
    + SweepStore
    + PreloadStore
    + GeneratedStore
    + CacheStore
    + RenderStore
    + ProjectStore
    + AssetStore
    + ScriptStore
    + WebhookStore
    + DeliveryStore
    + 'static
{
}

impl<T> Catalog for T where
    T: HealthStore
        + TenantStore
        + KeyStore
        + CreditStore
        + DriveStore
        + UploadStore
        + BlobRefStore
        + ProbeStore
        + PreviewStore
        + SweepStore
        + PreloadStore
        + GeneratedStore
        + CacheStore
        + RenderStore
        + ProjectStore
        + AssetStore
        + ScriptStore
        + WebhookStore
        + DeliveryStore
        + 'static
{
}

/// Every store trait, for callers of [`Catalog`] (a supertrait's methods need that trait in scope).
pub mod prelude {
    pub use super::{
        AssetStore, BlobRefStore, CacheStore, Catalog, CreditStore, DeliveryStore, DriveStore,
        GeneratedStore, HealthStore, KeyStore, PreloadStore, PreviewStore, ProbeStore,
        ProjectStore, RenderStore, ScriptStore, SweepStore, TenantStore, UploadStore, WebhookStore,
    };
}
