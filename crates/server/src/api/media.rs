//! `GET /v2/media`: the tenant's storage figures and the first page of the root folder.

use axum::{
    extract::{Query, State},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    listing::{folder_page, ListParams},
    views::{FolderListing, StorageView},
};
use crate::{
    auth::{can, Authorized},
    error::{ApiError, ApiResult},
    App,
};

#[derive(Serialize, ToSchema)]
pub struct MediaOverview {
    pub success: bool,
    /// The tenant the key belongs to.
    pub client_id: String,
    /// The key's role: viewer, render, editor, manager or admin.
    pub role: String,
    pub storage: StorageView,
    #[serde(flatten)]
    pub root: FolderListing,
}

/// The tenant's storage object and a first page of the root folder.
#[utoipa::path(get, path = "/v2/media", tag = "media",
    params(ListParams),
    security(("api_key" = [])),
    responses(
        (status = 200, body = MediaOverview),
        (status = 401, body = crate::error::ErrorBody),
    ))]
pub async fn overview(
    State(state): State<App>,
    principal: Authorized<can::List>,
    Query(mut params): Query<ListParams>,
) -> ApiResult<Json<MediaOverview>> {
    let tenant = state
        .catalog
        .tenant(&principal.tenant)
        .await?
        .ok_or_else(|| ApiError::internal("a key's tenant is missing"))?;
    let temp = state
        .catalog
        .temp_usage(&principal.tenant, state.config.default_quota)
        .await?;
    params.folder = None;
    params.path = None;
    let root = folder_page(&state, &principal.tenant, &params).await?;
    Ok(Json(MediaOverview {
        success: true,
        client_id: principal.tenant.to_string(),
        role: principal.role.as_str().to_string(),
        storage: StorageView::new(&state, &tenant, &temp),
        root,
    }))
}
