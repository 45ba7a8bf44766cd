//! The `mediadrive` command: the server and the admin commands that act on its store.

mod backends;
mod backup;
mod client;
mod commands;
#[cfg(test)]
mod config_reference;
mod keys;
mod settings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use settings::{ListenArgs, LogFormat, StoreArgs};

#[derive(Parser)]
#[command(
    name = "mediadrive",
    version,
    about = "Self-hosted media drive for generative and rendering video pipelines"
)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ListenArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Rotate the node-wide signing key.
    #[command(subcommand)]
    Secret(keys::SecretCommand),
    /// Manage tenants (clients).
    #[command(subcommand)]
    Client(commands::ClientCommand),
    /// Run the lifecycle sweep now and print what it removed.
    Sweep(commands::SweepArgs),
    /// Bring the catalog's schema up to date (before a rolling upgrade) and exit.
    Migrate,
    /// Copy the embedded catalog and blobs to a new data directory, consistently, while the server runs.
    Backup(backup::BackupArgs),
    /// Print what mediadrive knows of local files, as JSON (one object per file, in order).
    Probe {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Upload files and directory trees to a server, skipping files it already holds.
    Upload(client::UploadArgs),
    /// List a folder of a server's drive.
    Ls(client::LsArgs),
    /// Move a file or a folder into another folder.
    Mv(client::MvArgs),
    /// Remove files, or folders with --recursive.
    Rm(client::RmArgs),
    /// Create folders, with their parents.
    Mkdir(client::MkdirArgs),
    /// Download a file, resuming an interrupted download.
    Get(client::GetArgs),
    /// Print a file's stable URL.
    Url(client::UrlArgs),
}

fn init_tracing(default: &str, format: LogFormat) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // symphonia's format probe warns about the size field before every MP4's `ftyp` box ("skipped
    // 4 bytes of junk"); unless RUST_LOG asks for it, that is noise.
    if !std::env::var("RUST_LOG").is_ok_and(|v| v.contains("symphonia")) {
        filter = filter.add_directive(
            "symphonia_core::formats::probe=error"
                .parse()
                .expect("a valid directive"),
        );
    }
    // OpenDAL's request signer logs its credentials, secret key included, at debug: no RUST_LOG
    // may raise it.
    filter = filter.add_directive("reqsign_core=info".parse().expect("a valid directive"));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => log.init(),
        LogFormat::Json => log.json().with_current_span(true).init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(listen) => {
            // The demuxers log every oddity of a user's file; what matters reaches the catalog instead.
            init_tracing("info,symphonia=error", listen.log_format);
            commands::serve(&cli.store, &listen).await
        }
        Command::Key(cmd) => {
            init_tracing("warn,symphonia=error", LogFormat::Text);
            keys::key(&cli.store, cmd).await
        }
        Command::Secret(cmd) => {
            init_tracing("warn,symphonia=error", LogFormat::Text);
            keys::secret(&cli.store, cmd).await
        }
        Command::Client(cmd) => {
            init_tracing("warn,symphonia=error", LogFormat::Text);
            commands::client(&cli.store, cmd).await
        }
        Command::Sweep(args) => {
            init_tracing("warn,symphonia=error", LogFormat::Text);
            commands::sweep(&cli.store, args).await
        }
        Command::Migrate => {
            init_tracing("warn,symphonia=error", LogFormat::Text);
            commands::migrate(&cli.store).await
        }
        Command::Backup(args) => {
            init_tracing("warn,symphonia=error", LogFormat::Text);
            backup::backup(&cli.store, args).await
        }
        Command::Probe { files } => commands::probe(&files),
        Command::Upload(args) => return client_exit(client::upload(args)).await,
        Command::Ls(args) => return client_exit(client::ls(args)).await,
        Command::Mv(args) => return client_exit(client::mv(args)).await,
        Command::Rm(args) => return client_exit(client::rm(args)).await,
        Command::Mkdir(args) => return client_exit(client::mkdir(args)).await,
        Command::Get(args) => return client_exit(client::get(args)).await,
        Command::Url(args) => return client_exit(client::url(args)).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mediadrive: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs a client command; its error's kind picks the exit code (see `docs/cli.md`).
async fn client_exit(
    command: impl std::future::Future<Output = Result<(), client::ClientError>>,
) -> ExitCode {
    init_tracing("warn", LogFormat::Text);
    match command.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mediadrive: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
