//! Crash safety (issue 9): rounds of 100 concurrent uploads with moves and deletes among them, the
//! node killed with SIGKILL after a random number of acknowledgements, restarted and swept. After every round each
//! upload the API acknowledged is present with its bytes, nothing partial is visible, no blob is
//! left that no file holds, and the tenant's quota counter equals the bytes it stores.
//!
//! The seed is printed; `MEDIADRIVE_CRASH_SEED=N` replays a run.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::harness::Server;

const ROUNDS: usize = 10;
const UPLOADS: usize = 100;
const MOVES: usize = 30;
const DELETES: usize = 20;
const CT: &str = "application/octet-stream";
const FOLDERS: [&str; 2] = ["in", "out"];
/// Short, so that bytes a killed ingest left behind are reclaimable by the sweep after each round.
const INGEST_LEASE_SECS: u64 = 1;
/// A round whose acknowledgements do not come is killed after this; the check then says why.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

/// xorshift64*: enough to pick sizes and moments, and replayable from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Bytes that belong to this name alone, so any file found later can be checked against them.
fn content(name: &str, size: usize) -> Vec<u8> {
    let mut out = vec![0; size];
    blake3::Hasher::new()
        .update(name.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// What the test knows of one file name.
struct Known {
    size: usize,
    /// The folders it may be in; empty once it is surely gone.
    folders: BTreeSet<&'static str>,
    /// The API said `uploaded`: it must be there unless a delete may have gone through.
    acknowledged: bool,
    maybe_deleted: bool,
}

impl Known {
    fn surely_present(&self) -> bool {
        self.acknowledged && !self.maybe_deleted && self.folders.len() == 1
    }
    fn folder(&self) -> &'static str {
        self.folders.first().unwrap()
    }
}

/// How a call ended: the server answered with this status, or the connection died first.
type Answer = Option<StatusCode>;

#[derive(Default, Debug)]
struct Figures {
    uploads_started: usize,
    uploads_acknowledged: usize,
    moves_answered: usize,
    moves_in_doubt: usize,
    deletes_answered: usize,
    deletes_in_doubt: usize,
    /// The most checks one round needed before the node had settled.
    checks_to_settle: usize,
    /// Summed over the rounds, each round's settled check.
    found: Check,
}

/// What one check of a restarted, swept node found.
#[derive(Default, Debug)]
struct Check {
    files_checked: usize,
    bytes_checked: u64,
    pending_left: usize,
    staged_left: usize,
    lost: usize,
    partial_visible: usize,
    misplaced: usize,
    resurrected: usize,
    orphan_blobs: usize,
    missing_blobs: usize,
    quota_off_by: i64,
}

impl Check {
    fn faults(&self) -> [i64; 7] {
        [
            self.lost as i64,
            self.partial_visible as i64,
            self.misplaced as i64,
            self.resurrected as i64,
            self.orphan_blobs as i64,
            self.missing_blobs as i64,
            self.quota_off_by,
        ]
    }

    fn add(&mut self, other: &Check) {
        self.files_checked += other.files_checked;
        self.bytes_checked += other.bytes_checked;
        self.pending_left = other.pending_left;
        self.staged_left = other.staged_left;
        self.lost += other.lost;
        self.partial_visible += other.partial_visible;
        self.misplaced += other.misplaced;
        self.resurrected += other.resurrected;
        self.orphan_blobs += other.orphan_blobs;
        self.missing_blobs += other.missing_blobs;
        self.quota_off_by += other.quota_off_by;
    }
}

struct Crasher {
    http: Client,
    key: String,
    direct: bool,
    /// Acknowledgements of this round so far, for choosing the moment of the kill.
    acknowledged: Arc<AtomicUsize>,
}

impl Crasher {
    /// Requests an upload URL and sends the bytes: Ok once the API acknowledged the file
    /// uploaded, or where it stopped short of that.
    fn upload(
        &self,
        server: &Server,
        name: String,
        bytes: Vec<u8>,
    ) -> JoinHandle<Result<(), (&'static str, String)>> {
        let (http, key, direct) = (self.http.clone(), self.key.clone(), self.direct);
        let request = server.url("/v2/media/file");
        let record = server.url(&format!("/v2/media/file?path=in/{name}"));
        let acknowledged = self.acknowledged.clone();
        let upload = async move {
            let resp = http
                .post(&request)
                .header("x-api-key", &key)
                .json(
                    &json!({"name": name, "contentType": CT, "size": bytes.len(), "folder": "in"}),
                )
                .send()
                .await
                .map_err(|e| ("asking for an upload URL", format!("{e:#}")))?;
            let ticket = resp
                .json::<Value>()
                .await
                .map_err(|e| ("reading the upload URL", format!("{e:#}")))?;
            let upload_url = ticket["uploadUrl"].as_str().expect("an upload URL");
            let put = http
                .put(upload_url)
                .header("content-type", CT)
                .body(bytes)
                .send()
                .await
                .map_err(|e| ("sending the bytes", format!("{e:#}")))?;
            assert!(put.status().is_success(), "PUT of {name}: {}", put.status());
            if !direct {
                let done: Value = put
                    .json()
                    .await
                    .map_err(|e| ("reading the answer", format!("{e:#}")))?;
                return match done["status"].as_str() {
                    Some("uploaded") => Ok(()),
                    _ => Err(("answered other than uploaded", done.to_string())),
                };
            }
            // Object storage took the bytes; the API acknowledges them once a node confirmed them,
            // which may be the reconciler rather than this request.
            for _ in 0..100 {
                let resp = http
                    .get(&record)
                    .header("x-api-key", &key)
                    .send()
                    .await
                    .map_err(|e| ("asking whether it was confirmed", format!("{e:#}")))?;
                let file = resp.json::<Value>().await.unwrap_or_default();
                if file["file"]["status"] != "pending" {
                    return match file["file"]["status"].as_str() {
                        Some("uploaded") => Ok(()),
                        _ => Err(("confirmed other than uploaded", file.to_string())),
                    };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(("still pending after 5 s", String::new()))
        };
        tokio::spawn(async move {
            let outcome = upload.await;
            if outcome.is_ok() {
                acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            outcome
        })
    }

    fn call(&self, server: &Server, method: reqwest::Method, body: Value) -> JoinHandle<Answer> {
        let request = self
            .http
            .request(method, server.url("/v2/media/file"))
            .header("x-api-key", &self.key)
            .json(&body);
        tokio::spawn(async move { request.send().await.ok().map(|r| r.status()) })
    }
}

/// Every file in the test's folders, by name: (folder, status, size, url).
async fn listing(
    server: &Server,
    key: &str,
) -> BTreeMap<String, Vec<(String, String, u64, String)>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for folder in FOLDERS {
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v2/media/folder?folder={folder}&limit=1000&cursor={c}"),
                None => format!("/v2/media/folder?folder={folder}&limit=1000"),
            };
            let (status, page) = server.call("GET", &path, key, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for f in page["files"].as_array().unwrap() {
                out.entry(f["name"].as_str().unwrap().to_string())
                    .or_default()
                    .push((
                        folder.to_string(),
                        f["status"].as_str().unwrap().to_string(),
                        f["size"].as_u64().unwrap(),
                        f["url"].as_str().unwrap().to_string(),
                    ));
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
    }
    out
}

/// Checks the restarted, swept node against what the test knows, adding to `fig`.
async fn verify(server: &Server, key: &str, known: &BTreeMap<String, Known>) -> Check {
    let listed = listing(server, key).await;
    let mut fig = Check::default();
    let mut used = 0u64;
    let mut hashes = BTreeSet::new();
    for (name, places) in &listed {
        let k = known
            .get(name)
            .unwrap_or_else(|| panic!("{name}: a file the test never uploaded"));
        if places.len() > 1 {
            fig.misplaced += 1;
        }
        for (folder, status, size, url) in places {
            if !k.folders.contains(folder.as_str()) {
                if k.folders.is_empty() {
                    fig.resurrected += 1;
                } else {
                    fig.misplaced += 1;
                }
            }
            let resp = server.get(url).await;
            match status.as_str() {
                "uploaded" => {
                    let body = resp.bytes().await.unwrap();
                    let expected = content(name, k.size);
                    if *size != k.size as u64 || body.as_ref() != expected {
                        fig.partial_visible += 1;
                    }
                    fig.files_checked += 1;
                    fig.bytes_checked += body.len() as u64;
                    used += size;
                    hashes.insert(blake3::hash(&expected).to_hex().to_string());
                }
                "pending" => {
                    // A killed upload that still holds its claim: its URL must not serve anything.
                    if resp.status() != StatusCode::NOT_FOUND {
                        fig.partial_visible += 1;
                    }
                    fig.pending_left += 1;
                }
                other => panic!("{name}: status {other}"),
            }
        }
    }
    for (name, k) in known {
        let uploaded_here = listed
            .get(name)
            .is_some_and(|p| p.iter().any(|(_, status, ..)| status == "uploaded"));
        if k.acknowledged && !k.maybe_deleted && !k.folders.is_empty() && !uploaded_here {
            fig.lost += 1;
        }
    }
    let blobs: BTreeSet<String> = server
        .blob_files()
        .await
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    let orphans: Vec<_> = blobs.difference(&hashes).collect();
    if !orphans.is_empty() {
        // Which content, so a failure can be traced in the node's log.
        println!("orphan blobs: {orphans:?}");
    }
    fig.orphan_blobs = orphans.len();
    fig.missing_blobs = hashes.difference(&blobs).count();
    fig.staged_left = server.staging_files().await;
    let counted = server.client_show("acme")["used_bytes"].as_u64().unwrap();
    fig.quota_off_by = counted as i64 - used as i64;
    fig
}

/// Checks until the node has settled: a restarted node may still be confirming what arrived
/// before the kill, so a fault counts only if it outlasts a few reconciler rounds and sweeps.
async fn settled_check(
    server: &Server,
    key: &str,
    known: &BTreeMap<String, Known>,
) -> (Check, usize) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        server.let_reconciler_run().await;
        server.cli_ok(&["sweep"]);
        let check = verify(server, key, known).await;
        if check.faults() == [0; 7] || attempts == 8 {
            return (check, attempts);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn killed_nodes_lose_nothing_they_acknowledged() {
    let seed = std::env::var("MEDIADRIVE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("crash seed {seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crash.toml");
    std::fs::write(
        &config,
        format!(
            "ingest_lease_secs = {INGEST_LEASE_SECS}\n\
             [limits]\nrequests_per_second = 0\nuploads_per_tenant = 0\n"
        ),
    )
    .unwrap();
    let flags = ["--config", config.to_str().unwrap()];
    let mut server = Server::start_with(&flags).await;
    let key = server.key("acme", "editor");
    for folder in FOLDERS {
        let (status, body) = server
            .call(
                "POST",
                "/v2/media/folder",
                &key,
                Some(json!({ "folder": folder })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let crasher = Crasher {
        http: Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        key: key.clone(),
        direct: server.direct_uploads(),
        acknowledged: Arc::default(),
    };
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    let mut fig = Figures::default();
    for round in 0..ROUNDS {
        let mut uploads = Vec::new();
        for i in 0..UPLOADS {
            let name = format!("r{round:02}-{i:03}.bin");
            // Mostly small files, and one in ten of a few MiB so that kills land mid-stream too.
            let size = if rng.below(10) == 0 {
                (1 << 20) + rng.below(3 << 20) as usize
            } else {
                4096 + rng.below(252 << 10) as usize
            };
            known.insert(
                name.clone(),
                Known {
                    size,
                    folders: BTreeSet::from(["in"]),
                    acknowledged: false,
                    maybe_deleted: false,
                },
            );
            uploads.push((
                name.clone(),
                crasher.upload(&server, name.clone(), content(&name, size)),
            ));
        }
        let mut candidates: Vec<String> = known
            .iter()
            .filter(|(_, k)| k.surely_present())
            .map(|(n, _)| n.clone())
            .collect();
        let mut pick = |rng: &mut Rng, n: usize| -> Vec<String> {
            (0..n.min(candidates.len()))
                .map(|_| candidates.swap_remove(rng.below(candidates.len() as u64) as usize))
                .collect()
        };
        let moves: Vec<_> = pick(&mut rng, MOVES)
            .into_iter()
            .map(|name| {
                let from = known[&name].folder();
                let to = if from == "in" { "out" } else { "in" };
                let call = crasher.call(
                    &server,
                    reqwest::Method::PUT,
                    json!({"name": name, "folder": from, "destination": to}),
                );
                (name, from, to, call)
            })
            .collect();
        let deletes: Vec<_> = pick(&mut rng, DELETES)
            .into_iter()
            .map(|name| {
                let folder = known[&name].folder();
                let call = crasher.call(
                    &server,
                    reqwest::Method::DELETE,
                    json!({"name": name, "folder": folder}),
                );
                (name, call)
            })
            .collect();
        // Kills land before, among and after the acknowledgements: once a random number of the
        // round's uploads were acknowledged and a moment more, whatever the machine's speed.
        let kill_after = rng.below(UPLOADS as u64 + 1) as usize;
        let linger = Duration::from_millis(rng.below(300));
        let round_started = std::time::Instant::now();
        while crasher.acknowledged.load(Ordering::SeqCst) < kill_after
            && round_started.elapsed() < ROUND_LIMIT
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(linger).await;
        server.kill();
        let killed_after = round_started.elapsed();
        crasher.acknowledged.store(0, Ordering::SeqCst);

        // Where the others stopped, with one example each, so a run that acknowledges nothing
        // says why.
        let mut unacknowledged: BTreeMap<&str, (usize, String)> = BTreeMap::new();
        for (name, upload) in uploads {
            fig.uploads_started += 1;
            match upload.await.unwrap() {
                Ok(()) => {
                    fig.uploads_acknowledged += 1;
                    known.get_mut(&name).unwrap().acknowledged = true;
                }
                Err((stage, example)) => unacknowledged.entry(stage).or_insert((0, example)).0 += 1,
            }
        }
        for (name, from, to, call) in moves {
            let k = known.get_mut(&name).unwrap();
            match call.await.unwrap() {
                Some(StatusCode::OK) => {
                    fig.moves_answered += 1;
                    k.folders = BTreeSet::from([to]);
                }
                Some(other) => panic!("moving {name} from {from}: {other}"),
                None => {
                    fig.moves_in_doubt += 1;
                    k.folders.insert(to);
                }
            }
        }
        for (name, call) in deletes {
            let k = known.get_mut(&name).unwrap();
            match call.await.unwrap() {
                Some(StatusCode::OK) => {
                    fig.deletes_answered += 1;
                    k.folders.clear();
                }
                Some(other) => panic!("deleting {name}: {other}"),
                None => {
                    fig.deletes_in_doubt += 1;
                    k.maybe_deleted = true;
                }
            }
        }

        server = server.start_peer_with(&flags).await;
        // Bytes of an ingest killed before it recorded its file are reclaimable once its lease lapsed.
        tokio::time::sleep(Duration::from_secs(INGEST_LEASE_SECS + 1)).await;
        let (check, attempts) = settled_check(&server, &key, &known).await;
        println!(
            "round {round}: {} acknowledged so far, {attempts} checks, {check:?}\n  \
             killed after {killed_after:?} (meant after {kill_after} acknowledgements); \
             not acknowledged: {unacknowledged:?}",
            fig.uploads_acknowledged
        );
        fig.checks_to_settle = fig.checks_to_settle.max(attempts);
        fig.found.add(&check);
        // What the check found settles what the test knows for the next round.
        let listed = listing(&server, &key).await;
        for (name, k) in known.iter_mut() {
            k.maybe_deleted = false;
            match listed.get(name).and_then(|p| p.first()) {
                Some((folder, status, ..)) => {
                    k.acknowledged = status == "uploaded";
                    k.folders =
                        BTreeSet::from([FOLDERS.into_iter().find(|f| f == folder).unwrap()]);
                }
                None => k.folders.clear(),
            }
        }
    }
    println!("{fig:#?}");
    assert_eq!(fig.found.faults(), [0; 7], "{fig:#?}");
    assert!(fig.found.files_checked > 0 && fig.uploads_acknowledged > 0);
}
