//! Resumable uploads: one object per request that added bytes, `partial/<upload id>/<offset>`,
//! copied in order into a staged blob when the upload is whole.

use std::io;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use mediadrive_core::{
    blobs::{BlobResult, HeldBlob, PartialWriter, StagedBlob},
    BlobError, ContentHash, FileId,
};
use opendal::Operator;

use super::{byte_stream, io_error, staged::S3StagedBlob, staging_key};

pub(super) fn partial_prefix(upload: &FileId) -> String {
    format!("partial/{upload}/")
}

/// Zero-padded, so the pieces list in the order of their offsets.
pub(super) fn piece_key(prefix: &str, offset: u64) -> String {
    format!("{prefix}{offset:020}")
}

/// One request's bytes for a resumable upload, as one object.
pub(super) struct S3PartialWriter {
    writer: Option<opendal::Writer>,
    len: u64,
}

impl S3PartialWriter {
    pub(super) fn new(writer: opendal::Writer) -> Self {
        Self {
            writer: Some(writer),
            len: 0,
        }
    }
}

#[async_trait]
impl PartialWriter for S3PartialWriter {
    async fn write(&mut self, chunk: Bytes) -> BlobResult<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| BlobError::Io(io::Error::other("piece already closed")))?;
        self.len += chunk.len() as u64;
        writer.write(chunk).await.map_err(io_error)
    }

    async fn close(mut self: Box<Self>) -> BlobResult<u64> {
        if let Some(mut writer) = self.writer.take() {
            writer.close().await.map_err(io_error)?;
        }
        Ok(self.len)
    }
}

impl Drop for S3PartialWriter {
    fn drop(&mut self) {
        if let (Some(mut writer), Ok(runtime)) =
            (self.writer.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = writer.abort().await;
            });
        }
    }
}

/// A resumable upload's pieces, copied in order into a staged blob of their own when finished.
pub(super) struct S3AssembledBlob {
    staged: S3StagedBlob,
    /// Each piece's key and how many of its bytes to take.
    pieces: Vec<(String, u64)>,
}

impl S3AssembledBlob {
    /// Chains the first `len` bytes of `upload` from the pieces stored under its prefix.
    pub(super) async fn plan(op: &Operator, upload: &FileId, len: u64) -> BlobResult<Self> {
        let prefix = partial_prefix(upload);
        let mut pieces: Vec<(u64, u64)> = op
            .list(&prefix)
            .await
            .map_err(io_error)?
            .into_iter()
            .filter_map(|e| {
                let offset = e.path().strip_prefix(&prefix)?.parse().ok()?;
                Some((offset, e.metadata().content_length()))
            })
            .collect();
        pieces.sort_unstable();
        // Each counted piece starts where the one before it ended; a longer piece than counted
        // was cut short by a request that died after writing it.
        let mut chain = Vec::new();
        let mut at = 0;
        while at < len {
            let Some(&(_, piece_len)) = pieces.iter().find(|(offset, _)| *offset == at) else {
                return Err(BlobError::PartialLost(format!(
                    "resumable upload {upload} has no bytes at offset {at}"
                )));
            };
            let take = piece_len.min(len - at);
            if take == 0 {
                return Err(BlobError::PartialLost(format!(
                    "resumable upload {upload} has an empty piece at offset {at}"
                )));
            }
            chain.push((piece_key(&prefix, at), take));
            at += take;
        }
        let key = staging_key();
        let writer = op.writer(&key).await.map_err(io_error)?;
        Ok(Self {
            staged: S3StagedBlob::new(op.clone(), key, Some(writer)),
            pieces: chain,
        })
    }
}

#[async_trait]
impl HeldBlob for S3AssembledBlob {
    async fn finish(&mut self) -> BlobResult<(ContentHash, u64)> {
        for (key, take) in std::mem::take(&mut self.pieces) {
            let mut stream = byte_stream(&self.staged.op, &key, ..take).await?;
            while let Some(chunk) = stream.next().await {
                self.staged.write(chunk.map_err(BlobError::Io)?).await?;
            }
        }
        self.staged.finish().await
    }

    async fn commit(self: Box<Self>, hash: &ContentHash) -> BlobResult<()> {
        Box::new(self.staged).commit(hash).await
    }
}
