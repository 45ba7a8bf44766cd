//! Column (e) of the matrix: the temp budget (`temp_quota`) exhausted. What a tenant keeps outside
//! the drive quota (files in `temp`, cache entries from `src` downloads, render outputs in the
//! 24-hour tier) is refused with a 403 in the surface's shape once the budget is full; the drive
//! counters do not move and nothing is kept.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{assert_counted, cell, downloads, key_of, streams, v2_error, Failure, Path, TEMP_FULL};
use crate::harness::{json_of, Server};

const CELL: Failure = Failure::TempBudget;

fn set_temp_quota(server: &Server, path: Path, bytes: u64) {
    let quota = bytes.to_string();
    server.cli_ok(&[
        "client",
        "set",
        "--client",
        path.tenant(),
        "--temp-quota",
        &quota,
    ]);
}

/// The temp usage and budget, as `client show` and the storage object of `GET /v2/media` give
/// them (they must agree).
async fn temp_usage(server: &Server, path: Path) -> (u64, Value) {
    let shown = server.client_show(path.tenant());
    let key = key_of(server, path);
    let (status, media) = server.call("GET", "/v2/media", &key, None).await;
    assert_eq!(status, StatusCode::OK, "{media}");
    let storage = &media["storage"];
    assert_eq!(
        (&shown["temp_used_bytes"], &shown["temp_quota"]),
        (&storage["temp_used_bytes"], &storage["temp_quota"]),
        "{}: client show and GET /v2/media disagree",
        cell(path, CELL)
    );
    (
        storage["temp_used_bytes"].as_u64().unwrap(),
        storage["temp_quota"].clone(),
    )
}

pub async fn cell_of(server: &Server, files: &downloads::Files, key: &str, path: Path) {
    let name = cell(path, CELL);
    let ct = "application/octet-stream";
    match path {
        Path::SignedPut => {
            set_temp_quota(server, path, 1000);
            let kept = crate::harness::bytes(21, 600);
            server.upload(key, "temp", "kept.bin", ct, &kept).await;
            let ask = json!({"name": "over.bin", "contentType": ct, "size": 500, "folder": "temp"});
            let got = server.call("POST", "/v2/media/file", key, Some(ask)).await;
            assert_eq!(got, (StatusCode::FORBIDDEN, v2_error(TEMP_FULL)), "{name}");
            // Moving a drive file into `temp` must fit the budget too; it stays where it was.
            let drive = crate::harness::bytes(22, 500);
            let url = server.upload(key, "", "drive.bin", ct, &drive).await;
            let into = json!({"name": "drive.bin", "destination": "temp"});
            let got = server.call("PUT", "/v2/media/file", key, Some(into)).await;
            assert_eq!(got, (StatusCode::FORBIDDEN, v2_error(TEMP_FULL)), "{name}");
            assert_eq!(
                server.get(&url).await.bytes().await.unwrap(),
                drive,
                "{name}"
            );
            assert_counted(server, path, CELL, 500, 0).await;
            assert_eq!(temp_usage(server, path).await, (600, json!(1000)), "{name}");
            super::assert_no_file(server, key, path, CELL, "temp/over.bin").await;
        }
        Path::Tus => {
            set_temp_quota(server, path, 1000);
            let meta = [
                ("filename", "over.bin"),
                ("filetype", ct),
                ("folder", "temp"),
            ];
            let got = json_of(server.tus_create(key, &meta, 2000).await).await;
            assert_eq!(got, (StatusCode::FORBIDDEN, v2_error(TEMP_FULL)), "{name}");
            assert_counted(server, path, CELL, 0, 0).await;
            assert_eq!(temp_usage(server, path).await, (0, json!(1000)), "{name}");
            super::assert_no_file(server, key, path, CELL, "temp/over.bin").await;
        }
        Path::RenderUpload => {
            set_temp_quota(server, path, 1000);
            let opened = streams::open(server, key, path, "clip", 8).await;
            // A declared length beyond the room is refused before a byte is read.
            let head = format!("PUT {} HTTP/1.1\r\nx-api-key: {key}", opened.target);
            let (status, body) =
                streams::refused_unread(server, &head, downloads::BIG as u64).await;
            assert_eq!((status, body), (403, v2_error(TEMP_FULL)), "{name}");
            // Sent without a length, a real video is refused once its size is known.
            let clip = server
                .get(&format!("{}/clip.mp4", files.base))
                .await
                .bytes()
                .await;
            let clip = clip.unwrap();
            assert!(clip.len() > 1000, "{name}: the clip fits the budget");
            let chunks = futures_util::stream::iter(
                clip.chunks(4096)
                    .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                    .collect::<Vec<_>>(),
            );
            let resp = opened
                .request(server, &server.base)
                .body(reqwest::Body::wrap_stream(chunks));
            let got = json_of(resp.send().await.unwrap()).await;
            assert_eq!(got, (StatusCode::FORBIDDEN, v2_error(TEMP_FULL)), "{name}");
            opened.assert_nothing_visible(server, CELL).await;
            assert_counted(server, path, CELL, 0, 0).await;
            assert_eq!(temp_usage(server, path).await, (0, json!(1000)), "{name}");
        }
        Path::SrcPreload | Path::RenderSrc => {
            set_temp_quota(server, path, 100);
            let src = format!("{}/clip.mp4", files.base);
            let started = downloads::start(server, key, path, &src).await;
            started.assert_failed(server, CELL, TEMP_FULL, true).await;
            assert_counted(server, path, CELL, 0, 0).await;
            assert_eq!(temp_usage(server, path).await, (0, json!(100)), "{name}");
        }
        Path::DirectS3 | Path::VideoJungle => unreachable!("{name} does not apply"),
    }
}
