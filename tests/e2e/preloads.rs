//! Seed 000 through HTTP: preloads, the temporary cache, save-to-media, promotion at zero cost,
//! regeneration after a purge, quota degradation, credits and idempotency, against loopback
//! stand-ins of the remote model servers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::{
    harness::{message, Server},
    mock_models::{generation_config, webp_for, MockModels, ADAM_ID},
};

struct Setup {
    server: Server,
    mock: MockModels,
    key: String,
    _config: TempDir,
}

async fn setup_with(extra_config: &str, flags: &[&str]) -> Setup {
    let mock = MockModels::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mediadrive.toml");
    std::fs::write(&path, generation_config(&mock, extra_config)).unwrap();
    let mut args = vec!["--config", path.to_str().unwrap()];
    args.extend(flags);
    let server = Server::start_with(&args).await;
    let key = server.key("acme", "render");
    Setup {
        server,
        mock,
        key,
        _config: dir,
    }
}

async fn setup() -> Setup {
    setup_with("", &[]).await
}

impl Setup {
    /// Queues a preload; returns its id.
    async fn queue(&self, items: Value) -> String {
        let (status, body) = self
            .server
            .call(
                "POST",
                "/v2/preloads",
                &self.key,
                Some(json!({"preload": items})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    async fn wait(&self, id: &str) -> Value {
        for _ in 0..600 {
            let (status, body) = self
                .server
                .call("GET", &format!("/v2/preloads/{id}"), &self.key, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["status"] == "done" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("preload {id} did not finish");
    }

    /// Queues a preload and returns its items once all are made.
    async fn run(&self, items: Value) -> Vec<Value> {
        let id = self.queue(items).await;
        self.wait(&id).await["items"].as_array().unwrap().clone()
    }

    async fn run_one(&self, item: Value) -> Value {
        self.run(json!([item])).await.remove(0)
    }

    fn credits(&self) -> i64 {
        self.server.client_show("acme")["credits"].as_i64().unwrap()
    }

    fn ledger(&self) -> Vec<Value> {
        let out = self
            .server
            .cli_ok(&["client", "ledger", "--client", "acme"]);
        serde_json::from_str(&out).unwrap()
    }

    fn sweep_at(&self, at: DateTime<Utc>) -> Value {
        let out = self.server.cli_ok(&["sweep", "--at", &at.to_rfc3339()]);
        serde_json::from_str(&out).unwrap()
    }

    async fn get_bytes(&self, url: &str) -> (StatusCode, Vec<u8>) {
        let resp = self.server.get(url).await;
        let status = resp.status();
        (status, resp.bytes().await.unwrap().to_vec())
    }
}

fn ready(item: &Value) -> &Value {
    assert_eq!(item["status"], "ready", "{item}");
    item
}

fn url(item: &Value) -> &str {
    item["url"].as_str().unwrap()
}

fn expires_at(item: &Value) -> DateTime<Utc> {
    item["expires_at"].as_str().unwrap().parse().unwrap()
}

fn hero() -> Value {
    json!({
        "id": "campaign_hero",
        "type": "image",
        "model": "flux-schnell",
        "prompt": "a paper plane flying over a city skyline, flat illustration",
        "save-to-media": true
    })
}

fn throwaway() -> Value {
    json!({
        "id": "throwaway_thumb",
        "type": "image",
        "model": "flux-schnell",
        "prompt": "abstract gradient background"
    })
}

#[tokio::test]
async fn the_seed_example_persists_two_items_and_caches_the_third() {
    let s = setup().await;
    let before = Utc::now();
    let items = s
        .run(json!([
            hero(),
            {
                "id": "intro_voice",
                "type": "voice",
                "model": "elevenlabs",
                "voice": "Adam",
                "text": "Welcome to our weekly digest.",
                "save-to-media": true
            },
            throwaway()
        ]))
        .await;

    let hero = ready(&items[0]);
    assert_eq!(
        url(hero),
        s.server
            .url("/acme/files/generated/image/campaign_hero.webp")
    );
    assert_eq!(hero["persistent"], true);
    assert_eq!(hero["expires_at"], Value::Null);
    assert!(hero.as_object().unwrap().contains_key("expires_at"));
    assert_eq!(
        (hero["width"].as_u64(), hero["height"].as_u64()),
        (Some(1024), Some(1024))
    );
    let expected = webp_for(
        "a paper plane flying over a city skyline, flat illustration",
        1024,
        1024,
    );
    assert_eq!(hero["size"].as_u64(), Some(expected.len() as u64));
    let (status, body) = s.get_bytes(url(hero)).await;
    assert_eq!((status, body), (StatusCode::OK, expected));

    // The real container names the extension: ElevenLabs answers MP3.
    let voice = ready(&items[1]);
    assert_eq!(
        url(voice),
        s.server.url("/acme/files/generated/voice/intro_voice.mp3")
    );
    assert_eq!(voice["persistent"], true);
    let seen = s.mock.calls.seen("elevenlabs");
    assert_eq!(seen["voice_id"], ADAM_ID);
    assert_eq!(seen["body"]["text"], "Welcome to our weekly digest.");
    assert_eq!(seen["query"]["output_format"], "mp3_44100_128");

    let thumb = ready(&items[2]);
    assert_eq!(thumb["persistent"], false);
    assert!(url(thumb).starts_with(&s.server.url("/tmp/assets/acme/")));
    assert!(url(thumb).ends_with(".webp"));
    let expiry = expires_at(thumb) - before;
    assert!(
        expiry >= chrono::Duration::days(3) - chrono::Duration::seconds(2)
            && expiry <= chrono::Duration::days(3) + chrono::Duration::seconds(60),
        "{expiry}"
    );
    let resp = s.server.get(url(thumb)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/webp");

    // Persisted assets are drive files like any upload, in generated/{type}.
    let (_, listing) = s
        .server
        .call(
            "GET",
            "/v2/media/folder?folder=generated/image",
            &s.key,
            None,
        )
        .await;
    let names: Vec<&str> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["campaign_hero.webp"]);
    let shown = s.server.client_show("acme");
    let persisted = hero["size"].as_u64().unwrap() + voice["size"].as_u64().unwrap();
    assert_eq!(shown["used_bytes"].as_u64(), Some(persisted));
    // 100 to start with, 5 per flux image, 3 per ElevenLabs voice.
    assert_eq!(shown["credits"], 100 - 5 - 3 - 5);
    assert_eq!(s.mock.calls.count("images"), 2);
    assert_eq!(s.mock.calls.count("elevenlabs"), 1);
}

#[tokio::test]
async fn promotion_reuses_the_cached_binary_without_a_generator_or_credits() {
    let s = setup().await;
    let cached = s.run_one(throwaway()).await;
    let cached_url = url(ready(&cached)).to_string();
    assert_eq!(s.credits(), 95);

    let mut again = throwaway();
    again["save-to-media"] = json!(true);
    let promoted = s.run_one(again).await;
    assert_eq!(ready(&promoted)["persistent"], true);
    assert_eq!(
        url(&promoted),
        s.server
            .url("/acme/files/generated/image/throwaway_thumb.webp")
    );
    assert_eq!(
        s.mock.calls.count("images"),
        1,
        "promotion ran the generator"
    );
    assert_eq!(s.credits(), 95, "promotion cost credits");
    let ledger = s.ledger();
    assert_eq!(ledger[0]["reason"], "promotion");
    assert_eq!(ledger[0]["amount"], 0);
    assert_eq!(ledger[1]["reason"], "generation");
    assert_eq!(ledger[1]["amount"], -5);

    // No byte was copied: both URLs serve the one blob.
    let (_, from_cache) = s.get_bytes(&cached_url).await;
    let (_, from_drive) = s.get_bytes(url(&promoted)).await;
    assert_eq!(from_cache, from_drive);
    let etag = |resp: reqwest::Response| resp.headers()["etag"].clone();
    assert_eq!(
        etag(s.server.get(&cached_url).await),
        etag(s.server.get(url(&promoted)).await)
    );

    // Asking once more returns the persisted file as it is.
    let mut third = throwaway();
    third["save-to-media"] = json!(true);
    assert_eq!(url(&s.run_one(third).await), url(&promoted));
    assert_eq!(s.ledger().len(), ledger.len());
}

#[tokio::test]
async fn after_the_cache_expires_its_url_is_gone_and_promotion_regenerates_at_zero_cost() {
    let s = setup().await;
    let cached = s.run_one(throwaway()).await;
    let cached_url = url(ready(&cached)).to_string();
    let entry = cached_url.rsplit('/').next().unwrap().to_string();

    let dry = s.sweep_at(Utc::now() + chrono::Duration::days(2));
    assert_eq!(dry["purged_cache_entries"], json!([]));
    let swept = s.sweep_at(Utc::now() + chrono::Duration::days(3) + chrono::Duration::hours(1));
    assert_eq!(
        swept["purged_cache_entries"],
        json!([format!("/tmp/assets/acme/{entry}")])
    );
    assert!(!swept["reclaimed_blobs"].as_array().unwrap().is_empty());
    let resp = s.server.get(&cached_url).await;
    assert_eq!(resp.status(), StatusCode::GONE);
    let (_, body) = crate::harness::json_of(resp).await;
    assert_eq!(message(&body), "This asset has expired");

    let credits = s.credits();
    let mut keep = throwaway();
    keep["save-to-media"] = json!(true);
    let promoted = s.run_one(keep).await;
    assert_eq!(ready(&promoted)["persistent"], true);
    assert_eq!(
        s.mock.calls.count("images"),
        2,
        "the purged asset is generated again"
    );
    assert_eq!(s.credits(), credits, "the regeneration was charged");
    let ledger = s.ledger();
    assert_eq!(
        (ledger[0]["reason"].as_str(), ledger[0]["amount"].as_i64()),
        (Some("regeneration"), Some(0))
    );
    let (status, _) = s.get_bytes(url(&promoted)).await;
    assert_eq!(status, StatusCode::OK);

    // The drive holds the bytes now: a purge of the new cache entry leaves them in place.
    s.sweep_at(Utc::now() + chrono::Duration::days(4));
    let (status, _) = s.get_bytes(url(&promoted)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_blocked_or_full_drive_still_gets_the_asset_from_the_cache() {
    let s = setup().await;
    s.server.cli_ok(&[
        "client",
        "set",
        "--client",
        "acme",
        "--storage-blocked",
        "true",
    ]);
    let item = s.run_one(hero()).await;
    assert_eq!(ready(&item)["persistent"], false);
    assert_eq!(item["warning"], "quota_blocked");
    assert!(expires_at(&item) > Utc::now() + chrono::Duration::days(2));
    assert!(url(&item).contains("/tmp/assets/acme/"));
    assert_eq!(s.get_bytes(url(&item)).await.0, StatusCode::OK);
    assert_eq!(s.server.client_show("acme")["used_bytes"], 0);

    // Over quota rather than blocked: the same.
    s.server.cli_ok(&[
        "client",
        "set",
        "--client",
        "acme",
        "--storage-blocked",
        "false",
        "--quota",
        "100",
    ]);
    let mut other = hero();
    other["prompt"] = json!("a second hero");
    let item = s.run_one(other).await;
    assert_eq!(
        (item["persistent"].as_bool(), item["warning"].as_str()),
        (Some(false), Some("quota_blocked"))
    );

    // Once the drive has room, asking again persists the cached asset at no cost.
    s.server
        .cli_ok(&["client", "set", "--client", "acme", "--quota", "100000000"]);
    let credits = s.credits();
    let item = s.run_one(hero()).await;
    assert_eq!(ready(&item)["persistent"], true);
    assert!(item.get("warning").is_none());
    assert_eq!(s.credits(), credits);
}

#[tokio::test]
async fn a_different_asset_at_the_path_gets_a_hash_suffix_and_deleting_clears_the_backreference() {
    let s = setup().await;
    s.server
        .upload(
            &s.key,
            "generated/image",
            "campaign_hero.webp",
            "image/webp",
            &webp_for("mine", 8, 8),
        )
        .await;
    let item = s.run_one(hero()).await;
    let name = url(ready(&item)).rsplit('/').next().unwrap().to_string();
    let (stem, ext) = name.split_once('.').unwrap();
    assert_eq!(ext, "webp");
    let suffix = stem.strip_prefix("campaign_hero-").expect(&name);
    assert_eq!(suffix.len(), 6);
    assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));

    // An id that is not a safe identifier: the first 12 characters of the hash name the file.
    let mut unsafe_id = hero();
    unsafe_id["id"] = json!("hero image #2");
    unsafe_id["prompt"] = json!("another plane");
    let item = s.run_one(unsafe_id).await;
    let name = url(ready(&item)).rsplit('/').next().unwrap().to_string();
    assert_eq!(name.len(), 12 + ".webp".len(), "{name}");

    // Deleting the persisted file clears the backreference; the next save-to-media makes a
    // fresh file from the cache, without the generator.
    let path = format!("generated/image/campaign_hero-{suffix}.webp");
    let editor = s.server.key("acme", "editor");
    let (status, body) = s
        .server
        .call(
            "DELETE",
            "/v2/media/file",
            &editor,
            Some(json!({"folder": "generated/image", "name": format!("campaign_hero-{suffix}.webp")})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let calls = s.mock.calls.count("images");
    let again = s.run_one(hero()).await;
    assert_eq!(ready(&again)["persistent"], true);
    assert!(url(&again).ends_with(&format!("/{path}")));
    assert_eq!(s.get_bytes(url(&again)).await.0, StatusCode::OK);
    assert_eq!(s.mock.calls.count("images"), calls);
}

#[tokio::test]
async fn without_credits_an_item_fails_and_a_failed_generation_is_refunded() {
    let s = setup().await;
    s.server
        .cli_ok(&["client", "set", "--client", "acme", "--credits", "4"]);
    let item = s.run_one(hero()).await;
    assert_eq!(item["status"], "failed");
    assert_eq!(
        item["error"],
        "Not enough credits: model flux-schnell costs 5 credits and 4 are left"
    );
    assert!(item.get("url").is_none());
    assert_eq!(s.mock.calls.count("images"), 0);

    // A cheaper model still works with what is left.
    let voice = s
        .run_one(
            json!({"id": "v", "type": "voice", "model": "tts-1", "text": "Hi", "voice": "nova"}),
        )
        .await;
    assert_eq!(ready(&voice)["persistent"], false);
    assert_eq!(s.mock.calls.seen("speech")["voice"], "nova");
    assert_eq!(s.credits(), 2);

    s.server
        .cli_ok(&["client", "set", "--client", "acme", "--credits", "20"]);
    let mut rejected = hero();
    rejected["prompt"] = json!("please reject this");
    let item = s.run_one(rejected).await;
    assert_eq!(item["status"], "failed");
    assert_eq!(
        item["error"],
        "the model server answered 400 Bad Request: Your request was rejected as a result of our safety system."
    );
    let mut garbage = hero();
    garbage["prompt"] = json!("garbage please");
    let item = s.run_one(garbage).await;
    assert_eq!(item["status"], "failed");
    assert_eq!(
        item["error"],
        "the generator returned data of no media type (application/octet-stream) where image items need an image"
    );
    assert_eq!(s.credits(), 20);
    let reasons: Vec<(String, i64)> = s
        .ledger()
        .iter()
        .take(5)
        .map(|e| {
            (
                e["reason"].as_str().unwrap().to_string(),
                e["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("refund".to_string(), 5),
            ("generation".to_string(), -5),
            ("refund".to_string(), 5),
            ("generation".to_string(), -5),
            ("adjustment".to_string(), 18),
        ]
    );
}

#[tokio::test]
async fn an_idempotency_key_answers_with_the_same_preload() {
    let s = setup().await;
    let post = |key: &'static str| {
        s.server
            .http
            .post(s.server.url("/v2/preloads"))
            .header("x-api-key", &s.key)
            .header("idempotency-key", key)
            .json(&json!({"preload": [throwaway()]}))
            .send()
    };
    let first: Value = post("job-1").await.unwrap().json().await.unwrap();
    let second: Value = post("job-1").await.unwrap().json().await.unwrap();
    let other: Value = post("job-2").await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert_ne!(first["id"], other["id"]);
    s.wait(first["id"].as_str().unwrap()).await;
    s.wait(other["id"].as_str().unwrap()).await;
    // job-2 found the asset job-1 made in the cache.
    assert_eq!(s.mock.calls.count("images"), 1);
    assert_eq!(s.credits(), 95);
}

#[tokio::test]
async fn every_bad_item_gets_a_400_naming_the_item_and_field() {
    let s = setup().await;
    let cases = [
        (json!({}), "preload is required"),
        (json!({"preload": "x"}), "preload is required"),
        (json!({"preload": []}), "preload must hold at least one item"),
        (json!({"preload": [1]}), "preload[0]: each item must be an object"),
        (json!({"preload": [{"id": "a"}]}), "preload[0] (id a): type is required"),
        (
            json!({"preload": [{"id": "a", "type": "hologram"}]}),
            "preload[0] (id a): type must be one of image, video, audio, voice, html, component",
        ),
        (
            json!({"preload": [throwaway(), {"id": "b", "type": "image", "model": "flux-schnell"}]}),
            "preload[1] (id b): prompt is required",
        ),
        (
            json!({"preload": [{"type": "image", "model": "dall-e-9", "prompt": "x"}]}),
            "preload[0]: model dall-e-9 is not available for type image; available: flux-schnell, offline-model, local-image, url",
        ),
        (
            json!({"preload": [{"type": "image", "prompt": "x", "save-to-media": "yes"}]}),
            "preload[0]: save-to-media must be true or false",
        ),
        (
            json!({"preload": [{"type": "voice", "src": "https://example.com/a.mp3"}]}),
            "preload[0]: src is only supported on image and video items",
        ),
        (
            json!({"preload": [{"type": "image", "src": "ftp://example.com/a.png"}]}),
            "preload[0]: src must be an http or https URL",
        ),
        (
            json!({"preload": [{"type": "audio", "duration": 9999}]}),
            "preload[0]: duration must be a number from 0.1 to 300",
        ),
        (
            json!({"preload": [{"type": "component", "model": "lower-third", "width": -1}]}),
            "preload[0]: width must be a whole number from 1 to 8192",
        ),
    ];
    for (body, msg) in cases {
        s.server
            .expect_error("POST", "/v2/preloads", &s.key, Some(body), 400, msg)
            .await;
    }
    let many: Vec<Value> = (0..101).map(|_| throwaway()).collect();
    s.server
        .expect_error(
            "POST",
            "/v2/preloads",
            &s.key,
            Some(json!({"preload": many})),
            400,
            "preload holds 101 items; at most 100 are allowed",
        )
        .await;
    let viewer = s.server.key("acme", "viewer");
    s.server
        .expect_error(
            "POST",
            "/v2/preloads",
            &viewer,
            Some(json!({"preload": [throwaway()]})),
            403,
            "Insufficient permissions",
        )
        .await;
    assert_eq!(
        s.mock.total_model_calls(),
        0,
        "a refused request generated something"
    );
    let id = s.queue(json!([throwaway()])).await;
    let stranger = s.server.key("other", "admin");
    for (key, path) in [
        (&stranger, format!("/v2/preloads/{id}")),
        (&s.key, "/v2/preloads/nope".to_string()),
    ] {
        s.server
            .expect_error("GET", &path, key, None, 404, "Preload not found")
            .await;
    }
}

#[tokio::test]
async fn models_lists_every_generator_with_cost_and_availability() {
    let s = setup().await;
    let viewer = s.server.key("acme", "viewer");
    let (status, body) = s.server.call("GET", "/v2/models", &viewer, None).await;
    assert_eq!(status, StatusCode::OK);
    let models = body["models"].as_array().unwrap();
    let find = |t: &str, m: &str| {
        models
            .iter()
            .find(|x| x["type"] == t && x["model"] == m)
            .unwrap_or_else(|| panic!("{t}/{m} missing from {body}"))
    };
    let flux = find("image", "flux-schnell");
    assert_eq!(
        (
            flux["credits"].as_i64(),
            flux["available"].as_bool(),
            flux["local"].as_bool(),
            flux["default"].as_bool()
        ),
        (Some(5), Some(true), Some(false), Some(true))
    );
    let offline = find("image", "offline-model");
    assert_eq!(offline["available"], false);
    let builtin = find("image", "local-image");
    assert_eq!(
        (
            builtin["credits"].as_i64(),
            builtin["local"].as_bool(),
            builtin["default"].as_bool()
        ),
        (Some(1), Some(true), Some(false))
    );
    assert_eq!(find("voice", "elevenlabs")["credits"], 3);
    assert_eq!(find("component", "lower-third")["credits"], 4);
    for (t, m) in [
        ("audio", "local-tone"),
        ("voice", "espeak-ng"),
        ("html", "chromium"),
        ("video", "local-video"),
    ] {
        let builtin = find(t, m);
        assert_eq!(
            (
                builtin["local"].as_bool(),
                builtin["available"].as_bool(),
                builtin["credits"].as_i64()
            ),
            (Some(true), Some(true), Some(1)),
            "{t}/{m}"
        );
    }
    assert_eq!(find("video", "url")["credits"], 0);
    assert_eq!(
        message(&s.server.call("GET", "/v2/models", "wrong", None).await.1),
        "Invalid API key"
    );
}

#[tokio::test]
async fn the_builtins_and_the_http_generator_make_real_media() {
    let s = setup().await;
    let items = s
        .run(json!([
            {"id": "img", "type": "image", "model": "local-image", "prompt": "hello world", "width": 320, "height": 200},
            {"id": "tone", "type": "audio", "duration": 1.5, "frequency": 880},
            {"id": "speech", "type": "voice", "model": "espeak-ng", "text": "Hello from mediadrive", "save-to-media": true},
            {"id": "page", "type": "html", "html": "<body style='background:#c00'><h1>Hi</h1></body>", "width": 400, "height": 300},
            {"id": "clip", "type": "video", "duration": 1, "width": 160, "height": 90},
            {"id": "lower", "type": "component", "model": "lower-third", "template": "news", "save-to-media": true},
            {"id": "peek", "type": "html", "width": 320, "height": 240, "html":
                "<body style='margin:0;background:#fff'><iframe src='file:///etc/passwd' style='border:0;width:100%;height:100%'></iframe></body>"}
        ]))
        .await;
    let img = ready(&items[0]);
    assert_eq!(
        (img["width"].as_u64(), img["height"].as_u64()),
        (Some(320), Some(200))
    );
    assert!(url(img).ends_with(".webp"));
    let tone = ready(&items[1]);
    assert!(url(tone).ends_with(".wav"));
    assert_eq!(tone["duration"].as_f64(), Some(1.5));
    let speech = ready(&items[2]);
    assert!(
        url(speech).ends_with("/acme/files/generated/voice/speech.wav"),
        "{speech}"
    );
    assert!(speech["duration"].as_f64().unwrap() > 0.5);
    let page = ready(&items[3]);
    assert_eq!(
        (page["width"].as_u64(), page["height"].as_u64()),
        (Some(400), Some(300))
    );
    assert!(url(page).ends_with(".png"));
    let clip = ready(&items[4]);
    assert_eq!(
        (clip["width"].as_u64(), clip["height"].as_u64()),
        (Some(160), Some(90))
    );
    assert!(url(clip).ends_with(".mp4"));
    let lower = ready(&items[5]);
    assert!(
        url(lower).ends_with("/acme/files/generated/component/lower.mp4"),
        "{lower}"
    );
    assert_eq!(s.mock.calls.seen("component")["template"], "news");
    assert_eq!(s.mock.calls.seen("component")["type"], "component");
    for item in &items {
        assert_eq!(s.get_bytes(url(item)).await.0, StatusCode::OK, "{item}");
    }
    // Client HTML cannot show the server's files: the page comes from a data: URL.
    let (_, png) = s.get_bytes(url(ready(&items[6]))).await;
    let shot = image::load_from_memory(&png).unwrap().to_luma8();
    assert!(
        shot.pixels().all(|p| p.0[0] > 200),
        "the screenshot shows something of file:///etc/passwd"
    );
    // Six built-in generations at 1 credit each, the HTTP generator at 4.
    assert_eq!(s.credits(), 100 - 6 - 4);
}

#[tokio::test]
async fn src_urls_to_private_addresses_are_refused() {
    // The stand-in file server listens on 127.0.0.2, which the operator allow-lists; every other
    // private address stays refused.
    let files = MockModels::start_on("127.0.0.2").await;
    let s = setup_with(
        "max_asset_bytes = 10000\nfetch_timeout_secs = 2",
        &["--fetch-allow", "127.0.0.2/32"],
    )
    .await;
    let port = files.base.rsplit(':').next().unwrap().to_string();
    for host in [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[fe80::1]",
        "0.0.0.0",
    ] {
        let (status, body) = s
            .server
            .call(
                "POST",
                "/v2/preloads",
                &s.key,
                Some(json!({"preload": [{"type": "image", "src": format!("http://{host}:{port}/files/a.webp")}]})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{host}: {body}");
        assert!(
            message(&body)
                .contains("is a private, loopback or link-local address, which may not be fetched"),
            "{host}: {body}"
        );
    }
    let allowed = format!("{}/files/photo.webp", files.base);
    let redirect_inwards = format!(
        "{}/files/redirect?to=http://127.0.0.1:{port}/files/a.webp",
        files.base
    );
    let items = s
        .run(json!([
            {"id": "name", "type": "image", "src": format!("http://localhost:{port}/files/a.webp")},
            {"id": "redirect", "type": "image", "src": redirect_inwards},
            {"id": "ok", "type": "image", "src": allowed, "save-to-media": true},
            {"id": "big", "type": "image", "src": format!("{}/files/big.bin", files.base)},
            {"id": "slow", "type": "image", "src": format!("{}/files/slow.webp", files.base)},
            {"id": "video", "type": "video", "src": format!("{}/files/still.webp", files.base)},
        ]))
        .await;
    assert_eq!(items[0]["status"], "failed");
    assert!(
        items[0]["error"]
            .as_str()
            .unwrap()
            .contains("is a private, loopback or link-local address"),
        "{}",
        items[0]
    );
    assert_eq!(items[1]["status"], "failed");
    assert!(
        items[1]["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1 is a private, loopback or link-local address"),
        "{}",
        items[1]
    );
    let ok = ready(&items[2]);
    assert!(url(ok).ends_with("/acme/files/generated/image/ok.webp"));
    assert_eq!(s.get_bytes(url(ok)).await.1, webp_for("photo.webp", 32, 24));
    assert_eq!(
        items[3]["error"],
        "the asset exceeds the maximum size of 10000 bytes"
    );
    assert!(
        items[4]["error"].as_str().unwrap().ends_with("timed out"),
        "{}",
        items[4]
    );
    assert_eq!(
        items[5]["error"],
        "the generator returned an image (image/webp) where video items need a video"
    );
    // An image a model server answers with by URL is fetched under the same rules.
    let by_url = |link: String| json!({"type": "image", "model": "flux-schnell", "prompt": format!("by url {link}")});
    let linked = s
        .run(json!([
            by_url(format!("{}/files/linked.webp", files.base)),
            by_url(format!("{}/files/linked.webp", s.mock.base)),
        ]))
        .await;
    assert_eq!(ready(&linked[0])["width"], 32);
    assert_eq!(linked[1]["status"], "failed");
    assert!(
        linked[1]["error"]
            .as_str()
            .unwrap()
            .contains("is a private, loopback or link-local address"),
        "{}",
        linked[1]
    );
    // Downloaded once: asking again is served from the cache.
    let fetched = files.calls.count("files");
    let again = s
        .run_one(json!({"id": "ok", "type": "image", "src": allowed}))
        .await;
    assert_eq!(ready(&again)["persistent"], false);
    assert_eq!(files.calls.count("files"), fetched);
    // URL sources cost nothing by default; the model's two images cost 5 each, the refused one
    // was refunded.
    assert_eq!(s.credits(), 95);
}
