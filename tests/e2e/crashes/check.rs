//! What the crash test knows of each file, and how it checks a restarted node against that.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::harness::Server;

pub const FOLDERS: [&str; 2] = ["in", "out"];

/// Bytes that belong to this name alone, so any file found later can be checked against them.
pub fn content(name: &str, size: usize) -> Vec<u8> {
    let mut out = vec![0; size];
    blake3::Hasher::new()
        .update(name.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// What the test knows of one file name.
pub struct Known {
    pub size: usize,
    /// Of its content: the name of the blob that holds it.
    pub hash: String,
    /// The folders it may be in; empty once it is surely gone.
    pub folders: BTreeSet<&'static str>,
    /// Acknowledged: the API answered `uploaded`, or object storage took a direct upload. It must
    /// be there unless a delete may have gone through.
    pub acknowledged: bool,
    pub maybe_deleted: bool,
}

impl Known {
    pub fn surely_present(&self) -> bool {
        self.acknowledged && !self.maybe_deleted && self.folders.len() == 1
    }

    pub fn folder(&self) -> &'static str {
        self.folders.first().unwrap()
    }

    /// Acknowledged and not possibly deleted since: it must be served.
    fn owed(&self) -> bool {
        self.acknowledged && !self.maybe_deleted && !self.folders.is_empty()
    }
}

/// What one check of a restarted, swept node found.
#[derive(Default, Debug)]
pub struct Check {
    pub files_checked: usize,
    pub bytes_checked: u64,
    pub pending_left: usize,
    pub staged_left: usize,
    pub lost: usize,
    pub partial_visible: usize,
    pub misplaced: usize,
    pub resurrected: usize,
    pub orphan_blobs: usize,
    /// Which content, so that a failure can be traced in the node's log.
    pub orphans: Vec<String>,
    pub missing_blobs: usize,
    /// How far the tenant's counter is from the bytes its files hold, either way.
    pub quota_off_by: u64,
}

impl Check {
    pub fn faults(&self) -> [u64; 7] {
        [
            self.lost as u64,
            self.partial_visible as u64,
            self.misplaced as u64,
            self.resurrected as u64,
            self.orphan_blobs as u64,
            self.missing_blobs as u64,
            self.quota_off_by,
        ]
    }

    pub fn add(&mut self, other: &Check) {
        self.files_checked += other.files_checked;
        self.bytes_checked += other.bytes_checked;
        self.pending_left = other.pending_left;
        self.staged_left = other.staged_left;
        self.lost += other.lost;
        self.partial_visible += other.partial_visible;
        self.misplaced += other.misplaced;
        self.resurrected += other.resurrected;
        self.orphan_blobs += other.orphan_blobs;
        self.orphans.extend(other.orphans.iter().cloned());
        self.missing_blobs += other.missing_blobs;
        self.quota_off_by += other.quota_off_by;
    }
}

/// Waits until every acknowledged file among `watched` is served with its bytes from one of the
/// folders it may be in; panics at `deadline` naming those that are not. Returns when the last
/// one was served. (The others are checked by [`verify`]: place, size and blob after every round,
/// bytes at the end.)
pub async fn wait_served(
    server: &Server,
    known: &BTreeMap<String, Known>,
    watched: &BTreeSet<String>,
    deadline: Instant,
) -> Instant {
    let mut owed: Vec<(&String, &Known)> = watched
        .iter()
        .map(|name| (name, &known[name]))
        .filter(|(_, k)| k.owed())
        .collect();
    loop {
        let looks = futures_util::stream::iter(owed.iter().map(|(name, k)| async move {
            let mut seen = Vec::new();
            for folder in &k.folders {
                let resp = server
                    .get(&server.url(&format!("/acme/files/{folder}/{name}")))
                    .await;
                let status = resp.status();
                let body = resp.bytes().await.unwrap_or_default();
                if status == StatusCode::OK && body.as_ref() == content(name, k.size) {
                    return None;
                }
                seen.push(format!("{folder}: {status}, {} bytes", body.len()));
            }
            Some((name.to_string(), seen))
        }));
        let missing: Vec<(String, Vec<String>)> = looks
            .buffer_unordered(8)
            .filter_map(|m| async move { m })
            .collect()
            .await;
        if missing.is_empty() {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{} acknowledged uploads not served with their bytes in time: {missing:?}",
            missing.len()
        );
        owed.retain(|(name, _)| missing.iter().any(|(m, _)| m == *name));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every file in the test's folders, by name: (folder, status, size, url).
pub async fn listing(
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

/// Checks the restarted, swept node against what the test knows. Every file's place, status and
/// size are checked, and its blob's presence; the bytes of those in `read` (all when `None`).
pub async fn verify(
    server: &Server,
    key: &str,
    known: &BTreeMap<String, Known>,
    read: Option<&BTreeSet<String>>,
) -> Check {
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
            match status.as_str() {
                "uploaded" => {
                    if *size != k.size as u64 {
                        fig.partial_visible += 1;
                    }
                    if read.is_none_or(|r| r.contains(name)) {
                        let body = server.get(url).await.bytes().await.unwrap();
                        if body.as_ref() != content(name, k.size) {
                            fig.partial_visible += 1;
                        }
                        fig.bytes_checked += body.len() as u64;
                    }
                    fig.files_checked += 1;
                    used += size;
                    hashes.insert(k.hash.clone());
                }
                "pending" => {
                    // A killed upload that still holds its claim: its URL must not serve anything.
                    if server.get(url).await.status() != StatusCode::NOT_FOUND {
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
        if k.owed() && !uploaded_here {
            fig.lost += 1;
        }
    }
    let blobs: BTreeSet<String> = server
        .blob_files()
        .await
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    fig.orphans = blobs.difference(&hashes).cloned().collect();
    fig.orphan_blobs = fig.orphans.len();
    fig.missing_blobs = hashes.difference(&blobs).count();
    fig.staged_left = server.staging_files().await;
    let counted = server.client_show("acme")["used_bytes"].as_u64().unwrap();
    fig.quota_off_by = counted.abs_diff(used);
    fig
}
