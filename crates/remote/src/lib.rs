//! What mediadrive reaches over the network on its own behalf: the guarded fetcher of URLs clients
//! name (downloads, webhooks) and the adapters of model servers, each speaking that server's real
//! wire format. The use cases see them only through `mediadrive_generate::{Network, Fetch}`.

mod fetcher;
mod models;

use std::sync::Arc;

use mediadrive_generate::{
    Adapter, Fetch, FetchPolicy, GenerationConfig, Generator, ModelConfig, Network,
};
use reqwest::Url;

pub use fetcher::Fetcher;
use models::{ElevenLabs, Endpoint, HttpGenerator, OpenAiImage, OpenAiSpeech, Secret};

/// The network over HTTP.
pub struct Http;

impl Network for Http {
    fn fetcher(&self, policy: FetchPolicy) -> Arc<dyn Fetch> {
        Arc::new(Fetcher::new(policy))
    }

    fn model_server(
        &self,
        m: &ModelConfig,
        config: &GenerationConfig,
        fetcher: &Arc<dyn Fetch>,
    ) -> Result<Arc<dyn Generator>, String> {
        let upstream = m.upstream_model.clone().unwrap_or_else(|| m.model.clone());
        let endpoint = |default: Option<&str>| -> Result<Endpoint, String> {
            let base = m
                .base_url
                .as_deref()
                .or(default)
                .ok_or_else(|| format!("model {}: base_url is required", m.model))?;
            let base = Url::parse(base).map_err(|e| format!("model {}: base_url: {e}", m.model))?;
            let key = match (&m.api_key, &m.api_key_env) {
                (Some(key), _) => Some(Secret(key.clone())),
                (None, Some(var)) => Some(Secret(std::env::var(var).map_err(|_| {
                    format!("model {}: environment variable {var} is not set", m.model)
                })?)),
                (None, None) => None,
            };
            Ok(Endpoint::new(base, key, config.timeout()))
        };
        Ok(match m.adapter {
            Adapter::OpenaiImage => Arc::new(OpenAiImage {
                endpoint: endpoint(Some("https://api.openai.com"))?,
                model: upstream,
                fetcher: fetcher.clone(),
            }),
            Adapter::OpenaiSpeech => Arc::new(OpenAiSpeech {
                endpoint: endpoint(Some("https://api.openai.com"))?,
                model: upstream,
            }),
            Adapter::Elevenlabs => Arc::new(ElevenLabs {
                endpoint: endpoint(Some("https://api.elevenlabs.io"))?
                    .with_key_header("xi-api-key"),
                model: m
                    .upstream_model
                    .clone()
                    .unwrap_or_else(|| "eleven_multilingual_v2".into()),
                voices: m.voices.clone(),
            }),
            Adapter::Http => Arc::new(HttpGenerator {
                endpoint: endpoint(None)?,
                asset_type: m.asset_type.to_string(),
                model: upstream,
            }),
            builtin => return Err(format!("model {}: {builtin:?} is no model server", m.model)),
        })
    }
}
