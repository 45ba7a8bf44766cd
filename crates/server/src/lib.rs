//! mediadrive's server: the HTTP surfaces over the domain core, file serving and background workers.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod lifecycle;
pub mod preconditions;
pub mod serve;
pub mod signing;
pub mod state;
pub mod upload;

use std::sync::Arc;

use mediadrive_core::{BlobStore, Catalog, CatalogError};
use rand::RngCore;
use tokio::{net::TcpListener, sync::watch};

pub use config::Config;
pub use state::AppState;

const UPLOAD_SIGNING_SECRET: &str = "upload-signing-key";

impl AppState {
    /// Wires the ports together; the signing key is shared through the catalog so every node
    /// accepts URLs any node signed.
    pub async fn new(
        catalog: Arc<dyn Catalog>,
        blobs: Arc<dyn BlobStore>,
        config: Config,
    ) -> Result<Self, CatalogError> {
        let key = catalog
            .secret(UPLOAD_SIGNING_SECRET, &|| {
                let mut key = vec![0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                key
            })
            .await?;
        Ok(Self {
            catalog,
            blobs,
            config: Arc::new(config),
            signer: signing::UploadSigner::new(key),
        })
    }
}

/// Serves until `shutdown` turns true, with the sweeper running beside the listener.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(lifecycle::run_sweeper(state.clone(), shutdown.clone()));
    let app = api::router(state).layer(tower_http::trace::TraceLayer::new_for_http());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await?;
    let _ = sweeper.await;
    Ok(())
}
