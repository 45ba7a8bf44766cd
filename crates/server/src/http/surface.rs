//! What every surface's router shares: the layers each wraps its own routes in, refusing in its
//! own error shape, so that no layer has to look at a path to know whose request it holds.

use axum::{
    http::StatusCode,
    middleware::from_fn,
    response::{IntoResponse, Response},
};
use utoipa_axum::router::OpenApiRouter;

use axum::http::HeaderName;

use super::{headers, nul, panics};
use crate::{error::ApiError, App};

/// `routes` with the layers every surface has: a handler's panic becomes a 500, a NUL in the URL a
/// 400 and an oversized header block a 431, all rendered as `E`; and CORS. Applied per surface before the surfaces are merged,
/// so each layer wraps that surface's routes only, their `405`s included.
pub fn surface<E>(routes: OpenApiRouter<App>) -> OpenApiRouter<App>
where
    E: From<ApiError> + IntoResponse + Send + 'static,
{
    surface_with_headers::<E>(routes, &[], &[])
}

/// [`surface`] for a protocol with headers of its own, which browsers on other origins must be
/// allowed to send (`request`) and to read (`response`).
pub fn surface_with_headers<E>(
    routes: OpenApiRouter<App>,
    request: &[HeaderName],
    response: &[HeaderName],
) -> OpenApiRouter<App>
where
    E: From<ApiError> + IntoResponse + Send + 'static,
{
    routes
        .layer(from_fn(panics::answer_panics::<E>))
        .layer(from_fn(nul::refuse_nul_in_url::<E>))
        .layer(from_fn(headers::refuse_large_headers::<E>))
        .layer(cors(request, response))
}

/// The answer to a path that names nothing: a surface routes its whole prefix here, so that such a
/// request, too, passes through the surface's layers.
pub async fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// Browsers on other origins may read files and call the API: keys travel in a header, never in
/// cookies, so a cross-origin page gains nothing it was not given. Presigned uploads and file URLs
/// may sit on another origin than the dashboard (`public_url` behind a proxy, say).
fn cors(request: &[HeaderName], response: &[HeaderName]) -> tower_http::cors::CorsLayer {
    use axum::http::{header, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(
            [
                header::CONTENT_TYPE,
                header::RANGE,
                header::IF_NONE_MATCH,
                header::IF_MODIFIED_SINCE,
                HeaderName::from_static(super::API_KEY_HEADER),
                HeaderName::from_static("idempotency-key"),
            ]
            .into_iter()
            .chain(request.iter().cloned())
            .collect::<Vec<_>>(),
        )
        .expose_headers(
            [
                header::ETAG,
                header::CONTENT_LENGTH,
                header::CONTENT_RANGE,
                header::ACCEPT_RANGES,
                header::LAST_MODIFIED,
                header::LINK,
            ]
            .into_iter()
            .chain(response.iter().cloned())
            .collect::<Vec<_>>(),
        )
}
