//! The S3 blob store (through OpenDAL): `blobs/ab/cd/<hash>`, server-side staging under `staging/`,
//! direct client uploads under `uploads/<file id>`, adopted once they arrive, and resumable uploads
//! under `partial/<upload id>/<offset>`, one object per request that added bytes.

use std::{
    io,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use mediadrive_core::{
    blobs::{BlobResult, ByteStream, HeldBlob, LocalBlob, PartialWriter, StagedBlob},
    BlobError, BlobStore, ContentHash, FileId,
};
use opendal::{layers::RetryLayer, services::S3, ErrorKind, Operator};

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
    let h = hash.as_str();
    format!("blobs/{}/{}/{h}", &h[0..2], &h[2..4])
}

fn upload_key(file: &str) -> String {
    format!("uploads/{file}")
}

fn partial_prefix(upload: &FileId) -> String {
    format!("partial/{upload}/")
}

/// Zero-padded, so the pieces list in the order of their offsets.
fn piece_key(prefix: &str, offset: u64) -> String {
    format!("{prefix}{offset:020}")
}

impl S3BlobStore {
    /// Opens `s3://BUCKET?endpoint=URL&region=REGION&path_style=true&root=/PREFIX/`; credentials
    /// come from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. `root` keeps several deployments
    /// apart in one bucket.
    pub fn open(url: &str) -> io::Result<Self> {
        let invalid =
            |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{why}: {url}"));
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("not an s3:// URL"))?;
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        let bucket = bucket.trim_end_matches('/');
        if bucket.is_empty() || bucket.contains('/') {
            return Err(invalid("the URL must name one bucket"));
        }
        let mut builder = S3::default()
            .bucket(bucket)
            .disable_config_load()
            .disable_ec2_metadata();
        let mut path_style = false;
        let mut region = "us-east-1".to_string();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "endpoint" => builder = builder.endpoint(value),
                "region" => region = value.to_string(),
                "path_style" => path_style = value == "true",
                "root" => builder = builder.root(value),
                _ => return Err(invalid(&format!("unknown parameter '{key}'"))),
            }
        }
        builder = builder.region(&region);
        if !path_style {
            builder = builder.enable_virtual_host_style();
        }
        let key = std::env::var("AWS_ACCESS_KEY_ID")
            .map_err(|_| invalid("AWS_ACCESS_KEY_ID is not set"))?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
            .map_err(|_| invalid("AWS_SECRET_ACCESS_KEY is not set"))?;
        builder = builder.access_key_id(&key).secret_access_key(&secret);
        let op = Operator::new(builder)
            .map_err(io::Error::other)?
            .layer(RetryLayer::new())
            .finish();
        Ok(Self { op })
    }

    async fn stream(
        &self,
        key: &str,
        range: impl std::ops::RangeBounds<u64>,
    ) -> BlobResult<opendal::FuturesBytesStream> {
        self.op
            .reader_with(key)
            .chunk(READ_CHUNK)
            .await
            .map_err(io_error)?
            .into_bytes_stream(range)
            .await
            .map_err(io_error)
    }

    async fn exists(&self, key: &str) -> BlobResult<bool> {
        match self.op.stat(key).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }
}

/// Bytes on their way into the bucket under `staging/`: written by the server, or copied there from
/// a direct client upload. Either way `commit` copies them to their address.
struct S3StagedBlob {
    op: Operator,
    key: String,
    writer: Option<opendal::Writer>,
    hasher: blake3::Hasher,
    len: u64,
    done: Option<ContentHash>,
    /// Whether the key must still be removed if the blob is dropped uncommitted.
    owned: bool,
}

