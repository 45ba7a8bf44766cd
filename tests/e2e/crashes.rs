//! Crash safety (issue 9): rounds of 100 concurrent uploads with moves and deletes among them, the
//! node killed with SIGKILL after a random number of acknowledgements, restarted and swept. Within
//! [`SERVED_WITHIN`] of each restart every upload the round acknowledged and every file it moved
//! is served with its bytes, every acknowledged file is listed where it should be with its size
//! and blob, nothing partial is visible, no blob is left that no file holds, and the tenant's quota
//! counter equals the bytes it stores; after the last round every file's bytes are read. An
//! upload through the node is acknowledged by the API's `uploaded`; a direct upload by object
//! storage's 2xx to the presigned PUT, after which the node owes it to the client whether or not
//! it confirmed it before the kill.
//!
//! The seed is printed; `MEDIADRIVE_CRASH_SEED=N` replays a run.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::harness::Server;

mod check;

use check::{content, listing, verify, wait_served, Check, Known, FOLDERS};

const ROUNDS: usize = 10;
const UPLOADS: usize = 100;
const MOVES: usize = 30;
const DELETES: usize = 20;
const CT: &str = "application/octet-stream";
/// Shorter than the default (30 s), so that bytes a killed ingest left behind are reclaimable by
/// the sweep soon after each round, and a direct upload the killed node was confirming is taken
/// over by the restarted one well within [`SERVED_WITHIN`]. Long enough that the slow ingests of
/// 100 concurrent uploads outlast it: only the live node's renewals keep them leased.
const INGEST_LEASE_SECS: u64 = 3;
/// A round whose acknowledgements do not come is killed after this; the check then says why.
const ROUND_LIMIT: Duration = Duration::from_secs(30);
/// How long after a restart every acknowledged upload must be served, and the node settled.
const SERVED_WITHIN: Duration = Duration::from_secs(30);

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
    /// Rounds killed by `ROUND_LIMIT` before their kill point was reached.
    rounds_cut_short: usize,
    /// The most checks one round needed before the node had settled.
    checks_to_settle: usize,
    /// The longest a restarted node took to serve every acknowledged upload, and to settle.
    slowest_served: Duration,
    slowest_settled: Duration,
    /// Summed over the rounds, each round's settled check.
    found: Check,
}

struct Crasher {
    http: Client,
    key: String,
    direct: bool,
    /// Acknowledgements of this round so far, for choosing the moment of the kill.
    acknowledged: Arc<AtomicUsize>,
}

