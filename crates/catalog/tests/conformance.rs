//! One behavioural suite for every catalog backend: each case takes a fresh, empty catalog.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mediadrive_catalog::{PostgresCatalog, SqliteCatalog};
use mediadrive_core::{
    AssetCursor, AssetQuery, AssetRemoval, AssetType, AttemptOutcome, BlobProbe, Catalog,
    CatalogError, Charge, ClientId, ContentHash, CreditMovement, CreditReason, EndpointUpdate,
    FileName, FileRecord, FolderMove, FolderPath, ItemOutcome, ItemRequest, ItemResult, ItemStatus,
    NewCacheEntry, NewEndpoint, NewEvent, NewGeneratedAsset, NewOutput, NewPreload, NewProject,
    NewProjectAsset, NewProjectScript, NewRender, NewUpload, OutputClaim, OutputKind,
    OutputOutcome, OutputStatus, ProbeStatus, Promotion, SweepRule, TenantUpdate, UploadClaim,
};

struct Fresh {
    catalog: Arc<dyn Catalog>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    Fresh {
        catalog: Arc::new(SqliteCatalog::open(&url).await.unwrap()),
        _dir: Some(dir),
    }
}

/// A new database on the cluster `scripts/test` starts.
async fn postgres() -> Fresh {
    use sqlx::{Connection, Executor};
    let admin = std::env::var("MEDIADRIVE_TEST_POSTGRES_URL")
        .expect("MEDIADRIVE_TEST_POSTGRES_URL is not set: run the tests with scripts/test");
    let name = format!("md_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let (server, _) = admin.rsplit_once('/').unwrap();
    let catalog = PostgresCatalog::open(&format!("{server}/{name}"))
        .await
        .unwrap();
    Fresh {
        catalog: Arc::new(catalog),
        _dir: None,
    }
}

fn tenant() -> ClientId {
    ClientId::parse("acme").unwrap()
}

fn hash(n: u8) -> ContentHash {
    ContentHash::from_bytes([n; 32])
}

fn upload(folder: &str, name: &str, size: u64, quota: Option<u64>) -> NewUpload {
    let now = Utc::now();
    NewUpload {
        tenant: tenant(),
        folder: FolderPath::sanitise_or_root(Some(folder)).unwrap(),
        name: FileName::sanitise(name).unwrap(),
        content_type: "application/octet-stream".into(),
        size,
        now,
        upload_expires_at: now + Duration::seconds(120),
        default_quota: quota,
    }
}

/// Uploads a file through the catalog's whole protocol: reserve, claim, lease, complete.
async fn stored(c: &dyn Catalog, folder: &str, name: &str, size: u64, blob: &ContentHash) {
    let file = c
        .reserve_upload(&upload(folder, name, size, None))
        .await
        .unwrap();
    let now = Utc::now();
    assert!(matches!(
        c.claim_upload(&file.id, now, now + Duration::hours(1))
            .await
            .unwrap(),
        UploadClaim::Claimed(_)
    ));
    c.lease_blob(blob, size, now + Duration::minutes(10))
        .await
        .unwrap();
    c.complete_upload(&file.id, blob, now, &|f| announce("file.uploaded", f))
        .await
        .unwrap();
}

/// The event a server would write with a change to `file`.
fn announce(kind: &str, file: &FileRecord) -> NewEvent {
    NewEvent {
        id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        tenant: file.tenant.clone(),
        event_type: kind.into(),
        payload: format!("{{\"path\":\"{}\"}}", file.path()),
        callback: None,
        now: Utc::now(),
    }
}

/// Marks set more than ten minutes before `now` are a dead reclaimer's.
fn stale(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::minutes(10)
}

async fn reclaim(
    c: &dyn Catalog,
    now: DateTime<Utc>,
    only: Option<&[ContentHash]>,
) -> Vec<ContentHash> {
    let marked = c.begin_blob_reclaim(now, only, stale(now)).await.unwrap();
    for h in &marked.hashes {
        c.finish_blob_reclaim(h, &marked.token).await.unwrap();
    }
    marked.hashes
}

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

async fn concurrent_reservations_never_exceed_the_quota(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.reserve_upload(&upload("", &format!("f{i}"), 100, Some(1000)))
                    .await
            })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => granted += 1,
            Err(CatalogError::StorageBlocked) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(granted, 10);
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (0, 1000));
    // Temporary files take no quota but a blocked tenant takes nothing at all.
    c.reserve_upload(&upload("temp", "t", 5000, Some(1000)))
        .await
        .unwrap();
    c.update_tenant(
        &tenant(),
        &TenantUpdate {
            storage_blocked: Some(true),
            ..Default::default()
        },
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(matches!(
        c.reserve_upload(&upload("temp", "u", 1, Some(1000))).await,
        Err(CatalogError::StorageBlocked)
    ));
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert!(t.storage_blocked && t.blocked_at.is_some());
}

async fn folder_moves_touch_exactly_the_subtree(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    stored(c, "a_b", "1.bin", 1, &hash(1)).await;
    stored(c, "a_b/c", "2.bin", 2, &hash(2)).await;
    // `_` is a LIKE wildcard: "aXb" must not be taken for "a_b".
    stored(c, "aXb", "3.bin", 4, &hash(3)).await;
    stored(c, "a_b-2", "4.bin", 8, &hash(4)).await;
    let to = FolderPath::sanitise("temp/old").unwrap();
    c.move_folder(&FolderMove {
        tenant: tenant(),
        from: FolderPath::sanitise("a_b").unwrap(),
        to: to.clone(),
        now: Utc::now(),
        default_quota: None,
    })
    .await
    .unwrap();
    let paths: Vec<String> = c
        .folder_tree(&tenant())
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path.to_string())
        .collect();
    assert_eq!(
        paths,
        ["", "aXb", "a_b-2", "temp", "temp/old", "temp/old/c"]
    );
    let moved = c
        .file(
            &tenant(),
            &FolderPath::sanitise("temp/old/c").unwrap(),
            &FileName::sanitise("2.bin").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(moved.temporary && moved.temporary_since.is_some());
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 12);
    assert!(matches!(
        c.move_folder(&FolderMove {
            tenant: tenant(),
            from: to.clone(),
            to: FolderPath::sanitise("temp/old/c/d").unwrap(),
            now: Utc::now(),
            default_quota: None,
        })
        .await,
        Err(CatalogError::MoveIntoSelf)
    ));
}

