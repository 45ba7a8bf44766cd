//! One tenant's slow receiver holds its share of the senders, not all of them.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::{extract::State, http::StatusCode as AxumStatus, routing::post, Router};

use super::{register, Receiver};
use crate::harness::Server;

/// A receiver that takes 10 s over every delivery; counts those under way.
async fn slow_receiver() -> (String, Arc<AtomicUsize>) {
    async fn slow(State(open): State<Arc<AtomicUsize>>) -> AxumStatus {
        open.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(10)).await;
        open.fetch_sub(1, Ordering::SeqCst);
        AxumStatus::NO_CONTENT
    }
    let open = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/hook", post(slow))
        .with_state(open.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, open)
}

#[tokio::test]
async fn a_slow_receiver_does_not_delay_other_tenants_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("webhooks.toml");
    std::fs::write(&config, "[webhooks]\ntimeout_secs = 30\n").unwrap();
    let flags = [
        "--config",
        config.to_str().unwrap(),
        "--fetch-allow",
        "127.0.0.0/8",
    ];
    let server = Server::start_with(&flags).await;
    let (slow_url, open) = slow_receiver().await;
    let busy = server.key("acme", "manager");
    let (status, _) = server
        .call(
            "POST",
            "/v2/webhooks",
            &busy,
            Some(serde_json::json!({"url": slow_url})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    // Twenty deliveries for the slow receiver: more than every sender of the node.
    for i in 0..20 {
        server
            .upload(&busy, "", &format!("f{i}.txt"), "text/plain", b"x")
            .await;
    }
    let started = Instant::now();
    while open.load(Ordering::SeqCst) < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the slow receiver got nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let quiet = server.key("globex", "manager");
    let fast = Receiver::start().await;
    register(&server, &quiet, &fast, serde_json::json!([])).await;
    let uploading = Instant::now();
    server
        .upload(&quiet, "", "now.txt", "text/plain", b"y")
        .await;
    fast.wait_for(1).await;
    let waited = uploading.elapsed();
    println!(
        "with 20 deliveries queued for a receiver that takes 10 s each, another tenant's \
         delivery arrived {waited:?} after its upload began"
    );
    assert!(
        waited < Duration::from_secs(1),
        "the other tenant's delivery took {waited:?}"
    );
    assert_eq!(
        open.load(Ordering::SeqCst),
        4,
        "the slow tenant holds its share of the senders, no more"
    );
}
