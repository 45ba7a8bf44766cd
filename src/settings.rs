//! Configuration in layers: defaults, then the TOML file, then environment variables, then flags
//! (clap reads env and flags together; env values arrive as if they were flags).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use clap::Args;
use ipnet::IpNet;
use mediadrive_app::{
    config::{
        GenerationConfig, LimitsConfig, RenderConfig, TusConfig, VideoJungleConfig, WebhookConfig,
    },
    Config,
};
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const MAX_TUS_EXPIRY_SECS: u64 = 365 * 24 * 3600;
pub const DEFAULT_DATA_DIR: &str = "./mediadrive-data";

/// Settings every command accepts, so admin commands act on the server's store.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// TOML configuration file (see mediadrive.example.toml).
    #[arg(long, global = true, env = "MEDIADRIVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded catalog and blobs [default: ./mediadrive-data]
    #[arg(long, global = true, env = "MEDIADRIVE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Catalog database URL [default: sqlite://{data_dir}/catalog.db]
    #[arg(long, global = true, env = "MEDIADRIVE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Blob store URL [default: file://{data_dir}]
    #[arg(long, global = true, env = "MEDIADRIVE_BLOB_URL")]
    pub blob_url: Option<String>,
    /// Quota of tenants without their own, in bytes; 0 is unlimited [default: 10 GiB]
    #[arg(long, global = true, env = "MEDIADRIVE_DEFAULT_QUOTA_BYTES")]
    pub default_quota_bytes: Option<u64>,
    /// Age in seconds after which files in `temp` are deleted [default: 86400]
    #[arg(long, global = true, env = "MEDIADRIVE_TEMP_MAX_AGE_SECS")]
    pub temp_max_age_secs: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "MEDIADRIVE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Base URL of the links the server returns [default: http://{listen}]
    #[arg(long, env = "MEDIADRIVE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Serve /metrics on this address alone (e.g. 127.0.0.1:9100), not on --listen
    #[arg(long, env = "MEDIADRIVE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Seconds a presigned upload URL stays valid [default: 120]
    #[arg(long, env = "MEDIADRIVE_UPLOAD_URL_TTL_SECS")]
    pub upload_url_ttl_secs: Option<u64>,
    /// How files in object storage are served: `proxy` (through mediadrive, with Range) or
    /// `redirect` (302 to a short-lived presigned GET) [default: proxy]
    #[arg(long, env = "MEDIADRIVE_BLOB_SERVING")]
    pub blob_serving: Option<String>,
    /// Seconds between lifecycle sweeps [default: 60]
    #[arg(long, env = "MEDIADRIVE_SWEEP_INTERVAL_SECS")]
    pub sweep_interval_secs: Option<u64>,
    /// Private networks that `src` URLs may reach after all, e.g. 10.0.0.0/8 (comma-separated CIDRs)
    #[arg(long, env = "MEDIADRIVE_FETCH_ALLOW", value_delimiter = ',')]
    pub fetch_allow: Vec<IpNet>,
    /// How the log is written to stderr: `text` for people, `json` (one object per line, with the
    /// request id of each request's lines) for log collectors
    #[arg(long, env = "MEDIADRIVE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The TOML file: every key optional, unknown keys refused so a typo does not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
    database_url: Option<String>,
    blob_url: Option<String>,
    default_quota_bytes: Option<u64>,
    credits_per_week: Option<i64>,
    temp_max_age_secs: Option<u64>,
    sweep_interval_secs: Option<u64>,
    upload_url_ttl_secs: Option<u64>,
    cache_max_age_secs: Option<u64>,
    serve_cache_ttl_ms: Option<u64>,
    blob_serving: Option<String>,
    reconcile_interval_ms: Option<u64>,
    ingest_lease_secs: Option<u64>,
    metrics_token: Option<String>,
    metrics_listen: Option<SocketAddr>,
    trusted_proxies: Option<Vec<IpNet>>,
    memory_cache_bytes: Option<u64>,
    memory_cache_max_file_bytes: Option<u64>,
    generation: Option<GenerationConfig>,
    webhooks: Option<WebhookConfig>,
    renders: Option<RenderConfig>,
    videojungle: Option<VideoJungleConfig>,
    limits: Option<LimitsConfig>,
    tus: Option<TusConfig>,
}