async fn sweeps_remove_lapsed_uploads_and_old_temp_files(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    stored(c, "temp", "old.bin", 3, &hash(1)).await;
    stored(c, "", "kept.bin", 7, &hash(2)).await;
    c.reserve_upload(&upload("", "lapsed.bin", 11, None))
        .await
        .unwrap();
    let now = Utc::now() + Duration::minutes(5);
    let rule = |dry_run| SweepRule {
        now,
        uploads_lapsed_before: now,
        temp_cutoff: now,
        cache_cutoff: now,
        preloads_before: now,
        dry_run,
    };
    let dry = c
        .sweep_files(&rule(true), &|f| announce("file.deleted", f))
        .await
        .unwrap();
    assert_eq!(
        (dry.expired_uploads.len(), dry.expired_temp_files.len()),
        (1, 1)
    );
    assert_eq!(
        c.tenant(&tenant()).await.unwrap().unwrap().pending_bytes,
        11,
        "a dry run changes nothing"
    );
    let done = c
        .sweep_files(&rule(false), &|f| announce("file.deleted", f))
        .await
        .unwrap();
    assert_eq!(done.expired_uploads[0].name.as_str(), "lapsed.bin");
    assert_eq!(done.expired_temp_files[0].name.as_str(), "old.bin");
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (7, 0));
    assert_eq!(reclaim(c, now, None).await, [hash(1)]);
}

macro_rules! conformance {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let fresh = super::$backend().await;
                    super::$case(fresh.catalog.clone()).await;
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($backend:ident),*) => {
        $(conformance!($backend:
            blob_reclaim_respects_leases_and_references,
            concurrent_reservations_never_exceed_the_quota,
            folder_moves_touch_exactly_the_subtree,
            sweeps_remove_lapsed_uploads_and_old_temp_files,
            claims_are_released_only_by_their_holder,
            cancelling_takes_only_a_pending_upload_and_its_reservation,
            probes_are_claimed_once_and_given_up_after_repeated_crashes,
            idempotency_keys_answer_within_their_window,
            items_of_one_source_are_made_one_at_a_time,
            credits_never_go_negative_and_an_item_is_charged_once,
            promotion_counts_the_quota_and_purges_keep_the_source,
            webhook_deliveries_fan_out_retry_and_disable_their_endpoint,
            changes_announce_themselves_in_their_own_transaction,
            render_outputs_move_on_only_under_their_claim,
            project_assets_page_attach_once_and_leave_with_their_file,
            generated_assets_take_their_file_as_their_item_ends_and_share_it,
        );)*
    };
}

every_backend!(sqlite, postgres);

/// Runs the cases of the module it is used in on both engines.
macro_rules! every_backend_of_module {
    ($($case:ident),* $(,)?) => {
        every_backend_of_module!(@engine sqlite: $($case),*);
        every_backend_of_module!(@engine postgres: $($case),*);
    };
    (@engine $backend:ident: $($case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let fresh = crate::$backend().await;
                    super::$case(fresh.catalog.clone()).await;
                }
            )*
        }
    };
}

// Cases of the methods the cases above do not call.
#[path = "conformance/access.rs"]
mod access;
#[path = "conformance/drive.rs"]
mod drive;
#[path = "conformance/uploads.rs"]
mod uploads;

