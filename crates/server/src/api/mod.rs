//! The v2 surface (seeds 001 and 002): the drive, preloads, renders, webhooks.

mod files;
mod folders;
mod keys;
mod listing;
mod media;
mod metadata;
mod models;
mod preloads;
mod renders;
mod webhooks;

mod views;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{error::ApiError, http::surface::surface, App};

/// The v2 surface (seeds 001 and 002): the drive, preloads, renders, webhooks.
pub(crate) fn v2() -> OpenApiRouter<App> {
    let routes = OpenApiRouter::new()
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
        .routes(routes!(webhooks::create_endpoint, webhooks::list_endpoints))
        .routes(routes!(
            webhooks::get_endpoint,
            webhooks::update_endpoint,
            webhooks::delete_endpoint
        ))
        .routes(routes!(webhooks::endpoint_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::all_deliveries))
        .routes(routes!(
            webhooks::callback_secret,
            webhooks::rotate_callback_secret
        ))
        .routes(routes!(webhooks::rotate_endpoint_secret))
        .routes(routes!(keys::list_keys, keys::create_key))
        .routes(routes!(keys::revoke_key));
    surface::<ApiError>(routes)
}
