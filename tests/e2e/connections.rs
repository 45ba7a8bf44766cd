//! Connections that hold sockets without asking anything: partial HTTP/2 prefaces, HTTP/2
//! connections left idle, and more connections than the cap. Each is closed within its deadline,
//! and health checks answer throughout.

use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use reqwest::StatusCode;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::floods::{raise_open_file_limit, slowest_health_check, start};

/// Whether the server closed `tcp` within `within`.
async fn closed_within(mut tcp: TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // What the server says first (its SETTINGS, a GOAWAY) is read past.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// An HTTP/2 connection that asks one thing and then nothing: resolves when the server closes it.
async fn idle_http2(addr: &str) -> tokio::task::JoinHandle<Instant> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let ended = tokio::spawn(async move {
        let _ = connection.await;
        Instant::now()
    });
    let request = hyper::Request::get(format!("http://{addr}/healthz"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(request).await.unwrap();
    assert_eq!(resp.status(), 200);
    // The sender stays alive (moved into a task that outlives the test's wait), so only the
    // server can end the connection.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(sender);
    });
    ended
}

#[tokio::test]
async fn partial_http2_prefaces_and_idle_http2_connections_are_closed() {
    const EACH: usize = 200;
    raise_open_file_limit();
    let (server, _dir) = start("header_timeout_secs = 2\nidle_timeout_secs = 3").await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let opened = Instant::now();
    let mut prefaces = Vec::with_capacity(EACH);
    for _ in 0..EACH {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        // 16 of the preface's 24 bytes, then nothing.
        tcp.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        prefaces.push(tcp);
    }
    let mut idle = Vec::with_capacity(EACH);
    for _ in 0..EACH {
        idle.push(idle_http2(&addr).await);
    }
    let asked = Instant::now();
    let slowest = slowest_health_check(&server, 10).await;

    let closing = prefaces
        .into_iter()
        .map(|tcp| closed_within(tcp, Duration::from_secs(6)));
    let closed = futures_util::future::join_all(closing)
        .await
        .into_iter()
        .filter(|&closed| closed)
        .count();
    assert_eq!(
        closed, EACH,
        "partial prefaces closed within the header deadline"
    );
    let mut latest = Duration::ZERO;
    for ended in idle {
        let at = tokio::time::timeout(Duration::from_secs(10), ended)
            .await
            .expect("an idle HTTP/2 connection was kept")
            .unwrap();
        latest = latest.max(at.saturating_duration_since(asked));
    }
    assert!(
        latest < Duration::from_secs(6),
        "an idle HTTP/2 connection lasted {latest:?} (idle timeout 3 s)"
    );
    println!(
        "{EACH} partial HTTP/2 prefaces closed (header deadline 2 s) and {EACH} idle HTTP/2 \
         connections closed at most {latest:?} after their request (idle timeout 3 s), {:?} in \
         all; the slowest of 10 health checks meanwhile took {slowest:?}",
        opened.elapsed()
    );
}

/// Past `max_connections`, a connection gets a second to ask: a health check does, a silent one
/// is closed; past the overflow too, a connection is closed at once. Those within the cap keep
/// their usual deadline.
#[tokio::test]
async fn connections_past_the_cap_must_ask_at_once() {
    raise_open_file_limit();
    let (server, _dir) = start("header_timeout_secs = 30\nmax_connections = 20").await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut silent = Vec::new();
    for _ in 0..120 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    // A client that pools no connection: each health check opens one past the cap.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let resp = fresh.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a health check took {slowest:?}"
    );
    let closing = silent
        .into_iter()
        .map(|tcp| closed_within(tcp, Duration::from_secs(3)));
    let closed = futures_util::future::join_all(closing)
        .await
        .into_iter()
        .filter(|&closed| closed)
        .count();
    // The harness's own pooled connection may hold one of the twenty places.
    assert!(
        (100..=101).contains(&closed),
        "{closed} of 120 silent connections closed within 3 s; the cap is 20"
    );
}
