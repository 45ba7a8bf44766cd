//! The server's resolved configuration; the CLI layers defaults, the TOML file, env and flags into it.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub use mediadrive_generate::GenerationConfig;

/// Seed 002: "Files larger than 500 MB are rejected."
pub const MAX_UPLOAD_BYTES: u64 = 500 * 1024 * 1024;

/// Webhook endpoints one tenant may register.
pub const MAX_WEBHOOK_ENDPOINTS: u32 = 20;

/// The bearer token `/metrics` asks for; never shown in a log.
#[derive(Clone)]
pub struct MetricsToken(pub String);

impl MetricsToken {
    /// Compared in constant time, so the answer's timing tells nothing of the token.
    pub fn matches(&self, given: &str) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_bytes(),
            self.0.as_bytes(),
        ))
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Base of every link the server hands out, without a trailing slash.
    pub public_url: String,
    pub database_url: String,
    pub blob_url: String,
    /// Storage quota of a tenant that has none of its own; `None` is unlimited.
    pub default_quota: Option<u64>,
    pub credits_per_week: i64,
    /// Files in `temp` are deleted this long after they entered it.
    pub temp_max_age: Duration,
    pub sweep_interval: Duration,
    /// How long a presigned upload URL stays valid (seed 002: 120 seconds).
    pub upload_url_ttl: Duration,
    /// Longest time one upload may stream before its claim lapses and the sweeper may expire it.
    pub upload_claim_ttl: Duration,
    /// How long a node's blob work (an ingest between hashing and recording, a direct upload being
    /// confirmed, a blob being reclaimed) is trusted without a renewal. A live node renews every
    /// third of it; once a dead node's lease lapses, its work is taken over or undone by another
    /// node, or by the same one restarted.
    pub ingest_lease: Duration,
    /// Cache-Control max-age for served files.
    pub cache_max_age: Duration,
    /// How long served-file metadata is cached; changes made by other nodes show within it. Zero disables.
    pub serve_cache_ttl: Duration,
    /// Bytes of file bodies kept in memory for serving. Zero disables.
    pub memory_cache_bytes: u64,
    /// Largest file whose body is kept in memory.
    pub memory_cache_max_file: u64,
    /// How often uploads stored directly in object storage are looked for.
    pub reconcile_interval: Duration,
    /// Serve files from object storage by redirecting to a presigned GET instead of proxying.
    pub serve_redirect: bool,
    /// When set, `/metrics` answers only requests that carry it as a bearer token.
    pub metrics_token: Option<MetricsToken>,
    /// When set, `/metrics` is served on this address alone, not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Proxies whose `X-Forwarded-For` names the client address (for the failed-authentication
    /// limit); a request from anywhere else is counted against its own address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Preloads: generators, the temporary cache, credits, the fetch policy.
    pub generation: GenerationConfig,
    pub webhooks: WebhookConfig,
    pub renders: RenderConfig,
    pub videojungle: VideoJungleConfig,
    pub limits: LimitsConfig,
    pub tus: TusConfig,
}

fn default_webhook_timeout() -> u64 {
    10
}
/// Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 hours in all.
fn default_retry_schedule() -> Vec<u64> {
    vec![5, 300, 1800, 7200, 18000, 36000, 36000]
}
fn default_disable_after() -> u32 {
    15
}

/// The `[webhooks]` section: how deliveries are sent, retried and given up.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Longest wait for a receiver's answer, in seconds.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
    /// Seconds before each retry after a failed attempt (±20 % jitter); when they run out the
    /// delivery is given up.
    #[serde(default = "default_retry_schedule")]
    pub retry_schedule_secs: Vec<u64>,
    /// Failed attempts in a row after which an endpoint is disabled.
    #[serde(default = "default_disable_after")]
    pub disable_after_failures: u32,
    /// Deliveries of one tenant being sent at once, across every node: a tenant whose receiver
    /// is slow holds no more senders than this.
    #[serde(default = "default_deliveries_per_tenant")]
    pub deliveries_per_tenant: u32,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout_secs: default_webhook_timeout(),
            retry_schedule_secs: default_retry_schedule(),
            disable_after_failures: default_disable_after(),
            deliveries_per_tenant: default_deliveries_per_tenant(),
        }
    }
}

fn default_deliveries_per_tenant() -> u32 {
    4
}

fn default_render_ttl() -> u64 {
    24 * 3600
}
fn default_render_concurrency() -> usize {
    4
}

/// The `[renders]` section: the temporary tier of render outputs and their hosting copies.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderConfig {
    /// How long a render output's temporary URL works, in seconds (seed 004: 24 hours).
    #[serde(default = "default_render_ttl")]
    pub temporary_ttl_secs: u64,
    /// Downloads and hosting copies run at once on one node.
    #[serde(default = "default_render_concurrency")]
    pub concurrency: usize,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            temporary_ttl_secs: default_render_ttl(),
            concurrency: default_render_concurrency(),
        }
    }
}

impl RenderConfig {
    pub fn temporary_ttl(&self) -> chrono::Duration {
        i64::try_from(self.temporary_ttl_secs)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .unwrap_or(chrono::Duration::MAX)
    }
}

fn default_link_ttl() -> u64 {
    3600
}
fn default_asset_upload_ttl() -> u64 {
    3600
}

/// The `[videojungle]` section: the Video Jungle–compatible surface's asset links and uploads.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoJungleConfig {
    /// How long an asset's signed `url` and `download_url` work, in seconds.
    #[serde(default = "default_link_ttl")]
    pub link_ttl_secs: u64,
    /// How long a new asset waits for its upload, in seconds, before it is forgotten.
    #[serde(default = "default_asset_upload_ttl")]
    pub upload_ttl_secs: u64,
}

