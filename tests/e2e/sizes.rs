//! Bodies of real size, 100 MB and more, through every way bytes enter the store: a presigned PUT,
//! tus in pieces, a Video Jungle form, a render output and a `src` download. Each stored file is
//! read back and compared by its hash, and the quota is checked where the path counts. On S3 each
//! body that streams through the node crosses the object store client's 5 MiB multipart threshold.

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::{multipart, Response, StatusCode};
use serde_json::{json, Value};

use crate::harness::{self, json_of, Server};

/// 100 MB: 20 times the object store client's multipart threshold.
pub const SIZE: usize = 100_000_000;
/// A tus client's piece: a few MiB, as tus-js-client and tuspy are usually set.
const PIECE: usize = 8 * 1024 * 1024;

/// The hash and length of a response's body, read as it streams.
pub async fn digest_of(resp: Response) -> (u64, blake3::Hash) {
    let mut hasher = blake3::Hasher::new();
    let mut len = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("reading a body back");
        len += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (len, hasher.finalize())
}

/// Reads `url` back and checks it holds exactly `expected`.
pub async fn assert_served(server: &Server, url: &str, expected: &[u8]) {
    let resp = server.get(url).await;
    assert_eq!(resp.status(), StatusCode::OK, "{url}");
    let (len, hash) = digest_of(resp).await;
    assert_eq!(
        (len, hash),
        (expected.len() as u64, blake3::hash(expected)),
        "{url}"
    );
}

/// `(used_bytes, pending_bytes)` of a client.
pub fn usage(server: &Server, client: &str) -> (u64, u64) {
    let shown = server.client_show(client);
    (
        shown["used_bytes"].as_u64().unwrap(),
        shown["pending_bytes"].as_u64().unwrap(),
    )
}

/// Waits until nothing is staged: a dropped staged blob is removed in the background.
pub async fn assert_nothing_staged(server: &Server) {
    poll(Duration::from_secs(10), "staging is empty", || async {
        (server.staging_files().await == 0).then_some(())
    })
    .await;
}

/// Polls `check` until it gives a value or `within` runs out.
pub async fn poll<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A body as a stream of 1 MiB chunks, as a client sending from a file does.
pub fn streamed(content: Bytes) -> reqwest::Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..content.len())
        .step_by(1024 * 1024)
        .map(|at| Ok(content.slice(at..content.len().min(at + 1024 * 1024))))
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// A valid MP4 of more than 100 MB: MPEG-4 video at its highest quality from seeded noise, which
/// does not compress. Made once for the tests that need real media (render outputs, `src`).
fn big_video() -> Bytes {
    static VIDEO: OnceLock<Bytes> = OnceLock::new();
    VIDEO
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let noise = dir.path().join("noise.gray");
            let frame = 640 * 480;
            std::fs::write(&noise, harness::bytes(40, 330 * frame)).unwrap();
            let video = harness::ffmpeg(
                &[
                    "-f",
                    "rawvideo",
                    "-pixel_format",
                    "gray",
                    "-video_size",
                    "640x480",
                    "-framerate",
                    "25",
                    "-i",
                    noise.to_str().unwrap(),
                    "-c:v",
                    "mpeg4",
                    "-q:v",
                    "1",
                ],
                &dir.path().join("noise.mp4"),
            );
            assert!(
                video.len() >= SIZE,
                "the video is only {} bytes",
                video.len()
            );
            Bytes::from(video)
        })
        .clone()
}

#[tokio::test]
async fn a_100_mb_presigned_put_is_stored_whole_and_counted() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let content = Bytes::from(harness::bytes(30, SIZE));
    let ticket = server
        .request_upload(&key, "big", "take.bin", "application/octet-stream", SIZE)
        .await;
    assert_eq!(usage(&server, "acme"), (0, SIZE as u64));
    let started = Instant::now();
    let resp = server
        .http
        .put(ticket["uploadUrl"].as_str().unwrap())
        .header("content-type", "application/octet-stream")
        .body(streamed(content.clone()))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", json_of(resp).await);
    // A direct upload to the object store is confirmed by the reconciler, which reads it whole.
    let url = ticket["fileUrl"].as_str().unwrap();
    poll(
        Duration::from_secs(60),
        "the upload is confirmed",
        || async { (usage(&server, "acme") == (SIZE as u64, 0)).then_some(()) },
    )
    .await;
    eprintln!("presigned PUT of {SIZE} bytes: {:?}", started.elapsed());
    assert_served(&server, url, &content).await;
    assert_nothing_staged(&server).await;
}

