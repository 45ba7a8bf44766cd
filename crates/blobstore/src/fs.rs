//! The filesystem blob store: `blobs/ab/cd/<hash>` under one root, staged uploads under `staging/`,
//! resumable uploads under `partial/<upload id>`.

use std::{
    fs::{self, File},
    io::{self, Read, Seek, Write},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::SystemTime,
};

use async_trait::async_trait;
use bytes::Bytes;
use mediadrive_core::{
    blobs::{BlobResult, ByteStream, HeldBlob, LocalBlob, PartialWriter, StagedBlob},
    BlobError, BlobStore, ContentHash, FileId,
};
use tokio::sync::{mpsc, oneshot};

/// Chunks in flight between the request and the writer thread; bounds memory per upload.
const STAGING_QUEUE: usize = 16;
const READ_BUFFER: usize = 256 * 1024;
/// Chunks read ahead of the client per download.
const READ_QUEUE: usize = 2;

pub struct FsBlobStore {
    blobs: PathBuf,
    staging: PathBuf,
    partial: PathBuf,
}

impl FsBlobStore {
    pub fn open(root: &Path) -> io::Result<Self> {
        let blobs = root.join("blobs");
        let staging = root.join("staging");
        let partial = root.join("partial");
        fs::create_dir_all(&blobs)?;
        fs::create_dir_all(&staging)?;
        fs::create_dir_all(&partial)?;
        Ok(Self {
            blobs,
            staging,
            partial,
        })
    }

    /// Where the bytes of `hash` are, for tools that copy the store (`mediadrive backup`).
    pub fn blob_path(&self, hash: &ContentHash) -> PathBuf {
        blob_path(&self.blobs, hash)
    }

    fn partial_path(&self, upload: &FileId) -> PathBuf {
        self.partial.join(upload.as_str())
    }
}

fn blob_path(blobs: &Path, hash: &ContentHash) -> PathBuf {
    let h = hash.as_str();
    blobs.join(&h[0..2]).join(&h[2..4]).join(h)
}

enum WriterMsg {
    Chunk(Bytes),
    Finish(oneshot::Sender<io::Result<(Option<ContentHash>, u64)>>),
}

/// A file written on a blocking thread fed through a bounded queue (and hashed there when asked),
/// so the request task only moves chunks and memory stays flat whatever the size.
struct QueuedFile {
    tx: Option<mpsc::Sender<WriterMsg>>,
    writer: Option<tokio::task::JoinHandle<io::Result<()>>>,
    abandoned: Arc<AtomicBool>,
}

fn run_writer(
    mut file: File,
    mut hasher: Option<blake3::Hasher>,
    mut rx: mpsc::Receiver<WriterMsg>,
    abandoned: Arc<AtomicBool>,
) -> io::Result<()> {
    let mut len = 0u64;
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            // Chunks still queued when the file was dropped are not written: the next request
            // for a resumable upload may already be writing at their offsets.
            WriterMsg::Chunk(_) if abandoned.load(Ordering::Acquire) => return Ok(()),
            WriterMsg::Chunk(chunk) => {
                if let Some(hasher) = &mut hasher {
                    hasher.update(&chunk);
                }
                file.write_all(&chunk)?;
                len += chunk.len() as u64;
            }
            WriterMsg::Finish(reply) => {
                let result = file.sync_all().map(|()| {
                    let hash = hasher.map(|h| ContentHash::from_bytes(*h.finalize().as_bytes()));
                    (hash, len)
                });
                let _ = reply.send(result);
                return Ok(());
            }
        }
    }
    Ok(())
}

impl QueuedFile {
    fn start(file: File, hasher: Option<blake3::Hasher>) -> Self {
        let (tx, rx) = mpsc::channel(STAGING_QUEUE);
        let abandoned = Arc::new(AtomicBool::new(false));
        let flag = abandoned.clone();
        let writer = tokio::task::spawn_blocking(move || run_writer(file, hasher, rx, flag));
        Self {
            tx: Some(tx),
            writer: Some(writer),
            abandoned,
        }
    }

