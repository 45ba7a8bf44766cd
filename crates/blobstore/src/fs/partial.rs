//! Resumable uploads: one file per upload under `partial/`, appended to by each request, hashed in
//! place and linked to its address when whole.

use std::{
    fs::{self, File},
    io::{self, Seek},
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use bytes::Bytes;
use mediadrive_core::{
    blobs::{BlobResult, HeldBlob, PartialWriter},
    BlobError, ContentHash, FileId,
};

use super::{blob_path, fsync_dir, queued::QueuedFile, staged::place};

pub(super) struct FsPartialWriter(pub(super) QueuedFile);

#[async_trait]
impl PartialWriter for FsPartialWriter {
    async fn write(&mut self, chunk: Bytes) -> BlobResult<()> {
        self.0.write(chunk).await
    }

    async fn close(mut self: Box<Self>) -> BlobResult<u64> {
        Ok(self.0.finish().await?.1)
    }
}

/// The copy a resumable upload's bytes are made in before they replace its file.
pub(super) fn copy_path(partial: &Path) -> PathBuf {
    partial.with_extension("copy")
}

fn fewer_bytes_than_counted(path: &Path) -> BlobError {
    BlobError::PartialLost(format!("{} holds fewer bytes than counted", path.display()))
}

/// Opens a resumable upload's file for appending after its first `offset` bytes, dropping what
/// lies past them.
pub(super) fn open_partial(path: &Path, offset: u64) -> BlobResult<File> {
    use std::os::unix::fs::MetadataExt;
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)?;
    let meta = file.metadata()?;
    if meta.len() < offset {
        return Err(fewer_bytes_than_counted(path));
    }
    let dir = path.parent().expect("partial paths have a parent");
    if meta.nlink() > 1 {
        // Linked to a blob by a completion that was not recorded: writing here would change the
        // blob's bytes, so go on in a copy of them.
        let copy = copy_path(path);
        fs::copy(path, &copy)?;
        fs::rename(&copy, path)?;
        file = fs::OpenOptions::new().read(true).write(true).open(path)?;
        fsync_dir(dir)?;
    } else if offset == 0 {
        // The file may be new: its name must be as durable as the bytes the offset will count.
        fsync_dir(dir)?;
    }
    file.set_len(offset)?;
    file.seek(io::SeekFrom::Start(offset))?;
    Ok(file)
}

/// The uploads that have a file (or a leftover copy) under `dir`.
pub(super) fn list_partial(dir: &Path) -> io::Result<Vec<FileId>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        // Names that are no upload's (an NFS placeholder, say) are not ours to remove.
        let id = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .and_then(|stem| FileId::parse(stem).ok());
        if let Some(id) = id.filter(|id| !ids.contains(id)) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A resumable upload's whole bytes, hashed in place and linked to their address.
pub(super) struct FsAssembledBlob {
    pub(super) path: PathBuf,
    pub(super) blobs: PathBuf,
    pub(super) len: u64,
    pub(super) hash: Option<ContentHash>,
}

/// Cuts the file to `len` bytes and hashes them.
fn hash_first(path: &Path, len: u64) -> BlobResult<ContentHash> {
    let file = match fs::OpenOptions::new().write(true).open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(fewer_bytes_than_counted(path))
        }
        opened => opened?,
    };
    if file.metadata()?.len() < len {
        return Err(fewer_bytes_than_counted(path));
    }
    // Bytes past the upload's length were left by a request that died.
    file.set_len(len)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap(path)?;
    Ok(ContentHash::from_bytes(*hasher.finalize().as_bytes()))
}

#[async_trait]
impl HeldBlob for FsAssembledBlob {
    async fn finish(&mut self) -> BlobResult<(ContentHash, u64)> {
        let (path, len) = (self.path.clone(), self.len);
        let hash = tokio::task::spawn_blocking(move || hash_first(&path, len))
            .await
            .map_err(io::Error::other)??;
        self.hash = Some(hash.clone());
        Ok((hash, len))
    }

    async fn commit(self: Box<Self>, hash: &ContentHash) -> BlobResult<()> {
        if self.hash.as_ref() != Some(hash) {
            return Err(crate::not_finished());
        }
        let target = blob_path(&self.blobs, hash);
        let source = self.path.clone();
        tokio::task::spawn_blocking(move || place(&source, &target, true))
            .await
            .map_err(io::Error::other)??;
        Ok(())
    }
}