#[tokio::test]
async fn a_100_mb_tus_upload_in_pieces_of_8_mib_is_reassembled_in_order() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    // Every piece has content of its own, so a piece dropped, repeated or reordered shows.
    let pieces: Vec<Bytes> = (0..SIZE.div_ceil(PIECE))
        .map(|i| Bytes::from(harness::bytes(100 + i as u64, PIECE.min(SIZE - i * PIECE))))
        .collect();
    let mut whole = blake3::Hasher::new();
    for piece in &pieces {
        whole.update(piece);
    }
    let whole = whole.finalize();
    let created = server
        .tus_create(
            &key,
            &[("filename", "long take.bin"), ("folder", "big")],
            SIZE as u64,
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let url = created.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(usage(&server, "acme"), (0, SIZE as u64));
    let started = Instant::now();
    let mut offset = 0;
    let mut etag = None;
    for piece in pieces {
        let len = piece.len();
        let resp = server
            .http
            .patch(&url)
            .header("x-api-key", &key)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(piece)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "piece at {offset}");
        offset += len;
        assert_eq!(resp.headers()["upload-offset"], offset.to_string().as_str());
        etag = resp.headers().get("etag").cloned();
    }
    eprintln!("tus upload of {SIZE} bytes: {:?}", started.elapsed());
    assert_eq!(
        etag.unwrap().to_str().unwrap(),
        format!("\"{}\"", whole.to_hex())
    );
    assert_eq!(usage(&server, "acme"), (SIZE as u64, 0));
    let resp = server
        .get(&server.url("/acme/files/big/long_take.bin"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(digest_of(resp).await, (SIZE as u64, whole));
    assert_eq!(server.partial_files().await, 0);
}

/// A Video Jungle project and an asset waiting for its bytes; the path to send them to.
pub async fn vj_asset(server: &Server, key: &str, keyname: &str) -> String {
    let (status, project) = server
        .call(
            "POST",
            "/videojungle/projects",
            key,
            Some(json!({"name": "sizes", "description": "big files"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    let (status, link) = server
        .call(
            "POST",
            &format!(
                "/videojungle/projects/{}/asset",
                project["id"].as_str().unwrap()
            ),
            key,
            Some(json!({"upload_method": "file-no-chunk", "keyname": keyname})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    format!(
        "/videojungle{}",
        link["upload_url"]["url"].as_str().unwrap()
    )
}

#[tokio::test]
async fn a_100_mb_video_jungle_form_streams_in_with_its_quota_reserved_first() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let upload = vj_asset(&server, &key, "long take").await;
    let content = Bytes::from(harness::bytes(31, SIZE));
    // The bytes go out as the test hands them over, so it can look at the quota before most of
    // them arrived.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_of(rx));
    let part = multipart::Part::stream_with_length(body, SIZE as u64).file_name("long take");
    let form = multipart::Form::new().part("file", part);
    let started = Instant::now();
    let sent = server
        .http
        .post(server.url(&upload))
        .header("x-api-key", &key)
        .multipart(form)
        .send();
    let sent = tokio::spawn(sent);
    tx.send(Ok(content.slice(..PIECE))).await.unwrap();
    // The form's length less the room its framing may take is held from the start.
    let held = poll(Duration::from_secs(10), "the reservation", || async {
        let (used, pending) = usage(&server, "acme");
        (used == 0 && pending > 0).then_some(pending)
    })
    .await;
    assert!(
        held <= SIZE as u64 && held > SIZE as u64 - 64 * 1024,
        "{held} bytes reserved for {SIZE}"
    );
    for at in (PIECE..SIZE).step_by(PIECE) {
        tx.send(Ok(content.slice(at..SIZE.min(at + PIECE))))
            .await
            .unwrap();
    }
    drop(tx);
    let (status, asset) = json_of(sent.await.unwrap().unwrap()).await;
    eprintln!("Video Jungle form of {SIZE} bytes: {:?}", started.elapsed());
    assert_eq!(status, StatusCode::OK, "{asset}");
    assert_eq!(asset["uploaded"], true);
    // The reservation gave way to the file at its exact size; no pending file is left behind.
    assert_eq!(usage(&server, "acme"), (SIZE as u64, 0));
    let path = asset["asset_path"].as_str().unwrap();
    let folder = path.rsplit_once('/').unwrap().0;
    let (_, listing) = server
        .call(
            "GET",
            &format!("/v2/media/folder?path={folder}"),
            &key,
            None,
        )
        .await;
    let names: Vec<_> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].clone(), f["status"].clone(), f["size"].clone()))
        .collect();
    assert_eq!(
        names,
        [(json!("long_take"), json!("uploaded"), json!(SIZE))]
    );
    assert_served(&server, asset["url"].as_str().unwrap(), &content).await;
    assert_nothing_staged(&server).await;
}

/// The receiving end of a channel as a stream.
fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn a_100_mb_render_output_is_served_at_once_and_hosted() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let video = big_video();
    let (status, render) = server
        .call(
            "POST",
            "/v2/renders",
            &key,
            Some(json!({"outputs": [{"type": "video"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{render}");
    let id = render["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let resp = server
        .http
        .put(render["outputs"][0]["upload_url"].as_str().unwrap())
        .header("x-api-key", &key)
        .body(streamed(video.clone()))
        .send()
        .await
        .unwrap();
    let (status, stored) = json_of(resp).await;
    eprintln!(
        "render output of {} bytes: {:?}",
        video.len(),
        started.elapsed()
    );
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["content_type"], "video/mp4");
    assert_served(&server, stored["url"].as_str().unwrap(), &video).await;
    // Hosting copies it into the drive, where it counts.
    let output = poll(Duration::from_secs(60), "the output is hosted", || async {
        let (_, render) = server
            .call("GET", &format!("/v2/renders/{id}"), &key, None)
            .await;
        let output = render["outputs"][0].clone();
        (output["status"] == "ready").then_some(output)
    })
    .await;
    assert_eq!(output["size"], video.len());
    assert_served(&server, output["hosted_url"].as_str().unwrap(), &video).await;
    assert_eq!(usage(&server, "acme"), (video.len() as u64, 0));
    assert_nothing_staged(&server).await;
}

/// Serves one file at `/{name}` on 127.0.0.1; the base URL.
async fn file_server(name: &'static str, content: Bytes) -> String {
    let app = axum::Router::new().route(
        &format!("/{name}"),
        axum::routing::get(move || {
            let content = content.clone();
            async move { ([("content-type", "video/mp4")], content) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn a_100_mb_src_download_is_cached_and_saved_to_the_drive() {
    let video = big_video();
    let files = file_server("take.mp4", video.clone()).await;
    let server = Server::start_with(&["--fetch-allow", "127.0.0.1/32"]).await;
    let key = server.key("acme", "render");
    let item = json!({"id": "take", "type": "video", "src": format!("{files}/take.mp4"), "save-to-media": true});
    let (status, queued) = server
        .call(
            "POST",
            "/v2/preloads",
            &key,
            Some(json!({"preload": [item]})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let started = Instant::now();
    let preload = format!("/v2/preloads/{}", queued["id"].as_str().unwrap());
    let done: Value = poll(Duration::from_secs(120), "the preload", || async {
        let (_, body) = server.call("GET", &preload, &key, None).await;
        (body["status"] == "done").then_some(body)
    })
    .await;
    eprintln!(
        "src download of {} bytes: {:?}",
        video.len(),
        started.elapsed()
    );
    let item = &done["items"][0];
    assert_eq!(item["status"], "ready", "{item}");
    assert!(
        item["url"]
            .as_str()
            .unwrap()
            .ends_with("/acme/files/generated/video/take.mp4"),
        "{item}"
    );
    assert_served(&server, item["url"].as_str().unwrap(), &video).await;
    assert_eq!(usage(&server, "acme"), (video.len() as u64, 0));
    assert_nothing_staged(&server).await;
}