    async fn writer_error(&mut self) -> BlobError {
        self.tx = None;
        match self.writer.take() {
            Some(handle) => match handle.await {
                Ok(Err(e)) => BlobError::Io(e),
                _ => BlobError::Io(io::Error::other("file writer stopped")),
            },
            None => BlobError::Io(io::Error::other("file writer stopped")),
        }
    }

    async fn write(&mut self, chunk: Bytes) -> BlobResult<()> {
        let Some(tx) = &self.tx else {
            return Err(BlobError::Io(io::Error::other("file already finished")));
        };
        if tx.send(WriterMsg::Chunk(chunk)).await.is_err() {
            return Err(self.writer_error().await);
        }
        Ok(())
    }

    /// Syncs the file; returns its hash (when one was asked for) and how many bytes were written.
    async fn finish(&mut self) -> BlobResult<(Option<ContentHash>, u64)> {
        let Some(tx) = self.tx.take() else {
            return Err(BlobError::Io(io::Error::other("file already finished")));
        };
        let (reply, answer) = oneshot::channel();
        if tx.send(WriterMsg::Finish(reply)).await.is_err() {
            return Err(self.writer_error().await);
        }
        match answer.await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(BlobError::Io(e)),
            Err(_) => Err(self.writer_error().await),
        }
    }
}

impl Drop for QueuedFile {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Release);
    }
}

struct FsStagedBlob {
    path: PathBuf,
    blobs: PathBuf,
    file: QueuedFile,
    finished: bool,
}

/// Places finished bytes at their content address: moved there, or linked when `source` must stay
/// (a resumable upload keeps its bytes until it is recorded). Bytes already there are kept.
fn place(source: &Path, target: &Path, keep_source: bool) -> io::Result<()> {
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
            return Err(BlobError::Io(io::Error::other("staged blob not finished")));
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
        self.file.tx = None;
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

struct FsPartialWriter(QueuedFile);

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
fn copy_path(partial: &Path) -> PathBuf {
    partial.with_extension("copy")
}

fn fewer_bytes_than_counted(path: &Path) -> BlobError {
    BlobError::PartialLost(format!("{} holds fewer bytes than counted", path.display()))
}

/// Opens a resumable upload's file for appending after its first `offset` bytes, dropping what
/// lies past them.
fn open_partial(path: &Path, offset: u64) -> BlobResult<File> {
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

/// A resumable upload's whole bytes, hashed in place and linked to their address.
struct FsAssembledBlob {
    path: PathBuf,
    blobs: PathBuf,
    len: u64,
    hash: Option<ContentHash>,
}

#[async_trait]
impl HeldBlob for FsAssembledBlob {
    async fn finish(&mut self) -> BlobResult<(ContentHash, u64)> {
        let (path, len) = (self.path.clone(), self.len);
        let hash = tokio::task::spawn_blocking(move || -> BlobResult<ContentHash> {
            let file = match fs::OpenOptions::new().write(true).open(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(fewer_bytes_than_counted(&path))
                }
                opened => opened?,
            };
            if file.metadata()?.len() < len {
                return Err(fewer_bytes_than_counted(&path));
            }
            // Bytes past the upload's length were left by a request that died.
            file.set_len(len)?;
            let mut hasher = blake3::Hasher::new();
            hasher.update_mmap(&path)?;
            Ok(ContentHash::from_bytes(*hasher.finalize().as_bytes()))
        })
        .await
        .map_err(io::Error::other)??;
        self.hash = Some(hash.clone());
        Ok((hash, len))
    }

    async fn commit(self: Box<Self>, hash: &ContentHash) -> BlobResult<()> {
        if self.hash.as_ref() != Some(hash) {
            return Err(BlobError::Io(io::Error::other("staged blob not finished")));
        }
        let target = blob_path(&self.blobs, hash);
        let source = self.path.clone();
        tokio::task::spawn_blocking(move || place(&source, &target, true))
            .await
            .map_err(io::Error::other)??;
        Ok(())
    }
}

fn not_found_or_io(e: io::Error) -> BlobError {
    if e.kind() == io::ErrorKind::NotFound {
        BlobError::NotFound
    } else {
        BlobError::Io(e)
    }
}

fn read_range(mut file: File, mut left: u64, tx: mpsc::Sender<io::Result<Bytes>>) {
    while left > 0 {
        let mut buf = vec![0u8; READ_BUFFER.min(left as usize)];
        let chunk = match file.read(&mut buf) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "blob shorter than its record",
            )),
            Ok(n) => {
                buf.truncate(n);
                left -= n as u64;
                Ok(Bytes::from(buf))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let failed = chunk.is_err();
        // A closed channel means the client went away.
        if tx.blocking_send(chunk).is_err() || failed {
            return;
        }
    }
}