async fn claims_are_released_only_by_their_holder(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let file = c
        .reserve_upload(&upload("", "c.bin", 1, None))
        .await
        .unwrap();
    let now = Utc::now();
    let (first, second) = (now + Duration::minutes(1), now + Duration::minutes(20));
    assert!(matches!(
        c.claim_upload(&file.id, now, first).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    assert_eq!(
        c.claim_upload(&file.id, now, first).await.unwrap(),
        UploadClaim::InProgress
    );
    // The first holder's claim lapsed and another took over: the first may no longer free it.
    let later = now + Duration::minutes(2);
    assert!(matches!(
        c.claim_upload(&file.id, later, second).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    c.release_upload_claim(&file.id, first).await.unwrap();
    assert_eq!(
        c.claim_upload(&file.id, later, second).await.unwrap(),
        UploadClaim::InProgress
    );
    c.release_upload_claim(&file.id, second).await.unwrap();
    assert!(matches!(
        c.claim_upload(&file.id, later, second).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
}

async fn cancelling_takes_only_a_pending_upload_and_its_reservation(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let pending = c
        .reserve_resumable_upload(&upload("", "big.bin", 40, None), "")
        .await
        .unwrap();
    stored(c.as_ref(), "", "done.bin", 2, &hash(3)).await;
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (2, 40));

    let cancelled = c.cancel_pending_upload(&pending.id).await.unwrap().unwrap();
    assert_eq!(cancelled.id, pending.id);
    assert!(c.resumable_upload(&pending.id).await.unwrap().is_none());
    assert!(c
        .cancel_pending_upload(&pending.id)
        .await
        .unwrap()
        .is_none());
    // A completed upload is the drive's to delete, whatever id it is asked by.
    let root = FolderPath::sanitise_or_root(None).unwrap();
    let done_name = FileName::sanitise("done.bin").unwrap();
    let done = c.file(&tenant(), &root, &done_name).await.unwrap().unwrap();
    assert!(c.cancel_pending_upload(&done.id).await.unwrap().is_none());
    assert!(c
        .file(&tenant(), &root, &done_name)
        .await
        .unwrap()
        .is_some());
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (2, 0));
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

fn item(fingerprint: &str) -> ItemRequest {
    ItemRequest {
        item_id: Some("hero".into()),
        asset_type: AssetType::Image,
        model: "local-image".into(),
        source: format!("{{\"fp\":\"{fingerprint}\"}}"),
        fingerprint: fingerprint.into(),
        save_to_media: false,
    }
}

fn preload(items: Vec<ItemRequest>, key: Option<&str>, now: DateTime<Utc>) -> NewPreload {
    NewPreload {
        tenant: tenant(),
        items,
        callback: None,
        idempotency_key: key.map(str::to_string),
        idempotency_since: now - Duration::hours(24),
        now,
    }
}

async fn idempotency_keys_answer_within_their_window(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let (first, created) = c
        .create_preload(&preload(vec![item("a")], Some("k"), now))
        .await
        .unwrap();
    assert!(created);
    let (again, created) = c
        .create_preload(&preload(
            vec![item("b")],
            Some("k"),
            now + Duration::hours(23),
        ))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, first);
    // A day later the key is free again and names a new preload.
    let (later, created) = c
        .create_preload(&preload(
            vec![item("b")],
            Some("k"),
            now + Duration::hours(25),
        ))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(later.id, first.id);
    assert_eq!(later.items[0].request, item("b"));
    assert_eq!(
        c.preload(&tenant(), &first.id).await.unwrap().unwrap(),
        first
    );
    let stranger = ClientId::parse("other").unwrap();
    assert!(c.preload(&stranger, &first.id).await.unwrap().is_none());
}

async fn items_of_one_source_are_made_one_at_a_time(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let (p, _) = c
        .create_preload(&preload(vec![item("a"), item("a"), item("b")], None, now))
        .await
        .unwrap();
    let until = now + Duration::minutes(5);
    let claimed = c.claim_preload_items(now, until, 10).await.unwrap();
    let positions: Vec<u32> = claimed.iter().map(|i| i.position).collect();
    assert_eq!(positions, [0, 2], "the second item of source a must wait");
    assert!(c
        .claim_preload_items(now, until, 10)
        .await
        .unwrap()
        .is_empty());
    let done = ItemOutcome::Ready(ItemResult {
        url_path: "/acme/files/x.webp".into(),
        persistent: true,
        ..ItemResult::default()
    });
    // Only the claim's holder may finish it.
    assert_eq!(
        c.finish_preload_item(&p.id, 0, now, &done, &|_, _, _| Vec::new())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        c.finish_preload_item(&p.id, 0, until, &done, &|_, _, _| Vec::new())
            .await
            .unwrap(),
        Some(false),
        "two items are still open"
    );
    let next = c.claim_preload_items(now, until, 10).await.unwrap();
    assert_eq!(next.iter().map(|i| i.position).collect::<Vec<_>>(), [1]);
    // A node that died loses its claim once it lapses.
    let lapsed = until + Duration::seconds(1);
    let retaken = c
        .claim_preload_items(lapsed, lapsed + Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(
        retaken.iter().map(|i| i.position).collect::<Vec<_>>(),
        [1, 2]
    );
    let stored = c.preload(&tenant(), &p.id).await.unwrap().unwrap();
    assert_eq!(stored.items[0].status, ItemStatus::Ready);
    assert_eq!(
        stored.items[0].result.as_ref().unwrap().url_path,
        "/acme/files/x.webp"
    );

    // Old preloads are forgotten once every item ended, not before.
    let rule = |dry_run| SweepRule {
        now,
        uploads_lapsed_before: now,
        temp_cutoff: now - Duration::days(1),
        cache_cutoff: now,
        preloads_before: now + Duration::days(31),
        dry_run,
    };
    assert_eq!(
        c.sweep_files(&rule(false), &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .expired_preloads,
        0
    );
    let failed = ItemOutcome::Failed("no".into());
    for position in [1, 2] {
        let claim = lapsed + Duration::minutes(5);
        // The last item to end says so.
        assert_eq!(
            c.finish_preload_item(&p.id, position, claim, &failed, &|_, _, _| Vec::new())
                .await
                .unwrap(),
            Some(position == 2)
        );
    }
    assert_eq!(
        c.sweep_files(&rule(true), &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .expired_preloads,
        1
    );
    assert_eq!(
        c.sweep_files(&rule(false), &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .expired_preloads,
        1
    );
    assert!(c.preload(&tenant(), &p.id).await.unwrap().is_none());
}

async fn credits_never_go_negative_and_an_item_is_charged_once(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 10, now).await.unwrap();
    let charge = |amount: i64, item: Option<(String, u32)>| CreditMovement {
        tenant: tenant(),
        amount,
        reason: CreditReason::Generation,
        model: Some("flux".into()),
        item,
        now,
    };
    let attempts = (0..8).map(|i| {
        let c = c.clone();
        let m = charge(-3, Some(("p".into(), i)));
        async move { c.move_credits(&m).await.unwrap() }
    });
    let results = futures_util::future::join_all(attempts).await;
    let done = results
        .iter()
        .filter(|r| matches!(r, Charge::Done(_)))
        .count();
    assert_eq!(done, 3);
    assert!(results.contains(&Charge::Insufficient { balance: 1 }));
    // join_all keeps the order: the position of one charge that went through.
    let charged = results
        .iter()
        .position(|r| matches!(r, Charge::Done(_)))
        .unwrap() as u32;
    assert_eq!(
        c.move_credits(&charge(-3, Some(("p".into(), charged))))
            .await
            .unwrap(),
        Charge::AlreadyRecorded
    );
    let tenant_now = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!(tenant_now.credits, 1);
    c.update_tenant(
        &tenant(),
        &TenantUpdate {
            credits: Some(5),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let ledger = c.credit_ledger(&tenant(), 10).await.unwrap();
    let amounts: Vec<(CreditReason, i64, i64)> = ledger
        .iter()
        .map(|e| (e.reason, e.amount, e.balance))
        .collect();
    assert_eq!(
        amounts,
        [
            (CreditReason::Adjustment, 4, 5),
            (CreditReason::Generation, -3, 1),
            (CreditReason::Generation, -3, 4),
            (CreditReason::Generation, -3, 7),
            (CreditReason::Initial, 10, 10),
        ]
    );
}

fn entry(fingerprint: &str, blob: &ContentHash, size: u64, now: DateTime<Utc>) -> NewCacheEntry {
    NewCacheEntry {
        tenant: tenant(),
        fingerprint: fingerprint.into(),
        asset_type: AssetType::Image,
        model: "local-image".into(),
        source: "{}".into(),
        blob: blob.clone(),
        content_type: "image/webp".into(),
        extension: "webp".into(),
        size,
        width: Some(8),
        height: Some(8),
        duration_ms: None,
        generated_at: now,
        expires_at: now + Duration::days(3),
    }
}

async fn promotion_counts_the_quota_and_purges_keep_the_source(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    c.lease_blob(&hash(1), 100, now + Duration::minutes(10))
        .await
        .unwrap();
    let (cached, replaced) = c
        .store_cache_entry(&entry("f", &hash(1), 100, now))
        .await
        .unwrap();
    assert!(replaced.is_none());
    let promotion = |quota: u64| Promotion {
        entry_id: cached.id.clone(),
        tenant: tenant(),
        folder: AssetType::Image.folder(),
        names: vec![FileName::sanitise("hero.webp").unwrap()],
        now,
        default_quota: Some(quota),
        share: true,
    };
    assert!(matches!(
        c.promote_cache_entry(&promotion(99)).await,
        Err(CatalogError::StorageBlocked)
    ));
    let file = c.promote_cache_entry(&promotion(100)).await.unwrap();
    assert_eq!(file.path(), "generated/image/hero.webp");
    assert_eq!(file.blob, Some(hash(1)));
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 100);
    // Promoting again answers with the same file and counts nothing twice.
    assert_eq!(c.promote_cache_entry(&promotion(100)).await.unwrap(), file);
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 100);

    // The purge drops the entry's reference; the drive's keeps the blob.
    let rule = |dry_run| SweepRule {
        now,
        uploads_lapsed_before: now,
        temp_cutoff: now - Duration::days(1),
        cache_cutoff: now + Duration::days(4),
        preloads_before: now,
        dry_run,
    };
    assert_eq!(
        c.sweep_files(&rule(true), &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .purged_cache_entries
            .len(),
        1
    );
    let purged = c
        .sweep_files(&rule(false), &|f| announce("file.deleted", f))
        .await
        .unwrap()
        .purged_cache_entries;
    assert_eq!(purged[0].blob, Some(hash(1)));
    let after = c.cache_entry(&tenant(), "f").await.unwrap().unwrap();
    assert_eq!((after.blob, after.source.as_str()), (None, "{}"));
    assert_eq!(
        after.persisted.as_ref().map(|f| f.id.clone()),
        Some(file.id.clone())
    );
    assert!(reclaim(c.as_ref(), now, Some(&[hash(1)])).await.is_empty());

    // Deleting the file clears the backreference, and the blob may go.
    c.delete_files(
        &tenant(),
        &[(file.folder.clone(), file.name.clone())],
        &|f| announce("file.deleted", f),
    )
    .await
    .unwrap();
    assert!(c
        .cache_entry(&tenant(), "f")
        .await
        .unwrap()
        .unwrap()
        .persisted
        .is_none());
    assert_eq!(reclaim(c.as_ref(), now, Some(&[hash(1)])).await, [hash(1)]);

    // A regeneration stores new bytes under the same entry.
    c.lease_blob(&hash(2), 50, now + Duration::minutes(10))
        .await
        .unwrap();
    let (regenerated, replaced) = c
        .store_cache_entry(&entry("f", &hash(2), 50, now))
        .await
        .unwrap();
    assert_eq!(
        (regenerated.id, regenerated.blob, replaced),
        (cached.id, Some(hash(2)), None)
    );
}

async fn webhook_deliveries_fan_out_retry_and_disable_their_endpoint(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let endpoint = |url: &str, types: &[&str]| NewEndpoint {
        tenant: tenant(),
        url: url.into(),
        secret: "whsec_a2V5".into(),
        event_types: types.iter().map(|t| t.to_string()).collect(),
        description: String::new(),
        now,
    };
    let all = c
        .create_webhook_endpoint(&endpoint("http://a/", &[]))
        .await
        .unwrap();
    let uploads = c
        .create_webhook_endpoint(&endpoint("http://b/", &["file.uploaded"]))
        .await
        .unwrap();
    let event = |id: &str, kind: &str, callback: Option<&str>| NewEvent {
        id: id.into(),
        tenant: tenant(),
        event_type: kind.into(),
        payload: format!("{{\"id\":\"{id}\"}}"),
        callback: callback.map(str::to_string),
        now,
    };
    assert_eq!(
        c.enqueue_event(&event("msg_1", "file.uploaded", None))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        c.enqueue_event(&event("msg_2", "file.deleted", None))
            .await
            .unwrap(),
        1
    );
    // A callback is a target of its own, signed with the tenant's callback secret.
    let secret = c
        .callback_secret(&tenant(), &|| "whsec_Y2I=".into())
        .await
        .unwrap();
    assert_eq!(
        c.callback_secret(&tenant(), &|| "whsec_other".into())
            .await
            .unwrap(),
        secret
    );
    assert_eq!(
        c.enqueue_event(&event("msg_3", "preload.completed", Some("http://cb/")))
            .await
            .unwrap(),
        2
    );

    let until = now + Duration::seconds(30);
    let due = c.claim_deliveries(now, until, 10).await.unwrap();
    assert_eq!(due.len(), 5);
    assert!(
        c.claim_deliveries(now, until, 10).await.unwrap().is_empty(),
        "claimed once"
    );
    let callback = due.iter().find(|d| d.url == "http://cb/").unwrap();
    assert_eq!(
        (callback.secret.as_str(), callback.endpoint_id.as_ref()),
        (secret.as_str(), None)
    );

    // Two failures in a row on endpoint b disable it (limit 2); its delivery then waits.
    let to_b = due.iter().find(|d| d.url == "http://b/").unwrap();
    let failed = |at, retry_at| AttemptOutcome {
        at,
        status_code: Some(500),
        error: Some("the receiver answered 500".into()),
        duration_ms: 3,
        delivered: false,
        retry_at: Some(retry_at),
        disable_after: 2,
    };
    assert!(c
        .record_attempt(&to_b.id, until, &failed(now, now))
        .await
        .unwrap());
    assert!(
        !c.record_attempt(&to_b.id, until, &failed(now, now))
            .await
            .unwrap(),
        "claim spent"
    );
    let again = c.claim_deliveries(now, until, 10).await.unwrap();
    assert_eq!(
        again.iter().map(|d| d.url.as_str()).collect::<Vec<_>>(),
        ["http://b/"]
    );
    assert!(c
        .record_attempt(&to_b.id, until, &failed(now, now))
        .await
        .unwrap());
    let b = c
        .webhook_endpoint(&tenant(), &uploads.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b.enabled, b.failure_streak), (false, 2));
    assert!(c.claim_deliveries(now, until, 10).await.unwrap().is_empty());
    let log = c
        .webhook_deliveries(&tenant(), Some(&uploads.id), 10)
        .await
        .unwrap();
    assert_eq!((log[0].status.as_str(), log[0].log.len()), ("pending", 2));

    // Enabling resumes it with a fresh count; a success is final.
    let enable = EndpointUpdate {
        enabled: Some(true),
        ..Default::default()
    };
    let b = c
        .update_webhook_endpoint(&tenant(), &uploads.id, &enable, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b.enabled, b.failure_streak), (true, 0));
    let resumed = c.claim_deliveries(now, until, 10).await.unwrap();
    assert_eq!(resumed.len(), 1);
    let ok = AttemptOutcome {
        at: now,
        status_code: Some(204),
        error: None,
        duration_ms: 1,
        delivered: true,
        retry_at: None,
        disable_after: 2,
    };
    assert!(c.record_attempt(&resumed[0].id, until, &ok).await.unwrap());
    let log = c
        .webhook_deliveries(&tenant(), Some(&uploads.id), 10)
        .await
        .unwrap();
    assert_eq!((log[0].status.as_str(), log[0].attempts), ("delivered", 3));

    // Redelivery sends it once more; deleting an endpoint gives up what still waits for it.
    assert!(c.redeliver(&tenant(), &log[0].id, now).await.unwrap());
    assert!(c
        .delete_webhook_endpoint(&tenant(), &uploads.id, now)
        .await
        .unwrap());
    let left: Vec<String> = c
        .claim_deliveries(now + Duration::minutes(1), until + Duration::minutes(1), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.url)
        .collect();
    assert!(!left.contains(&"http://b/".to_string()), "{left:?}");
    assert!(
        !c.redeliver(&tenant(), &log[0].id, now).await.unwrap(),
        "a deleted endpoint's delivery is not sent anywhere"
    );
    assert!(c
        .webhook_endpoint(&tenant(), &all.id)
        .await
        .unwrap()
        .is_some());
}

async fn changes_announce_themselves_in_their_own_transaction(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    c.create_webhook_endpoint(&NewEndpoint {
        tenant: tenant(),
        url: "http://a/".into(),
        secret: "whsec_a2V5".into(),
        event_types: Vec::new(),
        description: String::new(),
        now: Utc::now(),
    })
    .await
    .unwrap();
    let waiting = || async {
        let now = Utc::now() + Duration::seconds(1);
        let due = c
            .claim_deliveries(now, now + Duration::minutes(1), 10)
            .await
            .unwrap();
        let mut payloads: Vec<String> = due.into_iter().map(|d| d.payload).collect();
        payloads.sort();
        payloads
    };
    // The upload, the delete and the temp file's expiry each wrote their event with the change.
    stored(c.as_ref(), "", "x.bin", 5, &hash(9)).await;
    assert_eq!(waiting().await, ["{\"path\":\"x.bin\"}"]);
    let name = (FolderPath::root(), FileName::sanitise("x.bin").unwrap());
    c.delete_files(&tenant(), &[name], &|f| announce("file.deleted", f))
        .await
        .unwrap();
    stored(c.as_ref(), "temp", "t.bin", 5, &hash(10)).await;
    let now = Utc::now() + Duration::days(2);
    let rule = SweepRule {
        now,
        uploads_lapsed_before: now,
        temp_cutoff: now,
        cache_cutoff: now,
        preloads_before: now,
        dry_run: false,
    };
    c.sweep_files(&rule, &|f| announce("file.deleted", f))
        .await
        .unwrap();
    assert_eq!(
        waiting().await,
        [
            "{\"path\":\"temp/t.bin\"}",
            "{\"path\":\"temp/t.bin\"}",
            "{\"path\":\"x.bin\"}"
        ],
        "the temp file's upload and expiry, and x.bin's delete"
    );
}

async fn render_outputs_move_on_only_under_their_claim(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    // As the API does when a request names a callback.
    c.callback_secret(&tenant(), &|| "whsec_dGVzdA==".into())
        .await
        .unwrap();
    let output = |kind, src: Option<&str>| NewOutput {
        kind,
        src: src.map(str::to_string),
        stem: None,
    };
    let render = c
        .create_render(&NewRender {
            tenant: tenant(),
            host: true,
            callback: Some("https://example.com/cb".into()),
            outputs: vec![
                output(OutputKind::Video, Some("https://example.com/a.mp4")),
                output(OutputKind::Poster, None),
            ],
            now,
        })
        .await
        .unwrap();
    let [video, poster] = [&render.outputs[0], &render.outputs[1]];
    assert_eq!(
        (video.status, poster.status),
        (OutputStatus::Fetching, OutputStatus::Waiting)
    );
    let other = ClientId::parse("globex").unwrap();
    assert!(c.render(&other, &render.id).await.unwrap().is_none());
    assert!(c.render_output(&other, &video.id).await.unwrap().is_none());

    // Only the download is background work; the poster waits for its upload, claimed once.
    let until = now + Duration::minutes(5);
    let claimed = c.claim_render_work(now, until, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|o| &o.id).collect::<Vec<_>>(),
        [&video.id]
    );
    assert!(c
        .claim_render_work(now, until, 10)
        .await
        .unwrap()
        .is_empty());
    let acme = tenant();
    let up =
        |at| c.claim_output_upload(&acme, &render.id, &poster.id, at, at + Duration::minutes(5));
    assert!(matches!(up(now).await.unwrap(), OutputClaim::Claimed(_)));
    assert_eq!(up(now).await.unwrap(), OutputClaim::InProgress);
    assert_eq!(
        c.claim_output_upload(&tenant(), &render.id, &video.id, now, until)
            .await
            .unwrap(),
        OutputClaim::NotWaiting
    );

    // A claim that lapsed is taken over; the old holder can no longer record anything.
    let later = until + Duration::seconds(1);
    let until2 = later + Duration::minutes(5);
    assert_eq!(
        c.claim_render_work(later, until2, 10).await.unwrap().len(),
        1
    );
    c.lease_blob(&hash(1), 100, now + Duration::minutes(10))
        .await
        .unwrap();
    let (cached, _) = c
        .store_cache_entry(&entry(&format!("render:{}", video.id), &hash(1), 100, now))
        .await
        .unwrap();
    let stored = OutputOutcome::Stored(cached.id.clone());
    let silent = |_: &mediadrive_core::RenderOutput| Vec::new();
    assert!(c
        .finish_render_output(&video.id, until, &stored, &silent)
        .await
        .unwrap()
        .is_none());
    let after = c
        .finish_render_output(&video.id, until2, &stored, &silent)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, OutputStatus::Importing);
    assert_eq!(after.cache_entry.as_deref(), Some(cached.id.as_str()));

    // Hosting: claimed again, the promoted file recorded with its announcement.
    let claimed = c.claim_render_work(later, until2, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let file = c
        .promote_cache_entry(&Promotion {
            entry_id: cached.id.clone(),
            tenant: tenant(),
            folder: FolderPath::from_stored("renders").unwrap(),
            names: vec![FileName::sanitise("r.webp").unwrap()],
            now,
            default_quota: None,
            share: false,
        })
        .await
        .unwrap();
    let hosted_event = |o: &mediadrive_core::RenderOutput| {
        vec![NewEvent {
            id: format!("msg_{}", o.id),
            tenant: tenant(),
            event_type: "asset.hosted".into(),
            payload: format!("{{\"status\":\"{}\"}}", o.status.as_str()),
            callback: o.callback.clone(),
            now,
        }]
    };
    let hosted = c
        .finish_render_output(
            &video.id,
            until2,
            &OutputOutcome::Hosted(file.id.clone()),
            &hosted_event,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hosted.status, OutputStatus::Ready);
    assert_eq!(hosted.hosted_file.as_ref(), Some(&file.id));
    let due = c
        .claim_deliveries(now, now + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "the callback's delivery");
    assert_eq!(due[0].payload, "{\"status\":\"ready\"}");

    // Deleting the hosted file from the drive makes the output read as deleted.
    let name = (file.folder.clone(), file.name.clone());
    c.delete_files(&tenant(), &[name], &|f| announce("file.deleted", f))
        .await
        .unwrap();
    let gone = c
        .render_output(&tenant(), &video.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (gone.status, gone.hosted_file),
        (OutputStatus::Deleted, None)
    );

    // A deleted output takes no upload and no claim of its own any more.
    let deleted = c
        .delete_render_output(&tenant(), &poster.id, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.status, OutputStatus::Waiting);
    assert_eq!(
        up(later + Duration::hours(1)).await.unwrap(),
        OutputClaim::Missing
    );
    assert!(c
        .claim_render_work(later, until2, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn project_assets_page_attach_once_and_leave_with_their_file(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    let project = c
        .create_project(&NewProject {
            tenant: tenant(),
            name: "p".into(),
            description: None,
            data: Some("{\"seed\":42}".into()),
            folder: FolderPath::from_stored("projects/p-1").unwrap(),
            now,
        })
        .await
        .unwrap();
    assert!(c.project(&other, &project.id).await.unwrap().is_none());
    let new_asset = |i: i64, project_id: &str, waits: Duration| NewProjectAsset {
        tenant: tenant(),
        project_id: project_id.to_string(),
        keyname: format!("key-{project_id}-{i}"),
        name: format!("a{i}"),
        asset_type: "user".into(),
        description: None,
        create_parameters: None,
        now: now + Duration::milliseconds(i),
        upload_expires_at: now + waits,
    };
    // Not into another tenant's project, nor a missing one.
    assert!(matches!(
        c.create_project_asset(&new_asset(0, "missing", Duration::hours(1)))
            .await,
        Err(CatalogError::NotFound)
    ));
    let mut ids = Vec::new();
    for i in 0..5 {
        let asset = c
            .create_project_asset(&new_asset(i, &project.id, Duration::hours(1)))
            .await
            .unwrap();
        ids.push(asset.id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut after: Option<AssetCursor> = None;
    loop {
        let page = c
            .project_assets(&AssetQuery {
                tenant: tenant(),
                project_id: project.id.clone(),
                limit: 2,
                after: after.clone(),
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(AssetCursor {
            created_ms: last.created_at.timestamp_millis(),
            id: last.id.clone(),
        });
        seen.extend(page.iter().map(|a| a.id.clone()));
    }
    assert_eq!(seen, ids, "newest first, each once");
    // A file attaches once; deleting it takes the asset along.
    let file = c
        .reserve_upload(&upload("projects/p-1", "a.bin", 10, None))
        .await
        .unwrap();
    assert!(c
        .attach_asset_file(&tenant(), &ids[0], &file.id)
        .await
        .unwrap());
    assert!(!c
        .attach_asset_file(&tenant(), &ids[0], &file.id)
        .await
        .unwrap());
    assert!(!c
        .attach_asset_file(&other, &ids[1], &file.id)
        .await
        .unwrap());
    let attached = c.project_asset(&tenant(), &ids[0]).await.unwrap().unwrap();
    assert_eq!(attached.file.map(|f| f.id), Some(file.id.clone()));
    let by_key = c
        .project_asset_by_key(&attached.keyname)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key.id, ids[0]);
    let target = [(file.folder.clone(), file.name.clone())];
    c.delete_files(&tenant(), &target, &|f| announce("file.deleted", f))
        .await
        .unwrap();
    assert!(c.project_asset(&tenant(), &ids[0]).await.unwrap().is_none());
    assert_eq!(
        c.project(&tenant(), &project.id)
            .await
            .unwrap()
            .unwrap()
            .asset_count,
        4
    );
    // Assets whose upload never came are swept; the project then goes with the rest.
    c.create_project_asset(&new_asset(9, &project.id, Duration::seconds(-1)))
        .await
        .unwrap();
    let rule = SweepRule {
        now,
        uploads_lapsed_before: now - Duration::hours(1),
        temp_cutoff: now - Duration::hours(1),
        cache_cutoff: now - Duration::hours(1),
        preloads_before: now - Duration::hours(1),
        dry_run: false,
    };
    assert_eq!(
        c.sweep_files(&rule, &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .expired_project_assets,
        1
    );
    assert!(!c.delete_project(&other, &project.id).await.unwrap());
    assert!(c.delete_project(&tenant(), &project.id).await.unwrap());
    assert!(c.project_asset(&tenant(), &ids[1]).await.unwrap().is_none());
    assert!(c.projects(&tenant()).await.unwrap().is_empty());
}

async fn generated_assets_take_their_file_as_their_item_ends_and_share_it(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    let project = c
        .create_project(&NewProject {
            tenant: tenant(),
            name: "p".into(),
            description: None,
            data: None,
            folder: FolderPath::from_stored("projects/p-1").unwrap(),
            now,
        })
        .await
        .unwrap();
    let new_script = |tenant: ClientId| NewProjectScript {
        tenant,
        project_id: project.id.clone(),
        name: "card".into(),
        template: r#"{"type":"image","prompt":"{{subject}}"}"#.into(),
        inputs: r#"[{"name":"subject","type":"string"}]"#.into(),
        now,
    };
    assert!(matches!(
        c.create_project_script(&new_script(other.clone())).await,
        Err(CatalogError::NotFound)
    ));
    let script = c
        .create_project_script(&new_script(tenant()))
        .await
        .unwrap();
    assert_eq!(
        c.project_scripts(&tenant(), &project.id).await.unwrap(),
        std::slice::from_ref(&script)
    );
    assert!(c
        .project_script(&other, &project.id, &script.id)
        .await
        .unwrap()
        .is_none());

    // Two runs of one request: two assets, one preload item each, one cache entry between them.
    let generated = |i: i64| NewGeneratedAsset {
        asset: NewProjectAsset {
            tenant: tenant(),
            project_id: project.id.clone(),
            keyname: format!("generated-{i}"),
            name: "card".into(),
            asset_type: "image".into(),
            description: None,
            create_parameters: Some(r#"{"subject":"fox"}"#.into()),
            now: now + Duration::milliseconds(i),
            upload_expires_at: now - Duration::hours(1),
        },
        script_id: script.id.clone(),
        preload: preload(
            vec![ItemRequest {
                save_to_media: true,
                ..item("fox")
            }],
            None,
            now + Duration::milliseconds(i),
        ),
    };
    let (first_preload, first) = c.create_generated_asset(&generated(0)).await.unwrap();
    let (second_preload, second) = c.create_generated_asset(&generated(1)).await.unwrap();
    let waiting = first.generation.clone().unwrap();
    assert_eq!(waiting.script_id, script.id);
    assert_eq!(waiting.item_status, Some(ItemStatus::Queued));
    assert_eq!(
        first.create_parameters.as_deref(),
        Some(r#"{"subject":"fox"}"#)
    );
    assert!(matches!(
        c.create_generated_asset(&NewGeneratedAsset {
            asset: NewProjectAsset {
                project_id: "missing".into(),
                ..generated(2).asset
            },
            ..generated(2)
        })
        .await,
        Err(CatalogError::NotFound)
    ));
    // An upload never lands in a generated asset, and the sweeper leaves one being made alone.
    let stray = c
        .reserve_upload(&upload("projects/p-1", "stray.bin", 10, None))
        .await
        .unwrap();
    assert!(!c
        .attach_asset_file(&tenant(), &first.id, &stray.id)
        .await
        .unwrap());
    let rule = SweepRule {
        now,
        uploads_lapsed_before: now - Duration::hours(1),
        temp_cutoff: now - Duration::hours(1),
        cache_cutoff: now - Duration::hours(1),
        preloads_before: now - Duration::hours(1),
        dry_run: false,
    };
    let announce_deleted = |f: &FileRecord| announce("file.deleted", f);
    c.sweep_files(&rule, &announce_deleted).await.unwrap();
    assert!(c
        .project_asset(&tenant(), &first.id)
        .await
        .unwrap()
        .is_some());

    // The first item is made and persisted; ending it hands the file to its asset.
    let until = now + Duration::minutes(5);
    let claimed = c.claim_preload_items(now, until, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "equal sources are made once at a time");
    assert_eq!(
        c.project_asset(&tenant(), &first.id)
            .await
            .unwrap()
            .unwrap()
            .generation
            .unwrap()
            .item_status,
        Some(ItemStatus::Processing)
    );
    c.lease_blob(&hash(3), 100, now + Duration::minutes(10))
        .await
        .unwrap();
    let (cached, _) = c
        .store_cache_entry(&entry("fox", &hash(3), 100, now))
        .await
        .unwrap();
    let file = c
        .promote_cache_entry(&Promotion {
            entry_id: cached.id.clone(),
            tenant: tenant(),
            folder: AssetType::Image.folder(),
            names: vec![FileName::sanitise("card.webp").unwrap()],
            now,
            default_quota: None,
            share: true,
        })
        .await
        .unwrap();
    let ready = ItemOutcome::Ready(ItemResult {
        url_path: format!("/acme/files/{}", file.path()),
        persistent: true,
        ..ItemResult::default()
    });
    c.finish_preload_item(&first_preload.id, 0, until, &ready, &|_, _, _| Vec::new())
        .await
        .unwrap();
    let made = c
        .project_asset(&tenant(), &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(made.file.as_ref().map(|f| &f.id), Some(&file.id));
    assert_eq!(made.generation.unwrap().error, None);
    // The second finds it cached and persisted: the same file.
    let claimed = c.claim_preload_items(now, until, 10).await.unwrap();
    assert_eq!(claimed[0].preload_id, second_preload.id);
    c.finish_preload_item(&second_preload.id, 0, until, &ready, &|_, _, _| Vec::new())
        .await
        .unwrap();
    let shared = c
        .project_asset(&tenant(), &second.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shared.file.map(|f| f.id), Some(file.id.clone()));

    // Forgetting the preloads loses nothing the assets hold.
    let later = SweepRule {
        preloads_before: now + Duration::days(1),
        ..rule
    };
    c.sweep_files(&later, &announce_deleted).await.unwrap();
    assert!(c
        .preload(&tenant(), &first_preload.id)
        .await
        .unwrap()
        .is_none());
    let kept = c
        .project_asset(&tenant(), &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.file.map(|f| f.id), Some(file.id.clone()));
    assert_eq!(kept.generation.unwrap().item_status, None);

    // The shared file is the last holder's to take along.
    assert_eq!(
        c.delete_project_asset(&other, &first.id).await.unwrap(),
        AssetRemoval::Missing
    );
    assert_eq!(
        c.delete_project_asset(&tenant(), &first.id).await.unwrap(),
        AssetRemoval::Removed { last_holder: false }
    );
    assert_eq!(
        c.delete_project_asset(&tenant(), &second.id).await.unwrap(),
        AssetRemoval::Removed { last_holder: true }
    );

    // A failed item leaves its asset failed, with the reason.
    let (failing_preload, failing) = c
        .create_generated_asset(&NewGeneratedAsset {
            preload: preload(vec![item("owl")], None, now),
            ..generated(3)
        })
        .await
        .unwrap();
    c.claim_preload_items(now, until, 10).await.unwrap();
    let failed = ItemOutcome::Failed("Not enough credits".into());
    c.finish_preload_item(&failing_preload.id, 0, until, &failed, &|_, _, _| {
        Vec::new()
    })
    .await
    .unwrap();
    let failed_asset = c
        .project_asset(&tenant(), &failing.id)
        .await
        .unwrap()
        .unwrap();
    assert!(failed_asset.file.is_none());
    assert_eq!(
        failed_asset.generation.unwrap().error.as_deref(),
        Some("Not enough credits")
    );

    assert!(!c
        .delete_project_script(&other, &project.id, &script.id)
        .await
        .unwrap());
    assert!(c
        .delete_project_script(&tenant(), &project.id, &script.id)
        .await
        .unwrap());
    assert!(c
        .project_scripts(&tenant(), &project.id)
        .await
        .unwrap()
        .is_empty());
    assert!(c.delete_project(&tenant(), &project.id).await.unwrap());
}
