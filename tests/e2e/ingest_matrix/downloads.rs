//! The paths whose bytes the node downloads itself: a `src` preload and a render output by URL,
//! from a loopback file server the test runs, which can send too much, stall, or serve a file.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{body::Body, routing::get, Router};
use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{assert_no_file, cell, Failure, Path};
use crate::{harness::Server, sizes::poll};

/// What the remote sends from `/big`: twice the node's `max_asset_bytes` in the size cells.
pub const BIG: usize = 100_000_000;
const CHUNK: usize = 1024 * 1024;

pub struct Files {
    pub base: String,
    /// Requests `/stall` got so far.
    stalls: Arc<AtomicUsize>,
}

impl Files {
    /// Serves, on 127.0.0.1: `/big`, 100 MB sent chunked with no length; `/stall`, 64 KiB of a
    /// longer file and then nothing, for as long as the client waits; `/clip.mp4`, a real video.
    pub async fn start() -> Self {
        let stalls = Arc::new(AtomicUsize::new(0));
        let counted = stalls.clone();
        let clip = Bytes::from(clip());
        let app = Router::new()
            .route(
                "/big",
                get(|| async {
                    let chunk = Bytes::from(crate::harness::bytes(7, CHUNK));
                    let chunks = (0..BIG.div_ceil(CHUNK)).map(move |i| {
                        let len = CHUNK.min(BIG - i * CHUNK);
                        Ok::<_, std::io::Error>(chunk.slice(..len))
                    });
                    (
                        [("content-type", "video/mp4")],
                        Body::from_stream(futures_util::stream::iter(chunks)),
                    )
                }),
            )
            .route(
                "/stall",
                get(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async {
                        let first = futures_util::stream::iter([Ok::<_, std::io::Error>(
                            Bytes::from(vec![0u8; 64 * 1024]),
                        )]);
                        let body =
                            futures_util::StreamExt::chain(first, futures_util::stream::pending());
                        (
                            [("content-type", "video/mp4"), ("content-length", "1000000")],
                            Body::from_stream(body),
                        )
                    }
                }),
            )
            .route(
                "/clip.mp4",
                get(move || {
                    let clip = clip.clone();
                    async move { ([("content-type", "video/mp4")], clip) }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, stalls }
    }

    /// Waits until `/stall` has been asked `n` times in all.
    pub async fn wait_stalled(&self, n: usize) {
        poll(Duration::from_secs(30), "the downloads started", || async {
            (self.stalls.load(Ordering::SeqCst) >= n).then_some(())
        })
        .await;
    }
}

/// A one-second video, small: enough for a render output that must be a video.
fn clip() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    crate::harness::ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=5:duration=1",
            "-c:v",
            "mpeg4",
        ],
        &dir.path().join("clip.mp4"),
    )
}

/// A download started on `path` (a preload item saved to the drive, or a render's video output
/// with hosting) from `src`; what to look at later.
pub struct Started {
    pub path: Path,
    pub key: String,
    /// The preload's or render's id.
    pub id: String,
}

pub async fn start(server: &Server, key: &str, path: Path, src: &str) -> Started {
    let id = match path {
        Path::SrcPreload => {
            let item = json!({"id": "take", "type": "video", "src": src, "save-to-media": true});
            let (status, queued) = server
                .call(
                    "POST",
                    "/v2/preloads",
                    key,
                    Some(json!({"preload": [item]})),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
            queued["id"].as_str().unwrap().to_string()
        }
        Path::RenderSrc => {
            let body = json!({"outputs": [{"type": "video", "src": src}]});
            let (status, render) = server.call("POST", "/v2/renders", key, Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{render}");
            render["id"].as_str().unwrap().to_string()
        }
        other => unreachable!("{other:?} is not a download"),
    };
    Started {
        path,
        key: key.to_string(),
        id,
    }
}

impl Started {
    /// The preload item or render output as it stands.
    pub async fn now(&self, server: &Server) -> Value {
        let at = match self.path {
            Path::SrcPreload => format!("/v2/preloads/{}", self.id),
            _ => format!("/v2/renders/{}", self.id),
        };
        let (status, body) = server.call("GET", &at, &self.key, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        match self.path {
            Path::SrcPreload => {
                let mut item = body["items"][0].clone();
                item["preload_status"] = body["status"].clone();
                item
            }
            _ => body["outputs"][0].clone(),
        }
    }

    /// The item or output once it is no longer on its way (hosting included).
    pub async fn settled(&self, server: &Server, failure: Failure) -> Value {
        let name = cell(self.path, failure);
        poll(Duration::from_secs(60), &name, || async {
            let now = self.now(server).await;
            let busy = match self.path {
                Path::SrcPreload => now["preload_status"] != "done",
                _ => {
                    ["waiting", "fetching", "importing"].contains(&now["status"].as_str().unwrap())
                }
            };
            (!busy).then_some(now)
        })
        .await
    }

    /// The item or output failed with `error` (exactly, or as its end with `ends_with`), and
    /// nothing of it shows: no temporary URL, no drive file.
    pub async fn assert_failed(&self, server: &Server, failure: Failure, error: &str, exact: bool) {
        let name = cell(self.path, failure);
        let done = self.settled(server, failure).await;
        assert_eq!(done["status"], "failed", "{name}: {done}");
        let said = done["error"].as_str().unwrap_or_default();
        assert!(
            if exact {
                said == error
            } else {
                said.ends_with(error)
            },
            "{name}: error {said:?}, want {error:?}"
        );
        assert!(done["url"].is_null(), "{name}: {done}");
        self.assert_not_in_drive(server, failure).await;
    }

    /// No drive file was made of it.
    pub async fn assert_not_in_drive(&self, server: &Server, failure: Failure) {
        match self.path {
            Path::SrcPreload => {
                assert_no_file(
                    server,
                    &self.key,
                    self.path,
                    failure,
                    "generated/video/take.mp4",
                )
                .await
            }
            _ => {
                let now = self.now(server).await;
                let name = cell(self.path, failure);
                assert!(now["hosted_url"].is_null(), "{name}: {now}");
            }
        }
    }
}
