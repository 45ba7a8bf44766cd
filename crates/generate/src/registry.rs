//! The generators this node offers, by type and model: the configured ones first (the first per
//! type is that type's default), then the built-ins not overridden.

use std::{sync::Arc, time::Duration};

use mediadrive_core::AssetType;

use crate::{
    builtin,
    config::{Adapter, GenerationConfig, ModelConfig},
    Fetch, FetchPolicy, Generator,
};

/// The model name of the URL source.
pub const URL_MODEL: &str = "url";

/// Built-ins cost this unless configured otherwise.
const BUILTIN_CREDITS: i64 = 1;

const BUILTINS: &[(AssetType, &str, Adapter)] = &[
    (AssetType::Image, "local-image", Adapter::LocalImage),
    (AssetType::Audio, "local-tone", Adapter::LocalTone),
    (AssetType::Voice, "espeak-ng", Adapter::EspeakNg),
    (AssetType::Html, "chromium", Adapter::Chromium),
    (AssetType::Video, "local-video", Adapter::LocalVideo),
    (AssetType::Image, URL_MODEL, Adapter::Url),
    (AssetType::Video, URL_MODEL, Adapter::Url),
];

#[derive(Clone)]
pub struct Model {
    pub asset_type: AssetType,
    pub name: String,
    pub credits: i64,
    pub generator: Arc<dyn Generator>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("no model is configured for type {0}")]
    NoModel(AssetType),
    #[error("model {model} is not available for type {asset_type}; available: {known}")]
    UnknownModel {
        asset_type: AssetType,
        model: String,
        known: String,
    },
    #[error("src is only supported on image and video items")]
    SrcNotSupported,
}

/// What the registry needs of the network: the guarded fetcher, and the adapters of model
/// servers. mediadrive-remote makes them over HTTP.
pub trait Network: Send + Sync {
    /// Fetches and posts under `policy`.
    fn fetcher(&self, policy: FetchPolicy) -> Arc<dyn Fetch>;
    /// The generator of model `m`, whose adapter speaks to a server; files the server answers
    /// with by URL are fetched with `fetcher`.
    fn model_server(
        &self,
        m: &ModelConfig,
        config: &GenerationConfig,
        fetcher: &Arc<dyn Fetch>,
    ) -> Result<Arc<dyn Generator>, String>;
}

pub struct Registry {
    models: Vec<Model>,
    fetcher: Arc<dyn Fetch>,
}

impl Registry {
    /// Downloads fail once the remote sent nothing for `idle_timeout`, as uploads do.
    pub fn new(
        config: &GenerationConfig,
        idle_timeout: Duration,
        network: &dyn Network,
    ) -> Result<Self, String> {
        let fetcher = network.fetcher(FetchPolicy {
            allow: config.fetch_allow.clone(),
            timeout: Duration::from_secs(config.fetch_timeout_secs),
            idle_timeout,
        });
        let mut models: Vec<Model> = Vec::new();
        for m in &config.models {
            if models
                .iter()
                .any(|e| e.asset_type == m.asset_type && e.name == m.model)
            {
                return Err(format!(
                    "model {} is configured twice for type {}",
                    m.model, m.asset_type
                ));
            }
            if !m.adapter.makes(m.asset_type) {
                return Err(format!(
                    "model {}: adapter {:?} cannot make {} items",
                    m.model, m.adapter, m.asset_type
                ));
            }
            models.push(Model {
                asset_type: m.asset_type,
                name: m.model.clone(),
                credits: m.credits.unwrap_or(default_credits(m.adapter)),
                generator: build(m, config, &fetcher, network)?,
            });
        }
        for (asset_type, name, adapter) in BUILTINS {
            if models
                .iter()
                .any(|e| e.asset_type == *asset_type && e.name == *name)
            {
                continue;
            }
            let m = ModelConfig {
                asset_type: *asset_type,
                model: name.to_string(),
                adapter: *adapter,
                credits: None,
                base_url: None,
                api_key: None,
                api_key_env: None,
                upstream_model: None,
                voices: Default::default(),
                javascript: false,
            };
            models.push(Model {
                asset_type: *asset_type,
                name: name.to_string(),
                credits: default_credits(*adapter),
                generator: build(&m, config, &fetcher, network)?,
            });
        }
        Ok(Self { models, fetcher })
    }

    pub fn models(&self) -> &[Model] {
        &self.models
    }

    pub fn fetcher(&self) -> &dyn Fetch {
        self.fetcher.as_ref()
    }

