//! Where a generator writes: a staged blob, with the size cap enforced as the bytes arrive.

use std::path::Path;

use bytes::Bytes;
use mediadrive_core::blobs::StagedBlob;
use tokio::io::AsyncReadExt;

use crate::GenerateError;

/// Chunk size when copying a program's output file.
const COPY_CHUNK: usize = 256 * 1024;

pub struct Output<'a> {
    staged: &'a mut dyn StagedBlob,
    written: u64,
    max_bytes: u64,
}

impl<'a> Output<'a> {
    pub fn new(staged: &'a mut dyn StagedBlob, max_bytes: u64) -> Self {
        Self {
            staged,
            written: 0,
            max_bytes,
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn write(&mut self, chunk: Bytes) -> Result<(), GenerateError> {
        self.written += chunk.len() as u64;
        if self.written > self.max_bytes {
            return Err(GenerateError::TooLarge(self.max_bytes));
        }
        self.staged.write(chunk).await?;
        Ok(())
    }

    /// Copies a file a program wrote.
    pub async fn write_file(&mut self, path: &Path) -> Result<(), GenerateError> {
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| GenerateError::Failed(format!("the program wrote no output: {e}")))?;
        loop {
            let mut buf = vec![0u8; COPY_CHUNK];
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| GenerateError::Failed(format!("reading the program's output: {e}")))?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            self.write(Bytes::from(buf)).await?;
        }
    }
}
