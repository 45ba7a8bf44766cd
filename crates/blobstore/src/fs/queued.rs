//! A file written on a blocking thread fed through a bounded queue, hashed there when asked.

use std::{
    fs::File,
    io::{self, Write},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use bytes::Bytes;
use mediadrive_core::{blobs::BlobResult, BlobError, ContentHash};
use tokio::sync::{mpsc, oneshot};

/// Chunks in flight between the request and the writer thread; bounds memory per upload.
const STAGING_QUEUE: usize = 16;

enum WriterMsg {
    Chunk(Bytes),
    Finish(oneshot::Sender<io::Result<(Option<ContentHash>, u64)>>),
}

/// The request task only moves chunks, so memory stays flat whatever the size.
pub(super) struct QueuedFile {
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
    pub(super) fn start(file: File, hasher: Option<blake3::Hasher>) -> Self {
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

    pub(super) async fn write(&mut self, chunk: Bytes) -> BlobResult<()> {
        let Some(tx) = &self.tx else {
            return Err(BlobError::Io(io::Error::other("file already finished")));
        };
        if tx.send(WriterMsg::Chunk(chunk)).await.is_err() {
            return Err(self.writer_error().await);
        }
        Ok(())
    }

    /// Syncs the file; returns its hash (when one was asked for) and how many bytes were written.
    pub(super) async fn finish(&mut self) -> BlobResult<(Option<ContentHash>, u64)> {
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

    /// Ends the queue, so the writer thread lets go of the file once it has drained it.
    pub(super) fn close_queue(&mut self) {
        self.tx = None;
    }
}

impl Drop for QueuedFile {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Release);
    }
}
