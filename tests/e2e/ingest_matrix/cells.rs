//! The cells of the matrix, one function per failure, each matching on the path.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    assert_counted, cell,
    downloads::{self, Files, BIG},
    key_of, streams, v2_error, vj_error, Failure, Path, ASSET_CAP, BLOCKED, IDLE_SECS,
    SHUTTING_DOWN, TOO_LARGE,
};
use crate::{
    harness::{json_of, Server},
    sizes::assert_nothing_staged,
};

const SIZE_MISMATCH: &str = "Uploaded size does not match the declared size";
/// Seed 002's 500 MB, as the server counts it, and the room a Video Jungle form may take besides.
const MAX_UPLOAD: u64 = 500 * 1024 * 1024;
const FORM_ALLOWANCE: u64 = 64 * 1024;

pub async fn one(server: &Server, files: &Files, path: Path, failure: Failure) {
    let key = key_of(server, path);
    match failure {
        Failure::TooLarge => too_large(server, files, &key, path).await,
        Failure::Quota => quota(server, files, &key, path).await,
        Failure::Stall => stall(server, files, &key, path).await,
        Failure::TempBudget => super::temp_budget::cell_of(server, files, &key, path).await,
        Failure::Shutdown => unreachable!("the shutdown cells run together"),
    }
    assert_nothing_staged(server).await;
}

/// The error an answer must be: `body` in its surface's shape, with `status`.
fn assert_answer(name: &str, got: (StatusCode, Value), status: u16, body: Value) {
    assert_eq!((got.0.as_u16(), got.1), (status, body), "{name}");
}

/// `len` bytes sent as a chunked body (no length declared), 1 MiB at a time, after `prefix` and
/// before `suffix`; and how many bytes the client has handed to the connection so far.
fn chunked(prefix: Vec<u8>, len: usize, suffix: Vec<u8>) -> (reqwest::Body, Arc<AtomicUsize>) {
    const CHUNK: usize = 1024 * 1024;
    let chunk = Bytes::from(crate::harness::bytes(9, CHUNK));
    let middle = (0..len.div_ceil(CHUNK)).map(move |i| chunk.slice(..CHUNK.min(len - i * CHUNK)));
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let all = std::iter::once(Bytes::from(prefix))
        .chain(middle)
        .chain(std::iter::once(Bytes::from(suffix)))
        .map(move |b| {
            counter.fetch_add(b.len(), Ordering::Relaxed);
            Ok::<_, std::io::Error>(b)
        });
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(all));
    (body, sent)
}

/// Sets the drive quota, and the temp budget (which follows it by default) apart from it, so the
/// cell tests the drive quota alone.
fn set_quota(server: &Server, path: Path, bytes: u64) {
    let quota = bytes.to_string();
    let tenant = path.tenant();
    let apart = "1000000000";
    server.cli_ok(&[
        "client",
        "set",
        "--client",
        tenant,
        "--quota",
        &quota,
        "--temp-quota",
        apart,
    ]);
}

