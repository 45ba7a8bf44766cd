//! The reconciler on a real catalog, with stores that take direct uploads (the filesystem store
//! given a bucket's `uploads/`, and S3 itself when `MEDIADRIVE_TEST_S3_URL` names a bucket): what
//! arrived as declared is adopted, what cannot be is dropped, and an upload another node confirms
//! is left to it until its claim lapses.

use std::{
    io,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use mediadrive_blobstore::{FsBlobStore, S3BlobStore};
use mediadrive_core::{
    blobs::{BlobResult, ByteStream, HeldBlob, LocalBlob, PartialWriter, StagedBlob},
    BlobError, BlobStore, ContentHash, FileId, FileStatus, UploadClaim,
};

use super::{confirm_if_arrived, reconcile_once, reconciler};
use crate::claimed::tests::{bytes, eventually, node_on, pending, uploaded, Node};

/// The filesystem store with object storage's direct uploads: a client's PUT leaves its bytes
/// under `uploads/<file id>`, as it leaves them in the bucket.
struct DirectFs {
    inner: FsBlobStore,
    uploads: PathBuf,
}

impl DirectFs {
    fn open(root: &Path) -> Self {
        let uploads = root.join("uploads");
        std::fs::create_dir_all(&uploads).unwrap();
        Self {
            inner: FsBlobStore::open(root).unwrap(),
            uploads,
        }
    }
}

fn missing_is_none<T>(result: io::Result<T>) -> BlobResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl BlobStore for DirectFs {
    async fn stage(&self) -> BlobResult<Box<dyn StagedBlob>> {
        self.inner.stage().await
    }
    async fn read(&self, hash: &ContentHash, offset: u64, len: u64) -> BlobResult<ByteStream> {
        self.inner.read(hash, offset, len).await
    }
    async fn read_all(&self, hash: &ContentHash) -> BlobResult<Bytes> {
        self.inner.read_all(hash).await
    }
    async fn exists(&self, hash: &ContentHash) -> BlobResult<bool> {
        self.inner.exists(hash).await
    }
    async fn local(&self, hash: &ContentHash) -> BlobResult<LocalBlob> {
        self.inner.local(hash).await
    }
    async fn delete(&self, hash: &ContentHash) -> BlobResult<()> {
        self.inner.delete(hash).await
    }
    async fn blobs(&self) -> BlobResult<Vec<(ContentHash, u64)>> {
        self.inner.blobs().await
    }
    async fn sweep_staging(&self, older_than: SystemTime) -> BlobResult<usize> {
        self.inner.sweep_staging(older_than).await
    }
    async fn append_partial(
        &self,
        upload: &FileId,
        offset: u64,
    ) -> BlobResult<Box<dyn PartialWriter>> {
        self.inner.append_partial(upload, offset).await
    }
    async fn assemble_partial(&self, upload: &FileId, len: u64) -> BlobResult<Box<dyn HeldBlob>> {
        self.inner.assemble_partial(upload, len).await
    }
    async fn discard_partial(&self, upload: &FileId) -> BlobResult<()> {
        self.inner.discard_partial(upload).await
    }
    async fn partial_uploads(&self) -> BlobResult<Vec<FileId>> {
        self.inner.partial_uploads().await
    }
    fn accepts_direct_uploads(&self) -> bool {
        true
    }
    async fn arrived_uploads(&self) -> BlobResult<Vec<(String, u64)>> {
        let mut arrived = Vec::new();
        for entry in std::fs::read_dir(&self.uploads)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            arrived.push((name, entry.metadata()?.len()));
        }
        Ok(arrived)
    }
    async fn arrived_upload(&self, file: &str) -> BlobResult<Option<u64>> {
        Ok(missing_is_none(std::fs::metadata(self.uploads.join(file)))?.map(|m| m.len()))
    }
    async fn adopt_upload(&self, file: &str) -> BlobResult<Box<dyn HeldBlob>> {
        let body =
            missing_is_none(std::fs::read(self.uploads.join(file)))?.ok_or(BlobError::NotFound)?;
        let mut copy = self.inner.stage().await?;
        copy.write(Bytes::from(body)).await?;
        Ok(copy)
    }
    async fn discard_upload(&self, file: &str) -> BlobResult<()> {
        missing_is_none(std::fs::remove_file(self.uploads.join(file)))?;
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Store {
    DirectFs,
    S3,
}

/// Runs each case on the filesystem store with direct uploads, and on S3 when there is a bucket.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod direct_fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Store::DirectFs).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if std::env::var("MEDIADRIVE_TEST_S3_URL").is_ok() {
                        super::$case(super::Store::S3).await;
                    } else {
                        eprintln!("skipped on S3: MEDIADRIVE_TEST_S3_URL is not set (scripts/test sets it)");
                    }
                }
            )*
        }
    };
}

