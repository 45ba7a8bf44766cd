//! The v2 surface (seeds 001 and 002) and the router that puts every surface together.

mod body;
mod files;
mod folders;
mod listing;
mod media;
mod metadata;
mod models;
mod nul;
mod panics;
mod preloads;
mod renders;
mod webhooks;

pub(crate) use body::JsonObject;
pub(crate) use files::valid_content_type;
pub(crate) use preloads::{item_request, view as preload_view};
pub(crate) use renders::{load_output_view, output_view, OutputView};
pub(crate) use views::timestamp;
pub(crate) use webhooks::target_url;
mod views;

use axum::{http::StatusCode, routing::get, Json, Router};
use mediadrive_core::ContentHash;
use serde::Serialize;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{serve, state::AppState, tus, upload, videojungle as vj};

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
                    crate::auth::API_KEY_HEADER,
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
    axum::extract::State(state): axum::extract::State<AppState>,
) -> crate::error::ApiResult<Json<Health>> {
    state.catalog.ping().await?;
    Ok(Json(Health {
        status: "ok",
        ffmpeg: crate::previews::ffmpeg_available(),
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
    axum::extract::State(state): axum::extract::State<AppState>,
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

pub fn router(state: AppState) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(media::overview))
        .routes(routes!(
            files::request_upload,
            files::get_file,
            files::move_file,
            files::delete_files
        ))
        .routes(routes!(
            folders::create_folder,
            folders::list_folder,
            folders::move_folder,
            folders::delete_folder
        ))
        .routes(routes!(metadata::file_metadata))
        .routes(routes!(preloads::create_preload))
        .routes(routes!(preloads::get_preload))
        .routes(routes!(models::list_models))
        .routes(routes!(renders::create_render))
        .routes(routes!(renders::get_render))
        .routes(routes!(renders::upload_output))
        .routes(routes!(crate::shotstack::transfer))
        .routes(routes!(
            crate::shotstack::get_asset,
            crate::shotstack::delete_asset
        ))
        .routes(routes!(crate::shotstack::render_assets))
        .routes(routes!(webhooks::create_endpoint, webhooks::list_endpoints))
        .routes(routes!(
            webhooks::get_endpoint,
            webhooks::update_endpoint,
            webhooks::delete_endpoint
        ))
        .routes(routes!(webhooks::endpoint_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::all_deliveries))
        .routes(routes!(webhooks::callback_secret))
        .routes(routes!(
            vj::projects::create_project,
            vj::projects::list_projects
        ))
        .routes(routes!(
            vj::projects::get_project,
            vj::projects::delete_project
        ))
        .routes(routes!(vj::assets::list_assets))
        .routes(routes!(
            vj::assets::list_assets_client,
            vj::upload::request_upload
        ))
        .routes(routes!(vj::assets::list_generated))
        .routes(routes!(vj::assets::get_asset, vj::assets::delete_asset))
        .routes(routes!(vj::assets::asset_by_key))
        .routes(routes!(vj::assets::check_asset))
        .routes(routes!(vj::assets::asset_status))
        .routes({
            // A file of up to 500 MB in a form, streamed: the 2 MiB of JSON bodies does not apply.
            let (schemas, paths, route) = routes!(vj::upload::upload_asset);
            let limit = axum::extract::DefaultBodyLimit::max(vj::upload::BODY_LIMIT);
            (schemas, paths, route.layer(limit))
        })
        .routes(routes!(vj::assets::serve_link))
        .routes(routes!(vj::scripts::list_templates))
        .routes(routes!(vj::scripts::create_script))
        .routes(routes!(vj::scripts::list_scripts))
        .routes(routes!(vj::scripts::get_script, vj::scripts::delete_script))
        .routes(routes!(vj::generate::generate))
        .routes(routes!(upload::receive))
        .routes(routes!(tus::discover, tus::create))
        .routes(routes!(tus::offset, tus::append, tus::terminate))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(crate::telemetry::metrics))
        .split_for_parts();
    router
        // tus clients are given the endpoint with or without its trailing slash.
        .route("/tus", axum::routing::post(tus::create))
        .route("/tus/{id}", axum::routing::post(tus::method_override))
        .route("/{client_id}/files/{*path}", get(serve::serve_file))
        .route("/tmp/assets/{client_id}/{name}", get(serve::serve_cached))
        // Seed 003 shows the check as a PUT; the official client sends a GET.
        .route(
            "/videojungle/assets/check/{id}",
            axum::routing::put(vj::assets::check_asset),
        )
        .merge(crate::dashboard::routes(&state.config))
        // The document at /openapi.json, and Swagger UI at /docs to read it: its files are built
        // into the binary, so the docs work on a machine without network access.
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .layer(axum::middleware::from_fn(panics::answer_panics))
        .layer(axum::middleware::from_fn(nul::refuse_nul_in_url))
        .layer(cors())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            tus::envelope,
        ))
        .layer(axum::middleware::from_fn(crate::telemetry::track_requests))
        .with_state(state)
}

/// Browsers on other origins may read files and call the API: keys travel in a header, never in
/// cookies, so a cross-origin page gains nothing it was not given. Presigned uploads and file URLs
/// may sit on another origin than the dashboard (`public_url` behind a proxy, say).
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderName, Method};
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
                HeaderName::from_static(crate::auth::API_KEY_HEADER),
                HeaderName::from_static("idempotency-key"),
            ]
            .into_iter()
            .chain(tus::REQUEST_HEADERS)
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
            .chain(tus::RESPONSE_HEADERS)
            .collect::<Vec<_>>(),
        )
}
