//! `mediadrive backup DIR`: a consistent copy of the embedded default (SQLite and the filesystem
//! store) while the server runs. Every blob is hard-linked (copied across filesystems) before the
//! catalog is snapshotted, so a file deleted meanwhile still has its bytes in the copy; a blob
//! the snapshot holds that came and went between the two steps makes the copy start again.

use std::{
    collections::BTreeSet,
    io,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use clap::Args;
use mediadrive_blobstore::FsBlobStore;
use mediadrive_catalog::SqliteCatalog;
use serde_json::json;

use crate::settings::{resolve, StoreArgs};

/// Copies started again at most, should files keep coming and going between the two steps.
const ATTEMPTS: usize = 3;

#[derive(Args)]
pub struct BackupArgs {
    /// The directory to write, which must not exist or be empty; it becomes a data directory a
    /// server can start on (`--data-dir`)
    to: PathBuf,
}

pub async fn backup(store: &StoreArgs, args: BackupArgs) -> Result<()> {
    let config = resolve(store, None)?;
    let (Some(_), Some(root)) = (
        config.database_url.strip_prefix("sqlite://"),
        config.blob_url.strip_prefix("file://"),
    ) else {
        bail!(
            "backup copies the embedded default (sqlite:// and file://); with PostgreSQL and S3 \
             take the database with pg_dump, then the bucket's blobs/ (docs/operations.md)"
        );
    };
    let blobs = FsBlobStore::open(Path::new(root)).context("opening the blob store")?;
    let catalog = SqliteCatalog::open(&config.database_url)
        .await
        .context("opening the catalog")?;
    if args.to.exists()
        && std::fs::read_dir(&args.to)
            .with_context(|| format!("reading {}", args.to.display()))?
            .next()
            .is_some()
    {
        bail!("{} is not empty", args.to.display());
    }
    let source = Path::new(root).join("blobs");
    let target = args.to.join("blobs");
    for attempt in 1..=ATTEMPTS {
        let _ = std::fs::remove_dir_all(&args.to);
        std::fs::create_dir_all(&target)
            .with_context(|| format!("creating {}", target.display()))?;
        let linked = link_tree(&source, &target)?;
        let held = catalog
            .snapshot_into(&args.to.join("catalog.db"))
            .await
            .context("copying the catalog")?;
        let mut kept = BTreeSet::new();
        let mut vanished = 0;
        let mut bytes = 0;
        for hash in &held {
            let from = blobs.blob_path(hash);
            let to = target.join(from.strip_prefix(&source).expect("blobs live under blobs/"));
            if !to.exists() {
                // Stored after the blobs were linked; gone again if deleted since.
                match link(&from, &to) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => vanished += 1,
                    Err(e) => return Err(e).with_context(|| format!("copying {}", from.display())),
                }
            }
            bytes += std::fs::metadata(&to).map(|m| m.len()).unwrap_or(0);
            kept.insert(to);
        }
        if vanished > 0 {
            eprintln!("{vanished} blobs came and went during attempt {attempt}; starting again");
            continue;
        }
        // Blobs no file of the snapshot holds (stored later, or being reclaimed) stay out.
        let extra: Vec<PathBuf> = files_under(&target)?
            .into_iter()
            .filter(|p| !kept.contains(p))
            .collect();
        for path in &extra {
            std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "to": args.to,
                "blobs": kept.len(),
                "bytes": bytes,
                "hard_linked": linked,
                "attempts": attempt,
            }))?
        );
        return Ok(());
    }
    bail!("files kept coming and going during {ATTEMPTS} attempts; run backup again")
}

/// Hard-links `from` to `to`, or copies it where links cannot go (another filesystem); whether
/// it was a link.
fn link(from: &Path, to: &Path) -> io::Result<bool> {
    std::fs::create_dir_all(to.parent().expect("a blob file has a folder"))?;
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) => std::fs::copy(from, to).map(|_| false),
    }
}

/// Links every blob under `source` into `target`; whether all of them were hard links.
fn link_tree(source: &Path, target: &Path) -> Result<bool> {
    let mut all_linked = true;
    for from in files_under(source)? {
        let to = target.join(from.strip_prefix(source).expect("walked under source"));
        match link(&from, &to) {
            Ok(hard) => all_linked &= hard,
            // Reclaimed while walking: nothing the snapshot holds can need it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("copying {}", from.display())),
        }
    }
    Ok(all_linked)
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        match entry {
            Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
            Ok(_) => {}
            // A folder emptied and removed by a reclaim while walking.
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == io::ErrorKind::NotFound) => {}
            Err(e) => return Err(e).with_context(|| format!("walking {}", dir.display())),
        }
    }
    Ok(files)
}
