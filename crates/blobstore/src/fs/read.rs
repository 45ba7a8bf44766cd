//! Reads: a byte range streamed from one blocking thread, a few chunks ahead of the client.

use std::{
    fs::File,
    io::{self, Read, Seek},
    path::PathBuf,
};

use bytes::Bytes;
use mediadrive_core::blobs::{BlobResult, ByteStream};
use tokio::sync::mpsc;

use super::not_found_or_io;

const READ_BUFFER: usize = 256 * 1024;
/// Chunks read ahead of the client per download.
const READ_QUEUE: usize = 2;

pub(super) async fn read_range(path: PathBuf, offset: u64, len: u64) -> BlobResult<ByteStream> {
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
    tokio::task::spawn_blocking(move || send_range(file, len, tx));
    Ok(Box::pin(ChunkStream(rx)))
}

fn send_range(mut file: File, mut left: u64, tx: mpsc::Sender<io::Result<Bytes>>) {
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
