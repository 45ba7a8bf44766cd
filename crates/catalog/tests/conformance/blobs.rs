//! Blob references: leases and the reclaim that keeps bytes and rows in step, and probing claims.

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{BlobProbe, Catalog, CatalogError, FileName, FolderPath, ProbeStatus};

use super::{announce, hash, reclaim, stale, stored, tenant};

every_backend_of_module!(
    blob_reclaim_respects_leases_and_references,
    stray_blobs_are_recorded_once_and_only_where_no_row_is,
    probes_are_claimed_once_and_given_up_after_repeated_crashes,
);

async fn blob_reclaim_respects_leases_and_references(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let now = Utc::now();
    let h = hash(1);
    c.lease_blob(&h, 10, now + Duration::minutes(10))
        .await
        .unwrap();
    assert!(reclaim(c, now, None).await.is_empty(), "a lease protects");
    c.release_blob_lease(&h).await.unwrap();
    assert_eq!(
        c.reclaimable_blobs(now, stale(now)).await.unwrap(),
        std::slice::from_ref(&h)
    );
    let first = c
        .begin_blob_reclaim(now, Some(std::slice::from_ref(&h)), stale(now))
        .await
        .unwrap();
    assert_eq!(first.hashes, std::slice::from_ref(&h));
    // While its bytes are being removed, a new ingest of the same content must wait...
    assert!(matches!(
        c.lease_blob(&h, 10, now + Duration::minutes(10)).await,
        Err(CatalogError::BlobBusy)
    ));
    // ...and a second reclaimer leaves a fresh mark alone.
    assert!(c
        .begin_blob_reclaim(now, None, stale(now))
        .await
        .unwrap()
        .hashes
        .is_empty());
    // A mark left by a reclaimer that died long ago is taken over; the old token then finishes nothing.
    let later = now + Duration::minutes(11);
    let second = c
        .begin_blob_reclaim(later, None, stale(later))
        .await
        .unwrap();
    assert_eq!(second.hashes, std::slice::from_ref(&h));
    c.finish_blob_reclaim(&h, &first.token).await.unwrap();
    assert!(matches!(
        c.lease_blob(&h, 10, now + Duration::minutes(10)).await,
        Err(CatalogError::BlobBusy)
    ));
    c.finish_blob_reclaim(&h, &second.token).await.unwrap();
    c.lease_blob(&h, 10, now + Duration::minutes(10))
        .await
        .unwrap();

    // A reclaimer that could not remove the bytes gives the mark up; the content is usable at once.
    c.release_blob_lease(&h).await.unwrap();
    let third = c
        .begin_blob_reclaim(now, Some(std::slice::from_ref(&h)), stale(now))
        .await
        .unwrap();
    assert_eq!(third.hashes, std::slice::from_ref(&h));
    c.abandon_blob_reclaim(&h, &third.token).await.unwrap();
    c.lease_blob(&h, 10, now + Duration::minutes(10))
        .await
        .unwrap();

    let shared = hash(2);
    stored(c, "", "a.bin", 5, &shared).await;
    stored(c, "", "b.bin", 5, &shared).await;
    assert!(reclaim(c, Utc::now(), Some(std::slice::from_ref(&shared)))
        .await
        .is_empty());
    let name = |n: &str| (FolderPath::root(), FileName::sanitise(n).unwrap());
    assert_eq!(
        c.delete_files(&tenant(), &[name("a.bin")], &|f| announce(
            "file.deleted",
            f
        ))
        .await
        .unwrap()
        .len(),
        1
    );
    assert!(
        reclaim(c, Utc::now(), Some(std::slice::from_ref(&shared)))
            .await
            .is_empty(),
        "b still refers to it"
    );
    c.delete_files(&tenant(), &[name("b.bin")], &|f| {
        announce("file.deleted", f)
    })
    .await
    .unwrap();
    assert_eq!(
        reclaim(c, Utc::now(), Some(std::slice::from_ref(&shared))).await,
        [shared]
    );
    // A lapsed lease (an ingest that died) no longer protects.
    let orphan = hash(3);
    c.lease_blob(&orphan, 1, Utc::now() + Duration::minutes(1))
        .await
        .unwrap();
    let later = Utc::now() + Duration::minutes(2);
    assert!(reclaim(c, later, None).await.contains(&orphan));
}

