//! The blob store port: where bytes live, addressed by their content hash.

use std::{
    io,
    path::{Path, PathBuf},
    pin::Pin,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;

use crate::{ContentHash, FileId};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob not found")]
    NotFound,
    #[error("blob store I/O failed: {0}")]
    Io(#[from] io::Error),
    /// A resumable upload holds fewer bytes than the catalog counted: they cannot come back.
    #[error("resumable upload lost bytes: {0}")]
    PartialLost(String),
}

pub type BlobResult<T> = Result<T, BlobError>;

pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A blob's bytes as a file on this machine, for tools that need to seek (probing). A temporary
/// copy is removed when this is dropped.
#[derive(Debug)]
pub struct LocalBlob {
    path: PathBuf,
    temporary: bool,
}

impl LocalBlob {
    /// The store's own file, left alone afterwards.
    pub fn in_place(path: PathBuf) -> Self {
        Self {
            path,
            temporary: false,
        }
    }

    /// A copy made for the caller, removed afterwards.
    pub fn copy(path: PathBuf) -> Self {
        Self {
            path,
            temporary: true,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalBlob {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Bytes held apart until they are hashed and placed at their content address: bytes being
/// received ([`StagedBlob`]), or bytes already whole elsewhere in the store (an assembled resumable
/// upload, an adopted direct upload). Dropping it without [`HeldBlob::commit`] discards them.
#[async_trait]
pub trait HeldBlob: Send {
    /// Flushes to stable storage and returns the content hash and length.
    async fn finish(&mut self) -> BlobResult<(ContentHash, u64)>;
    /// Moves finished bytes to their content address (dropping them when the blob is already there).
    async fn commit(self: Box<Self>, hash: &ContentHash) -> BlobResult<()>;
}

/// Bytes being received; hashed as they arrive.
#[async_trait]
pub trait StagedBlob: HeldBlob {
    async fn write(&mut self, chunk: Bytes) -> BlobResult<()>;
}

/// Bytes appended to a resumable upload by one request. Dropping it without
/// [`PartialWriter::close`] may leave some of them stored, but none counted.
#[async_trait]
pub trait PartialWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> BlobResult<()>;
    /// Makes the bytes written durable; returns how many there were.
    async fn close(self: Box<Self>) -> BlobResult<u64>;
}

/// The headers a presigned GET makes the object store answer with (S3's `response-content-type`,
/// `response-content-disposition` and `response-cache-control`), so a redirected read is served
/// as the proxy would serve it.
#[derive(Debug, Clone)]
pub struct ServedAs {
    pub content_type: String,
    pub content_disposition: String,
    pub cache_control: String,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    async fn stage(&self) -> BlobResult<Box<dyn StagedBlob>>;
    /// Streams `len` bytes starting at `offset`.
    async fn read(&self, hash: &ContentHash, offset: u64, len: u64) -> BlobResult<ByteStream>;
    /// Reads a whole (small) blob into memory in one step.
    async fn read_all(&self, hash: &ContentHash) -> BlobResult<Bytes>;
    async fn exists(&self, hash: &ContentHash) -> BlobResult<bool>;
    /// The blob as a local file.
    async fn local(&self, hash: &ContentHash) -> BlobResult<LocalBlob>;
    /// Removes a blob; removing a missing blob succeeds.
    async fn delete(&self, hash: &ContentHash) -> BlobResult<()>;
    /// Removes staged bytes left behind by uploads that died before `older_than`.
    async fn sweep_staging(&self, older_than: SystemTime) -> BlobResult<usize>;
    /// Every blob at its content address, with its length: a sweep compares them with the
    /// catalog to find bytes that a process placed and died before recording.
    async fn blobs(&self) -> BlobResult<Vec<(ContentHash, u64)>>;

    // Resumable uploads (tus): one upload's bytes arrive over many requests, and must outlive
    // restarts in between. The catalog counts how many are held; bytes past that count, left by
    // a request that died, are written over by the next one.

    /// Appends to resumable upload `upload` after its first `offset` bytes.
    async fn append_partial(
        &self,
        upload: &FileId,
        offset: u64,
    ) -> BlobResult<Box<dyn PartialWriter>>;
    /// The first `len` bytes of a resumable upload as a held blob (`finish` hashes them). The
    /// upload's bytes stay until `discard_partial`, so a completion that fails may be retried.
    async fn assemble_partial(&self, upload: &FileId, len: u64) -> BlobResult<Box<dyn HeldBlob>>;
    /// Removes a resumable upload's bytes; removing none succeeds.
    async fn discard_partial(&self, upload: &FileId) -> BlobResult<()>;
    /// The resumable uploads that hold bytes, so the sweep can drop those the catalog forgot.
    async fn partial_uploads(&self) -> BlobResult<Vec<FileId>>;

    // Direct uploads: a store clients can write to themselves (S3) presigns a PUT of one file's
    // bytes to a key of its own; the server adopts them once they arrived. A store that cannot
    // (the filesystem) answers `None` and nothing else here is asked of it.

    /// Whether clients upload to this store directly (and a PUT may still be arriving long after
    /// its URL was issued).
    fn accepts_direct_uploads(&self) -> bool {
        false
    }
    /// A presigned PUT URL for the bytes of `file`, bound to its content type.
    async fn presign_upload(
        &self,
        _file: &str,
        _content_type: &str,
        _ttl: Duration,
    ) -> BlobResult<Option<String>> {
        Ok(None)
    }
    /// Direct uploads whose bytes have arrived: file id and length.
    async fn arrived_uploads(&self) -> BlobResult<Vec<(String, u64)>> {
        Ok(Vec::new())
    }
    /// The length of `file`'s direct upload, if its bytes have arrived.
    async fn arrived_upload(&self, _file: &str) -> BlobResult<Option<u64>> {
        Ok(None)
    }
    /// A private copy of the arrived bytes of `file` as a held blob (`finish` hashes it), so a
    /// PUT to the same URL meanwhile cannot change what was hashed. The upload itself stays until
    /// `discard_upload`, so nothing is lost if confirming fails.
    async fn adopt_upload(&self, _file: &str) -> BlobResult<Box<dyn HeldBlob>> {
        Err(BlobError::NotFound)
    }
    /// Drops the arrived bytes of `file` (wrong size, or the file is gone).
    async fn discard_upload(&self, _file: &str) -> BlobResult<()> {
        Ok(())
    }
    /// A short-lived presigned GET of a blob, for stores that serve by redirect, answered with
    /// the headers of `served` in place of whatever the object has.
    async fn presign_read(
        &self,
        _hash: &ContentHash,
        _ttl: Duration,
        _served: &ServedAs,
    ) -> BlobResult<Option<String>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        future::Future,
        pin::pin,
        task::{Context, Poll, Waker},
    };

    /// The default methods are ready at once; nothing here needs a runtime.
    fn now<T>(future: impl Future<Output = T>) -> T {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(value) => value,
            Poll::Pending => panic!("a default method waited"),
        }
    }

    /// A store that keeps nothing and takes no direct uploads: only the port's defaults answer.
    struct Nothing;

    #[async_trait]
    impl BlobStore for Nothing {
        async fn stage(&self) -> BlobResult<Box<dyn StagedBlob>> {
            Err(BlobError::NotFound)
        }
        async fn read(&self, _: &ContentHash, _: u64, _: u64) -> BlobResult<ByteStream> {
            Err(BlobError::NotFound)
        }
        async fn read_all(&self, _: &ContentHash) -> BlobResult<Bytes> {
            Err(BlobError::NotFound)
        }
        async fn exists(&self, _: &ContentHash) -> BlobResult<bool> {
            Ok(false)
        }
        async fn local(&self, _: &ContentHash) -> BlobResult<LocalBlob> {
            Err(BlobError::NotFound)
        }
        async fn delete(&self, _: &ContentHash) -> BlobResult<()> {
            Ok(())
        }
        async fn blobs(&self) -> BlobResult<Vec<(ContentHash, u64)>> {
            Ok(Vec::new())
        }
        async fn sweep_staging(&self, _: SystemTime) -> BlobResult<usize> {
            Ok(0)
        }
        async fn append_partial(&self, _: &FileId, _: u64) -> BlobResult<Box<dyn PartialWriter>> {
            Err(BlobError::NotFound)
        }
        async fn assemble_partial(&self, _: &FileId, _: u64) -> BlobResult<Box<dyn HeldBlob>> {
            Err(BlobError::NotFound)
        }
        async fn discard_partial(&self, _: &FileId) -> BlobResult<()> {
            Ok(())
        }
        async fn partial_uploads(&self) -> BlobResult<Vec<FileId>> {
            Ok(Vec::new())
        }
    }

    /// The filesystem store relies on these: it is never asked to presign, and a direct upload
    /// to it has never arrived.
    #[test]
    fn a_store_without_direct_uploads_presigns_nothing_and_holds_none() {
        let store = Nothing;
        let hash = ContentHash::from_bytes([7; 32]);
        let ttl = Duration::from_secs(60);
        assert!(!store.accepts_direct_uploads());
        assert!(matches!(
            now(store.presign_upload("f", "video/mp4", ttl)),
            Ok(None)
        ));
        assert!(matches!(now(store.arrived_uploads()), Ok(v) if v.is_empty()));
        assert!(matches!(now(store.arrived_upload("f")), Ok(None)));
        assert!(matches!(
            now(store.adopt_upload("f")),
            Err(BlobError::NotFound)
        ));
        assert!(matches!(now(store.discard_upload("f")), Ok(())));
        let served = ServedAs {
            content_type: "video/mp4".into(),
            content_disposition: "inline".into(),
            cache_control: "no-store".into(),
        };
        assert!(matches!(
            now(store.presign_read(&hash, ttl, &served)),
            Ok(None)
        ));
    }

    #[test]
    fn a_local_copy_is_removed_when_dropped_and_the_stores_own_file_is_not() {
        let dir = std::env::temp_dir().join(format!("mediadrive-core-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let own = dir.join("own");
        let copy = dir.join("copy");
        std::fs::write(&own, b"o").unwrap();
        std::fs::write(&copy, b"c").unwrap();
        let blob = LocalBlob::in_place(own.clone());
        assert_eq!(blob.path(), own);
        drop(blob);
        assert!(own.exists());
        let blob = LocalBlob::copy(copy.clone());
        assert_eq!(blob.path(), copy);
        drop(blob);
        assert!(!copy.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
