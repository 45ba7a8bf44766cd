//! Graceful shutdown (issue 9): on SIGTERM a node stops taking connections, lets the uploads in
//! flight finish within `limits.shutdown_grace_secs`, and an upload cut off after that is answered
//! 503, leaves nothing half-written behind, and may be sent again. Each path whose body streams
//! through the node is in flight at once: the signed PUT where the node stores the bytes itself,
//! tus on every store.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{bytes, Answer, Chunks, Opened, Server, Through};

/// Longest a request in flight may wait for its answer once the node stops: beyond the grace
/// period (20 s at most here) and the cut-off's own wait (5 s).
const ANSWER_WITHIN: Duration = Duration::from_secs(40);

async fn start(grace_secs: u64) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("grace.toml");
    std::fs::write(
        &config,
        format!("[limits]\nshutdown_grace_secs = {grace_secs}\n"),
    )
    .unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    (server, dir)
}

/// An upload whose first half the node is reading when it is told to stop.
struct InFlight {
    opened: Opened,
    content: Vec<u8>,
    rest: Chunks,
    answer: Answer,
}

/// Opens an 8-byte upload on each streaming path and sends half of each; returns once the node
/// has read every half.
async fn halfway(server: &Server, key: &str, seed: u64) -> Vec<InFlight> {
    let received = server.bytes_received().await;
    let mut flights = Vec::new();
    for (i, through) in server.streaming_paths().into_iter().enumerate() {
        let content = bytes(seed + i as u64, 8);
        let opened = server
            .open_upload(key, through, &format!("late{i}.bin"), 8)
            .await;
        let (rest, answer) = server.send_streamed(key, &opened, 0, 8);
        rest.send(Ok(content[..4].to_vec())).await.unwrap();
        flights.push(InFlight {
            opened,
            content,
            rest,
            answer,
        });
    }
    server
        .wait_received(received + 4.0 * flights.len() as f64)
        .await;
    flights
}

/// Its answer, which must come within the deadline: a request left hanging fails.
async fn answered(answer: Answer, through: Through) -> reqwest::Response {
    tokio::time::timeout(ANSWER_WITHIN, answer)
        .await
        .unwrap_or_else(|_| panic!("{through:?}: no answer within {ANSWER_WITHIN:?}"))
        .unwrap()
        .unwrap_or_else(|e| panic!("{through:?}: the connection closed unanswered: {e}"))
}

/// `url` of the stopped node on the one that took over its store.
fn moved(url: &str, from: &Server, to: &Server) -> String {
    url.replace(&from.base, &to.base)
}

#[tokio::test]
async fn an_upload_in_flight_finishes_after_sigterm() {
    let (mut server, _dir) = start(20).await;
    let key = server.key("acme", "render");
    let flights = halfway(&server, &key, 50).await;
    assert!(
        !server.terminate(Duration::from_millis(500)).await,
        "it left the uploads behind"
    );
    // No new connection is taken meanwhile: it is refused at once, neither answered nor left
    // hanging (the timeout only bounds a hang, which fails).
    let refused = reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match refused {
        Ok(resp) => panic!("a stopping node answered a new request: {}", resp.status()),
        Err(e) => assert!(e.is_connect() && !e.is_timeout(), "not refused: {e:?}"),
    }
    let mut finished = Vec::new();
    for flight in flights {
        let through = flight.opened.through;
        let rest = flight.content[4..].to_vec();
        flight.rest.send(Ok(rest)).await.unwrap();
        drop(flight.rest);
        let resp = answered(flight.answer, through).await;
        assert_eq!(resp.status(), through.completed(), "{through:?}");
        finished.push((flight.opened, flight.content));
    }
    assert!(
        server.terminate(Duration::from_secs(10)).await,
        "the node did not exit"
    );

    let after = server.start_peer().await;
    for (opened, content) in finished {
        let resp = after.get(&moved(&opened.file_url, &server, &after)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{:?}", opened.through);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), content.as_slice());
    }
}

#[tokio::test]
async fn an_upload_cut_off_by_shutdown_leaves_nothing_half_written() {
    let (mut server, _dir) = start(1).await;
    let key = server.key("acme", "render");
    let flights = halfway(&server, &key, 60).await;
    assert!(
        server.terminate(Duration::from_secs(10)).await,
        "the node did not exit"
    );
    let mut cut = Vec::new();
    for flight in flights {
        let through = flight.opened.through;
        let resp = answered(flight.answer, through).await;
        assert_eq!(
            resp.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{through:?}"
        );
        assert_eq!(resp.headers()["retry-after"], "1");
        drop(flight.rest);
        cut.push((flight.opened, flight.content));
    }

    let after = server.start_peer().await;
    assert_eq!(
        after.staging_files().await,
        0,
        "staged bytes were left behind"
    );
    let usage = after.client_show("acme");
    assert_eq!(usage["used_bytes"], 0, "{usage}");
    for (mut opened, content) in cut {
        let through = opened.through;
        opened.send_to = moved(&opened.send_to, &server, &after);
        let file_url = moved(&opened.file_url, &server, &after);
        let resp = after.get(&file_url).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{through:?}");
        let at = match through {
            // The upload URL still works while it is valid; the whole file goes again.
            Through::SignedPut => 0,
            // The half that arrived is kept, durably, and the client resumes after it.
            Through::Tus => {
                assert_eq!(after.tus_offset(&key, &opened.send_to).await, 4);
                4
            }
        };
        let resp = after
            .send_whole(&key, &opened, at, content[at..].to_vec())
            .await;
        assert_eq!(resp.status(), through.completed(), "{through:?}");
        let served = after.get(&file_url).await;
        assert_eq!(served.bytes().await.unwrap().as_ref(), content.as_slice());
    }
}
