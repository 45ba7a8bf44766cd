//! The client commands: the same binary, talking HTTP to a server as a script or a person at a
//! terminal would (`upload`, `ls`, `mv`, `rm`, `mkdir`, `get`, `url`).

mod pace;
mod remote;
mod resumable;
mod transfer;

use std::path::PathBuf;

use clap::Args;
use reqwest::Method;
use serde_json::json;

pub use remote::ClientError;
use remote::{split, ClientResult, Remote};

/// Which server, as whom.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080
    #[arg(long, env = "MEDIADRIVE_SERVER")]
    server: String,
    /// An API key of the tenant to act for
    #[arg(long, env = "MEDIADRIVE_KEY", hide_env_values = true)]
    key: String,
}

impl ServerArgs {
    fn remote(&self) -> ClientResult<Remote> {
        Remote::new(&self.server, &self.key)
    }
}

#[derive(Args, Debug)]
pub struct UploadArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Files, and directories (uploaded with everything in them, as `--to/<directory name>/…`)
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The folder to upload into [default: the root]
    #[arg(long, default_value = "")]
    to: String,
    /// Files uploaded at once
    #[arg(long, short = 'j', default_value_t = 4)]
    parallel: usize,
    /// Replace a file of the same name whose content differs (by default that file fails)
    #[arg(long)]
    overwrite: bool,
    /// Files larger than this go through the resumable (tus) endpoint in pieces, and an
    /// interrupted upload goes on where it stopped when run again (e.g. 64MiB, 500MB)
    #[arg(long, default_value = "64MiB", value_parser = byte_size)]
    resumable_above: u64,
    /// The size of each piece of a resumable upload: at most this much is sent again after an
    /// interruption
    #[arg(long, default_value = "8MiB", value_parser = byte_size)]
    chunk_size: u64,
    /// At most this many bytes a second for the whole command (e.g. 2MiB); unlimited by default
    #[arg(long, value_parser = byte_size)]
    bwlimit: Option<u64>,
}

fn byte_size(s: &str) -> Result<u64, String> {
    let size = s.parse::<bytesize::ByteSize>()?.as_u64();
    if size == 0 {
        return Err("must be more than 0 bytes".into());
    }
    Ok(size)
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The folder to list [default: the root]
    #[arg(default_value = "")]
    folder: String,
    /// Print JSON ({"folders": [...], "files": [...]}) instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct MvArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// A file (`folder/name`) or a folder
    source: String,
    /// The folder to move it into (`/` for the root)
    destination: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Files (`folder/name`), or folders with --recursive
    #[arg(required = true)]
    paths: Vec<String>,
    /// Remove folders and everything in them
    #[arg(long, short = 'r')]
    recursive: bool,
}

#[derive(Args, Debug)]
pub struct MkdirArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Folders to create, with their parents
    #[arg(required = true)]
    folders: Vec<String>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The file (`folder/name`)
    path: String,
    /// Where to write it: a file, or a directory to put it in [default: its name, here]
    dest: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct UrlArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The file (`folder/name`)
    path: String,
    /// Print the download URL (served as an attachment) instead
    #[arg(long)]
    download: bool,
}

pub async fn upload(args: UploadArgs) -> ClientResult<()> {
    let options = transfer::UploadOptions {
        to: args.to.trim_matches('/').to_string(),
        parallel: args.parallel,
        overwrite: args.overwrite,
        resumable_above: args.resumable_above,
        chunk: args.chunk_size,
        pace: args
            .bwlimit
            .map(|limit| std::sync::Arc::new(pace::Pace::new(limit))),
    };
    transfer::upload(&args.server.remote()?, &args.paths, &options).await
}

pub async fn ls(args: LsArgs) -> ClientResult<()> {
    let listing = args
        .server
        .remote()?
        .list(args.folder.trim_matches('/'))
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&listing).expect("a listing serialises")
        );
        return Ok(());
    }
    for folder in &listing.folders {
        println!("{:>12}  {:24}  {:8}  {folder}/", "-", "", "folder");
    }
    for f in &listing.files {
        let path = if f.folder.is_empty() {
            f.name.clone()
        } else {
            format!("{}/{}", f.folder, f.name)
        };
        println!(
            "{:>12}  {:24}  {:8}  {path}",
            f.size, f.updated_at, f.status
        );
    }
    Ok(())
}

pub async fn mv(args: MvArgs) -> ClientResult<()> {
    let remote = args.server.remote()?;
    let source = args.source.trim_matches('/');
    if remote.file(source).await?.is_some() {
        let (folder, name) = split(source);
        remote
            .call(
                Method::PUT,
                "/v2/media/file",
                Some(json!({"name": name, "folder": folder, "destination": args.destination})),
                source,
            )
            .await?;
    } else {
        remote
            .call(
                Method::PUT,
                "/v2/media/folder",
                Some(json!({"folder": source, "destination": args.destination})),
                source,
            )
            .await?;
    }
    println!("moved {source} to {}", args.destination);
    Ok(())
}

pub async fn rm(args: RmArgs) -> ClientResult<()> {
    let remote = args.server.remote()?;
    for path in &args.paths {
        let path = path.trim_matches('/');
        if remote.file(path).await?.is_some() {
            let (folder, name) = split(path);
            transfer::delete_file(&remote, folder, name).await?;
        } else if args.recursive {
            remote
                .call(
                    Method::DELETE,
                    "/v2/media/folder",
                    Some(json!({"folder": path, "recursive": true})),
                    path,
                )
                .await?;
        } else {
            // A folder needs --recursive; asking the server tells a folder from nothing at all.
            remote.list(path).await?;
            return Err(ClientError::Local(format!(
                "{path} is a folder: remove it with --recursive"
            )));
        }
        println!("removed {path}");
    }
    Ok(())
}

pub async fn mkdir(args: MkdirArgs) -> ClientResult<()> {
    let remote = args.server.remote()?;
    for folder in &args.folders {
        remote.mkdir(folder.trim_matches('/')).await?;
        println!("created {folder}");
    }
    Ok(())
}

pub async fn get(args: GetArgs) -> ClientResult<()> {
    let remote = args.server.remote()?;
    let path = args.path.trim_matches('/');
    let file = remote
        .file(path)
        .await?
        .ok_or_else(|| ClientError::NotFound(path.to_string()))?;
    let dest = match args.dest {
        Some(d) if d.is_dir() => d.join(&file.name),
        Some(d) => d,
        None => PathBuf::from(&file.name),
    };
    let resumed_from = transfer::get(&remote, &file, &dest).await?;
    if resumed_from > 0 {
        eprintln!("resumed after {resumed_from} bytes");
    }
    println!("{}", dest.display());
    Ok(())
}

pub async fn url(args: UrlArgs) -> ClientResult<()> {
    let path = args.path.trim_matches('/');
    let file = args
        .server
        .remote()?
        .file(path)
        .await?
        .ok_or_else(|| ClientError::NotFound(path.to_string()))?;
    println!(
        "{}",
        if args.download {
            file.download_url
        } else {
            file.url
        }
    );
    Ok(())
}
