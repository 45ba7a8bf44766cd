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

mod items;

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

    // Over quota rather than blocked: the same, while the cache has a budget of its own (the temp
    // budget follows the quota unless set apart).
    s.server.cli_ok(&[
        "client",
        "set",
        "--client",
        "acme",
        "--storage-blocked",
        "false",
        "--quota",
        "100",
        "--temp-quota",
        "100000000",
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
