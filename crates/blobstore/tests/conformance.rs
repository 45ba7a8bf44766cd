//! One behavioural suite for every blob store: the filesystem always, S3 when
//! `MEDIADRIVE_TEST_S3_URL` names a bucket (`scripts/test` starts one). Each case gets a store of
//! its own (a temporary directory, or a prefix of the bucket) and bytes no other piece repeats.

/// Runs each case (an `async fn(Backend)` of the module it is used in) on every backend.
macro_rules! every_backend {
    ($($case:ident),* $(,)?) => {
        mod fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::fs().unwrap()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(backend) = crate::s3() {
                        super::$case(backend).await;
                    }
                }
            )*
        }
    };
}

#[path = "conformance/direct.rs"]
mod direct;
#[path = "conformance/partial.rs"]
mod partial;
#[path = "conformance/staged.rs"]
mod staged;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::TryStreamExt;
use mediadrive_blobstore::{FsBlobStore, S3BlobStore};
use mediadrive_core::{BlobStore, ContentHash};

/// S3's multipart threshold: bodies past it are written in parts, which are what these sizes cross.
pub const MULTIPART: usize = 5 * 1024 * 1024;

/// A store under test and a view of its keys from outside the port.
pub struct Backend {
    pub store: Arc<dyn BlobStore>,
    pub raw: Raw,
    _dir: Option<tempfile::TempDir>,
}

pub enum Raw {
    Fs(PathBuf),
    S3(opendal::Operator),
}

impl Raw {
    /// The keys under `prefix` (`staging/`, `blobs/`, …), as relative paths.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        match self {
            Raw::Fs(root) => walkdir(&root.join(prefix))
                .into_iter()
                .map(|p| p.strip_prefix(root).unwrap().display().to_string())
                .collect(),
            Raw::S3(op) => {
                let entries: Vec<_> = op
                    .lister_with(prefix)
                    .recursive(true)
                    .await
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                entries
                    .into_iter()
                    .filter(|e| !e.path().ends_with('/'))
                    .map(|e| e.path().to_string())
                    .collect()
            }
        }
    }

    /// Writes an object behind the store's back, as a node that died would have left it.
    pub async fn put(&self, key: &str, body: Vec<u8>) {
        match self {
            Raw::Fs(root) => {
                let path = root.join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, body).unwrap();
            }
            Raw::S3(op) => {
                op.write(key, body).await.unwrap();
            }
        }
    }

    /// Waits up to ten seconds for no key to be left under `prefix` (S3 removes dropped bytes in
    /// a task of its own).
    pub async fn wait_empty(&self, prefix: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let keys = self.keys(prefix).await;
            if keys.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "still under {prefix}: {keys:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn walkdir(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub fn fs() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path()).unwrap();
    Some(Backend {
        store: Arc::new(store),
        raw: Raw::Fs(dir.path().to_path_buf()),
        _dir: Some(dir),
    })
}

/// A new prefix of the bucket, or `None` (and a line saying so) when there is no bucket.
pub fn s3() -> Option<Backend> {
    let Ok(url) = std::env::var("MEDIADRIVE_TEST_S3_URL") else {
        eprintln!("skipped on S3: MEDIADRIVE_TEST_S3_URL is not set (scripts/test sets it)");
        return None;
    };
    let root = format!("/blobstore_{}/", uuid::Uuid::new_v4().simple());
    let store = S3BlobStore::open(&format!("{url}&root={root}")).unwrap();
    Some(Backend {
        store: Arc::new(store),
        raw: Raw::S3(s3_operator(&url, &root)),
        _dir: None,
    })
}

fn s3_operator(url: &str, root: &str) -> opendal::Operator {
    let (bucket, query) = url.strip_prefix("s3://").unwrap().split_once('?').unwrap();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let builder = opendal::services::S3::default()
        .bucket(bucket)
        .endpoint(&param("endpoint"))
        .region(&param("region"))
        .root(root)
        .access_key_id(&std::env::var("AWS_ACCESS_KEY_ID").unwrap())
        .secret_access_key(&std::env::var("AWS_SECRET_ACCESS_KEY").unwrap())
        .disable_config_load();
    opendal::Operator::new(builder).unwrap().finish()
}

/// Seeded pseudo-random bytes (SplitMix64): no block repeats, so a reordered, doubled or dropped
/// piece changes the hash. Distinct seeds for distinct pieces.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut state = seed.wrapping_mul(GAMMA) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(GAMMA);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn blake3_of(data: &[u8]) -> ContentHash {
    ContentHash::from_bytes(*blake3::hash(data).as_bytes())
}

/// Chunks of uneven sizes, as request bodies arrive; none lines up with the multipart threshold.
pub fn chunks(data: &[u8]) -> impl Iterator<Item = Bytes> + '_ {
    data.chunks(65_537).map(Bytes::copy_from_slice)
}

pub async fn collect(store: &dyn BlobStore, hash: &ContentHash, offset: u64, len: u64) -> Vec<u8> {
    let parts: Vec<Bytes> = store
        .read(hash, offset, len)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    parts.concat()
}

/// Stages, finishes and commits `data`; returns its address.
pub async fn stored(store: &dyn BlobStore, data: &[u8]) -> ContentHash {
    let mut staged = store.stage().await.unwrap();
    for chunk in chunks(data) {
        staged.write(chunk).await.unwrap();
    }
    let (hash, len) = staged.finish().await.unwrap();
    assert_eq!((&hash, len), (&blake3_of(data), data.len() as u64));
    staged.commit(&hash).await.unwrap();
    hash
}
