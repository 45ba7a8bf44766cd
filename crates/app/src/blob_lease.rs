//! The lease an ingest holds on a blob's row between hashing its bytes and recording who holds
//! them: no reclaim may start on a leased blob. The lease is short and renewed while its holder
//! works, so work of any length keeps it, and work a dead node left is taken over seconds later.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use mediadrive_core::{catalog::BlobRefStore, Catalog, CatalogError, ContentHash};
use tokio::task::JoinHandle;

use crate::{error::AppResult, App};

/// How often a held lease is renewed, as a fraction of its length: two renewals may fail (a
/// database hiccup) before it lapses.
const RENEWALS_PER_LEASE: u32 = 3;

/// A lease on the catalog's references of a blob (`R` is the node's catalog, or a fake of the one
/// trait it needs in a unit test).
pub struct BlobLease<R: BlobRefStore + ?Sized + 'static = dyn Catalog> {
    refs: Arc<R>,
    hash: ContentHash,
    renewer: Option<JoinHandle<()>>,
    settled: bool,
}

impl BlobLease {
    /// Leases `hash` (of `len` bytes) for this ingest, for `ingest_lease_secs` at a time.
    pub async fn take(state: &App, hash: &ContentHash, len: u64) -> AppResult<Self> {
        Self::take_from(state.catalog.clone(), state.config.ingest_lease, hash, len).await
    }
}

impl<R: BlobRefStore + ?Sized + 'static> BlobLease<R> {
    /// Leases `hash` for `length` at a time, waiting out a reclaim of the same content that is
    /// finishing (it takes milliseconds).
    pub async fn take_from(
        refs: Arc<R>,
        length: Duration,
        hash: &ContentHash,
        len: u64,
    ) -> AppResult<Self> {
        for _ in 0..50 {
            match lease(&*refs, length, hash, len).await {
                Err(CatalogError::BlobBusy) => tokio::time::sleep(Duration::from_millis(20)).await,
                other => {
                    other?;
                    return Ok(Self::held(refs, length, hash, len));
                }
            }
        }
        Err(CatalogError::BlobBusy.into())
    }

    fn held(refs: Arc<R>, length: Duration, hash: &ContentHash, len: u64) -> Self {
        let (renewing, hash_renewed) = (refs.clone(), hash.clone());
        let every = length / RENEWALS_PER_LEASE;
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = renew(&*renewing, length, &hash_renewed, len).await {
                    tracing::warn!(blob = %hash_renewed, error = %e, "could not renew a blob lease");
                    if matches!(e, CatalogError::BlobBusy) {
                        // The lease lapsed and a reclaim began: recording will say so.
                        return;
                    }
                }
            }
        });
        Self {
            refs,
            hash: hash.clone(),
            renewer: Some(renewer),
            settled: false,
        }
    }

    pub fn hash(&self) -> &ContentHash {
        &self.hash
    }

    /// The catalog took the lease over in the transaction that recorded the blob's holder (a file,
    /// a cache entry, a preview), or the row it counted on is gone: nothing is left to release.
    pub fn settled(mut self) {
        self.stop();
    }

    /// Gives the lease back before answering: the bytes were not recorded.
    pub async fn release(mut self) {
        self.stop();
        if let Err(e) = self.refs.release_blob_lease(&self.hash).await {
            tracing::warn!(blob = %self.hash, error = %e, "could not release a blob lease");
        }
    }

    fn stop(&mut self) {
        self.settled = true;
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
    }
}

impl<R: BlobRefStore + ?Sized + 'static> Drop for BlobLease<R> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.stop();
        // A request whose client went away is dropped mid-ingest. Outside a runtime (a process
        // ending) nothing is left to release it; the lease then lapses on its own.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (refs, hash) = (self.refs.clone(), self.hash.clone());
            runtime.spawn(async move {
                if let Err(e) = refs.release_blob_lease(&hash).await {
                    tracing::warn!(blob = %hash, error = %e, "could not release a blob lease");
                }
            });
        }
    }
}

async fn lease<R: BlobRefStore + ?Sized>(
    refs: &R,
    length: Duration,
    hash: &ContentHash,
    len: u64,
) -> Result<(), CatalogError> {
    refs.lease_blob(hash, len, Utc::now() + length).await
}

/// Moves the lease's end ahead: a lease taken and one given back, which leaves the count of
/// leases as it was and the later end in place.
async fn renew<R: BlobRefStore + ?Sized>(
    refs: &R,
    length: Duration,
    hash: &ContentHash,
    len: u64,
) -> Result<(), CatalogError> {
    lease(refs, length, hash, len).await?;
    refs.release_blob_lease(hash).await
}

#[cfg(test)]
#[path = "blob_lease_tests.rs"]
mod fake_tests;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use chrono::Utc;

    use super::BlobLease;
    use crate::claimed::tests::node;

    /// A lease of one second held for three: only its renewals keep a reclaim away.
    #[tokio::test]
    async fn a_held_lease_outlives_its_length_and_lapses_once_its_holder_is_gone() {
        let node = node(|c| c.ingest_lease = Duration::from_secs(1)).await;
        let state = &node.state;
        let mut staged = state.blobs.stage().await.unwrap();
        staged
            .write(Bytes::from_static(b"leased bytes"))
            .await
            .unwrap();
        let (hash, len) = staged.finish().await.unwrap();
        let lease = BlobLease::take(state, &hash, len).await.unwrap();
        staged.commit(&hash).await.unwrap();
        let reclaimable = || async {
            state
                .catalog
                .reclaimable_blobs(Utc::now(), Utc::now() - state.config.ingest_lease)
                .await
                .unwrap()
                .contains(&hash)
        };
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(!reclaimable().await, "a renewed lease lapsed");
        }
        // A holder that goes away without a word (a dropped request) gives the lease back.
        drop(lease);
        crate::claimed::tests::eventually(
            Duration::from_secs(5),
            "the lease given back",
            reclaimable,
        )
        .await;
    }

    /// A lease whose holder stopped renewing (a node that died) lapses after its length.
    #[tokio::test]
    async fn an_abandoned_lease_lapses_after_its_length() {
        let node = node(|c| c.ingest_lease = Duration::from_secs(1)).await;
        let state = &node.state;
        let mut staged = state.blobs.stage().await.unwrap();
        staged
            .write(Bytes::from_static(b"abandoned"))
            .await
            .unwrap();
        let (hash, len) = staged.finish().await.unwrap();
        let lease = BlobLease::take(state, &hash, len).await.unwrap();
        // As a killed process would: no release, no more renewals.
        lease.settled();
        let reclaimable = state
            .catalog
            .reclaimable_blobs(Utc::now(), Utc::now())
            .await
            .unwrap();
        assert!(!reclaimable.contains(&hash), "a fresh lease is held");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let reclaimable = state
            .catalog
            .reclaimable_blobs(Utc::now(), Utc::now())
            .await
            .unwrap();
        assert!(reclaimable.contains(&hash), "a lapsed lease still holds");
    }
}
