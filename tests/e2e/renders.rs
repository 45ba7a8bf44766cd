//! Seed 004 through HTTP: render outputs handed over by URL and by upload, served from the
//! temporary tier at once, hosted in the background (a reference, counted against the quota), the
//! temporary URL gone after 24 hours, and the Shotstack Serve–compatible surface over them.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    harness::{message, Server},
    mock_models::{webp_for, MockModels},
};

mod serve_api;

struct Setup {
    server: Server,
    mock: MockModels,
    key: String,
}

async fn setup() -> Setup {
    let mock = MockModels::start().await;
    let server = Server::start_with(&["--fetch-allow", "127.0.0.0/8"]).await;
    let key = server.key("acme", "editor");
    Setup { server, mock, key }
}

impl Setup {
    fn src(&self, name: &str) -> String {
        format!("{}/files/{name}", self.mock.base)
    }

    async fn create(&self, body: Value) -> Value {
        let (status, render) = self
            .server
            .call("POST", "/v2/renders", &self.key, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{render}");
        render
    }

    async fn render(&self, id: &str) -> Value {
        let (status, render) = self
            .server
            .call("GET", &format!("/v2/renders/{id}"), &self.key, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{render}");
        render
    }

    /// The render once no output is on its way any more.
    async fn settled(&self, id: &str) -> Value {
        for _ in 0..200 {
            let render = self.render(id).await;
            let busy = render["outputs"].as_array().unwrap().iter().any(|o| {
                ["waiting", "fetching", "importing"].contains(&o["status"].as_str().unwrap())
            });
            if !busy {
                return render;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("render {id} did not settle: {}", self.render(id).await);
    }

    async fn put(&self, upload_url: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .server
            .http
            .put(upload_url)
            .header("x-api-key", &self.key)
            .body(bytes)
            .send()
            .await
            .unwrap();
        crate::harness::json_of(resp).await
    }

    async fn bytes_of(&self, url: &str) -> (StatusCode, Vec<u8>) {
        let resp = self.server.get(url).await;
        (resp.status(), resp.bytes().await.unwrap().to_vec())
    }

    async fn delete_asset(&self, id: &str) -> StatusCode {
        let url = self.server.url(&format!("/serve/v1/assets/{id}"));
        let resp = self
            .server
            .http
            .delete(url)
            .header("x-api-key", &self.key)
            .send();
        resp.await.unwrap().status()
    }

    /// A Serve API asset's attributes once it is no longer importing.
    async fn settled_asset(&self, id: &str) -> Value {
        let mut attributes = Value::Null;
        for _ in 0..200 {
            let (_, asset) = self
                .server
                .call("GET", &format!("/serve/v1/assets/{id}"), &self.key, None)
                .await;
            attributes = asset["data"]["attributes"].clone();
            if attributes["status"] != "importing" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        attributes
    }

    fn used_bytes(&self) -> u64 {
        self.server.client_show("acme")["used_bytes"]
            .as_u64()
            .unwrap()
    }
}

fn output<'a>(render: &'a Value, kind: &str) -> &'a Value {
    render["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type"] == kind)
        .unwrap()
}

#[tokio::test]
async fn outputs_by_url_and_upload_are_served_at_once_and_hosted_in_the_background() {
    let s = setup().await;
    let render = s
        .create(json!({"outputs": [
            {"type": "video", "src": s.src("clip.mp4")},
            {"type": "thumbnail", "src": s.src("thumb")},
            {"type": "poster"}
        ]}))
        .await;
    let id = render["id"].as_str().unwrap();
    assert_eq!(render["hosting"], true);
    let poster = output(&render, "poster");
    assert_eq!(poster["status"], "waiting");
    let poster_bytes = webp_for("poster", 64, 36);
    let (status, stored) = s
        .put(poster["upload_url"].as_str().unwrap(), poster_bytes.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert!(
        ["importing", "ready"].contains(&stored["status"].as_str().unwrap()),
        "{stored}"
    );
    assert_eq!(stored["content_type"], "image/webp");
    // The temporary URL works as soon as the bytes are in.
    let (status, body) = s.bytes_of(stored["url"].as_str().unwrap()).await;
    assert_eq!((status, body == poster_bytes), (StatusCode::OK, true));
    // Sent once: a second PUT is refused.
    let (status, again) = s
        .put(poster["upload_url"].as_str().unwrap(), poster_bytes.clone())
        .await;
    assert_eq!(
        (status, message(&again)),
        (StatusCode::CONFLICT, "Output already received")
    );

    let render = s.settled(id).await;
    let mut hosted_bytes = 0;
    for (kind, suffix, ext) in [
        ("video", "", "mp4"),
        ("thumbnail", "-thumb", "webp"),
        ("poster", "-poster", "webp"),
    ] {
        let out = output(&render, kind);
        assert_eq!(out["status"], "ready", "{out}");
        let hosted = out["hosted_url"].as_str().unwrap();
        assert_eq!(
            hosted,
            s.server
                .url(&format!("/acme/files/renders/{id}{suffix}.{ext}"))
        );
        let (status, temp) = s.bytes_of(out["url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let (status, kept) = s.bytes_of(hosted).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(temp, kept);
        assert_eq!(out["size"].as_u64().unwrap(), kept.len() as u64);
        hosted_bytes += kept.len() as u64;
    }
    let video = output(&render, "video");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(video["duration"].as_f64().unwrap() > 0.9);
    // Hosting counts against the quota; the temporary tier does not.
    assert_eq!(s.used_bytes(), hosted_bytes);
    let (_, listing) = s
        .server
        .call("GET", "/v2/media/folder?folder=renders", &s.key, None)
        .await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 3, "{listing}");

    // After 24 hours the temporary URLs are gone; hosting stays.
    let at = (Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    s.server.cli_ok(&["sweep", "--at", &at]);
    for kind in ["video", "thumbnail", "poster"] {
        let out = output(&render, kind);
        let (status, _) = s.bytes_of(out["url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::GONE, "{kind}");
        let (status, _) = s.bytes_of(out["hosted_url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
    }
}

#[tokio::test]
async fn a_render_that_opts_out_of_hosting_stays_temporary_and_costs_no_quota() {
    let s = setup().await;
    let render = s
        .create(json!({"hosting": false, "outputs": [{"type": "video", "src": s.src("clip.mp4")}]}))
        .await;
    let render = s.settled(render["id"].as_str().unwrap()).await;
    let video = output(&render, "video");
    assert_eq!(video["status"], "temporary", "{video}");
    assert!(video["hosted_url"].is_null());
    let expires = chrono::DateTime::parse_from_rfc3339(video["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let ttl = expires - Utc::now();
    assert!(ttl > chrono::Duration::hours(23) && ttl <= chrono::Duration::hours(24));
    let (status, bytes) = s.bytes_of(video["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.used_bytes(), 0);
    // It counts against the temp budget instead, until it expires.
    let temp = |s: &Setup| s.server.client_show("acme")["temp_used_bytes"].as_u64();
    assert_eq!(temp(&s), Some(bytes.len() as u64));
    let at = (Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    s.server.cli_ok(&["sweep", "--at", &at]);
    assert_eq!(temp(&s), Some(0));
    // Not hosted, so not an asset of the Serve API.
    let (status, assets) = s
        .server
        .call(
            "GET",
            &format!("/serve/v1/assets/render/{}", render["id"].as_str().unwrap()),
            &s.key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assets["data"], json!([]));
}

#[tokio::test]
async fn hosting_fails_on_a_full_drive_and_a_bad_download_fails_its_output_alone() {
    let s = setup().await;
    // A full drive, with room in the 24-hour tier (a temp budget set apart from the quota).
    let set = ["--quota", "1000", "--temp-quota", "100000000"];
    s.server
        .cli_ok(&[&["client", "set", "--client", "acme"][..], &set[..]].concat());
    let render = s
        .create(json!({"outputs": [
            {"type": "video", "src": s.src("clip.mp4")},
            {"type": "poster", "src": s.src("big.bin")}
        ]}))
        .await;
    let render = s.settled(render["id"].as_str().unwrap()).await;
    let video = output(&render, "video");
    assert_eq!(video["status"], "failed");
    assert_eq!(
        video["error"],
        "Storage is blocked. Add credits to continue uploading."
    );
    // Still served from the temporary tier.
    let (status, _) = s.bytes_of(video["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let poster = output(&render, "poster");
    assert_eq!(poster["status"], "failed");
    let error = poster["error"].as_str().unwrap();
    assert!(
        error.contains("not valid media") || error.contains("a poster output must be an image"),
        "{poster}"
    );
    assert!(poster["url"].is_null());
    assert_eq!(s.used_bytes(), 0);
}

#[tokio::test]
async fn bad_renders_and_bad_uploads_get_clear_errors() {
    let s = setup().await;
    let cases = [
        (json!({}), "outputs is required"),
        (
            json!({"outputs": []}),
            "a render has exactly one video output",
        ),
        (
            json!({"outputs": [{"type": "poster"}]}),
            "a render has exactly one video output",
        ),
        (
            json!({"outputs": [{"type": "video"}, {"type": "video"}]}),
            "a render has exactly one video output",
        ),
        (
            json!({"outputs": [{"type": "video"}, {"type": "poster"}, {"type": "poster"}]}),
            "a render has at most one poster output",
        ),
        (
            json!({"outputs": [{"type": "movie"}]}),
            "outputs[0]: type must be one of video, thumbnail, poster",
        ),
        (
            json!({"outputs": [{"src": "http://example.com/a.mp4"}]}),
            "outputs[0]: type is required",
        ),
        (
            json!({"outputs": [{"type": "video", "src": "ftp://example.com/a.mp4"}]}),
            "outputs[0]: src must be an http or https URL",
        ),
        (
            json!({"outputs": [{"type": "video"}], "hosting": "yes"}),
            "hosting must be true or false",
        ),
    ];
    for (body, expected) in cases {
        s.server
            .expect_error("POST", "/v2/renders", &s.key, Some(body), 400, expected)
            .await;
    }
    let (status, body) = s
        .server
        .call(
            "POST",
            "/v2/renders",
            &s.key,
            Some(json!({"outputs": [{"type": "video", "src": "http://169.254.169.254/latest"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("outputs[0]: src: "), "{body}");

    let viewer = s.server.key("acme", "viewer");
    s.server
        .expect_error(
            "POST",
            "/v2/renders",
            &viewer,
            Some(json!({"outputs": [{"type": "video"}]})),
            403,
            "Insufficient permissions",
        )
        .await;

    let render = s
        .create(json!({"outputs": [{"type": "video"}, {"type": "thumbnail"}]}))
        .await;
    let id = render["id"].as_str().unwrap();
    let video_url = output(&render, "video")["upload_url"]
        .as_str()
        .unwrap()
        .to_string();
    // An image is not a video: refused, and the output still waits for the right bytes.
    let (status, body) = s.put(&video_url, webp_for("not a video", 16, 16)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        message(&body),
        "a video output must be a video; this file is image/webp"
    );
    let (status, body) = s.put(&video_url, Vec::new()).await;
    assert_eq!(
        (status, message(&body)),
        (StatusCode::BAD_REQUEST, "The upload is empty")
    );
    assert_eq!(output(&s.render(id).await, "video")["status"], "waiting");
    // Nothing was left behind in the staging area.
    assert_eq!(s.server.staging_files().await, 0);

    // Another tenant sees none of it.
    let other = s.server.key("globex", "editor");
    s.server
        .expect_error(
            "GET",
            &format!("/v2/renders/{id}"),
            &other,
            None,
            404,
            "Render not found",
        )
        .await;
    let resp = s
        .server
        .http
        .put(&video_url)
        .header("x-api-key", &other)
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
