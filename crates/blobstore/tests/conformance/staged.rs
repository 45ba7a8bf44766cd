//! Staging, hashing and placing bytes at their content address; reading, deleting and sweeping.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::TryStreamExt;
use mediadrive_core::{BlobError, ContentHash};

use crate::{blake3_of, bytes, chunks, collect, stored, Backend, MULTIPART};

every_backend!(
    staged_bytes_land_at_their_hash_and_nowhere_else,
    the_same_content_is_stored_once,
    ranged_reads_return_exactly_the_range,
    a_local_copy_holds_the_bytes,
    deleted_blobs_are_gone_and_others_stay,
    missing_blobs_are_not_found,
    staged_bytes_dropped_uncommitted_leave_nothing,
    the_staging_sweep_takes_only_what_is_older,
    every_placed_blob_is_listed_with_its_length,
);

async fn staged_bytes_land_at_their_hash_and_nowhere_else(b: Backend) {
    let data = bytes(1, 2 * MULTIPART + 12_345);
    let mut staged = b.store.stage().await.unwrap();
    for chunk in chunks(&data) {
        staged.write(chunk).await.unwrap();
    }
    let (hash, len) = staged.finish().await.unwrap();
    assert_eq!(hash, blake3_of(&data));
    assert_eq!(len, data.len() as u64);
    assert!(
        !b.store.exists(&hash).await.unwrap(),
        "placed before commit"
    );
    staged.commit(&hash).await.unwrap();
    assert!(b.store.exists(&hash).await.unwrap());
    assert!(b.store.read_all(&hash).await.unwrap() == data);
    assert_eq!(
        collect(b.store.as_ref(), &hash, 0, len).await.len(),
        data.len()
    );
    let h = hash.as_str();
    assert_eq!(
        b.raw.keys("blobs/").await,
        [format!("blobs/{}/{}/{h}", &h[0..2], &h[2..4])]
    );
    assert!(b.raw.keys("staging/").await.is_empty());
}

async fn the_same_content_is_stored_once(b: Backend) {
    let data = bytes(2, MULTIPART + 1);
    let first = stored(b.store.as_ref(), &data).await;
    let second = stored(b.store.as_ref(), &data).await;
    assert_eq!(first, second);
    let other = stored(b.store.as_ref(), &bytes(3, MULTIPART + 1)).await;
    assert_ne!(first, other, "distinct seeds give distinct bytes");
    assert_eq!(b.raw.keys("blobs/").await.len(), 2);
    assert!(b.raw.keys("staging/").await.is_empty());
    assert!(b.store.read_all(&first).await.unwrap() == data);
}

async fn ranged_reads_return_exactly_the_range(b: Backend) {
    let data = bytes(4, MULTIPART + 700_001);
    let hash = stored(b.store.as_ref(), &data).await;
    let len = data.len() as u64;
    for (offset, count) in [
        (0, 1),
        (0, len),
        (len - 1, 1),
        (1, len - 1),
        // Across the point where the body was split into parts.
        (MULTIPART as u64 - 3, 7),
        (123_457, 2 * 262_144 + 11),
    ] {
        let got = collect(b.store.as_ref(), &hash, offset, count).await;
        let want = &data[offset as usize..(offset + count) as usize];
        assert!(got == want, "range {offset}+{count}: {} bytes", got.len());
    }
}

async fn a_local_copy_holds_the_bytes(b: Backend) {
    let data = bytes(5, 300_001);
    let hash = stored(b.store.as_ref(), &data).await;
    let local = b.store.local(&hash).await.unwrap();
    let path = local.path().to_path_buf();
    assert!(std::fs::read(&path).unwrap() == data);
    drop(local);
    // A copy made for the caller goes with it; the store's own file stays.
    let in_store = match &b.raw {
        crate::Raw::Fs(root) => path.starts_with(root),
        crate::Raw::S3(_) => false,
    };
    assert_eq!(path.exists(), in_store, "{}", path.display());
    assert!(b.store.read_all(&hash).await.unwrap() == data);
}

