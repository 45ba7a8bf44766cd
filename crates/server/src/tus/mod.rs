//! Resumable uploads through the tus 1.0 protocol (core, creation, creation-with-upload,
//! expiration, checksum, termination) at `/tus/`: a second way into the drive.
//!
//! An upload is a pending file like any other, reserved against the quota when it is created, with
//! its name taken. Each request appends one piece, made durable by the blob store before the
//! catalog counts it, so the offset a client is told survives a crash, a restart or a move to
//! another node. The request that brings the last byte hashes the whole and makes the file
//! `uploaded`, through the same steps as a presigned PUT.

mod handlers;
mod protocol;

use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::Response,
    routing::{any, post},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::surface::{not_found, surface_with_headers},
    App,
};
pub use protocol::TusError;
use protocol::{REQUEST_HEADERS, RESPONSE_HEADERS, TUS_RESUMABLE, TUS_VERSION};

/// What every answer of this surface shares, whoever gives it (a handler, or a layer such as CORS
/// or the router's `404` and `405`): the `Tus-Resumable` header. tus clients discover the server with a
/// plain OPTIONS, which the CORS layer would take for a preflight, so it is answered here first;
/// a real preflight names the method it asks about.
async fn envelope(
    State(state): State<App>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let discovery = request.method() == axum::http::Method::OPTIONS
        && !request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if discovery {
        handlers::discover(State(state)).await
    } else {
        next.run(request).await
    };
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

/// The tus surface at `/tus/`: its routes, then the layers every surface has with errors in the
/// tus shape, and outside them the envelope, which must see a discovery before CORS does.
pub fn router(state: &App) -> OpenApiRouter<App> {
    let routes = OpenApiRouter::new()
        .routes(routes!(handlers::discover, handlers::create))
        .routes(routes!(
            handlers::offset,
            handlers::append,
            handlers::terminate
        ))
        // tus clients are given the endpoint with or without its trailing slash.
        .route("/tus", post(handlers::create))
        .route("/tus/{id}", post(handlers::method_override))
        // A path under `/tus/` that names nothing meets this surface's layers too.
        .route("/tus/{id}/{*rest}", any(not_found));
    surface_with_headers::<TusError>(routes, &REQUEST_HEADERS, &RESPONSE_HEADERS).layer(
        axum::middleware::from_fn_with_state(state.clone(), envelope),
    )
}
