//! Chooses the catalog and blob store from their URLs.

use std::{path::PathBuf, sync::Arc};

use anyhow::{bail, Context, Result};
use mediadrive_app::{App, Config};
use mediadrive_blobstore::{FsBlobStore, S3BlobStore};
use mediadrive_catalog::{PostgresCatalog, SqliteCatalog};
use mediadrive_core::{BlobStore, Catalog};

/// Creates `dir` and its missing parents readable by this user alone: they hold the catalog, and
/// the files on the default store. Directories that exist keep their permissions.
pub fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

pub async fn open_catalog(config: &Config) -> Result<Arc<dyn Catalog>> {
    let url = &config.database_url;
    if let Some(path) = url.strip_prefix("sqlite://") {
        if let Some(dir) = PathBuf::from(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            create_private_dir(dir)?;
        }
        let catalog = SqliteCatalog::open(url)
            .await
            .with_context(|| format!("opening catalog {url}"))?;
        return Ok(Arc::new(catalog));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let catalog = PostgresCatalog::open(url)
            .await
            .with_context(|| format!("opening catalog {}", redact_password(url)))?;
        return Ok(Arc::new(catalog));
    }
    bail!(
        "unsupported database URL '{}': use sqlite://PATH or postgres://…",
        redact_password(url)
    )
}

/// Database URLs may carry a password; error messages and logs must not.
fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

pub fn open_blobs(config: &Config) -> Result<Arc<dyn BlobStore>> {
    let url = &config.blob_url;
    if let Some(path) = url.strip_prefix("file://") {
        let store = FsBlobStore::open(&PathBuf::from(path))
            .with_context(|| format!("opening blob store {url}"))?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("s3://") {
        let store = S3BlobStore::open(url).with_context(|| format!("opening blob store {url}"))?;
        return Ok(Arc::new(store));
    }
    bail!("unsupported blob URL '{url}': use file://PATH or s3://BUCKET?endpoint=…")
}

pub async fn open_state(config: Config) -> Result<App> {
    let catalog = open_catalog(&config).await?;
    let blobs = open_blobs(&config)?;
    Ok(App::new(catalog, blobs, config, &mediadrive_remote::Http).await?)
}