async fn deleted_blobs_are_gone_and_others_stay(b: Backend) {
    let kept_data = bytes(6, 1000);
    let kept = stored(b.store.as_ref(), &kept_data).await;
    let gone = stored(b.store.as_ref(), &bytes(7, MULTIPART + 3)).await;
    b.store.delete(&gone).await.unwrap();
    assert!(!b.store.exists(&gone).await.unwrap());
    assert!(matches!(
        b.store.read_all(&gone).await,
        Err(BlobError::NotFound)
    ));
    b.store.delete(&gone).await.unwrap();
    assert!(b.store.read_all(&kept).await.unwrap() == kept_data);
    assert_eq!(b.raw.keys("blobs/").await.len(), 1);
    // Placed again after a reclaim, the content is whole again.
    let again = bytes(7, MULTIPART + 3);
    assert_eq!(stored(b.store.as_ref(), &again).await, gone);
    assert!(b.store.read_all(&gone).await.unwrap() == again);
}

async fn missing_blobs_are_not_found(b: Backend) {
    let missing = ContentHash::from_bytes([0x5a; 32]);
    assert!(!b.store.exists(&missing).await.unwrap());
    assert!(matches!(
        b.store.read_all(&missing).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        b.store.local(&missing).await,
        Err(BlobError::NotFound)
    ));
    // A missing blob may be found out when the stream starts or at its first chunk, never as bytes.
    match b.store.read(&missing, 0, 10).await {
        Err(BlobError::NotFound) => {}
        Err(other) => panic!("read of a missing blob: {other}"),
        Ok(stream) => {
            let first = stream.try_collect::<Vec<Bytes>>().await;
            assert!(first.is_err(), "a missing blob read as {first:?}");
        }
    }
    b.store.delete(&missing).await.unwrap();
    assert!(b.raw.keys("blobs/").await.is_empty());
}

async fn staged_bytes_dropped_uncommitted_leave_nothing(b: Backend) {
    let data = bytes(8, MULTIPART + 99);
    let mut writing = b.store.stage().await.unwrap();
    for chunk in chunks(&data[..MULTIPART / 2]) {
        writing.write(chunk).await.unwrap();
    }
    drop(writing);
    let mut finished = b.store.stage().await.unwrap();
    for chunk in chunks(&data) {
        finished.write(chunk).await.unwrap();
    }
    let (hash, _) = finished.finish().await.unwrap();
    drop(finished);
    b.raw.wait_empty("staging/").await;
    assert!(!b.store.exists(&hash).await.unwrap());
    assert!(b.raw.keys("blobs/").await.is_empty());
}

async fn the_staging_sweep_takes_only_what_is_older(b: Backend) {
    let kept = stored(b.store.as_ref(), &bytes(9, 2000)).await;
    b.raw.put("staging/dead-1", bytes(10, 3000)).await;
    b.raw.put("staging/dead-2", bytes(11, 30)).await;
    let past = SystemTime::now() - Duration::from_secs(3600);
    assert_eq!(b.store.sweep_staging(past).await.unwrap(), 0);
    assert_eq!(b.raw.keys("staging/").await.len(), 2);
    let future = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(b.store.sweep_staging(future).await.unwrap(), 2);
    assert!(b.raw.keys("staging/").await.is_empty());
    assert!(
        b.store.exists(&kept).await.unwrap(),
        "a sweep of staging took a blob"
    );
    assert_eq!(b.store.sweep_staging(future).await.unwrap(), 0);
}

async fn every_placed_blob_is_listed_with_its_length(b: Backend) {
    assert!(b.store.blobs().await.unwrap().is_empty());
    let (small, large) = (bytes(12, 999), bytes(13, MULTIPART + 5));
    let mut want = vec![
        (stored(b.store.as_ref(), &small).await, small.len() as u64),
        (stored(b.store.as_ref(), &large).await, large.len() as u64),
    ];
    // Staged bytes and objects that are no blob's are not listed.
    let mut staged = b.store.stage().await.unwrap();
    staged.write(Bytes::from(bytes(14, 77))).await.unwrap();
    staged.finish().await.unwrap();
    b.raw.put("blobs/ab/cd/not-a-hash", bytes(15, 10)).await;
    let mut listed = b.store.blobs().await.unwrap();
    listed.sort();
    want.sort();
    assert_eq!(listed, want);
    b.store.delete(&want[0].0).await.unwrap();
    assert_eq!(b.store.blobs().await.unwrap(), want[1..]);
}
