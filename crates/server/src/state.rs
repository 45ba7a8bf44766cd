//! The one state value every handler and worker shares.

use std::sync::Arc;

use mediadrive_core::{BlobStore, Catalog, ClientId, FileRecord};
use mediadrive_generate::Registry;

use crate::{config::Config, limits::Limits, serve_cache::ServeCache, signing::UploadSigner};

#[derive(Clone)]
pub struct AppState {
    pub catalog: Arc<dyn Catalog>,
    pub blobs: Arc<dyn BlobStore>,
    pub config: Arc<Config>,
    pub signer: UploadSigner,
    pub cache: ServeCache,
    /// Woken when new bytes arrive, so probing starts at once.
    pub probe_wakeup: Arc<tokio::sync::Notify>,
    /// The generators preload items are made by.
    pub generators: Arc<Registry>,
    /// Woken when a preload is queued, so generation starts at once.
    pub generation_wakeup: Arc<tokio::sync::Notify>,
    /// Posts webhooks under the same address guard as URL sources.
    pub webhook_sender: mediadrive_generate::Fetcher,
    /// Woken when an event is written, so its deliveries go out at once.
    pub webhook_wakeup: Arc<tokio::sync::Notify>,
    /// Woken when render outputs have a download or a hosting copy due.
    pub render_wakeup: Arc<tokio::sync::Notify>,
    /// Request rates per key and uploads per tenant on this node.
    pub limits: Arc<Limits>,
    /// Cancelled when the shutdown grace period runs out: uploads still streaming stop then.
    pub cut_off: tokio_util::sync::CancellationToken,
}

impl AppState {
    /// The stable URL of a file (PRODUCT.md: `{public_url}/{client_id}/files/{folder}/{name}`).
    pub fn file_url(&self, tenant: &ClientId, path: &str) -> String {
        format!("{}/{}/files/{}", self.config.public_url, tenant, path)
    }

    pub fn record_url(&self, file: &FileRecord) -> String {
        self.file_url(&file.tenant, &file.path())
    }

    /// A URL from its path below the public URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.public_url)
    }
}