impl Default for VideoJungleConfig {
    fn default() -> Self {
        Self {
            link_ttl_secs: default_link_ttl(),
            upload_ttl_secs: default_asset_upload_ttl(),
        }
    }
}

fn default_requests_per_second() -> u32 {
    1000
}
fn default_burst() -> u32 {
    2000
}
fn default_uploads_per_tenant() -> u32 {
    16
}
fn default_project_field_bytes() -> usize {
    64 * 1024
}
fn default_projects_per_tenant() -> u32 {
    1000
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_failed_auths_per_minute() -> u32 {
    60
}
fn default_header_timeout() -> u64 {
    10
}
fn default_body_idle_timeout() -> u64 {
    60
}
fn default_shutdown_grace() -> u64 {
    30
}

/// The `[limits]` section: what one API key or tenant may ask of one node at once.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per second each API key may make on average; 0 turns the limit off.
    #[serde(default = "default_requests_per_second")]
    pub requests_per_second: u32,
    /// Requests a key may make at once above that rate.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Uploads one tenant may stream at once; 0 leaves them unbounded.
    #[serde(default = "default_uploads_per_tenant")]
    pub uploads_per_tenant: u32,
    /// Seconds a client has to send a request's headers before its connection is closed.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
    /// Seconds an upload's body may send nothing before it is refused with a 408 and its slot freed.
    #[serde(default = "default_body_idle_timeout")]
    pub body_idle_timeout_secs: u64,
    /// Seconds the requests in flight get to finish on shutdown before they are cut off.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_secs: u64,
    /// Bytes a Video Jungle project's description or data, or a script's template or inputs, may
    /// hold each (as JSON where they are JSON).
    #[serde(default = "default_project_field_bytes")]
    pub project_field_bytes: usize,
    /// Video Jungle projects one tenant may have; 0 leaves them unbounded.
    #[serde(default = "default_projects_per_tenant")]
    pub projects_per_tenant: u32,
    /// Seconds an HTTP/2 connection, or a kept-alive HTTP/1 one, may sit with no request in
    /// flight before it is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Connections served at once with the usual deadlines; 0 derives it from the open-file
    /// limit, less headroom for the catalog, blobs and helpers.
    #[serde(default)]
    pub max_connections: u32,
    /// Requests without a working key one client address may make per minute (a burst of as
    /// many, then one every 60/N seconds) before it gets 429; 0 turns the limit off.
    #[serde(default = "default_failed_auths_per_minute")]
    pub failed_auths_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            requests_per_second: default_requests_per_second(),
            burst: default_burst(),
            uploads_per_tenant: default_uploads_per_tenant(),
            header_timeout_secs: default_header_timeout(),
            body_idle_timeout_secs: default_body_idle_timeout(),
            shutdown_grace_secs: default_shutdown_grace(),
            project_field_bytes: default_project_field_bytes(),
            projects_per_tenant: default_projects_per_tenant(),
            failed_auths_per_minute: default_failed_auths_per_minute(),
            idle_timeout_secs: default_idle_timeout(),
            max_connections: 0,
        }
    }
}

fn default_tus_max_size() -> u64 {
    5 * 1024 * 1024 * 1024
}
fn default_tus_expiry() -> u64 {
    24 * 3600
}

/// The `[tus]` section: resumable uploads through the tus 1.0 protocol at `/tus/`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TusConfig {
    /// Largest `Upload-Length` accepted (`Tus-Max-Size`), in bytes.
    #[serde(default = "default_tus_max_size")]
    pub max_size_bytes: u64,
    /// Seconds an unfinished upload is kept after it was created or last received bytes.
    #[serde(default = "default_tus_expiry")]
    pub expiry_secs: u64,
}

impl Default for TusConfig {
    fn default() -> Self {
        Self {
            max_size_bytes: default_tus_max_size(),
            expiry_secs: default_tus_expiry(),
        }
    }
}

impl TusConfig {
    pub fn expiry(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.expiry_secs as i64)
    }
}

impl Config {
    /// Records the address the listener really got (port 0 asks the system for a free one); a
    /// public URL left at its default follows it, so returned links name a port that answers.
    pub fn bound_to(&mut self, addr: SocketAddr) {
        if self.public_url == format!("http://{}", self.listen) {
            self.public_url = format!("http://{addr}");
        }
        self.listen = addr;
    }

    /// Defaults for everything but where the data lives and where the server listens.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            public_url: format!("http://{listen}"),
            database_url: format!("sqlite://{}", data_dir.join("catalog.db").display()),
            blob_url: format!("file://{}", data_dir.display()),
            listen,
            data_dir,
            default_quota: Some(10 * 1024 * 1024 * 1024),
            credits_per_week: 0,
            temp_max_age: Duration::from_secs(24 * 3600),
            sweep_interval: Duration::from_secs(60),
            upload_url_ttl: Duration::from_secs(120),
            upload_claim_ttl: Duration::from_secs(3600),
            ingest_lease: Duration::from_secs(30),
            cache_max_age: Duration::from_secs(300),
            serve_cache_ttl: Duration::from_secs(1),
            memory_cache_bytes: 64 * 1024 * 1024,
            memory_cache_max_file: 1024 * 1024,
            metrics_token: None,
            metrics_listen: None,
            trusted_proxies: Vec::new(),
            reconcile_interval: Duration::from_millis(250),
            serve_redirect: false,
            generation: GenerationConfig::default(),
            webhooks: WebhookConfig::default(),
            renders: RenderConfig::default(),
            videojungle: VideoJungleConfig::default(),
            limits: LimitsConfig::default(),
            tus: TusConfig::default(),
        }
    }
}