struct ChunkStream(mpsc::Receiver<io::Result<Bytes>>);

impl futures_core::Stream for ChunkStream {
    type Item = io::Result<Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn stage(&self) -> BlobResult<Box<dyn StagedBlob>> {
        let path = self
            .staging
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || File::create_new(path))
                .await
                .map_err(io::Error::other)??
        };
        Ok(Box::new(FsStagedBlob {
            path,
            blobs: self.blobs.clone(),
            file: QueuedFile::start(file, Some(blake3::Hasher::new())),
            finished: false,
        }))
    }

    async fn read(&self, hash: &ContentHash, offset: u64, len: u64) -> BlobResult<ByteStream> {
        let path = self.blob_path(hash);
        let file = tokio::task::spawn_blocking(move || -> io::Result<File> {
            let mut file = File::open(path)?;
            file.seek(io::SeekFrom::Start(offset))?;
            Ok(file)
        })
        .await
        .map_err(io::Error::other)?
        .map_err(not_found_or_io)?;
        let (tx, rx) = mpsc::channel(READ_QUEUE);
        // One blocking thread reads the whole range, rather than one thread hop per chunk.
        tokio::task::spawn_blocking(move || read_range(file, len, tx));
        Ok(Box::pin(ChunkStream(rx)))
    }

    async fn read_all(&self, hash: &ContentHash) -> BlobResult<Bytes> {
        let path = self.blob_path(hash);
        let body = tokio::task::spawn_blocking(move || fs::read(path))
            .await
            .map_err(io::Error::other)?
            .map_err(not_found_or_io)?;
        Ok(Bytes::from(body))
    }

    async fn local(&self, hash: &ContentHash) -> BlobResult<LocalBlob> {
        let path = self.blob_path(hash);
        if !tokio::fs::try_exists(&path).await? {
            return Err(BlobError::NotFound);
        }
        Ok(LocalBlob::in_place(path))
    }

    async fn exists(&self, hash: &ContentHash) -> BlobResult<bool> {
        Ok(tokio::fs::try_exists(self.blob_path(hash)).await?)
    }

    async fn delete(&self, hash: &ContentHash) -> BlobResult<()> {
        match tokio::fs::remove_file(self.blob_path(hash)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn sweep_staging(&self, older_than: SystemTime) -> BlobResult<usize> {
        let staging = self.staging.clone();
        let removed = tokio::task::spawn_blocking(move || -> io::Result<usize> {
            let mut removed = 0;
            for entry in fs::read_dir(&staging)? {
                let entry = entry?;
                let modified = entry.metadata()?.modified()?;
                if modified < older_than && fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(removed)
    }

    async fn append_partial(
        &self,
        upload: &FileId,
        offset: u64,
    ) -> BlobResult<Box<dyn PartialWriter>> {
        let path = self.partial_path(upload);
        let file = tokio::task::spawn_blocking(move || open_partial(&path, offset))
            .await
            .map_err(io::Error::other)??;
        Ok(Box::new(FsPartialWriter(QueuedFile::start(file, None))))
    }

    async fn assemble_partial(&self, upload: &FileId, len: u64) -> BlobResult<Box<dyn HeldBlob>> {
        Ok(Box::new(FsAssembledBlob {
            path: self.partial_path(upload),
            blobs: self.blobs.clone(),
            len,
            hash: None,
        }))
    }

    async fn discard_partial(&self, upload: &FileId) -> BlobResult<()> {
        let path = self.partial_path(upload);
        // A copy is left over when a node died between making it and moving it into place.
        for path in [copy_path(&path), path] {
            match tokio::fs::remove_file(path).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    async fn partial_uploads(&self) -> BlobResult<Vec<FileId>> {
        let dir = self.partial.clone();
        let ids = tokio::task::spawn_blocking(move || -> io::Result<Vec<FileId>> {
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
        })
        .await
        .map_err(io::Error::other)??;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    async fn collect(s: ByteStream) -> Vec<u8> {
        let chunks: Vec<Bytes> = s.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn staged_bytes_are_hashed_placed_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let mut staged = store.stage().await.unwrap();
        staged.write(Bytes::from_static(b"hello ")).await.unwrap();
        staged.write(Bytes::from_static(b"world")).await.unwrap();
        let (hash, len) = staged.finish().await.unwrap();
        assert_eq!(len, 11);
        assert_eq!(
            hash.as_str(),
            blake3::hash(b"hello world").to_hex().as_str()
        );
        staged.commit(&hash).await.unwrap();
        assert!(store.exists(&hash).await.unwrap());
        assert_eq!(
            collect(store.read(&hash, 6, 5).await.unwrap()).await,
            b"world"
        );
        assert_eq!(fs::read_dir(dir.path().join("staging")).unwrap().count(), 0);
        store.delete(&hash).await.unwrap();
        store.delete(&hash).await.unwrap();
        assert!(!store.exists(&hash).await.unwrap());
    }

    #[tokio::test]
    async fn dropped_staging_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let mut staged = store.stage().await.unwrap();
        staged.write(Bytes::from(vec![7u8; 100_000])).await.unwrap();
        drop(staged);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(fs::read_dir(dir.path().join("staging")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn committing_existing_content_keeps_one_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        for _ in 0..2 {
            let mut staged = store.stage().await.unwrap();
            staged.write(Bytes::from_static(b"same")).await.unwrap();
            let (hash, _) = staged.finish().await.unwrap();
            staged.commit(&hash).await.unwrap();
        }
        assert_eq!(fs::read_dir(dir.path().join("staging")).unwrap().count(), 0);
        assert!(store
            .read(&ContentHash::from_bytes([0; 32]), 0, 1)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn partial_uploads_append_drop_uncounted_bytes_and_assemble() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let up1 = FileId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let mut piece = store.append_partial(&up1, 0).await.unwrap();
        piece.write(Bytes::from_static(b"hello ")).await.unwrap();
        assert_eq!(piece.close().await.unwrap(), 6);
        // A request that died after writing bytes that were never counted.
        let mut dead = store.append_partial(&up1, 6).await.unwrap();
        dead.write(Bytes::from_static(b"garbage!")).await.unwrap();
        dead.close().await.unwrap();
        let mut piece = store.append_partial(&up1, 6).await.unwrap();
        piece.write(Bytes::from_static(b"world")).await.unwrap();
        assert_eq!(piece.close().await.unwrap(), 5);
        assert!(matches!(
            store.append_partial(&up1, 100).await,
            Err(BlobError::PartialLost(_))
        ));

        let mut whole = store.assemble_partial(&up1, 11).await.unwrap();
        let (hash, len) = whole.finish().await.unwrap();
        assert_eq!(len, 11);
        assert_eq!(
            hash.as_str(),
            blake3::hash(b"hello world").to_hex().as_str()
        );
        whole.commit(&hash).await.unwrap();
        // What a node that died mid-copy left, and a name that is no upload's.
        fs::write(dir.path().join("partial").join(format!("{up1}.copy")), b"x").unwrap();
        fs::write(dir.path().join("partial").join(".nfs0001"), b"x").unwrap();
        assert_eq!(store.partial_uploads().await.unwrap(), vec![up1.clone()]);
        // Writing to an upload whose bytes were linked to a blob leaves the blob as it was.
        let mut late = store.append_partial(&up1, 6).await.unwrap();
        late.write(Bytes::from_static(b"there")).await.unwrap();
        late.close().await.unwrap();
        assert_eq!(
            store.read_all(&hash).await.unwrap().as_ref(),
            b"hello world"
        );
        store.discard_partial(&up1).await.unwrap();
        store.discard_partial(&up1).await.unwrap();
        assert!(store.partial_uploads().await.unwrap().is_empty());
        assert!(matches!(
            store
                .assemble_partial(&up1, 11)
                .await
                .unwrap()
                .finish()
                .await,
            Err(BlobError::PartialLost(_))
        ));
    }
}
