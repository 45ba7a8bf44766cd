//! `mediadrive backup` (issue 10, operations): a copy of the embedded default taken while files
//! are uploaded and deleted is a data directory a server starts on. It holds the drive as it was
//! at one moment among those changes, each change wholly in it or wholly absent, every file it
//! lists served with its bytes and the quota equal to what it stores. With PostgreSQL or S3 the
//! command refuses and points to their own tools.

use std::{collections::BTreeMap, path::Path};

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{bytes, Server, BIN};

const CT: &str = "application/octet-stream";
/// Files in the drive before the first backup starts.
const BEFORE: usize = 40;
/// Backups taken at most until one lands between two changes made while it ran.
const ROUNDS: usize = 5;

fn content(i: usize) -> Vec<u8> {
    bytes(i as u64, 20_000 + i * 997)
}

fn name(i: usize) -> String {
    format!("f{i:03}.bin")
}

/// What the drive holds of a file, as a listing shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Pending,
    Uploaded,
}

type Drive = BTreeMap<usize, Held>;

/// One request that changes the drive.
#[derive(Debug)]
enum Step {
    Delete(usize),
    /// An upload's ticket, whose URL the next step uses: the file is pending.
    Ticket(usize, String),
    /// Its bytes: the file is uploaded.
    Put(usize),
}

impl Step {
    fn apply(&self, drive: &mut Drive) {
        match self {
            Step::Delete(i) => drive.remove(i),
            Step::Ticket(i, _) => drive.insert(*i, Held::Pending),
            Step::Put(i) => drive.insert(*i, Held::Uploaded),
        };
    }
}

/// The changes made so far, in order, the drive they started from and the drive they left.
struct Changes {
    initial: Drive,
    drive: Drive,
    steps: Vec<Step>,
    next_file: usize,
}

impl Changes {
    /// Makes the drive's next change: deletes its oldest uploaded file, or asks for a new
    /// upload's ticket, or sends the bytes of the last one, by turns.
    async fn next(&mut self, server: &Server, key: &str) {
        let step = match self.steps.last() {
            Some(Step::Ticket(i, url)) => {
                let (status, body) = server.put(url, CT, content(*i)).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                Step::Put(*i)
            }
            Some(Step::Delete(_)) => {
                let i = self.next_file;
                self.next_file += 1;
                let ticket = server
                    .request_upload(key, "kept", &name(i), CT, content(i).len())
                    .await;
                Step::Ticket(i, ticket["uploadUrl"].as_str().unwrap().to_string())
            }
            _ => {
                let (&i, _) = self
                    .drive
                    .iter()
                    .find(|(_, held)| **held == Held::Uploaded)
                    .unwrap();
                let body = json!({"folder": "kept", "name": name(i)});
                let (status, body) = server
                    .call("DELETE", "/v2/media/file", key, Some(body))
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                Step::Delete(i)
            }
        };
        step.apply(&mut self.drive);
        self.steps.push(step);
    }
}

