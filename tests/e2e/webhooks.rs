//! Webhooks through HTTP against a loopback receiver that checks Standard Webhooks signatures,
//! goes down and comes back, fails until its endpoint is disabled, and sees duplicates by id.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU16, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode as AxumStatus},
    routing::post,
    Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use tempfile::TempDir;

use crate::harness::Server;

mod callbacks;
mod fairness;
mod management;

/// What the receiver got: webhook-id, the parsed body, and whether the signature held.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    body: Value,
    signature_ok: bool,
}

struct Receiver {
    url: String,
    /// Every request, answered or not.
    hits: Arc<AtomicU16>,
    /// The status it answers with; 0 means "verify and answer 204".
    answer: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Received>>>,
    secret: Arc<Mutex<String>>,
}

fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let fresh = header("webhook-timestamp")
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    fresh
        && header("webhook-signature")
            .split(' ')
            .any(|s| s == expected)
}

type ReceiverState = (
    Arc<AtomicU16>,
    Arc<AtomicU16>,
    Arc<Mutex<Vec<Received>>>,
    Arc<Mutex<String>>,
);

async fn receive(
    State((answer, hits, got, secret)): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    hits.fetch_add(1, Ordering::SeqCst);
    let status = answer.load(Ordering::SeqCst);
    if status != 0 {
        return AxumStatus::from_u16(status).unwrap();
    }
    let secret = secret.lock().unwrap().clone();
    got.lock().unwrap().push(Received {
        id: headers["webhook-id"].to_str().unwrap().to_string(),
        body: serde_json::from_slice(&body).unwrap(),
        signature_ok: verify(&secret, &headers, &body),
    });
    AxumStatus::NO_CONTENT
}