on_both_stores!(
    bytes_of_the_declared_size_are_adopted_at_their_address,
    content_already_stored_is_adopted_without_a_second_copy,
    a_wrong_size_is_dropped_and_the_file_stays_open_for_another_put,
    uploads_no_pending_file_waits_for_are_dropped,
    an_upload_another_node_confirms_is_left_to_it_until_its_claim_lapses,
    the_reconciler_confirms_as_uploads_arrive_and_stops_at_shutdown,
);

async fn direct_node(store: Store, configure: impl FnOnce(&mut crate::Config)) -> Node {
    let blobs = move |root: &Path| -> Arc<dyn BlobStore> {
        match store {
            Store::DirectFs => Arc::new(DirectFs::open(root)),
            Store::S3 => {
                let url = std::env::var("MEDIADRIVE_TEST_S3_URL").unwrap();
                let prefix = format!("/reconcile_{:032x}/", rand::random::<u128>());
                Arc::new(S3BlobStore::open(&format!("{url}&root={prefix}")).unwrap())
            }
        }
    };
    node_on(blobs, configure).await
}

const CONTENT_TYPE: &str = "video/mp4";

/// What a client's PUT to its presigned URL leaves behind.
async fn put(node: &Node, key: &str, body: &[u8]) {
    let ttl = Duration::from_secs(60);
    match node
        .state
        .blobs
        .presign_upload(key, CONTENT_TYPE, ttl)
        .await
        .unwrap()
    {
        Some(url) => http_put(&url, body).await,
        None => std::fs::write(node.dir.path().join("blobs/uploads").join(key), body).unwrap(),
    }
}

