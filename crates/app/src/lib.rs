//! mediadrive's application layer: the use cases every HTTP surface calls and the background
//! workers, over the catalog and blob store ports. Nothing here knows HTTP, so no use case can
//! reach for a handler.

pub mod blob_lease;
pub mod claimed;
pub mod config;
pub mod drive;
pub mod error;
pub mod generation;
pub mod held_claim;
pub mod ingest;
pub mod keys;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod preloads;
pub mod previews;
pub mod probing;
pub mod projects;
pub mod reconcile;
pub mod renders;
pub mod representations;
pub mod serve_cache;
pub mod signing;
pub mod signing_keys;
pub mod temporary;
pub mod uploads;
pub mod wakeups;
pub mod webhooks;
pub mod worker;
pub mod workers;

use std::sync::Arc;

use mediadrive_core::{BlobStore, Catalog, CatalogError, ClientId, FileRecord};
use mediadrive_generate::{Fetch, FetchPolicy, Network, Registry};

pub use config::Config;
pub use error::{AppError, AppResult, ErrorKind};

use crate::{limits::Limits, serve_cache::ServeCache, signing::UploadSigner};

/// Why the application could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading the upload signing key: {0}")]
    Catalog(#[from] CatalogError),
    #[error("configuring the generators: {0}")]
    Generators(String),
}

#[derive(Clone)]
pub struct App {
    pub catalog: Arc<dyn Catalog>,
    pub blobs: Arc<dyn BlobStore>,
    pub config: Arc<Config>,
    pub signer: UploadSigner,
    pub cache: ServeCache,
    /// The generators preload items are made by.
    pub generators: Arc<Registry>,
    /// Posts webhooks under the same address guard as URL sources.
    pub webhook_sender: Arc<dyn Fetch>,
    /// How use cases tell the background workers that work is due.
    pub wakeups: wakeups::Wakeups,
    /// Request rates per key and uploads per tenant on this node.
    pub limits: Arc<Limits>,
    /// Cancelled when the shutdown grace period runs out: uploads still streaming stop then.
    pub cut_off: tokio_util::sync::CancellationToken,
}

impl App {
    /// Wires the ports together; the signing key is shared through the catalog so every node
    /// accepts URLs any node signed. `network` makes what reaches the network (fetches, webhooks,
    /// model servers).
    pub async fn new(
        catalog: Arc<dyn Catalog>,
        blobs: Arc<dyn BlobStore>,
        config: Config,
        network: &dyn Network,
    ) -> Result<Self, StartError> {
        let idle = std::time::Duration::from_secs(config.limits.body_idle_timeout_secs);
        let generators =
            Registry::new(&config.generation, idle, network).map_err(StartError::Generators)?;
        let signer = signing_keys::load(catalog.as_ref()).await?;
        // Webhook targets are client-named URLs: the same guard as `src` downloads.
        let webhook_sender = network.fetcher(FetchPolicy {
            allow: config.generation.fetch_allow.clone(),
            timeout: std::time::Duration::from_secs(config.webhooks.timeout_secs),
            idle_timeout: std::time::Duration::from_secs(config.webhooks.timeout_secs),
        });
        let cache = ServeCache::new(
            config.serve_cache_ttl,
            config.memory_cache_bytes,
            config.memory_cache_max_file,
        );
        Ok(Self {
            catalog,
            blobs,
            limits: Arc::new(Limits::new(&config.limits)),
            cut_off: tokio_util::sync::CancellationToken::new(),
            config: Arc::new(config),
            signer,
            cache,
            generators: Arc::new(generators),
            webhook_sender,
            wakeups: wakeups::Wakeups::default(),
        })
    }

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
