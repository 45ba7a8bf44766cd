//! The Video Jungle–compatible surface under `/videojungle` (seed 003, PRODUCT.md): projects, their
//! scripts and assets, in the shapes the official `videojungle` client parses and with FastAPI's error
//! shape. Assets are drive files; the facade holds no logic of its own that the core lacks.

pub mod assets;
pub mod error;
pub mod generate;
pub mod projects;
pub mod scripts;
pub mod upload;
pub mod views;

use axum::routing::{any, put};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::surface::{not_found, surface},
    App,
};

/// The surface's routes, refused in FastAPI's shape: a path under `/videojungle/` that names
/// nothing is routed here too, so that it meets this surface's layers.
pub fn router() -> OpenApiRouter<App> {
    let routes = OpenApiRouter::new()
        .routes(routes!(projects::create_project, projects::list_projects))
        .routes(routes!(projects::get_project, projects::delete_project))
        .routes(routes!(assets::list_assets))
        .routes(routes!(assets::list_assets_client, upload::request_upload))
        .routes(routes!(assets::list_generated))
        .routes(routes!(assets::get_asset, assets::delete_asset))
        .routes(routes!(assets::asset_by_key))
        .routes(routes!(assets::check_asset))
        .routes(routes!(assets::asset_status))
        .routes({
            // A file of up to 500 MB in a form, streamed: the 2 MiB of JSON bodies does not apply.
            let (schemas, paths, route) = routes!(upload::upload_asset);
            let limit = axum::extract::DefaultBodyLimit::max(upload::BODY_LIMIT);
            (schemas, paths, route.layer(limit))
        })
        .routes(routes!(assets::serve_link))
        .routes(routes!(scripts::list_templates))
        .routes(routes!(scripts::create_script))
        .routes(routes!(scripts::list_scripts))
        .routes(routes!(scripts::get_script, scripts::delete_script))
        .routes(routes!(generate::generate))
        // Seed 003 shows the check as a PUT; the official client sends a GET.
        .route("/videojungle/assets/check/{id}", put(assets::check_asset))
        .route("/videojungle/{*rest}", any(not_found));
    surface::<error::VjError>(routes)
}
