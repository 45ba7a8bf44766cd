//! The filesystem blob store: `blobs/ab/cd/<hash>` under one root, staged uploads under `staging/`,
//! resumable uploads under `partial/<upload id>`.

mod partial;
mod queued;
mod read;
mod staged;

use std::{
    fs::{self, File},
    io,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
    time::SystemTime,
};

use async_trait::async_trait;
use bytes::Bytes;
use mediadrive_core::{
    blobs::{BlobResult, ByteStream, HeldBlob, LocalBlob, PartialWriter, StagedBlob},
    BlobError, BlobStore, ContentHash, FileId,
};

use partial::{copy_path, list_partial, open_partial, FsAssembledBlob, FsPartialWriter};
use queued::QueuedFile;
use staged::FsStagedBlob;

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
        // Private when created here: the store holds every tenant's files.
        let mut private = fs::DirBuilder::new();
        private.recursive(true).mode(0o700);
        for dir in [&blobs, &staging, &partial] {
            private.create(dir)?;
        }
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
    let [a, b, h] = crate::address(hash);
    blobs.join(a).join(b).join(h)
}

fn not_found_or_io(e: io::Error) -> BlobError {
    if e.kind() == io::ErrorKind::NotFound {
        BlobError::NotFound
    } else {
        BlobError::Io(e)
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn stage(&self) -> BlobResult<Box<dyn StagedBlob>> {
        Ok(Box::new(
            FsStagedBlob::create(&self.staging, self.blobs.clone()).await?,
        ))
    }

    async fn read(&self, hash: &ContentHash, offset: u64, len: u64) -> BlobResult<ByteStream> {
        read::read_range(self.blob_path(hash), offset, len).await
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

    async fn blobs(&self) -> BlobResult<Vec<(ContentHash, u64)>> {
        let blobs = self.blobs.clone();
        let found = tokio::task::spawn_blocking(move || -> io::Result<Vec<(ContentHash, u64)>> {
            let mut found = Vec::new();
            for a in fs::read_dir(&blobs)? {
                for b in fs::read_dir(a?.path())? {
                    for blob in fs::read_dir(b?.path())? {
                        let blob = blob?;
                        // Anything else under blobs/ is no blob of ours.
                        if let Some(hash) = blob.file_name().to_str().and_then(ContentHash::parse) {
                            found.push((hash, blob.metadata()?.len()));
                        }
                    }
                }
            }
            Ok(found)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(found)
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
        let ids = tokio::task::spawn_blocking(move || list_partial(&dir))
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
