//! The `[generation]` section of the configuration file: limits, the fetch policy, and the models.

use std::{collections::BTreeMap, time::Duration};

use ipnet::IpNet;
use mediadrive_core::AssetType;
use serde::Deserialize;

/// Which adapter serves a configured model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Adapter {
    LocalImage,
    LocalTone,
    EspeakNg,
    Chromium,
    LocalVideo,
    Url,
    OpenaiImage,
    OpenaiSpeech,
    Elevenlabs,
    Http,
}

impl Adapter {
    /// The item types the adapter can make.
    pub fn makes(self, t: AssetType) -> bool {
        use AssetType::*;
        match self {
            Adapter::LocalImage | Adapter::OpenaiImage => t == Image,
            Adapter::LocalTone => matches!(t, Audio | Voice),
            Adapter::EspeakNg | Adapter::OpenaiSpeech | Adapter::Elevenlabs => {
                matches!(t, Voice | Audio)
            }
            Adapter::Chromium => matches!(t, Html | Image),
            Adapter::LocalVideo => matches!(t, Video | Component),
            Adapter::Url => matches!(t, Image | Video),
            Adapter::Http => true,
        }
    }
}

/// One `[[generation.models]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(rename = "type")]
    pub asset_type: AssetType,
    /// The name items use in `model`.
    pub model: String,
    pub adapter: Adapter,
    /// What one generation costs; built-ins default to 1, `url` to 0, remote models to 1.
    pub credits: Option<i64>,
    /// The server of a remote adapter (for `http`, the URL the item is POSTed to).
    pub base_url: Option<String>,
    /// The key for the server. Prefer `api_key_env`: the file then holds no secret.
    pub api_key: Option<String>,
    /// The environment variable holding the key.
    pub api_key_env: Option<String>,
    /// The model name the server knows, when it differs from `model`.
    pub upstream_model: Option<String>,
    /// ElevenLabs voice names to voice ids.
    #[serde(default)]
    pub voices: BTreeMap<String, String>,
    /// `chromium` only: run the page's scripts (off by default).
    #[serde(default)]
    pub javascript: bool,
}

fn default_concurrency() -> usize {
    4
}
fn default_timeout() -> u64 {
    300
}
fn default_cache_ttl() -> u64 {
    3 * 24 * 3600
}
fn default_initial_credits() -> i64 {
    100
}
fn default_max_asset_bytes() -> u64 {
    500 * 1024 * 1024
}
fn default_fetch_timeout() -> u64 {
    120
}
fn default_preload_retention() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationConfig {
    /// Items generated at once on one node.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Longest one generation may take, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How long a generated asset stays in the temporary cache (seed 000: 3 days).
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl_secs: u64,
    /// Credits a new tenant starts with.
    #[serde(default = "default_initial_credits")]
    pub initial_credits: i64,
    /// Largest asset a generator or a URL source may produce.
    #[serde(default = "default_max_asset_bytes")]
    pub max_asset_bytes: u64,
    /// Longest one download of a `src` URL may take, in seconds.
    #[serde(default = "default_fetch_timeout")]
    pub fetch_timeout_secs: u64,
    /// Finished preloads are forgotten this many days after they were made (their assets stay).
    #[serde(default = "default_preload_retention")]
    pub preload_retention_days: u64,
    /// Private networks `src` URLs may reach after all (CIDR).
    #[serde(default)]
    pub fetch_allow: Vec<IpNet>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            concurrency: default_concurrency(),
            timeout_secs: default_timeout(),
            cache_ttl_secs: default_cache_ttl(),
            initial_credits: default_initial_credits(),
            max_asset_bytes: default_max_asset_bytes(),
            fetch_timeout_secs: default_fetch_timeout(),
            preload_retention_days: default_preload_retention(),
            fetch_allow: Vec::new(),
            models: Vec::new(),
        }
    }
}

impl GenerationConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs)
    }
}
