//! Server-side uploads: bytes hashed while they are written under `staging/`, then moved to their
//! address.

use std::{
    fs::{self, File},
    io,
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use bytes::Bytes;
use mediadrive_core::{
    blobs::{BlobResult, HeldBlob, StagedBlob},
    ContentHash,
};

use super::{blob_path, fsync_dir, queued::QueuedFile};

pub(super) struct FsStagedBlob {
    path: PathBuf,
    blobs: PathBuf,
    file: QueuedFile,
    finished: bool,
}

impl FsStagedBlob {
    pub(super) async fn create(staging: &Path, blobs: PathBuf) -> BlobResult<Self> {
        let path = staging.join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || File::create_new(path))
                .await
                .map_err(io::Error::other)??
        };
        Ok(Self {
            path,
            blobs,
            file: QueuedFile::start(file, Some(blake3::Hasher::new())),
            finished: false,
        })
    }
}

/// Places finished bytes at their content address: moved there, or linked when `source` must stay
/// (a resumable upload keeps its bytes until it is recorded). Bytes already there are kept.
pub(super) fn place(source: &Path, target: &Path, keep_source: bool) -> io::Result<()> {
    if target.exists() {
        return if keep_source {
            Ok(())
        } else {
            fs::remove_file(source)
        };
    }
    let dir = target.parent().expect("blob paths have a parent");
    fs::create_dir_all(dir)?;
    if keep_source {
        match fs::hard_link(source, target) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            other => other?,
        }
    } else {
        fs::rename(source, target)?;
    }
    fsync_dir(dir)
}

#[async_trait]
impl StagedBlob for FsStagedBlob {
    async fn write(&mut self, chunk: Bytes) -> BlobResult<()> {
        self.file.write(chunk).await
    }
}

#[async_trait]
impl HeldBlob for FsStagedBlob {
    async fn finish(&mut self) -> BlobResult<(ContentHash, u64)> {
        let (hash, len) = self.file.finish().await?;
        self.finished = true;
        Ok((hash.expect("staged blobs are hashed"), len))
    }

    async fn commit(mut self: Box<Self>, hash: &ContentHash) -> BlobResult<()> {
        if !self.finished {
            return Err(crate::not_finished());
        }
        let target = blob_path(&self.blobs, hash);
        // From here the drop guard must not remove the file: it is either placed or removed below.
        let source = std::mem::take(&mut self.path);
        tokio::task::spawn_blocking(move || place(&source, &target, false))
            .await
            .map_err(io::Error::other)??;
        Ok(())
    }
}

impl Drop for FsStagedBlob {
    fn drop(&mut self) {
        // Anything not moved into place by `place` is an aborted upload.
        self.file.close_queue();
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}
