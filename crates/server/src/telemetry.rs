//! Prometheus metrics at `/metrics`, and the request id every response carries: what operators
//! graph, alert on and quote when they report a problem.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{error::ApiResult, state::AppState};

pub const REQUEST_DURATION: &str = "mediadrive_http_request_duration_seconds";
pub const REQUESTS: &str = "mediadrive_http_requests_total";
pub const BYTES_RECEIVED: &str = "mediadrive_bytes_received_total";
pub const BYTES_SENT: &str = "mediadrive_bytes_sent_total";
pub const UPLOADS_IN_FLIGHT: &str = "mediadrive_uploads_in_flight";
pub const JOBS_WAITING: &str = "mediadrive_jobs_waiting";
pub const SWEEPS: &str = "mediadrive_sweeps_total";
pub const BLOBS_RECLAIMED: &str = "mediadrive_blobs_reclaimed_total";
pub const WEBHOOK_ATTEMPTS: &str = "mediadrive_webhook_attempts_total";

/// Seconds; from a cache hit on loopback to a slow upload's confirmation.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use: like the port it listens on, metrics belong to
/// the process, so nodes started in one process (the tests) share them.
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), &DURATION_BUCKETS)
            .expect("the buckets are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
}

/// Counts each request by route template (never its URL, which may carry credentials), method
/// and status, and times it to its response headers; a body that streams on is not included.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_str().to_string();
    histogram!(REQUEST_DURATION, "method" => method.clone(), "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    counter!(REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    response
}

/// Held while an upload streams through this node.
pub struct InFlight;

impl InFlight {
    pub fn start() -> Self {
        gauge!(UPLOADS_IN_FLIGHT).increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(UPLOADS_IN_FLIGHT).decrement(1.0);
    }
}

pub fn received(bytes: usize) {
    counter!(BYTES_RECEIVED).increment(bytes as u64);
}

pub fn sent(bytes: usize) {
    counter!(BYTES_SENT).increment(bytes as u64);
}

pub fn swept(ok: bool, reclaimed: usize) {
    counter!(SWEEPS, "outcome" => if ok { "ok" } else { "failed" }).increment(1);
    counter!(BLOBS_RECLAIMED).increment(reclaimed as u64);
}

pub fn webhook_attempt(delivered: bool) {
    let outcome = if delivered { "delivered" } else { "failed" };
    counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
}

/// The Prometheus text exposition of everything this process recorded, with the job queues'
/// depths read from the catalog at scrape time (they are shared by every node).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let depths = state.catalog.queue_depths().await?;
    for (queue, waiting) in [
        ("probes", depths.probes),
        ("generations", depths.generations),
        ("render_outputs", depths.render_outputs),
        ("webhook_deliveries", depths.webhook_deliveries),
    ] {
        gauge!(JOBS_WAITING, "queue" => queue).set(waiting as f64);
    }
    let handle = recorder();
    handle.run_upkeep();
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response())
}
