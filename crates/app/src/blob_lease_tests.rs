//! The lease guard against an in-memory fake of the one catalog trait it needs: what it asks of
//! the catalog, and when, with no database behind it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    catalog::{BlobRefStore, CatalogResult},
    BlobReclaim, CatalogError, ContentHash,
};

use super::BlobLease;
use crate::ErrorKind;

/// Leases per blob as the catalog counts them: how many are held, and until when.
#[derive(Default)]
struct FakeRefs {
    blobs: Mutex<HashMap<ContentHash, (u32, DateTime<Utc>)>>,
    /// Blobs being reclaimed: leasing them fails.
    reclaiming: Mutex<Vec<ContentHash>>,
    leases_taken: Mutex<u32>,
}

impl FakeRefs {
    fn held(&self, hash: &ContentHash) -> (u32, DateTime<Utc>) {
        self.blobs.lock().unwrap()[hash]
    }
}

#[async_trait]
impl BlobRefStore for FakeRefs {
    async fn lease_blob(
        &self,
        hash: &ContentHash,
        _size: u64,
        until: DateTime<Utc>,
    ) -> CatalogResult<()> {
        if self.reclaiming.lock().unwrap().contains(hash) {
            return Err(CatalogError::BlobBusy);
        }
        *self.leases_taken.lock().unwrap() += 1;
        let mut blobs = self.blobs.lock().unwrap();
        let entry = blobs.entry(hash.clone()).or_insert((0, until));
        entry.0 += 1;
        entry.1 = entry.1.max(until);
        Ok(())
    }

    async fn release_blob_lease(&self, hash: &ContentHash) -> CatalogResult<()> {
        if let Some(entry) = self.blobs.lock().unwrap().get_mut(hash) {
            entry.0 = entry.0.saturating_sub(1);
        }
        Ok(())
    }

    async fn begin_blob_reclaim(
        &self,
        now: DateTime<Utc>,
        _only: Option<&[ContentHash]>,
        _stale_marks_before: DateTime<Utc>,
    ) -> CatalogResult<BlobReclaim> {
        let hashes = self.reclaimable_blobs(now, now).await?;
        self.reclaiming
            .lock()
            .unwrap()
            .extend(hashes.iter().cloned());
        Ok(BlobReclaim {
            token: "fake".into(),
            hashes,
        })
    }

    async fn reclaimable_blobs(
        &self,
        now: DateTime<Utc>,
        _stale_marks_before: DateTime<Utc>,
    ) -> CatalogResult<Vec<ContentHash>> {
        let blobs = self.blobs.lock().unwrap();
        Ok(blobs
            .iter()
            .filter(|(_, (leases, until))| *leases == 0 || *until < now)
            .map(|(hash, _)| hash.clone())
            .collect())
    }

    async fn finish_blob_reclaim(
        &self,
        hash: &ContentHash,
        _token: &str,
    ) -> CatalogResult<Vec<ContentHash>> {
        self.blobs.lock().unwrap().remove(hash);
        self.reclaiming.lock().unwrap().retain(|h| h != hash);
        Ok(Vec::new())
    }

    async fn unrecorded_blobs(&self, hashes: &[ContentHash]) -> CatalogResult<Vec<ContentHash>> {
        let blobs = self.blobs.lock().unwrap();
        Ok(hashes
            .iter()
            .filter(|h| !blobs.contains_key(*h))
            .cloned()
            .collect())
    }

    async fn record_stray_blobs(
        &self,
        strays: &[(ContentHash, u64)],
        now: DateTime<Utc>,
    ) -> CatalogResult<Vec<ContentHash>> {
        let mut blobs = self.blobs.lock().unwrap();
        let mut recorded = Vec::new();
        for (hash, _) in strays {
            if !blobs.contains_key(hash) {
                blobs.insert(hash.clone(), (0, now));
                recorded.push(hash.clone());
            }
        }
        Ok(recorded)
    }

    async fn abandon_blob_reclaim(&self, hash: &ContentHash, _token: &str) -> CatalogResult<()> {
        self.reclaiming.lock().unwrap().retain(|h| h != hash);
        Ok(())
    }
}

fn hash(byte: u8) -> ContentHash {
    ContentHash::from_bytes([byte; 32])
}

const LENGTH: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_held_lease_is_renewed_ahead_of_now_and_counted_once() {
    let refs = Arc::new(FakeRefs::default());
    let h = hash(1);
    let lease = BlobLease::take_from(refs.clone(), LENGTH, &h, 1)
        .await
        .unwrap();
    for _ in 0..5 {
        tokio::time::sleep(LENGTH / 2).await;
        let (leases, until) = refs.held(&h);
        assert_eq!(leases, 1, "renewals must leave one lease counted");
        assert!(until > Utc::now(), "the lease lapsed while held");
    }
    assert!(*refs.leases_taken.lock().unwrap() >= 5, "not renewed");
    lease.release().await;
    assert_eq!(refs.held(&h).0, 0);
}

#[tokio::test]
async fn a_settled_lease_is_neither_renewed_nor_released() {
    let refs = Arc::new(FakeRefs::default());
    let h = hash(2);
    let lease = BlobLease::take_from(refs.clone(), LENGTH, &h, 1)
        .await
        .unwrap();
    lease.settled();
    let taken = *refs.leases_taken.lock().unwrap();
    tokio::time::sleep(LENGTH).await;
    assert_eq!(
        *refs.leases_taken.lock().unwrap(),
        taken,
        "renewed after it settled"
    );
    // The catalog took it over: the count is the catalog's to change, not the guard's.
    assert_eq!(refs.held(&h).0, 1);
}

#[tokio::test]
async fn a_dropped_lease_is_given_back() {
    let refs = Arc::new(FakeRefs::default());
    let h = hash(3);
    drop(
        BlobLease::take_from(refs.clone(), LENGTH, &h, 1)
            .await
            .unwrap(),
    );
    crate::claimed::tests::eventually(Duration::from_secs(2), "the lease given back", || async {
        refs.held(&h).0 == 0
    })
    .await;
}

#[tokio::test]
async fn a_blob_being_reclaimed_is_waited_for_then_refused() {
    let refs = Arc::new(FakeRefs::default());
    let h = hash(4);
    refs.reclaiming.lock().unwrap().push(h.clone());
    let refused = BlobLease::take_from(refs.clone(), LENGTH, &h, 1).await;
    let error = refused
        .err()
        .expect("a blob being reclaimed cannot be leased");
    assert_eq!(error.kind, ErrorKind::Unavailable);
    // Once the reclaim is over, the same content may be ingested again.
    refs.abandon_blob_reclaim(&h, "fake").await.unwrap();
    let lease = BlobLease::take_from(refs.clone(), LENGTH, &h, 1)
        .await
        .unwrap();
    assert_eq!(refs.held(&h).0, 1);
    lease.release().await;
}