impl Crasher {
    /// Requests an upload URL and sends the bytes: Ok once the upload was acknowledged (by the
    /// API, or by object storage for a direct upload), or where it stopped short of that.
    fn upload(
        &self,
        server: &Server,
        name: String,
        bytes: Vec<u8>,
    ) -> JoinHandle<Result<(), (&'static str, String)>> {
        let (http, key, direct) = (self.http.clone(), self.key.clone(), self.direct);
        let request = server.url("/v2/media/file");
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
            if direct {
                // Object storage took the bytes: from here on they are the node's to keep, whether
                // a node confirms them before the kill or after the restart.
                return Ok(());
            }
            let done: Value = put
                .json()
                .await
                .map_err(|e| ("reading the answer", format!("{e:#}")))?;
            match done["status"].as_str() {
                Some("uploaded") => Ok(()),
                _ => Err(("answered other than uploaded", done.to_string())),
            }
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

/// Checks until the node has settled: a restarted node may still be confirming what arrived
/// before the kill, and bytes a killed ingest left are reclaimable only once its lease lapsed, so
/// a fault counts only if it outlasts `deadline`. Returns the last check and how many it took.
async fn settled_check(
    server: &Server,
    key: &str,
    known: &BTreeMap<String, Known>,
    read: Option<&BTreeSet<String>>,
    deadline: Instant,
) -> (Check, usize) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        server.cli_ok(&["sweep"]);
        let check = verify(server, key, known, read).await;
        if check.faults() == [0; 7] || Instant::now() >= deadline {
            return (check, attempts);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
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
    // Kills land before, among and after the acknowledgements: each round is killed once a
    // number of its uploads were acknowledged, drawn from its own tenth of 0..=UPLOADS and the
    // tenths shuffled over the rounds: every run kills early and late, and its kill points add up
    // to at least 450 (0 + 10 + … + 90) of the 1,000 uploads.
    let stride = UPLOADS / ROUNDS;
    let mut kill_points: Vec<usize> = (0..ROUNDS)
        .map(|r| r * stride + rng.below(stride as u64 + 1) as usize)
        .collect();
    for i in (1..ROUNDS).rev() {
        kill_points.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    let mut fig = Figures::default();
    for (round, &kill_after) in kill_points.iter().enumerate() {
        let mut uploads = Vec::new();
        for i in 0..UPLOADS {
            let name = format!("r{round:02}-{i:03}.bin");
            // Mostly small files, and one in ten of a few MiB so that kills land mid-stream too.
            let size = if rng.below(10) == 0 {
                (1 << 20) + rng.below(3 << 20) as usize
            } else {
                4096 + rng.below(252 << 10) as usize
            };
            let bytes = content(&name, size);
            known.insert(
                name.clone(),
                Known {
                    size,
                    hash: blake3::hash(&bytes).to_hex().to_string(),
                    folders: BTreeSet::from(["in"]),
                    acknowledged: false,
                    maybe_deleted: false,
                },
            );
            uploads.push((name.clone(), crasher.upload(&server, name, bytes)));
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
        // Killed once the round's kill point was reached and a moment more, whatever the
        // machine's speed.
        let linger = Duration::from_millis(rng.below(300));
        let round_started = Instant::now();
        // Rounds killed late also let their moves and deletes be answered: where uploads are
        // acknowledged by object storage, early kill points would otherwise catch every one of
        // them unanswered, and an answered move would never be checked.
        let late = kill_after >= UPLOADS / 2;
        let reached = |crasher: &Crasher| {
            crasher.acknowledged.load(Ordering::SeqCst) >= kill_after
                && (!late
                    || moves.iter().all(|m| m.3.is_finished())
                        && deletes.iter().all(|d| d.1.is_finished()))
        };
        while !reached(&crasher) && round_started.elapsed() < ROUND_LIMIT {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if !reached(&crasher) {
            fig.rounds_cut_short += 1;
        }
        tokio::time::sleep(linger).await;
        server.kill();
        let killed_after = round_started.elapsed();
        crasher.acknowledged.store(0, Ordering::SeqCst);

        // Where the others stopped, with one example each, so a run that acknowledges nothing
        // says why.
        let mut unacknowledged: BTreeMap<&str, (usize, String)> = BTreeMap::new();
        let uploads_of_round: Vec<String> = uploads.iter().map(|(n, _)| n.clone()).collect();
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
        let moved: Vec<String> = moves.iter().map(|(n, ..)| n.clone()).collect();
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

        let restarted = Instant::now();
        let deadline = restarted + SERVED_WITHIN;
        server = server.start_peer_with(&flags).await;
        // The round's uploads and the files it moved: the ones the kill may have caught.
        let watched: BTreeSet<String> = uploads_of_round
            .into_iter()
            .chain(moved.iter().cloned())
            .collect();
        let served = wait_served(&server, &known, &watched, deadline).await - restarted;
        // The files of earlier rounds were read after their own round; all are read at the end.
        let (check, attempts) =
            settled_check(&server, &key, &known, Some(&watched), deadline).await;
        let settled = restarted.elapsed();
        println!(
            "round {round}: {} acknowledged so far, every one served {served:?} and settled \
             {settled:?} after the restart, {attempts} checks, {check:?}\n  \
             killed after {killed_after:?} (meant after {kill_after} acknowledgements); \
             not acknowledged: {unacknowledged:?}",
            fig.uploads_acknowledged
        );
        fig.checks_to_settle = fig.checks_to_settle.max(attempts);
        fig.slowest_served = fig.slowest_served.max(served);
        fig.slowest_settled = fig.slowest_settled.max(settled);
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
    // Whatever the rounds did to the files of earlier rounds shows in their bytes.
    let every_file = verify(&server, &key, &known, None).await;
    println!("every file read at the end: {every_file:?}");
    assert_eq!(every_file.faults(), [0; 7], "{every_file:?}");
    // Every round reached its kill point, so the run acknowledged at least the kill points' sum.
    assert_eq!(fig.rounds_cut_short, 0, "{fig:#?}");
    assert!(
        fig.moves_answered > 0 && fig.deletes_answered > 0,
        "no move or no delete was answered before a kill: {fig:#?}"
    );
    assert!(
        fig.uploads_acknowledged >= fig.uploads_started / 3,
        "only {} of {} uploads acknowledged",
        fig.uploads_acknowledged,
        fig.uploads_started
    );
}
