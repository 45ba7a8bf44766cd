//! mediadrive's server: the HTTP surfaces over the application layer, and file serving.

pub mod api;
pub mod auth;
mod connection;
pub mod dashboard;
pub mod error;
mod http;
pub mod listener;
pub mod preconditions;
mod router;
pub mod serve;
pub mod shotstack;
pub mod telemetry;
pub mod tus;
pub mod upload;
pub mod videojungle;

use std::time::Duration;

use mediadrive_app::previews;
pub use mediadrive_app::{App, Config, StartError};
use tokio::{net::TcpListener, sync::watch};

/// Serves until `shutdown` turns true, with the background workers running beside the listener.
/// Serves `listener` (and `/metrics` alone on `metrics`, when the operator gave it an address of
/// its own) until `shutdown` turns true.
pub async fn run(
    state: App,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Installed before anything is counted: counts made without a recorder are dropped.
    telemetry::recorder();
    // Detected once, before serving: /healthz and the prober only read the answer.
    tokio::task::spawn_blocking(previews::ffmpeg_available)
        .await
        .map_err(std::io::Error::other)?;
    let workers = mediadrive_app::workers::spawn_all(&state, &shutdown);
    let limits = &state.config.limits;
    let listen_limits = listener::ListenLimits {
        header_timeout: Duration::from_secs(limits.header_timeout_secs),
        idle_timeout: Duration::from_secs(limits.idle_timeout_secs),
        grace: Duration::from_secs(limits.shutdown_grace_secs),
        // 0 when nothing derived it (`serve` does, from the open-file limit): unbounded.
        max_connections: match limits.max_connections {
            0 => tokio::sync::Semaphore::MAX_PERMITS,
            n => n as usize,
        },
    };
    let cut_off = state.cut_off.clone();
    let state_for_metrics = state.clone();
    // The id is set first, so the span and the response carry the same one; a client's own
    // `x-request-id` is kept.
    let app = router::router(state)
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ));
    if let Some(metrics) = metrics {
        tokio::spawn(serve_metrics(metrics, state_for_metrics, shutdown.clone()));
    }
    listener::serve(listener, app, listen_limits, cut_off, shutdown).await;
    workers.stopped().await;
    Ok(())
}

/// `/metrics` and nothing else, for a scraper on an address clients do not reach.
async fn serve_metrics(listener: TcpListener, state: App, mut shutdown: watch::Receiver<bool>) {
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(telemetry::metrics))
        .layer(axum::Extension(telemetry::MetricsListener))
        .with_state(state);
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!(error = %e, "the metrics listener failed");
    }
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
