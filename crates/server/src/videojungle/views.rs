//! What the Video Jungle surface answers: assets and projects in the fields of seed 003 and the
//! official client's models, with signed links to each asset's bytes.

use chrono::{DateTime, Utc};
use mediadrive_core::{
    templates::{stored_inputs, Param},
    FileStatus, ItemStatus, Project, ProjectAsset, ProjectScript,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::App;
use mediadrive_app::signing::AssetGrant;

/// Seed 003: "By default, a maximum of ten attachments are shown per page."
pub const DEFAULT_LIMIT: u32 = 10;

/// Seed 003 writes timestamps without an offset, to the microsecond; they are UTC.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

#[derive(Serialize, ToSchema)]
pub struct AssetView {
    pub id: String,
    /// Who holds it reads the asset without an API key: `GET /videojungle/assets/key/{keyname}`.
    pub keyname: String,
    /// A signed link to embed the asset, once uploaded; it expires.
    pub url: Option<String>,
    /// The same, served as an attachment.
    pub download_url: Option<String>,
    /// Where the asset is in the drive: `{folder}/{name}`.
    pub asset_path: Option<String>,
    pub asset_type: String,
    pub created_at: String,
    pub description: Option<String>,
    pub generated_description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub create_parameters: Option<Value>,
    /// Seed 003: null for an uploaded asset. A generated asset is `queued` or `processing` until
    /// it holds its file, or `failed` (see `error`).
    pub status: Option<&'static str>,
    /// Why a generated asset holds no file: the generation failed, or the drive could not take it
    /// (`quota_blocked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub uploaded: bool,
    /// The drive file's id.
    pub key: Option<String>,
    pub project_id: String,
    /// The asset's project, on `GET /assets/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectSummary>,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    pub created_at: String,
    /// The client id.
    pub owner_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectView {
    #[serde(flatten)]
    pub summary: ProjectSummary,
    pub asset_count: u64,
    /// The newest assets; page through all of them with `GET /projects/{id}/assets`.
    pub assets: Vec<AssetView>,
    /// Always empty: prompts are not kept here.
    #[schema(value_type = Vec<Object>)]
    pub prompts: Vec<Value>,
    pub scripts: Vec<ScriptView>,
}

pub fn summary(project: &Project) -> ProjectSummary {
    ProjectSummary {
        id: project.id.to_string(),
        name: project.name.clone(),
        description: project.description.clone(),
        data: project
            .data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok()),
        created_at: timestamp(project.created_at),
        owner_id: project.tenant.to_string(),
    }
}

/// A signed link to the asset's bytes, good for the configured time.
fn link(state: &App, asset: &ProjectAsset, name: &str, download: bool) -> String {
    let ttl = state.config.videojungle.link_ttl_secs as i64;
    let grant = AssetGrant {
        asset: asset.id.to_string(),
        download,
        expires: Utc::now().timestamp().saturating_add(ttl),
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("expires", &grant.expires.to_string());
    if download {
        query.append_pair("download", "1");
    }
    query.append_pair("signature", &state.signer.sign(&grant));
    let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!(
        "{}/videojungle/files/{}/{}/{name}?{}",
        state.config.public_url,
        asset.tenant,
        asset.id,
        query.finish()
    )
}

fn status(asset: &ProjectAsset, uploaded: bool) -> Option<&'static str> {
    let generation = asset.generation.as_ref().filter(|_| !uploaded)?;
    Some(match (&generation.error, generation.item_status) {
        (Some(_), _) => "failed",
        (None, Some(ItemStatus::Queued)) => "queued",
        (None, _) => "processing",
    })
}

pub fn asset_view(state: &App, asset: &ProjectAsset) -> AssetView {
    let file = asset
        .file
        .as_ref()
        .filter(|f| f.status == FileStatus::Uploaded);
    AssetView {
        id: asset.id.to_string(),
        keyname: asset.keyname.clone(),
        url: file.map(|f| link(state, asset, f.name.as_str(), false)),
        download_url: file.map(|f| link(state, asset, f.name.as_str(), true)),
        asset_path: file.map(|f| f.path()),
        asset_type: asset.asset_type.clone(),
        created_at: timestamp(asset.created_at),
        description: asset.description.clone(),
        generated_description: None,
        create_parameters: asset
            .create_parameters
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok()),
        status: status(asset, file.is_some()),
        error: file
            .is_none()
            .then(|| asset.generation.as_ref()?.error.clone())
            .flatten(),
        uploaded: file.is_some(),
        key: file.map(|f| f.id.to_string()),
        project_id: asset.project_id.to_string(),
        project: None,
    }
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ScriptView {
    pub id: String,
    pub project_id: String,
    /// The preload item template.
    #[schema(value_type = Object)]
    pub value: Value,
    /// The parameters, each with its `name`, `type` and, when it has them, `description` and
    /// `default`.
    #[schema(value_type = Vec<Object>)]
    pub inputs: Vec<Value>,
    pub name: String,
    pub created_at: String,
    /// The generator the template names, if it names one.
    pub key: Option<String>,
    /// The template's own words: its `prompt` or `text`.
    pub manuscript: Option<String>,
}

pub fn script_view(script: &ProjectScript) -> ScriptView {
    let value: Value = serde_json::from_str(&script.template).unwrap_or_default();
    let inputs = stored_inputs(script).unwrap_or_default();
    let words = |field| value.get(field).and_then(Value::as_str).map(str::to_string);
    ScriptView {
        id: script.id.to_string(),
        project_id: script.project_id.to_string(),
        key: words("model"),
        manuscript: words("prompt").or_else(|| words("text")),
        value,
        inputs: inputs.iter().map(Param::to_json).collect(),
        name: script.name.clone(),
        created_at: timestamp(script.created_at),
    }
}