async fn probes_are_claimed_once_and_given_up_after_repeated_crashes(c: Arc<dyn Catalog>) {
    let cat = c.as_ref();
    cat.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    stored(cat, "", "p.bin", 4, &hash(7)).await;
    let now = Utc::now();
    let first = now + Duration::minutes(10);
    assert_eq!(cat.claim_probes(now, first, 10).await.unwrap(), [hash(7)]);
    assert!(
        cat.claim_probes(now, first, 10).await.unwrap().is_empty(),
        "claimed once"
    );
    let done = BlobProbe {
        hash: hash(7),
        status: ProbeStatus::Done,
        metadata: Some("{}".into()),
        error: None,
    };
    // A holder whose claim lapsed and was taken over cannot overwrite the new holder's result.
    let later = now + Duration::minutes(11);
    let second = later + Duration::minutes(10);
    assert_eq!(
        cat.claim_probes(later, second, 10).await.unwrap(),
        [hash(7)]
    );
    assert!(!cat.record_probe(&done, first).await.unwrap());
    assert!(cat.record_probe(&done, second).await.unwrap());
    assert_eq!(
        cat.blob_probes(&[hash(7)]).await.unwrap()[0].status,
        ProbeStatus::Done
    );

    // A blob whose prober never comes back is given up after three claims.
    stored(cat, "", "q.bin", 4, &hash(8)).await;
    let mut at = now;
    for _ in 0..3 {
        assert_eq!(
            cat.claim_probes(at, at + Duration::minutes(1), 10)
                .await
                .unwrap(),
            [hash(8)]
        );
        at += Duration::minutes(2);
    }
    assert!(cat
        .claim_probes(at, at + Duration::minutes(1), 10)
        .await
        .unwrap()
        .is_empty());
    let probe = &cat.blob_probes(&[hash(8)]).await.unwrap()[0];
    assert_eq!(probe.status, ProbeStatus::Failed);
    assert!(probe.error.is_some());
}

/// Bytes a sweep found in the store with no row: recorded unreferenced, so a reclaim takes them;
/// a row that exists (a file's, a live lease's) is left as it was.
async fn stray_blobs_are_recorded_once_and_only_where_no_row_is(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let now = Utc::now();
    let (held, leased, stray) = (hash(11), hash(12), hash(13));
    stored(c, "", "held.bin", 5, &held).await;
    c.lease_blob(&leased, 7, now + Duration::minutes(10))
        .await
        .unwrap();
    let found = [held.clone(), leased.clone(), stray.clone()];
    assert_eq!(
        c.unrecorded_blobs(&found).await.unwrap(),
        std::slice::from_ref(&stray)
    );
    // Many at once: more than one statement's worth.
    let many: Vec<_> = (0..1200u32)
        .map(|i| {
            let mut bytes = [0xAB; 32];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            mediadrive_core::ContentHash::from_bytes(bytes)
        })
        .collect();
    assert_eq!(c.unrecorded_blobs(&many).await.unwrap(), many);
    let sized: Vec<_> = found.iter().map(|h| (h.clone(), 9)).collect();
    assert_eq!(
        c.record_stray_blobs(&sized, now).await.unwrap(),
        std::slice::from_ref(&stray)
    );
    assert!(c.record_stray_blobs(&sized, now).await.unwrap().is_empty());
    assert!(c.unrecorded_blobs(&found).await.unwrap().is_empty());
    assert_eq!(reclaim(c, Utc::now(), None).await, [stray]);
    assert!(c
        .unrecorded_blobs(&[held, leased])
        .await
        .unwrap()
        .is_empty());
}
