//! The sweep on a real catalog and blob store: what it removes (lapsed uploads, temporary files
//! past their age, expired cache bytes, old staged bytes, forgotten resumable uploads) goes with
//! its bytes, and everything else stays.

use std::time::{Duration, SystemTime};

use chrono::Utc;
use mediadrive_core::{
    AssetType, CacheEntryId, ContentHash, FileMove, FileName, FileRecord, FolderPath,
    NewCacheEntry, Promotion,
};

use super::{sweep, sweeper};
use crate::{
    blob_lease::BlobLease,
    claimed::tests::{bytes, eventually, node, pending, tenant, uploaded, Node},
    App,
};

fn hash_of(data: &[u8]) -> ContentHash {
    ContentHash::from_bytes(*blake3::hash(data).as_bytes())
}

fn sorted_names(files: &[FileRecord]) -> Vec<String> {
    let mut names: Vec<_> = files.iter().map(|f| f.path()).collect();
    names.sort();
    names
}

async fn find(state: &App, path: &str) -> Option<FileRecord> {
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    state
        .catalog
        .file(
            &tenant(),
            &FolderPath::sanitise_or_root(Some(folder)).unwrap(),
            &FileName::sanitise(name).unwrap(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn temporary_files_past_their_age_go_with_their_bytes_and_nothing_else_does() {
    let node = node(|_| {}).await;
    let state = &node.state;
    let (kept, old, young) = (bytes(1, 10_000), bytes(2, 20_000), bytes(3, 30_000));
    uploaded(state, "", "kept.bin", &kept).await;
    uploaded(state, "temp", "old.bin", &old).await;
    // Bytes a temporary file shares with a drive file stay for the drive file.
    uploaded(state, "temp/renders", "shared.bin", &kept).await;
    uploaded(state, "", "young.bin", &young).await;
    let now = Utc::now();
    // It entered temp two hours after the others.
    state
        .catalog
        .move_file(&FileMove {
            tenant: tenant(),
            from_folder: FolderPath::root(),
            name: FileName::sanitise("young.bin").unwrap(),
            to_folder: FolderPath::sanitise("temp").unwrap(),
            to_name: FileName::sanitise("young.bin").unwrap(),
            now: now + chrono::Duration::hours(2),
            default_quota: None,
        })
        .await
        .unwrap();
    // A day and an hour on: past the others' age (24 h), not the late one's.
    let at = now + chrono::Duration::hours(25);

    let dry = sweep(state, at, true, false).await.unwrap();
    assert_eq!(
        sorted_names(&dry.expired_temp_files),
        ["temp/old.bin", "temp/renders/shared.bin"]
    );
    assert!(
        find(state, "temp/old.bin").await.is_some(),
        "a dry run removed a file"
    );
    assert!(state.blobs.exists(&hash_of(&old)).await.unwrap());

    let done = sweep(state, at, false, false).await.unwrap();
    assert_eq!(
        sorted_names(&done.expired_temp_files),
        ["temp/old.bin", "temp/renders/shared.bin"]
    );
    assert_eq!(done.reclaimed_blobs, [hash_of(&old)]);
    assert!(done.expired_uploads.is_empty() && done.purged_cache_entries.is_empty());
    assert!(find(state, "temp/old.bin").await.is_none());
    assert!(find(state, "temp/renders/shared.bin").await.is_none());
    assert!(!state.blobs.exists(&hash_of(&old)).await.unwrap());
    for (path, data) in [("kept.bin", &kept), ("temp/young.bin", &young)] {
        let file = find(state, path)
            .await
            .unwrap_or_else(|| panic!("{path} was swept"));
        assert!(
            state
                .blobs
                .read_all(file.blob.as_ref().unwrap())
                .await
                .unwrap()
                == *data
        );
    }
    // Nothing is left for a second sweep at the same time.
    let again = sweep(state, at, false, false).await.unwrap();
    assert!(again.expired_temp_files.is_empty() && again.reclaimed_blobs.is_empty());
}

#[tokio::test]
async fn lapsed_uploads_go_with_their_reservation_unless_bytes_are_still_arriving() {
    let node = node(|_| {}).await;
    let state = &node.state;
    let lapsed = pending(state, "", "lapsed.bin", 100, chrono::Duration::minutes(-10)).await;
    let open = pending(state, "", "open.bin", 200, chrono::Duration::minutes(10)).await;
    // Its URL lapsed, but a PUT that started in time is still streaming under a claim.
    let streaming = pending(
        state,
        "",
        "streaming.bin",
        400,
        chrono::Duration::minutes(-10),
    )
    .await;
    let now = Utc::now();
    state
        .catalog
        .claim_upload(&streaming.id, now, now + chrono::Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(
        state
            .catalog
            .tenant(&tenant())
            .await
            .unwrap()
            .unwrap()
            .pending_bytes,
        700
    );
    let report = sweep(state, Utc::now(), false, false).await.unwrap();
    assert_eq!(sorted_names(&report.expired_uploads), ["lapsed.bin"]);
    assert!(state
        .catalog
        .file_by_id(&lapsed.id)
        .await
        .unwrap()
        .is_none());
    for file in [&open, &streaming] {
        assert!(state.catalog.file_by_id(&file.id).await.unwrap().is_some());
    }
    assert_eq!(
        state
            .catalog
            .tenant(&tenant())
            .await
            .unwrap()
            .unwrap()
            .pending_bytes,
        600
    );
}

/// Stores `data` as a generated asset expiring `expires_in` from now; returns the entry's id.
async fn cached(
    state: &App,
    fingerprint: &str,
    data: &[u8],
    expires_in: chrono::Duration,
) -> CacheEntryId {
    let mut staged = state.blobs.stage().await.unwrap();
    staged
        .write(bytes::Bytes::copy_from_slice(data))
        .await
        .unwrap();
    let (hash, len) = staged.finish().await.unwrap();
    let lease = crate::blob_lease::BlobLease::take(state, &hash, len)
        .await
        .unwrap();
    staged.commit(&hash).await.unwrap();
    let now = Utc::now();
    let (entry, _) = state
        .catalog
        .store_cache_entry(&NewCacheEntry {
            tenant: tenant(),
            fingerprint: fingerprint.into(),
            asset_type: AssetType::Image,
            model: "local-image".into(),
            source: format!("{{\"prompt\":\"{fingerprint}\"}}"),
            blob: hash,
            content_type: "image/webp".into(),
            extension: "webp".into(),
            size: len,
            width: Some(8),
            height: Some(8),
            duration_ms: None,
            generated_at: now,
            expires_at: now + expires_in,
            default_quota: None,
        })
        .await
        .unwrap();
    lease.settled();
    entry.id
}

#[tokio::test]
async fn expired_cache_entries_lose_their_bytes_unless_the_drive_holds_them() {
    let node = node(|_| {}).await;
    let state = &node.state;
    state
        .catalog
        .ensure_tenant(&tenant(), 0, Utc::now())
        .await
        .unwrap();
    let (expired, promoted, live) = (bytes(10, 5000), bytes(11, 6000), bytes(12, 7000));
    let hour = chrono::Duration::hours(1);
    cached(state, "expired", &expired, hour).await;
    let promoted_id = cached(state, "promoted", &promoted, hour).await;
    cached(state, "live", &live, chrono::Duration::days(3)).await;
    let file = state
        .catalog
        .promote_cache_entry(&Promotion {
            entry_id: promoted_id,
            tenant: tenant(),
            folder: AssetType::Image.folder(),
            names: vec![FileName::sanitise("kept.webp").unwrap()],
            share: true,
            now: Utc::now(),
            default_quota: None,
        })
        .await
        .unwrap();
    let report = sweep(state, Utc::now() + hour * 2, false, false)
        .await
        .unwrap();
    let mut purged: Vec<_> = report
        .purged_cache_entries
        .iter()
        .map(|e| e.fingerprint.as_str())
        .collect();
    purged.sort();
    assert_eq!(purged, ["expired", "promoted"]);
    assert_eq!(report.reclaimed_blobs, [hash_of(&expired)]);
    assert!(!state.blobs.exists(&hash_of(&expired)).await.unwrap());
    assert!(
        state
            .blobs
            .read_all(file.blob.as_ref().unwrap())
            .await
            .unwrap()
            == promoted
    );
    assert!(state.blobs.read_all(&hash_of(&live)).await.unwrap() == live);
    // A purged entry keeps what it was made from, for a regeneration.
    let entry = state
        .catalog
        .cache_entry(&tenant(), "expired")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (entry.blob, entry.source.as_str()),
        (None, "{\"prompt\":\"expired\"}")
    );
    let live_entry = state
        .catalog
        .cache_entry(&tenant(), "live")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live_entry.blob, Some(hash_of(&live)));
}

#[tokio::test]
async fn old_staged_bytes_and_forgotten_resumable_uploads_are_swept() {
    let node = node(|_| {}).await;
    let state = &node.state;
    let root = node.dir.path().join("blobs");
    let staging = |name: &str, age: Duration| {
        let path = root.join("staging").join(name);
        std::fs::write(&path, b"left by an upload that died").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
        path
    };
    let dead = staging("dead.part", Duration::from_secs(25 * 3600));
    let recent = staging("recent.part", Duration::from_secs(3600));
    // One resumable upload still pending, one the catalog no longer knows.
    state
        .catalog
        .ensure_tenant(&tenant(), 0, Utc::now())
        .await
        .unwrap();
    let now = Utc::now();
    let live = state
        .catalog
        .reserve_resumable_upload(
            &mediadrive_core::NewUpload {
                tenant: tenant(),
                folder: FolderPath::root(),
                name: FileName::sanitise("tus.bin").unwrap(),
                content_type: "application/octet-stream".into(),
                size: 100,
                now,
                upload_expires_at: now + chrono::Duration::hours(24),
                default_quota: None,
            },
            "",
        )
        .await
        .unwrap();
    let forgotten = mediadrive_core::FileId::parse(&"e".repeat(32)).unwrap();
    for id in [&live.id, &forgotten] {
        let mut piece = state.blobs.append_partial(id, 0).await.unwrap();
        piece
            .write(bytes::Bytes::from(bytes(20, 50)))
            .await
            .unwrap();
        piece.close().await.unwrap();
    }
    sweep(state, Utc::now(), false, false).await.unwrap();
    assert!(!dead.exists());
    assert!(recent.exists());
    assert_eq!(state.blobs.partial_uploads().await.unwrap(), [live.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_runs_on_its_interval_and_stops_at_shutdown() {
    let node: Node = node(|config| {
        config.sweep_interval = Duration::from_millis(50);
        config.temp_max_age = Duration::from_secs(1);
    })
    .await;
    let state = &node.state;
    let (temp, kept) = (bytes(30, 4000), bytes(31, 4000));
    uploaded(state, "temp", "t.bin", &temp).await;
    uploaded(state, "", "k.bin", &kept).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(crate::worker::run(state.clone(), sweeper(state), shutdown));
    eventually(
        Duration::from_secs(10),
        "the temporary file and its bytes swept",
        || async {
            find(state, "temp/t.bin").await.is_none()
                && !state.blobs.exists(&hash_of(&temp)).await.unwrap()
        },
    )
    .await;
    assert!(find(state, "k.bin").await.is_some());
    assert!(state.blobs.exists(&hash_of(&kept)).await.unwrap());
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the sweeper did not stop")
        .unwrap();
}

/// Places bytes at their address as an ingest does, without recording them: `Some` lease keeps
/// them leased, as a live ingest would; `None` leaves them as a process that died after its lease
/// lapsed and was reclaimed.
async fn placed(state: &App, data: &[u8], leased: bool) -> (ContentHash, Option<BlobLease>) {
    let mut staged = state.blobs.stage().await.unwrap();
    staged
        .write(bytes::Bytes::copy_from_slice(data))
        .await
        .unwrap();
    let (hash, len) = staged.finish().await.unwrap();
    let lease = match leased {
        true => Some(BlobLease::take(state, &hash, len).await.unwrap()),
        false => None,
    };
    staged.commit(&hash).await.unwrap();
    (hash, lease)
}

/// Bytes no row accounts for are found only by a walk of the store: a sweep without one leaves
/// them, a dry run names them, a sweep with one takes them and nothing that a file holds or a
/// live lease protects.
#[tokio::test]
async fn a_store_scan_reclaims_bytes_no_row_accounts_for() {
    let node = node(|_| {}).await;
    let state = &node.state;
    let kept = bytes(40, 5000);
    uploaded(state, "", "kept.bin", &kept).await;
    let (stray, _) = placed(state, &bytes(41, 6000), false).await;
    let (leased, lease) = placed(state, &bytes(42, 7000), true).await;
    let exists = |hash: ContentHash| async move { state.blobs.exists(&hash).await.unwrap() };

    let unscanned = sweep(state, Utc::now(), false, false).await.unwrap();
    assert!(unscanned.stray_blobs.is_empty() && unscanned.reclaimed_blobs.is_empty());
    assert!(exists(stray.clone()).await);

    let only_stray = std::slice::from_ref(&stray);
    let dry = sweep(state, Utc::now(), true, true).await.unwrap();
    assert_eq!(dry.stray_blobs, only_stray);
    assert_eq!(dry.reclaimed_blobs, only_stray);
    assert!(exists(stray.clone()).await, "a dry run removed bytes");

    let done = sweep(state, Utc::now(), false, true).await.unwrap();
    assert_eq!(done.stray_blobs, only_stray);
    assert_eq!(done.reclaimed_blobs, only_stray);
    assert!(!exists(stray).await);
    assert!(exists(hash_of(&kept)).await);
    assert!(
        exists(leased.clone()).await,
        "a live lease's bytes were taken"
    );
    assert!(find(state, "kept.bin").await.is_some());

    let again = sweep(state, Utc::now(), false, true).await.unwrap();
    assert!(again.stray_blobs.is_empty() && again.reclaimed_blobs.is_empty());
    drop(lease);
}