    /// The model an item asks for: by `src` (the URL source), by name, or the type's default.
    pub fn find(
        &self,
        asset_type: AssetType,
        model: Option<&str>,
        has_src: bool,
    ) -> Result<&Model, LookupError> {
        let model = match (has_src, model) {
            (true, _) if !matches!(asset_type, AssetType::Image | AssetType::Video) => {
                return Err(LookupError::SrcNotSupported)
            }
            (true, None) => Some(URL_MODEL),
            (_, model) => model,
        };
        let of_type = || {
            self.models
                .iter()
                .filter(move |m| m.asset_type == asset_type)
        };
        match model {
            Some(name) => {
                of_type()
                    .find(|m| m.name == name)
                    .ok_or_else(|| LookupError::UnknownModel {
                        asset_type,
                        model: name.to_string(),
                        known: of_type()
                            .map(|m| m.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
            None => of_type()
                .find(|m| m.name != URL_MODEL)
                .ok_or(LookupError::NoModel(asset_type)),
        }
    }
}

fn default_credits(adapter: Adapter) -> i64 {
    match adapter {
        Adapter::Url => 0,
        _ => BUILTIN_CREDITS,
    }
}

fn build(
    m: &ModelConfig,
    config: &GenerationConfig,
    fetcher: &Arc<dyn Fetch>,
    network: &dyn Network,
) -> Result<Arc<dyn Generator>, String> {
    Ok(match m.adapter {
        Adapter::LocalImage => Arc::new(builtin::LocalImage),
        Adapter::LocalTone => Arc::new(builtin::LocalTone),
        Adapter::EspeakNg => Arc::new(builtin::EspeakNg),
        Adapter::Chromium => Arc::new(builtin::Chromium {
            javascript: m.javascript,
        }),
        Adapter::LocalVideo => Arc::new(builtin::LocalVideo),
        Adapter::Url => Arc::new(builtin::UrlSource(fetcher.clone())),
        Adapter::OpenaiImage | Adapter::OpenaiSpeech | Adapter::Elevenlabs | Adapter::Http => {
            network.model_server(m, config, fetcher)?
        }
    })
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::{GenerateError, Output};

    /// A node without network: the built-ins alone.
    struct Offline;

    struct NoFetch(FetchPolicy);

    #[async_trait]
    impl Fetch for NoFetch {
        fn policy(&self) -> &FetchPolicy {
            &self.0
        }
        async fn fetch(&self, _: &str, _: &mut Output<'_>) -> Result<(), GenerateError> {
            Err(GenerateError::Unavailable("offline".into()))
        }
        async fn post(
            &self,
            _: &str,
            _: &[(&str, String)],
            _: String,
        ) -> Result<u16, GenerateError> {
            Err(GenerateError::Unavailable("offline".into()))
        }
    }

    impl Network for Offline {
        fn fetcher(&self, policy: FetchPolicy) -> Arc<dyn Fetch> {
            Arc::new(NoFetch(policy))
        }
        fn model_server(
            &self,
            m: &ModelConfig,
            _: &GenerationConfig,
            _: &Arc<dyn Fetch>,
        ) -> Result<Arc<dyn Generator>, String> {
            Err(format!("model {}: no network", m.model))
        }
    }

    fn registry(toml_models: Vec<ModelConfig>) -> Registry {
        Registry::new(
            &GenerationConfig {
                models: toml_models,
                ..GenerationConfig::default()
            },
            Duration::from_secs(60),
            &Offline,
        )
        .unwrap()
    }

    #[test]
    fn builtins_serve_every_type_but_component() {
        let r = registry(Vec::new());
        for t in AssetType::ALL {
            let found = r.find(t, None, false).map(|m| m.name.clone());
            if t == AssetType::Component {
                assert_eq!(found, Err(LookupError::NoModel(t)));
            } else {
                assert!(found.is_ok(), "{t}");
            }
        }
        assert_eq!(
            r.find(AssetType::Image, None, true).unwrap().name,
            URL_MODEL
        );
        assert_eq!(
            r.find(AssetType::Voice, None, true).err(),
            Some(LookupError::SrcNotSupported)
        );
        assert!(matches!(
            r.find(AssetType::Image, Some("flux"), false),
            Err(LookupError::UnknownModel { .. })
        ));
    }

    #[test]
    fn a_configured_model_comes_first_and_may_reprice_a_builtin() {
        let r = registry(vec![ModelConfig {
            asset_type: AssetType::Image,
            model: "local-image".into(),
            adapter: Adapter::LocalImage,
            credits: Some(7),
            base_url: None,
            api_key: None,
            api_key_env: None,
            upstream_model: None,
            voices: Default::default(),
            javascript: false,
        }]);
        let m = r.find(AssetType::Image, None, false).unwrap();
        assert_eq!((m.name.as_str(), m.credits), ("local-image", 7));
        assert_eq!(
            r.models()
                .iter()
                .filter(|m| m.name == "local-image")
                .count(),
            1
        );
    }
}
