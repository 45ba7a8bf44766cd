//! mediadrive's server: the HTTP surfaces over the domain core, file serving and background workers.

pub mod api;
pub mod auth;
pub mod claimed;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod generation;
pub mod held_claim;
pub mod lifecycle;
pub mod limits;
pub mod listener;
pub mod preconditions;
pub mod previews;
pub mod probing;
pub mod reconcile;
pub mod renders;
pub mod serve;
pub mod serve_cache;
pub mod shotstack;
pub mod signing;
pub mod state;
pub mod telemetry;
pub mod temporary;
pub mod tus;
pub mod upload;
pub mod videojungle;
pub mod webhooks;

use std::{sync::Arc, time::Duration};

use mediadrive_core::{BlobStore, Catalog, CatalogError};
use rand::RngCore;
use tokio::{net::TcpListener, sync::watch};

pub use config::Config;
pub use state::AppState;

const UPLOAD_SIGNING_SECRET: &str = "upload-signing-key";

/// Why the server's state could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading the upload signing key: {0}")]
    Catalog(#[from] CatalogError),
    #[error("configuring the generators: {0}")]
    Generators(String),
}

impl AppState {
    /// Wires the ports together; the signing key is shared through the catalog so every node
    /// accepts URLs any node signed.
    pub async fn new(
        catalog: Arc<dyn Catalog>,
        blobs: Arc<dyn BlobStore>,
        config: Config,
    ) -> Result<Self, StartError> {
        let generators = mediadrive_generate::Registry::new(&config.generation)
            .map_err(StartError::Generators)?;
        let key = catalog
            .secret(UPLOAD_SIGNING_SECRET, &|| {
                let mut key = vec![0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                key
            })
            .await?;
        // Webhook targets are client-named URLs: the same guard as `src` downloads.
        let webhook_sender = mediadrive_generate::Fetcher::new(mediadrive_generate::FetchPolicy {
            allow: config.generation.fetch_allow.clone(),
            timeout: std::time::Duration::from_secs(config.webhooks.timeout_secs),
        });
        let cache = serve_cache::ServeCache::new(
            config.serve_cache_ttl,
            config.memory_cache_bytes,
            config.memory_cache_max_file,
        );
        Ok(Self {
            catalog,
            blobs,
            limits: Arc::new(limits::Limits::new(&config.limits)),
            cut_off: tokio_util::sync::CancellationToken::new(),
            config: Arc::new(config),
            signer: signing::UploadSigner::new(key),
            cache,
            probe_wakeup: Arc::default(),
            generators: Arc::new(generators),
            generation_wakeup: Arc::default(),
            webhook_sender,
            webhook_wakeup: Arc::default(),
            render_wakeup: Arc::default(),
        })
    }
}

/// Serves until `shutdown` turns true, with the sweeper running beside the listener.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Installed before anything is counted: counts made without a recorder are dropped.
    telemetry::recorder();
    // Detected once, before serving: /healthz and the prober only read the answer.
    tokio::task::spawn_blocking(previews::ffmpeg_available)
        .await
        .map_err(std::io::Error::other)?;
    let sweeper = tokio::spawn(lifecycle::run_sweeper(state.clone(), shutdown.clone()));
    let reconciler = tokio::spawn(reconcile::run_reconciler(state.clone(), shutdown.clone()));
    let prober = tokio::spawn(probing::run_prober(state.clone(), shutdown.clone()));
    let generator = tokio::spawn(generation::run_generator(state.clone(), shutdown.clone()));
    let deliverer = tokio::spawn(webhooks::run_deliverer(state.clone(), shutdown.clone()));
    let renderer = tokio::spawn(renders::run_renderer(state.clone(), shutdown.clone()));
    let limits = &state.config.limits;
    let header_timeout = Duration::from_secs(limits.header_timeout_secs);
    let grace = Duration::from_secs(limits.shutdown_grace_secs);
    let cut_off = state.cut_off.clone();
    // The id is set first, so the span and the response carry the same one; a client's own
    // `x-request-id` is kept.
    let app = api::router(state)
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ));
    listener::serve(listener, app, header_timeout, grace, cut_off, shutdown).await;
    let _ = sweeper.await;
    let _ = reconciler.await;
    let _ = prober.await;
    let _ = generator.await;
    let _ = deliverer.await;
    let _ = renderer.await;
    Ok(())
}

/// A request's span names its route's template, never the URL it came with: query strings carry
/// signatures, and paths carry keynames and upload ids, which are bearer credentials.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |m| m.as_str());
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %request.method(), route, request_id = id)
}