impl S3StagedBlob {
    fn new(op: Operator, key: String, writer: Option<opendal::Writer>) -> Self {
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

/// One request's bytes for a resumable upload, as one object.
struct S3PartialWriter {
    writer: Option<opendal::Writer>,
    len: u64,
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
                let mut stream = self
                    .op
                    .reader_with(&self.key)
                    .chunk(READ_CHUNK)
                    .await
                    .map_err(io_error)?
                    .into_bytes_stream(..)
                    .await
                    .map_err(io_error)?;
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
            return Err(BlobError::Io(io::Error::other("staged blob not finished")));
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

/// A resumable upload's pieces, copied in order into a staged blob of their own when finished.
struct S3AssembledBlob {
    staged: S3StagedBlob,
    /// Each piece's key and how many of its bytes to take.
    pieces: Vec<(String, u64)>,
}

#[async_trait]
impl HeldBlob for S3AssembledBlob {
    async fn finish(&mut self) -> BlobResult<(ContentHash, u64)> {
        for (key, take) in std::mem::take(&mut self.pieces) {
            let mut stream = self
                .staged
                .op
                .reader_with(&key)
                .chunk(READ_CHUNK)
                .await
                .map_err(io_error)?
                .into_bytes_stream(..take)
                .await
                .map_err(io_error)?;
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

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn stage(&self) -> BlobResult<Box<dyn StagedBlob>> {
        let key = format!("staging/{}", uuid::Uuid::new_v4().simple());
        let writer = self.op.writer(&key).await.map_err(io_error)?;
        Ok(Box::new(S3StagedBlob::new(
            self.op.clone(),
            key,
            Some(writer),
        )))
    }

    async fn read(&self, hash: &ContentHash, offset: u64, len: u64) -> BlobResult<ByteStream> {
        Ok(Box::pin(
            self.stream(&blob_key(hash), offset..offset + len).await?,
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
        let mut stream = self.stream(&blob_key(hash), ..).await?;
        let mut file = tokio::fs::File::create(&path).await?;
        while let Some(chunk) = stream.next().await {
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk?).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await?;
        Ok(local)
    }

    async fn exists(&self, hash: &ContentHash) -> BlobResult<bool> {
        S3BlobStore::exists(self, &blob_key(hash)).await
    }

    async fn delete(&self, hash: &ContentHash) -> BlobResult<()> {
        self.op.delete(&blob_key(hash)).await.map_err(io_error)
    }

    async fn sweep_staging(&self, older_than: SystemTime) -> BlobResult<usize> {
        let mut removed = 0;
        let entries: Vec<_> = self
            .op
            .lister_with("staging/")
            .await
            .map_err(io_error)?
            .try_collect()
            .await
            .map_err(io_error)?;
        for entry in entries {
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
        Ok(Box::new(S3PartialWriter {
            writer: Some(writer),
            len: 0,
        }))
    }

    async fn assemble_partial(&self, upload: &FileId, len: u64) -> BlobResult<Box<dyn HeldBlob>> {
        let prefix = partial_prefix(upload);
        let mut pieces: Vec<(u64, u64)> = self
            .op
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
        let key = format!("staging/{}", uuid::Uuid::new_v4().simple());
        let writer = self.op.writer(&key).await.map_err(io_error)?;
        Ok(Box::new(S3AssembledBlob {
            staged: S3StagedBlob::new(self.op.clone(), key, Some(writer)),
            pieces: chain,
        }))
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
        let entries: Vec<_> = self
            .op
            .lister_with("uploads/")
            .await
            .map_err(io_error)?
            .try_collect()
            .await
            .map_err(io_error)?;
        Ok(entries
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
        let key = format!("staging/{}", uuid::Uuid::new_v4().simple());
        self.op
            .copy(&upload_key(file), &key)
            .await
            .map_err(io_error)?;
        Ok(Box::new(S3StagedBlob::new(self.op.clone(), key, None)))
    }

    async fn discard_upload(&self, file: &str) -> BlobResult<()> {
        self.op.delete(&upload_key(file)).await.map_err(io_error)
    }

    async fn presign_read(&self, hash: &ContentHash, ttl: Duration) -> BlobResult<Option<String>> {
        let signed = self
            .op
            .presign_read(&blob_key(hash), ttl)
            .await
            .map_err(io_error)?;
        Ok(Some(signed.uri().to_string()))
    }
}