async fn too_large(server: &Server, files: &Files, key: &str, path: Path) {
    let name = cell(path, Failure::TooLarge);
    match path {
        Path::SignedPut => {
            // A Content-Length that differs from the grant is refused before a byte is read.
            let small = streams::open(server, key, path, "small.bin", 8).await;
            let resp = small.request(server, &server.base).body(vec![1u8; 9]);
            let got = json_of(resp.send().await.unwrap()).await;
            assert_answer(&name, got, 400, v2_error(SIZE_MISMATCH));
            // With no length declared, the body is counted as it streams: 100 MB and one byte more.
            let size = BIG;
            let big = streams::open(server, key, path, "big.bin", size).await;
            let (body, _) = chunked(vec![], size + 1, vec![]);
            let resp = big.request(server, &server.base).body(body).send().await;
            let got = json_of(resp.unwrap()).await;
            assert_answer(&name, got, 400, v2_error(SIZE_MISMATCH));
            // Both grants stay reserved (their URLs are still valid); nothing is counted as used.
            assert_counted(server, path, Failure::TooLarge, 0, 8 + size as u64).await;
            small
                .assert_nothing_visible(server, Failure::TooLarge)
                .await;
            big.assert_nothing_visible(server, Failure::TooLarge).await;
        }
        Path::DirectS3 => {
            let opened = streams::open(server, key, path, "longer.bin", 1000).await;
            let url = opened.target.clone();
            let (status, body) = server
                .put(&url, "application/octet-stream", vec![3u8; 2000])
                .await;
            assert!(
                status.is_success(),
                "{name}: the object store said {status}: {body}"
            );
            // The reconciler sees the wrong size and drops the bytes; the file waits on.
            assert!(
                server.let_reconciler_run().await,
                "{name}: uploads/ not emptied"
            );
            let (status, file) = server
                .call("GET", "/v2/media/file?path=longer.bin", key, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{name}: {file}");
            assert_eq!(file["file"]["status"], "pending", "{name}: {file}");
            assert_counted(server, path, Failure::TooLarge, 0, 1000).await;
            opened
                .assert_nothing_visible(server, Failure::TooLarge)
                .await;
        }
        Path::Tus => {
            let opened = streams::open(server, key, path, "past.bin", 8).await;
            let resp = opened.request(server, &server.base).body(vec![1u8; 9]);
            let got = json_of(resp.send().await.unwrap()).await;
            assert_answer(&name, got, 413, v2_error("The bytes go past Upload-Length"));
            let url = server.url(&opened.target);
            assert_eq!(server.tus_offset(key, &url).await, 0, "{name}");
            assert_counted(server, path, Failure::TooLarge, 0, 8).await;
            opened
                .assert_nothing_visible(server, Failure::TooLarge)
                .await;
        }
        Path::VideoJungle | Path::RenderUpload => {
            let opened = streams::open(server, key, path, "capped", 8).await;
            let (head, limit, shape): (String, u64, fn(&str) -> Value) = match path {
                Path::VideoJungle => (
                    format!(
                        "POST {} HTTP/1.1\r\nx-api-key: {key}\r\n\
                         Content-Type: multipart/form-data; boundary=X",
                        opened.target
                    ),
                    MAX_UPLOAD + FORM_ALLOWANCE,
                    vj_error,
                ),
                _ => (
                    format!("PUT {} HTTP/1.1\r\nx-api-key: {key}", opened.target),
                    MAX_UPLOAD,
                    v2_error,
                ),
            };
            let (status, body) = streams::refused_unread(server, &head, limit + 1).await;
            assert_eq!((status, body), (413, shape(TOO_LARGE)), "{name}");
            assert_counted(server, path, Failure::TooLarge, 0, 0).await;
            opened
                .assert_nothing_visible(server, Failure::TooLarge)
                .await;
        }
        Path::SrcPreload | Path::RenderSrc => {
            let src = format!("{}/big", files.base);
            let started = downloads::start(server, key, path, &src).await;
            let error = format!("the asset exceeds the maximum size of {ASSET_CAP} bytes");
            started
                .assert_failed(server, Failure::TooLarge, &error, true)
                .await;
            assert_counted(server, path, Failure::TooLarge, 0, 0).await;
        }
    }
}

async fn quota(server: &Server, files: &Files, key: &str, path: Path) {
    let name = cell(path, Failure::Quota);
    match path {
        // On S3 this is the grant of the direct upload too.
        Path::SignedPut => {
            set_quota(server, path, 1000);
            let kept = crate::harness::bytes(1, 600);
            server
                .upload(key, "", "kept.bin", "application/octet-stream", &kept)
                .await;
            let ask =
                json!({"name": "over.bin", "contentType": "application/octet-stream", "size": 500});
            let got = server.call("POST", "/v2/media/file", key, Some(ask)).await;
            assert_answer(&name, got, 403, v2_error(BLOCKED));
            assert_counted(server, path, Failure::Quota, 600, 0).await;
            super::assert_no_file(server, key, path, Failure::Quota, "over.bin").await;
        }
        Path::Tus => {
            set_quota(server, path, 1000);
            let meta = [
                ("filename", "over.bin"),
                ("filetype", "application/octet-stream"),
            ];
            let got = json_of(server.tus_create(key, &meta, 2000).await).await;
            assert_answer(&name, got, 403, v2_error(BLOCKED));
            assert_counted(server, path, Failure::Quota, 0, 0).await;
            super::assert_no_file(server, key, path, Failure::Quota, "over.bin").await;
        }
        Path::VideoJungle => {
            set_quota(server, path, 50_000_000);
            let opened = streams::open(server, key, path, "over", 8).await;
            // A form whose length leaves no room is refused before its body is read.
            let head = format!(
                "POST {} HTTP/1.1\r\nx-api-key: {key}\r\n\
                 Content-Type: multipart/form-data; boundary=X",
                opened.target
            );
            let (status, body) = streams::refused_unread(server, &head, 100_000_000).await;
            assert_eq!((status, body), (403, vj_error(BLOCKED)), "{name}");
            // A form of 100 MB sent without a length is reserved as it arrives, and refused once
            // it passes the 50 MB of room, well before its end.
            let (body, sent) = chunked(opened.prefix.clone(), BIG, opened.suffix.clone());
            let resp = opened.request(server, &server.base).body(body).send().await;
            let got = json_of(resp.unwrap()).await;
            assert_answer(&name, got, 403, vj_error(BLOCKED));
            let sent = sent.load(Ordering::Relaxed);
            assert!(sent < BIG * 9 / 10, "{name}: {sent} bytes were taken first");
            assert_counted(server, path, Failure::Quota, 0, 0).await;
            opened.assert_nothing_visible(server, Failure::Quota).await;
        }
        Path::RenderUpload | Path::RenderSrc => {
            set_quota(server, path, 1000);
            let src = format!("{}/clip.mp4", files.base);
            let (id, url) = if path == Path::RenderUpload {
                let opened = streams::open(server, key, path, "clip", 8).await;
                let clip = server.get(&src).await.bytes().await.unwrap();
                let resp = opened.request(server, &server.base).body(clip).send().await;
                let (status, stored) = json_of(resp.unwrap()).await;
                // The 24-hour tier takes it: it counts against the temp budget, not the quota.
                assert_eq!(status, StatusCode::OK, "{name}: {stored}");
                let streams::Leftover::Output { render } = &opened.leftover else {
                    unreachable!()
                };
                (render.clone(), stored["url"].as_str().unwrap().to_string())
            } else {
                let started = downloads::start(server, key, path, &src).await;
                let video = started.settled(server, Failure::Quota).await;
                (
                    started.id,
                    video["url"].as_str().unwrap_or_default().to_string(),
                )
            };
            // Hosting it in the drive is refused; the temporary copy is still served.
            let started = downloads::Started {
                path: Path::RenderSrc,
                key: key.to_string(),
                id,
            };
            let output = started.settled(server, Failure::Quota).await;
            assert_eq!(
                (&output["status"], &output["error"]),
                (&json!("failed"), &json!(BLOCKED)),
                "{name}: {output}"
            );
            assert_eq!(server.get(&url).await.status(), StatusCode::OK, "{name}");
            started.assert_not_in_drive(server, Failure::Quota).await;
            assert_counted(server, path, Failure::Quota, 0, 0).await;
        }
        Path::SrcPreload => {
            set_quota(server, path, 100);
            let src = format!("{}/clip.mp4", files.base);
            let started = downloads::start(server, key, path, &src).await;
            let item = started.settled(server, Failure::Quota).await;
            // Seed 000: the asset is still made and served from the cache, with a warning.
            assert_eq!(
                (&item["status"], &item["persistent"], &item["warning"]),
                (&json!("ready"), &json!(false), &json!("quota_blocked")),
                "{name}: {item}"
            );
            let url = item["url"].as_str().unwrap();
            assert!(url.contains("/tmp/"), "{name}: {item}");
            assert_eq!(server.get(url).await.status(), StatusCode::OK, "{name}");
            started.assert_not_in_drive(server, Failure::Quota).await;
            assert_counted(server, path, Failure::Quota, 0, 0).await;
        }
        Path::DirectS3 => unreachable!("the grant's cell is SignedPut's"),
    }
}

async fn stall(server: &Server, files: &Files, key: &str, path: Path) {
    let name = cell(path, Failure::Stall);
    match path {
        Path::SignedPut | Path::Tus | Path::VideoJungle | Path::RenderUpload => {
            let size = 100_000;
            let opened = streams::open(server, key, path, "stalled", size).await;
            let (tx, answer) = opened.stream(server, opened.body_len(size));
            let mut first = opened.prefix.clone();
            first.extend_from_slice(&[5u8; 4]);
            let started = Instant::now();
            tx.send(Ok(first)).await.unwrap();
            let (status, body, _) =
                streams::answered(answer, Duration::from_secs(IDLE_SECS + 20), &name).await;
            assert!(
                started.elapsed() >= Duration::from_secs(IDLE_SECS),
                "{name}"
            );
            drop(tx);
            let message = format!("Upload sent no bytes for {IDLE_SECS} seconds");
            let shape = if path == Path::VideoJungle {
                vj_error
            } else {
                v2_error
            };
            assert_answer(&name, (status, body), 408, shape(&message));
            // A grant and a tus upload keep their reservation; the others hold none any more.
            let pending = match path {
                Path::SignedPut | Path::Tus => size as u64,
                _ => 0,
            };
            assert_counted(server, path, Failure::Stall, 0, pending).await;
            if path == Path::Tus {
                // What arrived is kept, as tus promises, yet counts as nothing used.
                let url = server.url(&opened.target);
                assert_eq!(server.tus_offset(key, &url).await, 4, "{name}");
            }
            opened.assert_nothing_visible(server, Failure::Stall).await;
        }
        Path::SrcPreload | Path::RenderSrc => {
            let src = format!("{}/stall", files.base);
            let at = Instant::now();
            let started = downloads::start(server, key, path, &src).await;
            let stalled = format!("stalled: it sent no bytes for {IDLE_SECS} seconds");
            started
                .assert_failed(server, Failure::Stall, &stalled, false)
                .await;
            // The idle timeout, not the 60 s a whole download may take.
            assert!(at.elapsed() < Duration::from_secs(30), "{name}");
            assert_counted(server, path, Failure::Stall, 0, 0).await;
        }
        Path::DirectS3 => unreachable!("the node sees no byte of a direct upload"),
    }
}

/// Every path in flight at once when the node is told to stop, with a grace period of 1 s.
pub async fn shutdown(mut server: Server, files: &Files, peer_flags: &[&str], paths: &[Path]) {
    let failure = Failure::Shutdown;
    let received = server.bytes_received().await;
    let mut sent = 0;
    let mut flights = Vec::new();
    let mut downloads = Vec::new();
    for &path in paths {
        let key = key_of(&server, path);
        match path {
            Path::SignedPut | Path::Tus | Path::VideoJungle | Path::RenderUpload => {
                let size = 100_000;
                let opened = streams::open(&server, &key, path, "cut", size).await;
                let (tx, answer) = opened.stream(&server, opened.body_len(size));
                let mut first = opened.prefix.clone();
                first.extend_from_slice(&[6u8; 4]);
                sent += first.len();
                tx.send(Ok(first)).await.unwrap();
                flights.push((opened, tx, answer, size));
            }
            Path::SrcPreload | Path::RenderSrc => {
                let src = format!("{}/stall", files.base);
                downloads.push(downloads::start(&server, &key, path, &src).await);
            }
            Path::DirectS3 => unreachable!("the node sees no byte of a direct upload"),
        }
    }
    server.wait_received(received + sent as f64).await;
    files.wait_stalled(downloads.len()).await;
    assert!(
        server.terminate(Duration::from_secs(15)).await,
        "the node did not exit within 15 s of SIGTERM with a grace period of 1 s"
    );
    let mut cut = Vec::new();
    for (opened, tx, answer, size) in flights {
        let name = cell(opened.path, failure);
        let (status, body, retry) = streams::answered(answer, Duration::from_secs(40), &name).await;
        let shape = if opened.path == Path::VideoJungle {
            vj_error
        } else {
            v2_error
        };
        assert_answer(&name, (status, body), 503, shape(SHUTTING_DOWN));
        assert_eq!(retry.as_deref(), Some("1"), "{name}");
        drop(tx);
        cut.push((opened, size));
    }

    let peer = server.start_peer_with(peer_flags).await;
    assert_nothing_staged(&peer).await;
    for (opened, size) in cut {
        let pending = match opened.path {
            Path::SignedPut | Path::Tus => size as u64,
            _ => 0,
        };
        assert_counted(&peer, opened.path, failure, 0, pending).await;
        opened.assert_nothing_visible(&peer, failure).await;
    }
    for started in downloads {
        let name = cell(started.path, failure);
        let now = started.now(&peer).await;
        assert_ne!(now["status"], "ready", "{name}: {now}");
        assert!(now["url"].is_null(), "{name}: {now}");
        started.assert_not_in_drive(&peer, failure).await;
        assert_counted(&peer, started.path, failure, 0, 0).await;
    }
}
