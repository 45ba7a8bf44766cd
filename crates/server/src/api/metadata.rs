//! `GET /v2/media/file/metadata`: what probing found inside one file, beside what its uploader declared.

use axum::{
    extract::{Query, State},
    Json,
};
use mediadrive_core::ProbeStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views::{metadata_json, Origin};
use crate::{
    auth::{can, Authorized},
    error::{ApiResult, ErrorBody},
    App,
};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetadataQuery {
    /// Folder and name, e.g. `videos/clip.mp4`.
    path: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FileMetadata {
    pub success: bool,
    pub path: String,
    /// pending (not looked at yet, or still uploading), done, or failed.
    pub probe_status: String,
    /// Why probing failed: the file is truncated, damaged, or not what it claims.
    pub probe_error: Option<String>,
    /// The content type the uploader declared.
    #[serde(rename = "declaredType")]
    pub declared_type: String,
    /// The content type of the bytes, once probed; files are served with this one.
    #[serde(rename = "realType")]
    pub real_type: Option<String>,
    /// True when the bytes contradict the declared type.
    #[serde(rename = "typeMismatch")]
    pub type_mismatch: bool,
    /// kind, mime, container, codecs, width, height, duration_ms, frame_rate, bit_rate,
    /// sample_rate, channels, orientation.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// For a generated asset persisted with save-to-media: what made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// What the bytes of one file really are.
#[utoipa::path(get, path = "/v2/media/file/metadata", tag = "media",
    params(MetadataQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = FileMetadata),
        (status = 400, description = "path is required", body = ErrorBody),
        (status = 404, description = "File not found", body = ErrorBody),
    ))]
pub async fn file_metadata(
    State(state): State<App>,
    principal: Authorized<can::List>,
    Query(q): Query<MetadataQuery>,
) -> ApiResult<Json<FileMetadata>> {
    let file = super::files::file_at(&state, &principal, q.path).await?;
    let probe = match &file.blob {
        Some(hash) => state
            .catalog
            .blob_probes(std::slice::from_ref(hash))
            .await?
            .pop(),
        None => None,
    };
    let metadata = probe.as_ref().and_then(metadata_json);
    let origin = state
        .catalog
        .cache_entries_of_files(std::slice::from_ref(&file.id))
        .await?
        .pop()
        .map(|(_, entry)| Origin::of(&entry));
    let real_type = probe.as_ref().and_then(mediadrive_app::probing::real_type);
    Ok(Json(FileMetadata {
        success: true,
        path: file.path(),
        probe_status: probe
            .as_ref()
            .map_or(ProbeStatus::Pending, |p| p.status)
            .as_str()
            .to_string(),
        probe_error: probe.as_ref().and_then(|p| p.error.clone()),
        type_mismatch: real_type
            .as_deref()
            .is_some_and(|real| !real.eq_ignore_ascii_case(&file.content_type)),
        real_type,
        declared_type: file.content_type,
        metadata,
        origin,
    }))
}