impl Receiver {
    async fn start() -> Self {
        let answer = Arc::new(AtomicU16::new(0));
        let hits = Arc::new(AtomicU16::new(0));
        let got = Arc::new(Mutex::new(Vec::new()));
        let secret = Arc::new(Mutex::new(String::new()));
        let app = Router::new().route("/hook", post(receive)).with_state((
            answer.clone(),
            hits.clone(),
            got.clone(),
            secret.clone(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/hook"),
            hits,
            answer,
            got,
            secret,
        }
    }

    fn answer(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    fn hits(&self) -> u16 {
        self.hits.load(Ordering::SeqCst)
    }

    fn events(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.events();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {:?}, not {count} events", self.events());
    }
}

/// A server allowed to reach loopback receivers, retrying every second, disabling an endpoint
/// after `disable_after` failures in a row.
async fn start_disabling_after(disable_after: u32) -> (Server, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("webhooks.toml");
    std::fs::write(
        &config,
        format!(
            "[webhooks]\ntimeout_secs = 2\nretry_schedule_secs = [1, 1, 1, 1, 1, 1, 1, 1]\n\
             disable_after_failures = {disable_after}\n"
        ),
    )
    .unwrap();
    let server = Server::start_with(&[
        "--config",
        config.to_str().unwrap(),
        "--fetch-allow",
        "127.0.0.0/8",
    ])
    .await;
    (server, dir)
}

async fn start() -> (Server, TempDir) {
    start_disabling_after(50).await
}

async fn register(server: &Server, key: &str, receiver: &Receiver, events: Value) -> Value {
    let (status, body) = server
        .call(
            "POST",
            "/v2/webhooks",
            key,
            Some(json!({"url": receiver.url, "events": events, "description": "test"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["endpoint"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    *receiver.secret.lock().unwrap() = secret.to_string();
    body["endpoint"].clone()
}

/// The log once every delivery in it is settled (the receiver may answer before the log is written).
async fn settled_deliveries(server: &Server, key: &str, endpoint: &str) -> Vec<Value> {
    for _ in 0..100 {
        let log = deliveries(server, key, endpoint).await;
        if log.iter().all(|d| d["status"] != "pending") {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "deliveries still pending: {:?}",
        deliveries(server, key, endpoint).await
    );
}

async fn deliveries(server: &Server, key: &str, endpoint: &str) -> Vec<Value> {
    let (status, body) = server
        .call(
            "GET",
            &format!("/v2/webhooks/{endpoint}/deliveries"),
            key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn uploads_and_deletes_arrive_signed() {
    let (server, _config) = start().await;
    let manager = server.key("acme", "manager");
    let receiver = Receiver::start().await;
    let endpoint = register(
        &server,
        &manager,
        &receiver,
        json!(["file.uploaded", "file.deleted"]),
    )
    .await;
    assert_eq!(endpoint["events"], json!(["file.uploaded", "file.deleted"]));

    let url = server
        .upload(&manager, "logos", "mark.png", "image/png", &[7; 100])
        .await;
    let (status, _) = server
        .call(
            "DELETE",
            "/v2/media/file",
            &manager,
            Some(json!({"name": "mark.png", "folder": "logos"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut got = receiver.wait_for(2).await;
    assert!(got.iter().all(|r| r.signature_ok), "{got:?}");
    // Deliveries go out side by side: their order is not promised.
    got.sort_by_key(|r| r.body["type"].as_str().unwrap().to_string());
    assert_eq!(got[1].body["type"], "file.uploaded");
    assert_eq!(got[1].body["data"]["url"], url);
    assert_eq!(got[1].body["data"]["path"], "logos/mark.png");
    assert_eq!(got[0].body["type"], "file.deleted");
    assert_ne!(got[0].id, got[1].id);

    // The log shows each delivery with its attempt; a redelivery repeats the event id.
    let log = settled_deliveries(&server, &manager, endpoint["id"].as_str().unwrap()).await;
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|d| d["status"] == "delivered" && d["log"][0]["status_code"] == 204));
    let (status, _) = server
        .call(
            "POST",
            &format!(
                "/v2/webhooks/deliveries/{}/redeliver",
                log[0]["id"].as_str().unwrap()
            ),
            &manager,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let again = receiver.wait_for(3).await;
    assert_eq!(
        again[2].id,
        log[0]["event_id"].as_str().unwrap(),
        "a duplicate keeps its id"
    );
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_every_event_with_the_retries_logged() {
    let (server, _config) = start().await;
    let manager = server.key("acme", "manager");
    let receiver = Receiver::start().await;
    let endpoint = register(&server, &manager, &receiver, json!([])).await;
    receiver.answer(503);
    for name in ["a.bin", "b.bin"] {
        server
            .upload(&manager, "", name, "application/octet-stream", &[1; 10])
            .await;
    }
    // Both deliveries are tried, and logged as failed, while it is down.
    let id = endpoint["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let log = deliveries(&server, &manager, id).await;
        let tried = |d: &Value| d["log"].as_array().is_some_and(|l| !l.is_empty());
        if log.len() == 2 && log.iter().all(tried) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "both deliveries were not tried while it was down: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(receiver.hits() >= 2);
    assert!(receiver.events().is_empty());
    receiver.answer(0);
    let got = receiver.wait_for(2).await;
    let mut paths: Vec<&str> = got
        .iter()
        .map(|r| r.body["data"]["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["a.bin", "b.bin"]);
    let log = settled_deliveries(&server, &manager, endpoint["id"].as_str().unwrap()).await;
    for delivery in &log {
        let attempts = delivery["log"].as_array().unwrap();
        assert!(attempts.len() >= 2, "{delivery}");
        let numbers: Vec<u64> = attempts
            .iter()
            .map(|a| a["attempt"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (1..=attempts.len() as u64).collect::<Vec<_>>());
        assert!(attempts[..attempts.len() - 1]
            .iter()
            .all(|a| a["status_code"] == 503));
        assert_eq!(attempts.last().unwrap()["status_code"], 204);
        assert_eq!(delivery["status"], "delivered");
    }
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_resumes_when_enabled() {
    let (server, _config) = start_disabling_after(4).await;
    let manager = server.key("acme", "manager");
    let receiver = Receiver::start().await;
    let endpoint = register(&server, &manager, &receiver, json!(["file.uploaded"])).await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    receiver.answer(500);
    server
        .upload(&manager, "", "c.bin", "application/octet-stream", &[2; 10])
        .await;
    let mut disabled = Value::Null;
    for _ in 0..200 {
        let (_, body) = server
            .call("GET", &format!("/v2/webhooks/{id}"), &manager, None)
            .await;
        if body["endpoint"]["enabled"] == false {
            disabled = body["endpoint"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        disabled["disabled_reason"], "disabled after 4 failed attempts in a row",
        "{disabled}"
    );
    assert_eq!(disabled["failure_streak"], 4);
    let log = deliveries(&server, &manager, &id).await;
    assert_eq!(
        log[0]["status"], "pending",
        "a disabled endpoint's deliveries wait"
    );
    assert_eq!(log[0]["log"].as_array().unwrap().len(), 4);
    // Events meanwhile are kept for it too, and nothing is sent while it is disabled. Another
    // endpoint fails the next event once and gets it on the retry, a second after that first
    // attempt: by then the disabled endpoint's own retry, due a second after its last failure
    // (which came first), has fallen due as well.
    let sibling = Receiver::start().await;
    register(&server, &manager, &sibling, json!(["file.uploaded"])).await;
    sibling.answer(503);
    let hits = receiver.hits();
    server
        .upload(&manager, "", "c2.bin", "application/octet-stream", &[2; 11])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sibling.hits() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sibling was not tried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sibling.answer(0);
    let retried = sibling.wait_for(1).await;
    assert_eq!(retried[0].body["data"]["path"], "c2.bin");
    assert!(sibling.hits() >= 2, "the sibling got it on a retry");
    assert_eq!(receiver.hits(), hits, "a disabled endpoint is sent nothing");

    receiver.answer(0);
    let (status, body) = server
        .call(
            "PUT",
            &format!("/v2/webhooks/{id}"),
            &manager,
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["endpoint"]["failure_streak"], 0);
    let got = receiver.wait_for(2).await;
    let mut paths: Vec<&str> = got
        .iter()
        .map(|r| r.body["data"]["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["c.bin", "c2.bin"]);
}

#[tokio::test]
async fn an_event_committed_before_a_crash_is_delivered_after_the_restart() {
    let (mut server, config) = start().await;
    let manager = server.key("acme", "manager");
    let receiver = Receiver::start().await;
    register(&server, &manager, &receiver, json!(["file.uploaded"])).await;
    // The receiver refuses everything until the crash: the event is committed with the upload
    // (which has returned), and whether or not a first attempt was made, none was delivered.
    receiver.answer(503);
    server
        .upload(&manager, "", "d.bin", "application/octet-stream", &[3; 10])
        .await;
    server.kill();
    receiver.answer(0);
    let restarted = server
        .start_peer_with(&[
            "--config",
            config.path().join("webhooks.toml").to_str().unwrap(),
            "--fetch-allow",
            "127.0.0.0/8",
        ])
        .await;
    for _ in 0..200 {
        if !receiver.events().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, endpoints) = restarted.call("GET", "/v2/webhooks", &manager, None).await;
    let id = endpoints["endpoints"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let log = deliveries(&restarted, &manager, &id).await;
    let got = receiver.events();
    assert_eq!(got.len(), 1, "{log:?}");
    assert_eq!(got[0].body["data"]["path"], "d.bin");
    assert!(got[0].signature_ok);
    drop(restarted);
}
