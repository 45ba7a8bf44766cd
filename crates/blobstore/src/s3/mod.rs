//! The S3 blob store (through OpenDAL): `blobs/ab/cd/<hash>`, server-side staging under `staging/`,
//! direct client uploads under `uploads/<file id>`, adopted once they arrive, and resumable uploads
//! under `partial/<upload id>/<offset>`, one object per request that added bytes.

mod open;
mod partial;
mod staged;

use std::{
    io,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use mediadrive_core::{
    blobs::{BlobResult, ByteStream, HeldBlob, LocalBlob, PartialWriter, ServedAs, StagedBlob},
    BlobError, BlobStore, ContentHash, FileId,
};
use opendal::{ErrorKind, Operator};

use partial::{partial_prefix, piece_key, S3AssembledBlob, S3PartialWriter};
use staged::S3StagedBlob;

const READ_CHUNK: usize = 256 * 1024;

pub struct S3BlobStore {
    op: Operator,
}

fn io_error(e: opendal::Error) -> BlobError {
    if e.kind() == ErrorKind::NotFound {
        BlobError::NotFound
    } else {
        BlobError::Io(io::Error::other(e))
    }
}

fn blob_key(hash: &ContentHash) -> String {
    let [a, b, h] = crate::address(hash);
    format!("blobs/{a}/{b}/{h}")
}

fn upload_key(file: &str) -> String {
    format!("uploads/{file}")
}

/// A fresh key under `staging/`, which the staging sweep clears of what aborted uploads leave.
fn staging_key() -> String {
    format!("staging/{}", uuid::Uuid::new_v4().simple())
}

async fn byte_stream(
    op: &Operator,
    key: &str,
    range: impl std::ops::RangeBounds<u64>,
) -> BlobResult<opendal::FuturesBytesStream> {
    op.reader_with(key)
        .chunk(READ_CHUNK)
        .await
        .map_err(io_error)?
        .into_bytes_stream(range)
        .await
        .map_err(io_error)
}

/// Every object under `prefix`, however deep, with its metadata.
async fn list_all(op: &Operator, prefix: &str) -> BlobResult<Vec<opendal::Entry>> {
    op.lister_with(prefix)
        .recursive(true)
        .await
        .map_err(io_error)?
        .try_collect()
        .await
        .map_err(io_error)
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn stage(&self) -> BlobResult<Box<dyn StagedBlob>> {
        let key = staging_key();
        let writer = self.op.writer(&key).await.map_err(io_error)?;
        Ok(Box::new(S3StagedBlob::new(
            self.op.clone(),
            key,
            Some(writer),
        )))
    }

    async fn read(&self, hash: &ContentHash, offset: u64, len: u64) -> BlobResult<ByteStream> {
        Ok(Box::pin(
            byte_stream(&self.op, &blob_key(hash), offset..offset + len).await?,
        ))
    }

    async fn read_all(&self, hash: &ContentHash) -> BlobResult<Bytes> {
        Ok(self
            .op
            .read(&blob_key(hash))
            .await
            .map_err(io_error)?
            .to_bytes())
    }

    async fn local(&self, hash: &ContentHash) -> BlobResult<LocalBlob> {
        let path =
            std::env::temp_dir().join(format!("mediadrive-blob-{}", uuid::Uuid::new_v4().simple()));
        // Owned from the start, so a failed download leaves nothing behind.
        let local = LocalBlob::copy(path.clone());
        let mut stream = byte_stream(&self.op, &blob_key(hash), ..).await?;
        let mut file = tokio::fs::File::create(&path).await?;
        while let Some(chunk) = stream.next().await {
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk?).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await?;
        Ok(local)
    }

    async fn exists(&self, hash: &ContentHash) -> BlobResult<bool> {
        match self.op.stat(&blob_key(hash)).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn delete(&self, hash: &ContentHash) -> BlobResult<()> {
        self.op.delete(&blob_key(hash)).await.map_err(io_error)
    }

    async fn blobs(&self) -> BlobResult<Vec<(ContentHash, u64)>> {
        Ok(list_all(&self.op, "blobs/")
            .await?
            .iter()
            .filter_map(|e| {
                let hash = ContentHash::parse(e.name())?;
                Some((hash, e.metadata().content_length()))
            })
            .collect())
    }

    async fn sweep_staging(&self, older_than: SystemTime) -> BlobResult<usize> {
        let mut removed = 0;
        for entry in list_all(&self.op, "staging/").await? {
            let modified = entry.metadata().last_modified().map(SystemTime::from);
            if modified.is_some_and(|m| m < older_than) {
                self.op.delete(entry.path()).await.map_err(io_error)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn append_partial(
        &self,
        upload: &FileId,
        offset: u64,
    ) -> BlobResult<Box<dyn PartialWriter>> {
        // A piece at this offset left by a request that died is written over.
        let key = piece_key(&partial_prefix(upload), offset);
        let writer = self.op.writer(&key).await.map_err(io_error)?;
        Ok(Box::new(S3PartialWriter::new(writer)))
    }

    async fn assemble_partial(&self, upload: &FileId, len: u64) -> BlobResult<Box<dyn HeldBlob>> {
        Ok(Box::new(
            S3AssembledBlob::plan(&self.op, upload, len).await?,
        ))
    }

    async fn discard_partial(&self, upload: &FileId) -> BlobResult<()> {
        self.op
            .delete_with(&partial_prefix(upload))
            .recursive(true)
            .await
            .map_err(io_error)
    }

    async fn partial_uploads(&self) -> BlobResult<Vec<FileId>> {
        let entries = self.op.list("partial/").await.map_err(io_error)?;
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                let id = e.path().strip_prefix("partial/")?.trim_end_matches('/');
                FileId::parse(id).ok()
            })
            .collect())
    }

    async fn presign_upload(
        &self,
        file: &str,
        content_type: &str,
        ttl: Duration,
    ) -> BlobResult<Option<String>> {
        let signed = self
            .op
            .presign_write_with(&upload_key(file), ttl)
            .content_type(content_type)
            .await
            .map_err(io_error)?;
        Ok(Some(signed.uri().to_string()))
    }

    fn accepts_direct_uploads(&self) -> bool {
        true
    }

    async fn arrived_uploads(&self) -> BlobResult<Vec<(String, u64)>> {
        Ok(list_all(&self.op, "uploads/")
            .await?
            .into_iter()
            .filter_map(|e| {
                let file = e.path().strip_prefix("uploads/")?.to_string();
                (!file.is_empty()).then(|| (file, e.metadata().content_length()))
            })
            .collect())
    }

    async fn arrived_upload(&self, file: &str) -> BlobResult<Option<u64>> {
        match self.op.stat(&upload_key(file)).await {
            Ok(meta) => Ok(Some(meta.content_length())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn adopt_upload(&self, file: &str) -> BlobResult<Box<dyn HeldBlob>> {
        // The client may PUT to its URL again while we hash; hashing a private copy guarantees
        // that the bytes placed under a hash are the bytes that were hashed.
        let key = staging_key();
        self.op
            .copy(&upload_key(file), &key)
            .await
            .map_err(io_error)?;
        Ok(Box::new(S3StagedBlob::new(self.op.clone(), key, None)))
    }

    async fn discard_upload(&self, file: &str) -> BlobResult<()> {
        self.op.delete(&upload_key(file)).await.map_err(io_error)
    }

    async fn presign_read(
        &self,
        hash: &ContentHash,
        ttl: Duration,
        served: &ServedAs,
    ) -> BlobResult<Option<String>> {
        let signed = self
            .op
            .presign_read_with(&blob_key(hash), ttl)
            .override_content_type(&served.content_type)
            .override_content_disposition(&served.content_disposition)
            .override_cache_control(&served.cache_control)
            .await
            .map_err(io_error)?;
        Ok(Some(signed.uri().to_string()))
    }
}
