//! The claim loop on a real catalog: units go to one worker at a time, never more than its slots
//! at once, and a dead worker's units go to another once their claim lapses. Also the node every
//! worker's unit tests run on.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use mediadrive_blobstore::FsBlobStore;
use mediadrive_catalog::SqliteCatalog;
use mediadrive_core::{
    BlobProbe, BlobStore, ClientId, ContentHash, FileName, FileRecord, FolderPath, NewUpload,
    ProbeStatus, UploadClaim,
};
use tokio::sync::{watch, Notify};

use super::{Claimed, Settings};
use crate::worker::run;
use crate::{config::Config, ingest, App};

/// A node on a SQLite catalog and a blob store of its own, both in a temporary directory.
pub(crate) struct Node {
    pub state: App,
    pub dir: tempfile::TempDir,
}

/// A node on the embedded default; `configure` changes its configuration.
pub(crate) async fn node(configure: impl FnOnce(&mut Config)) -> Node {
    node_on(|root| Arc::new(FsBlobStore::open(root).unwrap()), configure).await
}

/// A node whose blob store `blobs` opens in the node's directory.
pub(crate) async fn node_on(
    blobs: impl FnOnce(&Path) -> Arc<dyn BlobStore>,
    configure: impl FnOnce(&mut Config),
) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    configure(&mut config);
    let catalog = SqliteCatalog::open(&config.database_url).await.unwrap();
    let blobs = blobs(&dir.path().join("blobs"));
    let state = App::new(Arc::new(catalog), blobs, config, &mediadrive_remote::Http)
        .await
        .unwrap();
    Node { state, dir }
}

pub(crate) fn tenant() -> ClientId {
    ClientId::parse("acme").unwrap()
}

/// Registers a pending upload of `size` bytes at `folder/name`, its URL valid for `valid_for`
/// (negative: lapsed that long ago).
pub(crate) async fn pending(
    state: &App,
    folder: &str,
    name: &str,
    size: u64,
    valid_for: chrono::Duration,
) -> FileRecord {
    let now = Utc::now();
    state
        .catalog
        .ensure_tenant(&tenant(), 0, now)
        .await
        .unwrap();
    state
        .catalog
        .reserve_upload(&NewUpload {
            tenant: tenant(),
            folder: FolderPath::sanitise_or_root(Some(folder)).unwrap(),
            name: FileName::sanitise(name).unwrap(),
            content_type: "application/octet-stream".into(),
            size,
            now,
            upload_expires_at: now + valid_for,
            default_quota: None,
        })
        .await
        .unwrap()
}