fn read_file(path: Option<&PathBuf>) -> Result<FileSettings> {
    let Some(path) = path else {
        return Ok(FileSettings::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

pub fn resolve(store: &StoreArgs, listen: Option<&ListenArgs>) -> Result<Config> {
    let file = read_file(store.config.as_ref())?;
    let listen_addr = listen
        .and_then(|l| l.listen)
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"));
    let data_dir = store
        .data_dir
        .clone()
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let mut config = Config::new(listen_addr, data_dir);
    if let Some(url) = listen
        .and_then(|l| l.public_url.clone())
        .or(file.public_url)
    {
        let url = url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("public URL must start with http:// or https://: {url}");
        }
        config.public_url = url;
    }
    if let Some(url) = store.database_url.clone().or(file.database_url) {
        config.database_url = url;
    }
    if let Some(url) = store.blob_url.clone().or(file.blob_url) {
        config.blob_url = url;
    }
    if let Some(q) = store.default_quota_bytes.or(file.default_quota_bytes) {
        config.default_quota = (q > 0).then_some(q);
    }
    if let Some(c) = file.credits_per_week {
        config.credits_per_week = c;
    }
    if let Some(s) = store.temp_max_age_secs.or(file.temp_max_age_secs) {
        config.temp_max_age = Duration::from_secs(s);
    }
    if let Some(s) = listen
        .and_then(|l| l.sweep_interval_secs)
        .or(file.sweep_interval_secs)
    {
        if s == 0 {
            bail!("sweep interval must be at least one second");
        }
        config.sweep_interval = Duration::from_secs(s);
    }
    if let Some(s) = listen
        .and_then(|l| l.upload_url_ttl_secs)
        .or(file.upload_url_ttl_secs)
    {
        if s == 0 {
            bail!("upload URL lifetime must be at least one second");
        }
        config.upload_url_ttl = Duration::from_secs(s);
    }
    if let Some(s) = file.cache_max_age_secs {
        config.cache_max_age = Duration::from_secs(s);
    }
    match listen
        .and_then(|l| l.blob_serving.clone())
        .or(file.blob_serving)
        .as_deref()
    {
        None | Some("proxy") => {}
        Some("redirect") => config.serve_redirect = true,
        Some(other) => bail!("blob_serving must be proxy or redirect, not '{other}'"),
    }
    if let Some(ms) = file.reconcile_interval_ms {
        if ms == 0 {
            bail!("reconcile_interval_ms must be at least 1");
        }
        config.reconcile_interval = Duration::from_millis(ms);
    }
    if let Some(s) = file.ingest_lease_secs {
        if s == 0 {
            bail!("ingest_lease_secs must be at least 1");
        }
        config.ingest_lease = Duration::from_secs(s);
    }
    if let Some(token) = file.metrics_token {
        if token.len() < 16 {
            bail!("metrics_token must be at least 16 characters");
        }
        config.metrics_token = Some(mediadrive_app::config::MetricsToken(token));
    }
    config.metrics_listen = listen
        .and_then(|l| l.metrics_listen)
        .or(file.metrics_listen);
    if let Some(proxies) = file.trusted_proxies {
        config.trusted_proxies = proxies;
    }
    if let Some(ms) = file.serve_cache_ttl_ms {
        config.serve_cache_ttl = Duration::from_millis(ms);
    }
    if let Some(b) = file.memory_cache_bytes {
        config.memory_cache_bytes = b;
    }
    if let Some(b) = file.memory_cache_max_file_bytes {
        config.memory_cache_max_file = b;
    }
    if let Some(generation) = file.generation {
        if generation.concurrency == 0 {
            bail!("generation.concurrency must be at least 1");
        }
        if generation.timeout_secs == 0 || generation.fetch_timeout_secs == 0 {
            bail!("generation time limits must be at least one second");
        }
        config.generation = generation;
    }
    if let Some(webhooks) = file.webhooks {
        if webhooks.timeout_secs == 0 || webhooks.disable_after_failures == 0 {
            bail!("webhooks.timeout_secs and webhooks.disable_after_failures must be at least 1");
        }
        config.webhooks = webhooks;
    }
    if let Some(renders) = file.renders {
        if renders.temporary_ttl_secs == 0 || renders.concurrency == 0 {
            bail!("renders.temporary_ttl_secs and renders.concurrency must be at least 1");
        }
        config.renders = renders;
    }
    if let Some(vj) = file.videojungle {
        if vj.link_ttl_secs == 0 || vj.upload_ttl_secs == 0 {
            bail!("videojungle.link_ttl_secs and videojungle.upload_ttl_secs must be at least 1");
        }
        config.videojungle = vj;
    }
    if let Some(limits) = file.limits {
        if limits.header_timeout_secs == 0 || limits.body_idle_timeout_secs == 0 {
            bail!(
                "limits.header_timeout_secs and limits.body_idle_timeout_secs must be at least 1"
            );
        }
        config.limits = limits;
    }
    if let Some(tus) = file.tus {
        if tus.max_size_bytes == 0 || tus.expiry_secs == 0 {
            bail!("tus.max_size_bytes and tus.expiry_secs must be at least 1");
        }
        // Added to the clock at every creation and piece, so it must stay a sane span of time.
        if tus.expiry_secs > MAX_TUS_EXPIRY_SECS {
            bail!("tus.expiry_secs must be at most {MAX_TUS_EXPIRY_SECS} (a year)");
        }
        config.tus = tus;
    }
    if let Some(listen) = listen.filter(|l| !l.fetch_allow.is_empty()) {
        config.generation.fetch_allow = listen.fetch_allow.clone();
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let file: FileSettings =
            toml::from_str(include_str!("../mediadrive.example.toml")).unwrap();
        let defaults = Config::new(DEFAULT_LISTEN.parse().unwrap(), DEFAULT_DATA_DIR.into());
        assert_eq!(file.listen, Some(defaults.listen));
        assert_eq!(file.default_quota_bytes, defaults.default_quota);
        assert_eq!(
            file.temp_max_age_secs,
            Some(defaults.temp_max_age.as_secs())
        );
        assert_eq!(
            file.sweep_interval_secs,
            Some(defaults.sweep_interval.as_secs())
        );
        assert_eq!(
            file.upload_url_ttl_secs,
            Some(defaults.upload_url_ttl.as_secs())
        );
        assert_eq!(
            file.cache_max_age_secs,
            Some(defaults.cache_max_age.as_secs())
        );
        assert_eq!(
            file.serve_cache_ttl_ms,
            Some(defaults.serve_cache_ttl.as_millis() as u64)
        );
        assert_eq!(file.memory_cache_bytes, Some(defaults.memory_cache_bytes));
        assert_eq!(
            file.ingest_lease_secs,
            Some(defaults.ingest_lease.as_secs())
        );
        assert_eq!(
            file.memory_cache_max_file_bytes,
            Some(defaults.memory_cache_max_file)
        );
        let (hooks, default_hooks) = (file.webhooks.unwrap(), defaults.webhooks);
        assert_eq!(
            (
                hooks.timeout_secs,
                hooks.retry_schedule_secs,
                hooks.disable_after_failures,
                hooks.deliveries_per_tenant
            ),
            (
                default_hooks.timeout_secs,
                default_hooks.retry_schedule_secs,
                default_hooks.disable_after_failures,
                default_hooks.deliveries_per_tenant
            )
        );
        let (renders, default_renders) = (file.renders.unwrap(), defaults.renders);
        assert_eq!(
            (renders.temporary_ttl_secs, renders.concurrency),
            (
                default_renders.temporary_ttl_secs,
                default_renders.concurrency
            )
        );
        let (limits, default_limits) = (file.limits.unwrap(), defaults.limits);
        assert_eq!(
            (
                limits.requests_per_second,
                limits.burst,
                limits.uploads_per_tenant,
                limits.header_timeout_secs,
                limits.body_idle_timeout_secs,
                limits.shutdown_grace_secs,
                limits.project_field_bytes,
                limits.projects_per_tenant,
                limits.failed_auths_per_minute,
                limits.idle_timeout_secs,
                limits.max_connections
            ),
            (
                default_limits.requests_per_second,
                default_limits.burst,
                default_limits.uploads_per_tenant,
                default_limits.header_timeout_secs,
                default_limits.body_idle_timeout_secs,
                default_limits.shutdown_grace_secs,
                default_limits.project_field_bytes,
                default_limits.projects_per_tenant,
                default_limits.failed_auths_per_minute,
                default_limits.idle_timeout_secs,
                default_limits.max_connections
            )
        );
        let (tus, default_tus) = (file.tus.unwrap(), defaults.tus);
        assert_eq!(
            (tus.max_size_bytes, tus.expiry_secs),
            (default_tus.max_size_bytes, default_tus.expiry_secs)
        );
        let (vj, default_vj) = (file.videojungle.unwrap(), defaults.videojungle);
        assert_eq!(
            (vj.link_ttl_secs, vj.upload_ttl_secs),
            (default_vj.link_ttl_secs, default_vj.upload_ttl_secs)
        );
        let (given, default) = (file.generation.unwrap(), defaults.generation);
        assert_eq!(
            (
                given.concurrency,
                given.timeout_secs,
                given.cache_ttl_secs,
                given.initial_credits,
                given.max_asset_bytes,
                given.fetch_timeout_secs,
                given.preload_retention_days,
                given.fetch_allow,
                given.models.len(),
            ),
            (
                default.concurrency,
                default.timeout_secs,
                default.cache_ttl_secs,
                default.initial_credits,
                default.max_asset_bytes,
                default.fetch_timeout_secs,
                default.preload_retention_days,
                default.fetch_allow,
                0,
            )
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileSettings>("lisen = \"x\"").is_err());
    }
}
