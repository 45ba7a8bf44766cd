//! `GET /v2/models`: the generators preload items may name, what they cost, whether they work now.

use axum::{extract::State, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    auth::{can, Authorized},
    error::ApiResult,
    App,
};

#[derive(Serialize, ToSchema)]
pub struct ModelView {
    #[serde(rename = "type")]
    pub item_type: String,
    pub model: String,
    /// What one generation costs.
    pub credits: i64,
    /// Whether its program or server can be used now.
    pub available: bool,
    /// Whether it needs no network.
    pub local: bool,
    /// Whether items of this type without a `model` use it.
    pub default: bool,
    pub description: String,
    /// The item fields it reads.
    pub inputs: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    pub success: bool,
    pub models: Vec<ModelView>,
}

/// Lists every configured generator with its cost and whether it can be used now.
#[utoipa::path(get, path = "/v2/models", tag = "preloads",
    security(("api_key" = [])),
    responses((status = 200, body = ModelList)))]
pub async fn list_models(
    State(state): State<App>,
    _: Authorized<can::List>,
) -> ApiResult<Json<ModelList>> {
    let models = state.generators.models();
    let available =
        futures_util::future::join_all(models.iter().map(|m| m.generator.available())).await;
    let views = models
        .iter()
        .zip(available)
        .map(|(m, available)| ModelView {
            item_type: m.asset_type.to_string(),
            model: m.name.clone(),
            credits: m.credits,
            available,
            local: m.generator.local(),
            default: state
                .generators
                .find(m.asset_type, None, false)
                .is_ok_and(|d| d.name == m.name),
            description: m.generator.description(),
            inputs: m
                .generator
                .inputs()
                .iter()
                .map(|i| i.name.to_string())
                .collect(),
        })
        .collect();
    Ok(Json(ModelList {
        success: true,
        models: views,
    }))
}
