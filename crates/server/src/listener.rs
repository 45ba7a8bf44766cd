//! The accept loop: hyper's HTTP/1 and HTTP/2 with a deadline on each request's headers, and the
//! same deadline for a connection's first byte, so a client that opens connections and sends
//! nothing, or its headers slowly (slowloris), cannot keep them. On
//! shutdown it stops accepting and gives the requests in flight a grace period to finish; uploads
//! still streaming after it are cut off cleanly (see `upload::stream_body`).

use std::time::Duration;

use axum::{extract::ConnectInfo, Router};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::watch};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long uploads get, once cut off, to release their claims and answer.
const CUT_OFF_WAIT: Duration = Duration::from_secs(5);

pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    grace: Duration,
    cut_off: CancellationToken,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = std::sync::Arc::new(builder);
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        // Without TCP_NODELAY a body written after its headers waits out the client's delayed
        // ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        // The peer's address, for the limit on failed authentications.
        let service = TowerToHyperService::new(app.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            // hyper's header deadline starts with the first byte: a connection that never sends
            // one would hold its socket for ever. It gets the same deadline to begin.
            // (`peek`, not `readable`: readiness may be reported before any byte is there.)
            if !matches!(
                tokio::time::timeout(header_timeout, tcp.peek(&mut [0u8; 1])).await,
                Ok(Ok(1..))
            ) {
                return;
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    if tokio::time::timeout(grace, &mut drained).await.is_ok() {
        return;
    }
    tracing::warn!(
        grace_secs = grace.as_secs(),
        "requests still in flight after the grace period are cut off"
    );
    // Uploads answer 503 and release their claims; whatever still hangs after that is dropped.
    cut_off.cancel();
    let _ = tokio::time::timeout(CUT_OFF_WAIT, &mut drained).await;
}
