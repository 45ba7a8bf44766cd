//! Bytes on their way into the bucket under `staging/`: written by the server, or copied there from
//! a direct client upload. Either way `commit` copies them to their address.

use std::io;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use mediadrive_core::{
    blobs::{BlobResult, HeldBlob, StagedBlob},
    BlobError, ContentHash,
};
use opendal::{ErrorKind, Operator};

use super::{blob_key, byte_stream, io_error};

pub(super) struct S3StagedBlob {
    pub(super) op: Operator,
    key: String,
    writer: Option<opendal::Writer>,
    hasher: blake3::Hasher,
    len: u64,
    done: Option<ContentHash>,
    /// Whether the key must still be removed if the blob is dropped uncommitted.
    owned: bool,
}

impl S3StagedBlob {
    /// `writer` is `None` for an adopted upload, whose bytes are already at `key`.
    pub(super) fn new(op: Operator, key: String, writer: Option<opendal::Writer>) -> Self {
        Self {
            op,
            key,
            writer,
            hasher: blake3::Hasher::new(),
            len: 0,
            done: None,
            owned: true,
        }
    }
}

#[async_trait]
impl StagedBlob for S3StagedBlob {
    async fn write(&mut self, chunk: Bytes) -> BlobResult<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| BlobError::Io(io::Error::other("staged blob is not writable")))?;
        self.hasher.update(&chunk);
        self.len += chunk.len() as u64;
        writer.write(chunk).await.map_err(io_error)
    }
}

#[async_trait]
impl HeldBlob for S3StagedBlob {
    async fn finish(&mut self) -> BlobResult<(ContentHash, u64)> {
        match self.writer.take() {
            Some(mut writer) => {
                writer.close().await.map_err(io_error)?;
            }
            None => {
                // An adopted upload: hash what arrived.
                let mut stream = byte_stream(&self.op, &self.key, ..).await?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(BlobError::Io)?;
                    self.hasher.update(&chunk);
                    self.len += chunk.len() as u64;
                }
            }
        }
        let hash = ContentHash::from_bytes(*self.hasher.finalize().as_bytes());
        self.done = Some(hash.clone());
        Ok((hash, self.len))
    }

    async fn commit(mut self: Box<Self>, hash: &ContentHash) -> BlobResult<()> {
        if self.done.as_ref() != Some(hash) {
            return Err(crate::not_finished());
        }
        let target = blob_key(hash);
        match self.op.stat(&target).await {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.op.copy(&self.key, &target).await.map_err(io_error)?;
            }
            Err(e) => return Err(io_error(e)),
        }
        self.op.delete(&self.key).await.map_err(io_error)?;
        self.owned = false;
        Ok(())
    }
}

impl Drop for S3StagedBlob {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // An aborted server-side upload; the staging sweep catches it if this cannot run.
        let (op, key, writer) = (self.op.clone(), self.key.clone(), self.writer.take());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(mut writer) = writer {
                    let _ = writer.abort().await;
                }
                let _ = op.delete(&key).await;
            });
        }
    }
}
