//! The router that puts every surface together, each with its own layers and error shape, and the
//! one OpenAPI document that describes them all. Nothing imports it but the crate root.

use axum::{
    http::{header, HeaderValue, StatusCode},
    routing::get,
    Json, Router,
};
use mediadrive_core::ContentHash;
use serde::Serialize;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    api,
    error::ApiError,
    http::surface::{self, surface},
    serve, tus, upload, videojungle as vj, App,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "mediadrive", description = "Self-hosted media drive for generative and rendering video pipelines."),
    paths(crate::serve::serve_file, crate::serve::serve_cached),
    modifiers(&ApiKeyAuth),
    tags(
        (name = "media", description = "The drive: uploads, folders, listing, moves, deletes (JSON2Video /v2/media)"),
        (name = "preloads", description = "Generated assets: preloads, the temporary cache, save-to-media (JSON2Video /v2/preloads)"),
        (name = "renders", description = "Render outputs: a temporary tier for 24 hours, hosting copies in the background (seed 004)"),
        (name = "serve", description = "The Shotstack Serve API: hosted assets by id and by render, transfers, deletes"),
        (name = "videojungle", description = "The Video Jungle API (seed 003): projects, assets by keyname, signed asset links; errors in FastAPI's shape"),
        (name = "upload", description = "Presigned upload URLs"),
        (name = "tus", description = "Resumable uploads into the drive: the tus 1.0 protocol with the creation, creation-with-upload, expiration, checksum and termination extensions"),
        (name = "keys", description = "A tenant's API keys: list, create and revoke, up to the caller's role (manager and above)"),
        (name = "webhooks", description = "Webhook endpoints, deliveries and the callback secret (Standard Webhooks signatures)"),
        (name = "files", description = "Stable file URLs"),
        (name = "health", description = "Liveness, readiness and Prometheus metrics"),
    )
)]
struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "api_key",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(
                    crate::http::API_KEY_HEADER,
                ))),
            );
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
    /// Whether an `ffmpeg` binary is available: video posters and Opus waveforms need it.
    ffmpeg: bool,
}

/// Liveness: answers once the catalog answers (`/readyz` checks the blob store too).
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health), (status = 500)))]
async fn healthz(
    axum::extract::State(state): axum::extract::State<App>,
) -> crate::error::ApiResult<Json<Health>> {
    state.catalog.ping().await?;
    Ok(Json(Health {
        status: "ok",
        ffmpeg: mediadrive_app::previews::ffmpeg_available(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `ready`, or `unavailable` when a dependency is.
    status: &'static str,
    catalog: &'static str,
    blob_store: &'static str,
}

/// Whether this node can take traffic: its catalog answers and its blob store can be read. A
/// load balancer routes by this; `/healthz` says whether the process is alive.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(
    axum::extract::State(state): axum::extract::State<App>,
) -> (StatusCode, Json<Readiness>) {
    let catalog = match state.catalog.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the catalog does not answer");
            "unavailable"
        }
    };
    // Any digest will do: the store is asked, and whether it holds it does not matter.
    let blob_store = match state.blobs.exists(&ContentHash::from_bytes([0; 32])).await {
        Ok(_) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the blob store does not answer");
            "unavailable"
        }
    };
    let ready = catalog == "ok" && blob_store == "ok";
    let status = if ready { "ready" } else { "unavailable" };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Readiness {
            status,
            catalog,
            blob_store,
        }),
    )
}

/// Every surface, each a router of its own with its own layers and error shape, in one OpenAPI
/// document.
pub fn router(state: App) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::v2())
        .merge(crate::shotstack::router())
        .merge(vj::router())
        .merge(tus::router(&state))
        .merge(site(&state))
        .split_for_parts();
    // The document at /openapi.json, and Swagger UI at /docs to read it: its files are built into
    // the binary, so the docs work on a machine without network access.
    let docs =
        Router::from(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", openapi))
            .layer(axum::middleware::map_response(docs_policy));
    router
        .merge(Router::from(surface::<ApiError>(OpenApiRouter::from(docs))))
        .layer(axum::middleware::from_fn(crate::telemetry::track_requests))
        .with_state(state)
}

/// Swagger UI loads its own files only (it has no inline script) and asks this server only, so its
/// page may run nothing else, send nothing elsewhere, and be framed by no one.
const DOCS_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

async fn docs_policy(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// What is neither an API nor a protocol: presigned uploads, file serving, health, the dashboard.
/// A path that no surface routes ends here too, and is answered in the v2 shape.
fn site(state: &App) -> OpenApiRouter<App> {
    let routes = OpenApiRouter::new()
        .routes(routes!(upload::receive))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(crate::telemetry::metrics))
        .route("/{client_id}/files/{*path}", get(serve::serve_file))
        .route("/tmp/assets/{client_id}/{name}", get(serve::serve_cached))
        .merge(OpenApiRouter::from(crate::dashboard::routes(&state.config)))
        .fallback(surface::not_found);
    surface::<ApiError>(routes)
}
