//! The client commands (issue 10) run as a script would run them, against a real server: a tree
//! of a few hundred files uploaded, uploaded again (nothing sent), listed, moved, downloaded with
//! a resume, and removed, with the exit codes the docs promise.

use std::{
    path::Path,
    process::{Output, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::harness::{bytes, Server, BIN};

fn run(server: &Server, key: &str, args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(args)
        .env("MEDIADRIVE_SERVER", &server.base)
        .env("MEDIADRIVE_KEY", key)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(server: &Server, key: &str, args: &[&str]) -> String {
    let out = run(server, key, args);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

fn content(i: usize) -> Vec<u8> {
    let mut out = vec![0; 100 + (i * 977) % 20_000];
    blake3::Hasher::new()
        .update(&i.to_le_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// 300 files in nested directories, one with a name the server sanitises.
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for i in 0..300 {
        let dir = match i % 3 {
            0 => "tree/a",
            1 => "tree/b/c",
            _ => "tree",
        };
        let name = if i == 7 {
            "with space.bin".to_string()
        } else {
            format!("f{i:03}.bin")
        };
        std::fs::create_dir_all(root.join(dir)).unwrap();
        std::fs::write(root.join(dir).join(&name), content(i)).unwrap();
        files.push((format!("{dir}/{}", name.replace(' ', "_")), content(i)));
    }
    files
}

fn lines_starting(out: &str, word: &str) -> usize {
    out.lines().filter(|l| l.starts_with(word)).count()
}

#[tokio::test]
async fn a_tree_is_uploaded_listed_moved_downloaded_and_removed() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let dir = tempfile::tempdir().unwrap();
    let files = tree(dir.path());
    let local = dir.path().join("tree");
    let local = local.to_str().unwrap();

    let out = ok(
        &server,
        &key,
        &["upload", local, "--to", "backup", "-j", "8"],
    );
    assert_eq!(lines_starting(&out, "uploaded"), 300, "{out}");
    for (path, bytes) in files.iter().step_by(37) {
        let url = ok(&server, &key, &["url", &format!("backup/{path}")]);
        let served = server.get(url.trim()).await.bytes().await.unwrap();
        assert_eq!(served.as_ref(), bytes.as_slice(), "{path}");
    }
    // Again: the drive holds every file with the same content, so nothing is sent.
    let out = ok(&server, &key, &["upload", local, "--to", "backup"]);
    assert_eq!(lines_starting(&out, "unchanged"), 300, "{out}");

    // One file changed: refused (exit 1) unless --overwrite, the rest unchanged.
    std::fs::write(dir.path().join("tree/f002.bin"), b"changed").unwrap();
    let out = run(&server, &key, &["upload", local, "--to", "backup"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed    backup/tree/f002.bin"));
    let out = ok(
        &server,
        &key,
        &["upload", local, "--to", "backup", "--overwrite"],
    );
    assert_eq!(lines_starting(&out, "uploaded"), 1, "{out}");

    let listing: Value =
        serde_json::from_str(&ok(&server, &key, &["ls", "backup/tree", "--json"])).unwrap();
    assert_eq!(
        listing["folders"],
        serde_json::json!(["backup/tree/a", "backup/tree/b"])
    );
    assert_eq!(listing["files"].as_array().unwrap().len(), 100);
    let table = ok(&server, &key, &["ls", "backup/tree/b/c"]);
    assert_eq!(table.lines().count(), 100, "{table}");
    assert!(table.contains("backup/tree/b/c/f001.bin"));

    ok(&server, &key, &["mv", "backup/tree/a", "moved"]);
    let moved: Value =
        serde_json::from_str(&ok(&server, &key, &["ls", "moved/a", "--json"])).unwrap();
    assert_eq!(moved["files"].as_array().unwrap().len(), 100);
    ok(&server, &key, &["mv", "moved/a/f000.bin", "backup"]);
    assert!(ok(&server, &key, &["url", "backup/f000.bin"]).contains("/acme/files/backup/f000.bin"));

    // A download cut off halfway resumes from its partial file.
    let (path, bytes) = &files[1];
    let hash = blake3::hash(bytes).to_hex().to_string();
    let downloads = dir.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    std::fs::write(
        downloads.join(format!(".f001.bin.{}.part", &hash[..16])),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let out = run(
        &server,
        &key,
        &[
            "get",
            &format!("backup/{path}"),
            downloads.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains(&format!("resumed after {} bytes", bytes.len() / 2)));
    assert_eq!(std::fs::read(downloads.join("f001.bin")).unwrap(), *bytes);
    assert_eq!(
        std::fs::read_dir(&downloads).unwrap().count(),
        1,
        "no partial file left"
    );

    // Removing, and the exit codes of what goes wrong.
    ok(&server, &key, &["rm", &format!("backup/{path}")]);
    let gone = run(&server, &key, &["get", &format!("backup/{path}")]);
    assert_eq!(gone.status.code(), Some(3), "not found");
    let folder = run(&server, &key, &["rm", "backup"]);
    assert_eq!(folder.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&folder.stderr)
        .contains("backup is a folder: remove it with --recursive"));
    ok(&server, &key, &["rm", "-r", "backup", "moved"]);
    assert_eq!(run(&server, &key, &["ls", "backup"]).status.code(), Some(3));
    let refused = run(&server, "md_not_a_key", &["ls"]);
    assert_eq!(refused.status.code(), Some(1));
    let viewer = server.key("acme", "viewer");
    let forbidden = run(&server, &viewer, &["mkdir", "x"]);
    assert_eq!(forbidden.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&forbidden.stderr).contains("Insufficient permissions"));
    let mut nowhere = std::process::Command::new(BIN);
    nowhere
        .args(["ls", "--server", "http://127.0.0.1:9", "--key", &key])
        .env_remove("MEDIADRIVE_SERVER");
    assert_eq!(nowhere.output().unwrap().status.code(), Some(2));
}

const MIB: usize = 1 << 20;

/// The bytes the server has taken in upload bodies so far.
async fn bytes_received(server: &Server) -> f64 {
    // Absent until the first body byte arrives.
    server
        .metrics()
        .await
        .get("mediadrive_bytes_received_total")
        .copied()
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_large_upload_killed_halfway_resumes_without_sending_bytes_twice() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let file = dir.path().join("master.mov");
    let size = 24 * MIB;
    let content = bytes(9, size);
    std::fs::write(&file, &content).unwrap();
    let upload = |extra: &[&str]| {
        let mut command = std::process::Command::new(BIN);
        command
            .args(["upload", file.to_str().unwrap(), "--to", "masters"])
            .args(["--resumable-above", "1MiB", "--chunk-size", "1MiB"])
            .args(extra)
            .env("MEDIADRIVE_SERVER", &server.base)
            .env("MEDIADRIVE_KEY", &key)
            .env("XDG_CACHE_HOME", &cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    let saved_uploads = || {
        std::fs::read_dir(cache.join("mediadrive/uploads"))
            .map(|d| d.count())
            .unwrap_or(0)
    };

    // Four MiB a second: killed once about half the file reached the server.
    let mut first = upload(&["--bwlimit", "4MiB"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while bytes_received(&server).await < (size / 2) as f64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never got halfway"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the upload ended early"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let sent_before = bytes_received(&server).await;
    assert!(sent_before < size as f64, "killed too late: {sent_before}");
    assert_eq!(
        saved_uploads(),
        1,
        "the upload's URL is kept until the file is recorded"
    );
    let (_, pending) = server
        .call("GET", "/v2/media/file?path=masters/master.mov", &key, None)
        .await;
    assert_eq!(pending["file"]["status"], "pending", "{pending}");

    let out = upload(&[]).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "uploaded  masters/master.mov");
    let resumed_at: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("resuming masters/master.mov at byte "))
        .unwrap_or_else(|| panic!("no resume in {stderr}"))
        .parse()
        .unwrap();
    assert!(
        resumed_at >= (size / 2 - MIB) as u64,
        "resumed at {resumed_at}"
    );
    // What the killed run had sent and the server kept is not sent again: at most the piece in
    // flight at the kill (which its checksum refused) is.
    let received = bytes_received(&server).await;
    assert!(
        received <= (size + MIB) as f64,
        "{received} bytes received for a {size}-byte file"
    );
    assert_eq!(saved_uploads(), 0);
    assert_eq!(server.partial_files().await, 0);
    let (_, done) = server
        .call("GET", "/v2/media/file?path=masters/master.mov", &key, None)
        .await;
    assert_eq!(done["file"]["status"], "uploaded", "{done}");
    let served = server.get(done["file"]["url"].as_str().unwrap()).await;
    assert_eq!(served.bytes().await.unwrap().as_ref(), content.as_slice());

    // Run again, it finds the file there and sends nothing.
    let again = upload(&[]).output().unwrap();
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "unchanged masters/master.mov"
    );
    assert_eq!(bytes_received(&server).await, received);
}