/// One HTTP/1.1 PUT to a presigned URL of the local bucket.
async fn http_put(url: &str, body: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .expect("the test bucket speaks http");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

fn hash_of(data: &[u8]) -> ContentHash {
    ContentHash::from_bytes(*blake3::hash(data).as_bytes())
}

async fn bytes_of_the_declared_size_are_adopted_at_their_address(store: Store) {
    let node = direct_node(store, |_| {}).await;
    let state = &node.state;
    // Past the object store's 5 MiB multipart threshold.
    let data = bytes(1, 6 * 1024 * 1024 + 1);
    let file = pending(
        state,
        "clips",
        "a.mp4",
        data.len() as u64,
        chrono::Duration::minutes(2),
    )
    .await;
    assert_eq!(
        reconcile_once(state).await.unwrap(),
        0,
        "nothing arrived yet"
    );
    put(&node, file.id.as_str(), &data).await;
    assert_eq!(reconcile_once(state).await.unwrap(), 1);
    let done = state.catalog.file_by_id(&file.id).await.unwrap().unwrap();
    assert_eq!(done.status, FileStatus::Uploaded);
    assert_eq!(done.blob, Some(hash_of(&data)));
    assert!(state.blobs.read_all(&hash_of(&data)).await.unwrap() == data);
    // Confirmed once: the upload itself is gone, and the next round finds nothing.
    assert_eq!(
        state.blobs.arrived_upload(file.id.as_str()).await.unwrap(),
        None
    );
    assert_eq!(reconcile_once(state).await.unwrap(), 0);
    let tenant = state.catalog.tenant(&file.tenant).await.unwrap().unwrap();
    assert_eq!(
        (tenant.used_bytes, tenant.pending_bytes),
        (data.len() as u64, 0)
    );
}

async fn content_already_stored_is_adopted_without_a_second_copy(store: Store) {
    let node = direct_node(store, |_| {}).await;
    let state = &node.state;
    let data = bytes(2, 70_000);
    let first = uploaded(state, "", "first.bin", &data).await;
    let file = pending(
        state,
        "",
        "second.bin",
        data.len() as u64,
        chrono::Duration::minutes(2),
    )
    .await;
    put(&node, file.id.as_str(), &data).await;
    assert_eq!(reconcile_once(state).await.unwrap(), 1);
    let second = state.catalog.file_by_id(&file.id).await.unwrap().unwrap();
    assert_eq!(second.blob, first.blob);
    // The blob outlives the first file: the second holds it too.
    crate::lifecycle::reclaim(
        state,
        &state
            .catalog
            .delete_files(
                &first.tenant,
                &[(first.folder.clone(), first.name.clone())],
                &|f| crate::webhooks::file_event(state, "file.deleted", f),
            )
            .await
            .unwrap(),
    )
    .await;
    assert!(state.blobs.read_all(&hash_of(&data)).await.unwrap() == data);
}

async fn a_wrong_size_is_dropped_and_the_file_stays_open_for_another_put(store: Store) {
    let node = direct_node(store, |_| {}).await;
    let state = &node.state;
    let data = bytes(3, 10_000);
    let file = pending(
        state,
        "",
        "a.bin",
        data.len() as u64,
        chrono::Duration::minutes(2),
    )
    .await;
    for wrong in [&data[..9_999], &[data.as_slice(), b"x"].concat()[..]] {
        put(&node, file.id.as_str(), wrong).await;
        assert_eq!(reconcile_once(state).await.unwrap(), 0);
        assert_eq!(
            state.blobs.arrived_upload(file.id.as_str()).await.unwrap(),
            None
        );
        let still = state.catalog.file_by_id(&file.id).await.unwrap().unwrap();
        assert_eq!((still.status, still.blob), (FileStatus::Pending, None));
    }
    assert!(!state.blobs.exists(&hash_of(&data[..9_999])).await.unwrap());
    // The claim was given back: the client's next PUT is confirmed at once.
    put(&node, file.id.as_str(), &data).await;
    assert!(confirm_if_arrived(state, &file).await.unwrap());
    assert_eq!(
        state
            .catalog
            .file_by_id(&file.id)
            .await
            .unwrap()
            .unwrap()
            .blob,
        Some(hash_of(&data))
    );
}

async fn uploads_no_pending_file_waits_for_are_dropped(store: Store) {
    let node = direct_node(store, |_| {}).await;
    let state = &node.state;
    let done = uploaded(state, "", "done.bin", &bytes(4, 100)).await;
    let unknown = "0123456789abcdef0123456789abcdef";
    for key in ["not-a-file-id", unknown, done.id.as_str()] {
        put(&node, key, &bytes(5, 100)).await;
    }
    assert_eq!(reconcile_once(state).await.unwrap(), 0);
    assert!(state.blobs.arrived_uploads().await.unwrap().is_empty());
    // The uploaded file keeps its own bytes, not the late PUT's.
    let kept = state.catalog.file_by_id(&done.id).await.unwrap().unwrap();
    assert_eq!(kept.blob, done.blob);
    assert!(!state.blobs.exists(&hash_of(&bytes(5, 100))).await.unwrap());
}

async fn an_upload_another_node_confirms_is_left_to_it_until_its_claim_lapses(store: Store) {
    let node = direct_node(store, |_| {}).await;
    let state = &node.state;
    let data = bytes(6, 4096);
    let file = pending(
        state,
        "",
        "a.bin",
        data.len() as u64,
        chrono::Duration::minutes(2),
    )
    .await;
    put(&node, file.id.as_str(), &data).await;
    let now = Utc::now();
    let other_node = now + chrono::Duration::milliseconds(700);
    let granted = state
        .catalog
        .claim_upload(&file.id, now, other_node)
        .await
        .unwrap();
    assert!(matches!(granted, UploadClaim::Claimed(_)));
    assert_eq!(reconcile_once(state).await.unwrap(), 0);
    assert!(!confirm_if_arrived(state, &file).await.unwrap());
    assert_eq!(
        state.blobs.arrived_upload(file.id.as_str()).await.unwrap(),
        Some(data.len() as u64),
        "another node's upload was dropped"
    );
    // That node died: once its claim lapsed, this one takes the upload over.
    eventually(Duration::from_secs(5), "the upload taken over", || async {
        reconcile_once(state).await.unwrap() == 1
    })
    .await;
    assert!(Utc::now() >= other_node);
    let done = state.catalog.file_by_id(&file.id).await.unwrap().unwrap();
    assert_eq!(done.blob, Some(hash_of(&data)));
}

async fn the_reconciler_confirms_as_uploads_arrive_and_stops_at_shutdown(store: Store) {
    let node = direct_node(store, |config| {
        config.reconcile_interval = Duration::from_millis(50)
    })
    .await;
    let state = &node.state;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(crate::worker::run(
        state.clone(),
        reconciler(state),
        shutdown,
    ));
    let mut files = Vec::new();
    for n in 0..3 {
        let data = bytes(10 + n, 20_000 + n as usize);
        let file = pending(
            state,
            "",
            &format!("{n}.bin"),
            data.len() as u64,
            chrono::Duration::minutes(2),
        )
        .await;
        put(&node, file.id.as_str(), &data).await;
        files.push((file, hash_of(&data)));
    }
    eventually(
        Duration::from_secs(10),
        "every upload confirmed",
        || async {
            let mut all = true;
            for (file, _) in &files {
                let now = state.catalog.file_by_id(&file.id).await.unwrap().unwrap();
                all &= now.status == FileStatus::Uploaded;
            }
            all
        },
    )
    .await;
    for (file, hash) in &files {
        let done = state.catalog.file_by_id(&file.id).await.unwrap().unwrap();
        assert_eq!(done.blob.as_ref(), Some(hash));
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the reconciler did not stop")
        .unwrap();
}