/// Uploads `data` to `folder/name` the way a PUT through the node does: claim, stage, hash,
/// lease, place, record.
pub(crate) async fn uploaded(state: &App, folder: &str, name: &str, data: &[u8]) -> FileRecord {
    let file = pending(
        state,
        folder,
        name,
        data.len() as u64,
        chrono::Duration::minutes(2),
    )
    .await;
    let now = Utc::now();
    let claim = state
        .catalog
        .claim_upload(&file.id, now, now + chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert!(matches!(claim, UploadClaim::Claimed(_)));
    let mut staged = state.blobs.stage().await.unwrap();
    for chunk in data.chunks(100_003) {
        staged.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    let (hash, len) = staged.finish().await.unwrap();
    let lease = crate::blob_lease::BlobLease::take(state, &hash, len)
        .await
        .unwrap();
    ingest::commit(state, &file, staged, lease).await.unwrap()
}

/// Seeded pseudo-random bytes (SplitMix64); distinct seeds give distinct bytes.
pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
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

/// Waits up to `within` for `done` to hold.
pub(crate) async fn eventually<F: std::future::Future<Output = bool>>(
    within: Duration,
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What one worker did: the units it started, when, and the most it ran at once.
#[derive(Default)]
struct Log {
    started: Vec<(ContentHash, Instant)>,
    running: usize,
    most: usize,
}

/// A worker of probes that logs each unit; `finish` says whether a unit is ever done.
fn probe_worker(
    state: &App,
    slots: usize,
    claim_for: Duration,
    finish: bool,
) -> (
    Arc<Mutex<Log>>,
    watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let log = Arc::new(Mutex::new(Log::default()));
    let (stop, shutdown) = watch::channel(false);
    let settings = Settings {
        slots,
        claim_for,
        wakeup: Arc::new(Notify::new()),
        what: "probes",
    };
    let claim = |state: App, now: DateTime<Utc>, until: DateTime<Utc>, limit: u32| async move {
        state.catalog.claim_probes(now, until, limit).await
    };
    let work = {
        let log = log.clone();
        move |state: App, hash: ContentHash, until: DateTime<Utc>| {
            let log = log.clone();
            async move {
                {
                    let mut log = log.lock().unwrap();
                    log.started.push((hash.clone(), Instant::now()));
                    log.running += 1;
                    log.most = log.most.max(log.running);
                }
                if !finish {
                    // A node that died mid-unit: the claim is never given back.
                    std::future::pending::<()>().await;
                }
                // Long enough for units to overlap when slots allow it.
                tokio::time::sleep(Duration::from_millis(30)).await;
                let probe = BlobProbe {
                    hash,
                    status: ProbeStatus::Done,
                    metadata: Some("{}".into()),
                    error: None,
                };
                let recorded = state.catalog.record_probe(&probe, until).await.unwrap();
                assert!(recorded, "a claim held by its worker was taken over");
                log.lock().unwrap().running -= 1;
            }
        }
    };
    let worker = Claimed::new(settings, claim, work);
    let task = tokio::spawn(run(state.clone(), worker, shutdown));
    (log, stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_unit_goes_to_one_worker_and_no_worker_runs_more_than_its_slots() {
    let node = node(|_| {}).await;
    let state = &node.state;
    for n in 0..12 {
        uploaded(state, "", &format!("{n}.bin"), &bytes(n, 1000)).await;
    }
    // Two nodes on one catalog.
    let (first, stop_first, first_task) = probe_worker(state, 3, Duration::from_secs(60), true);
    let (second, stop_second, second_task) = probe_worker(state, 2, Duration::from_secs(60), true);
    eventually(Duration::from_secs(20), "every blob probed", || async {
        state.catalog.queue_depths().await.unwrap().probes == 0
    })
    .await;
    {
        let (first, second) = (first.lock().unwrap(), second.lock().unwrap());
        let mut all: Vec<_> = first
            .started
            .iter()
            .chain(&second.started)
            .map(|(h, _)| h)
            .collect();
        all.sort();
        let total = all.len();
        all.dedup();
        assert_eq!(
            (total, all.len()),
            (12, 12),
            "each blob worked exactly once"
        );
        assert!(
            first.most <= 3 && second.most <= 2,
            "{} {}",
            first.most,
            second.most
        );
        // A full batch is claimed at once: the slots were used, not one unit after another.
        assert!(first.most > 1 || second.most > 1);
    }
    let _ = (stop_first.send(true), stop_second.send(true));
    for task in [first_task, second_task] {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("a worker did not stop at shutdown")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_unit_is_taken_over_only_once_its_claim_lapsed() {
    let node = node(|_| {}).await;
    let state = &node.state;
    uploaded(state, "", "a.bin", &bytes(100, 5000)).await;
    let lapse = Duration::from_millis(1500);
    let (dead, _stop_dead, _dead_task) = probe_worker(state, 1, lapse, false);
    eventually(
        Duration::from_secs(10),
        "the first worker claimed it",
        || async { !dead.lock().unwrap().started.is_empty() },
    )
    .await;
    let (alive, _stop_alive, _alive_task) = probe_worker(state, 1, Duration::from_secs(60), true);
    eventually(
        Duration::from_secs(10),
        "the probe was recorded",
        || async { state.catalog.queue_depths().await.unwrap().probes == 0 },
    )
    .await;
    let dead_at = dead.lock().unwrap().started[0].1;
    let alive = alive.lock().unwrap();
    assert_eq!(alive.started.len(), 1);
    let waited = alive.started[0].1 - dead_at;
    assert!(
        waited >= lapse - Duration::from_millis(200),
        "taken over after {waited:?}"
    );
    assert_eq!(dead.lock().unwrap().started.len(), 1);
}