/// Checks the server started on a copy against the changes made while it was taken (those from
/// `first` on); returns how many of them the copy holds.
async fn check_copy(copy: &Server, key: &str, changes: &Changes, first: usize) -> usize {
    let (status, listing) = copy
        .call("GET", "/v2/media/folder?folder=kept&limit=1000", key, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    let mut held = Drive::new();
    for f in listing["files"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let i: usize = name[1..name.len() - 4].parse().unwrap();
        let served = copy.get(f["url"].as_str().unwrap()).await;
        if f["status"] == "pending" {
            // An upload in flight when the catalog was copied comes back pending, serving nothing.
            assert_eq!(served.status(), StatusCode::NOT_FOUND, "{name}");
            held.insert(i, Held::Pending);
            continue;
        }
        assert_eq!(f["status"], "uploaded", "{f}");
        assert_eq!(served.status(), StatusCode::OK, "{name}");
        assert_eq!(
            served.bytes().await.unwrap().as_ref(),
            content(i).as_slice(),
            "{name}"
        );
        held.insert(i, Held::Uploaded);
    }
    // The drive as it was after some number of the changes made meanwhile, and no other.
    let mut drive = changes.initial.clone();
    for step in &changes.steps[..first] {
        step.apply(&mut drive);
    }
    let mut holds = None;
    for (k, step) in changes.steps[first..].iter().enumerate() {
        if drive == held {
            holds = Some(k);
            break;
        }
        step.apply(&mut drive);
    }
    let holds = holds
        .or((drive == held).then_some(changes.steps.len() - first))
        .unwrap_or_else(|| {
            panic!(
                "the copy holds {held:?}, no moment of the changes {:?}",
                &changes.steps[first..]
            )
        });
    let stored: BTreeMap<_, _> = held
        .iter()
        .filter(|(_, h)| **h == Held::Uploaded)
        .map(|(i, _)| {
            (
                blake3::hash(&content(*i)).to_hex().to_string(),
                content(*i).len() as u64,
            )
        })
        .collect();
    assert_eq!(
        copy.client_show("acme")["used_bytes"].as_u64().unwrap(),
        stored.values().sum::<u64>()
    );
    assert_eq!(
        copy.blob_files().await.len(),
        stored.len(),
        "the copy holds the blobs of its files and no others"
    );
    holds
}

#[tokio::test]
async fn a_backup_taken_while_files_come_and_go_holds_one_moment_of_them() {
    // The embedded default on every pass: it is what the command copies.
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_on(data.path().join("data")).await;
    let key = server.key("acme", "editor");
    let mut initial = Drive::new();
    for i in 0..BEFORE {
        server.upload(&key, "kept", &name(i), CT, &content(i)).await;
        initial.insert(i, Held::Uploaded);
    }
    let mut changes = Changes {
        drive: initial.clone(),
        initial,
        steps: Vec::new(),
        next_file: BEFORE,
    };
    let mut steps = changes.steps.len();
    let mut seen = Vec::new();
    let copies = tempfile::tempdir().unwrap();
    // A copy that lands before or after every change made while it ran shows no overlap; one
    // between two of them does, and is checked like every other.
    for round in 0..ROUNDS {
        let first = changes.steps.len();
        let to = copies.path().join(format!("copy{round}"));
        let backup =
            tokio::task::spawn_blocking(server.cli_command(&["backup", to.to_str().unwrap()]));
        while !backup.is_finished() {
            changes.next(&server, &key).await;
        }
        let report: serde_json::Value = serde_json::from_str(&backup.await.unwrap()).unwrap();
        assert_eq!(report["hard_linked"], true, "{report}");
        let during = changes.steps.len() - first;
        let copy = Server::start_on(to).await;
        let holds = check_copy(&copy, &key, &changes, first).await;
        assert_eq!(report["blobs"], copy.blob_files().await.len());
        seen.push((holds, during));
        steps = changes.steps.len();
        if 0 < holds && holds < during {
            break;
        }
    }
    println!("backup: changes in each copy, of those made while it ran: {seen:?} ({steps} in all)");
    assert!(
        seen.iter()
            .any(|&(holds, during)| 0 < holds && holds < during),
        "no copy fell between two changes made while it ran: {seen:?}"
    );
}

/// `backup` with the flags of one store, refused before it writes anything.
fn refused(data: &Path, to: &Path, flags: &[&str]) {
    let out = std::process::Command::new(BIN)
        .arg("backup")
        .arg(to)
        .arg("--data-dir")
        .arg(data)
        .args(flags)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{flags:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_dump"), "{flags:?}: {stderr}");
    assert!(!to.exists(), "{flags:?}");
}

#[tokio::test]
async fn backup_refuses_postgresql_and_object_storage() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy");
    // Named on the command line, the stores need not be there: the command refuses first.
    refused(
        &dir.path().join("data"),
        &to,
        &["--database-url", "postgres://mediadrive@127.0.0.1:1/none"],
    );
    refused(
        &dir.path().join("data"),
        &to,
        &[
            "--blob-url",
            "s3://none?endpoint=http://127.0.0.1:1&region=none",
        ],
    );
    // The servers under test: refused on PostgreSQL + S3, a copy of the embedded default.
    let server = Server::start().await;
    let out = server.cli(&["backup", to.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let backend = std::env::var("MEDIADRIVE_TEST_BACKEND").unwrap_or_default();
    if backend.contains("postgres") || server.direct_uploads() {
        assert!(!out.status.success());
        assert!(stderr.contains("pg_dump"), "{stderr}");
    } else {
        assert!(out.status.success(), "{stderr}");
        assert!(to.join("catalog.db").exists());
    }
}
