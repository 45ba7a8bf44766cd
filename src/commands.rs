//! What each subcommand does.

use std::io::Write;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use mediadrive_core::{ClientId, TenantUpdate};
use serde_json::json;
use tokio::sync::watch;

use crate::{
    backends::{open_catalog, open_state},
    settings::{resolve, ListenArgs, StoreArgs},
};

/// Descriptors kept for what is not a client connection: the catalog's, blobs being read and
/// written, helper programs' pipes.
const DESCRIPTOR_HEADROOM: u64 = 256;

/// Every connection holds a file descriptor, and the usual soft limit (1,024) is far below the
/// hard one: at the soft limit a few hundred idle connections would leave none for health checks
/// and the catalog. The soft limit is raised to the hard one; returns the limit in force.
fn raise_open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // Safety: both calls only read or write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                return wanted.rlim_cur;
            }
            tracing::warn!(soft = limit.rlim_cur, "could not raise the open file limit");
        }
        limit.rlim_cur
    }
}

pub async fn serve(store: &StoreArgs, listen: &ListenArgs) -> Result<()> {
    let mut config = resolve(store, Some(listen))?;
    crate::backends::create_private_dir(&config.data_dir)?;
    let descriptors = raise_open_file_limit();
    if config.limits.max_connections == 0 {
        let room = descriptors.saturating_sub(DESCRIPTOR_HEADROOM).max(64);
        config.limits.max_connections = u32::try_from(room).unwrap_or(u32::MAX);
    }
    let addr = config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    config.bound_to(listener.local_addr()?);
    let metrics = match config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening for metrics on {addr}"))?,
        ),
        None => None,
    };
    if let Some(metrics) = &metrics {
        // A scraper asked for port 0 learns the real one from the log.
        config.metrics_listen = Some(metrics.local_addr()?);
    }
    let state = open_state(config).await?;
    // The one line `serve` writes on stdout: scripts and tests that asked for port 0 learn here
    // which port they got. A closed stdout is no reason not to serve.
    let _ = writeln!(
        std::io::stdout(),
        "listening on http://{}",
        listener.local_addr()?
    );
    tracing::info!(
        listen = %listener.local_addr()?,
        public_url = %state.config.public_url,
        data_dir = %state.config.data_dir.display(),
        ffmpeg = mediadrive_app::previews::ffmpeg_available(),
        "mediadrive serving"
    );
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    if let Some(addr) = state.config.metrics_listen {
        tracing::info!(metrics_listen = %addr, "metrics are served on their own address");
    }
    mediadrive_server::run(state, listener, metrics, stopped).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub fn client_id(raw: &str) -> Result<ClientId> {
    ClientId::parse(raw).map_err(anyhow::Error::from)
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Change a tenant's quotas, storage block or credits; creates the tenant if needed.
    Set {
        #[arg(long)]
        client: String,
        /// Storage quota in bytes.
        #[arg(long)]
        quota: Option<u64>,
        /// Budget in bytes for what is kept outside the quota: files in temp/ and the temporary
        /// cache (generated assets, src downloads, render outputs) [default: the quota].
        #[arg(long)]
        temp_quota: Option<u64>,
        #[arg(long)]
        storage_blocked: Option<bool>,
        #[arg(long)]
        credits: Option<i64>,
    },
    /// Print a tenant's quotas, usage, block and credits as JSON.
    Show {
        #[arg(long)]
        client: String,
    },
    /// Print a tenant's credit ledger as JSON, newest first.
    Ledger {
        #[arg(long)]
        client: String,
        /// How many entries to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

pub async fn client(store: &StoreArgs, cmd: ClientCommand) -> Result<()> {
    let state = open_state(resolve(store, None)?).await?;
    let now = Utc::now();
    let tenant = match cmd {
        ClientCommand::Set {
            client,
            quota,
            temp_quota,
            storage_blocked,
            credits,
        } => {
            let id = client_id(&client)?;
            let initial = state.config.generation.initial_credits;
            state.catalog.ensure_tenant(&id, initial, now).await?;
            let update = TenantUpdate {
                quota,
                temp_quota,
                storage_blocked,
                credits,
            };
            state.catalog.update_tenant(&id, &update, now).await?
        }
        ClientCommand::Ledger { client, limit } => {
            let id = client_id(&client)?;
            let ledger = state.catalog.credit_ledger(&id, limit).await?;
            println!("{}", serde_json::to_string_pretty(&ledger)?);
            return Ok(());
        }
        ClientCommand::Show { client } => {
            let id = client_id(&client)?;
            state
                .catalog
                .tenant(&id)
                .await?
                .with_context(|| format!("no client '{id}'"))?
        }
    };
    let default_quota = state.config.default_quota;
    let temp = state.catalog.temp_usage(&tenant.id, default_quota).await?;
    let shown = json!({
        "client_id": tenant.id,
        "quota": tenant.quota.or(default_quota),
        "used_bytes": tenant.used_bytes,
        "pending_bytes": tenant.pending_bytes,
        "temp_quota": temp.quota,
        "temp_used_bytes": temp.used_bytes,
        "storage_blocked": tenant.storage_blocked,
        "blocked_at": tenant.blocked_at,
        "credits": tenant.credits,
    });
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

#[derive(Args)]
pub struct SweepArgs {
    /// Sweep as if it were this time (RFC 3339) [default: now]
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    /// Report what would be removed without removing it.
    #[arg(long)]
    dry_run: bool,
}

pub async fn sweep(store: &StoreArgs, args: SweepArgs) -> Result<()> {
    let state = open_state(resolve(store, None)?).await?;
    let at = args.at.unwrap_or_else(Utc::now);
    // An operator's sweep also walks the store for bytes no row accounts for.
    let report = mediadrive_app::lifecycle::sweep(&state, at, args.dry_run, true)
        .await
        .map_err(anyhow::Error::msg)?;
    let paths = |files: &[mediadrive_core::FileRecord]| -> Vec<String> {
        files
            .iter()
            .map(|f| format!("{}/{}", f.tenant, f.path()))
            .collect()
    };
    let shown = json!({
        "at": at,
        "dry_run": args.dry_run,
        "expired_uploads": paths(&report.expired_uploads),
        "expired_temp_files": paths(&report.expired_temp_files),
        "purged_cache_entries": report
            .purged_cache_entries
            .iter()
            .map(|e| e.url_path())
            .collect::<Vec<_>>(),
        "expired_preloads": report.expired_preloads,
        "expired_project_assets": report.expired_project_assets,
        "reclaimed_blobs": report.reclaimed_blobs.iter().map(|h| h.as_str()).collect::<Vec<_>>(),
        "stray_blobs": report.stray_blobs.iter().map(|h| h.as_str()).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

pub async fn migrate(store: &StoreArgs) -> Result<()> {
    let config = resolve(store, None)?;
    // Opening a catalog applies the migrations it lacks, under the engine's migration lock.
    open_catalog(&config).await?;
    println!("catalog schema is up to date");
    Ok(())
}

/// Probes each file; a file that cannot be probed gets `probe_status: failed` and a reason, and
/// makes the command exit non-zero after printing everything.
pub fn probe(files: &[std::path::PathBuf]) -> Result<()> {
    let mut failed = 0;
    let reports: Vec<serde_json::Value> = files
        .iter()
        .map(|path| {
            let mut report = match mediadrive_probe::probe_path(path) {
                Ok(info) => {
                    let mut report = serde_json::to_value(info).expect("metadata serialises");
                    report["probe_status"] = json!("done");
                    report
                }
                Err(e) => {
                    failed += 1;
                    json!({"probe_status": "failed", "reason": e.to_string()})
                }
            };
            report["file"] = json!(path.display().to_string());
            report
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&reports)?);
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be probed", files.len());
    }
    Ok(())
}
