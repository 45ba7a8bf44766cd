//! Prometheus metrics at `/metrics`, and the request id every response carries: what operators
//! graph, alert on and quote when they report a problem.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Extension,
};
use metrics::{counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{
    error::{ApiError, ApiResult},
    App,
};

pub use mediadrive_app::metrics::*;

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

/// A request's method as a label: one of the methods HTTP defines, or `other`. hyper takes any
/// token as a method, and each distinct label is a series kept for the process's life, so a label
/// a client picks would let anyone grow `/metrics` and the process without bound.
fn method_label(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ]
    .iter()
    .find(|m| *m == method)
    .map_or("other", Method::as_str)
}

/// Counts each request by route template (never its URL, which may carry credentials), method
/// and status, and times it to its response headers; a body that streams on is not included.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_str().to_string();
    histogram!(REQUEST_DURATION, "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    counter!(REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    response
}

/// Marks requests that came through `metrics_listen`.
#[derive(Clone, Copy)]
pub struct MetricsListener;

/// The Prometheus text exposition of everything this process recorded. The job queues' depths
/// are read by a worker every few seconds (`mediadrive_app::metrics::QueueDepths`), never per
/// scrape. With `metrics_token` set, only `Authorization: Bearer <token>` is answered; with
/// `metrics_listen` set, only that address answers.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain"),
        (status = 401, description = "metrics_token is set and the request did not carry it", body = crate::error::ErrorBody),
        (status = 404, description = "metrics_listen is set: metrics are served there", body = crate::error::ErrorBody),
    ))]
pub async fn metrics(
    State(state): State<App>,
    on_metrics_listener: Option<Extension<MetricsListener>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if state.config.metrics_listen.is_some() && on_metrics_listener.is_none() {
        return Err(ApiError::not_found("Not found"));
    }
    if let Some(token) = &state.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !token.matches(given) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Metrics need the bearer token of metrics_token",
            ));
        }
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
