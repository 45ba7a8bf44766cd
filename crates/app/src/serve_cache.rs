//! In-memory caches in front of the stable URLs, so a hot file costs no query and no disk read.
//!
//! Content is cached by hash: blobs never change, so a cached body is never stale. Metadata is cached
//! by path for a short TTL; this node drops a tenant's entries whenever it changes that tenant's files,
//! so only changes made by another process or node can take up to the TTL to show.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use mediadrive_core::{ClientId, ContentHash, FileRecord};
use moka::sync::Cache;

#[derive(Clone)]
pub struct ServeCache {
    files: Cache<(ClientId, String), Arc<FileRecord>>,
    content: Cache<ContentHash, Bytes>,
    /// The real content type of probed blobs (None: nothing recognised, the declared type stands).
    types: Cache<ContentHash, Option<String>>,
    max_file: u64,
}

/// How many paths the metadata cache holds.
const MAX_PATHS: u64 = 100_000;

impl ServeCache {
    /// `ttl` zero disables the metadata cache; `capacity` zero disables the content cache.
    pub fn new(ttl: Duration, capacity: u64, max_file: u64) -> Self {
        let files = Cache::builder()
            .max_capacity(if ttl.is_zero() { 0 } else { MAX_PATHS })
            .time_to_live(ttl.max(Duration::from_millis(1)))
            .support_invalidation_closures()
            .build();
        let content = Cache::builder()
            .max_capacity(capacity)
            .weigher(|_, body: &Bytes| u32::try_from(body.len()).unwrap_or(u32::MAX))
            .build();
        Self {
            files,
            content,
            types: Cache::new(MAX_PATHS),
            max_file: if capacity == 0 { 0 } else { max_file },
        }
    }

    pub fn file(&self, tenant: &ClientId, path: &str) -> Option<Arc<FileRecord>> {
        self.files.get(&(tenant.clone(), path.to_string()))
    }

    pub fn remember_file(&self, file: Arc<FileRecord>) {
        self.files.insert((file.tenant.clone(), file.path()), file);
    }

    /// Called after any change to a tenant's files on this node.
    pub fn forget_tenant(&self, tenant: &ClientId) {
        let tenant = tenant.clone();
        // Only fails when closures are unsupported, which the builder enables.
        let _ = self
            .files
            .invalidate_entries_if(move |(t, _), _| *t == tenant);
    }

    /// Whether a body of this size is kept in memory once read.
    pub fn holds(&self, size: u64) -> bool {
        size <= self.max_file
    }

    pub fn content(&self, hash: &ContentHash) -> Option<Bytes> {
        self.content.get(hash)
    }

    pub fn remember_content(&self, hash: ContentHash, body: Bytes) {
        self.content.insert(hash, body);
    }

    pub fn forget_content(&self, hash: &ContentHash) {
        self.content.invalidate(hash);
        self.types.invalidate(hash);
    }

    pub fn real_type(&self, hash: &ContentHash) -> Option<Option<String>> {
        self.types.get(hash)
    }

    /// Only final results are remembered: a blob still pending gets its type later.
    pub fn remember_real_type(&self, hash: ContentHash, real: Option<String>) {
        self.types.insert(hash, real);
    }
}
