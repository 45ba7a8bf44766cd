//! The accept loop: hyper's HTTP/1 and HTTP/2, each connection under the deadlines of
//! `connection` (first byte, first request, idle), and a cap on connections that keeps headroom:
//! past `max_connections` a few more are served with a one-second deadline, enough for a health
//! check and too little for a client that only holds sockets; past those, new connections are
//! closed at once. On shutdown it stops accepting and gives the requests in flight a grace period
//! to finish; uploads still streaming after it are cut off cleanly (see `upload::stream_body`).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
};
use tokio::{
    net::TcpListener,
    sync::{watch, OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::CancellationToken;

use crate::connection::{self, Deadlines};

/// How long uploads get, once cut off, to release their claims and answer.
const CUT_OFF_WAIT: Duration = Duration::from_secs(5);
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections beyond `max_connections` that are still served, with a deadline short enough
/// that only a client that asks at once (a health check) is: the rest are closed.
const OVERFLOW: usize = 64;
const OVERFLOW_DEADLINE: Duration = Duration::from_secs(1);
/// How long a connection past the cap waits for an evicted one to give up its place.
const EVICTION_WAIT: Duration = Duration::from_millis(100);

/// How the listener treats its connections.
pub struct ListenLimits {
    pub header_timeout: Duration,
    /// How long an HTTP/2 connection (or a kept-alive HTTP/1 one) may sit without a request.
    pub idle_timeout: Duration,
    pub grace: Duration,
    /// Connections served at once with the usual deadlines.
    pub max_connections: usize,
}

/// The connections served past the cap. When all of their places are taken, the oldest that has
/// not asked anything yet makes room: a flood of silent connections cannot keep a health check
/// out.
struct Overflow {
    places: Arc<Semaphore>,
    /// The connections holding a place, oldest first; a token is cancelled once its connection
    /// ended or was evicted.
    holders: Mutex<VecDeque<CancellationToken>>,
}

impl Overflow {
    fn new() -> Self {
        Self {
            places: Arc::new(Semaphore::new(OVERFLOW)),
            holders: Mutex::default(),
        }
    }

    async fn admit(&self, evict: &CancellationToken) -> Option<OwnedSemaphorePermit> {
        let permit = match self.places.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.evict_oldest();
                // The evicted connection's task frees its place as it ends.
                tokio::time::timeout(EVICTION_WAIT, self.places.clone().acquire_owned())
                    .await
                    .ok()?
                    .ok()?
            }
        };
        let mut holders = self.holders.lock().expect("overflow lock");
        holders.retain(|holder| !holder.is_cancelled());
        holders.push_back(evict.clone());
        Some(permit)
    }

    /// Evicts the oldest connection that may be: one that started a request ignores it.
    fn evict_oldest(&self) {
        let mut holders = self.holders.lock().expect("overflow lock");
        while let Some(holder) = holders.pop_front() {
            if !holder.is_cancelled() {
                holder.cancel();
                return;
            }
        }
    }
}

pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ListenLimits,
    cut_off: CancellationToken,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Pings find peers that vanished without closing; the idle timeout, peers that stay.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(KEEP_ALIVE_INTERVAL))
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let normal = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Overflow::new();
    let usual = Deadlines {
        first_request: limits.header_timeout,
        idle: limits.idle_timeout,
    };
    let hurried = Deadlines {
        first_request: OVERFLOW_DEADLINE,
        idle: OVERFLOW_DEADLINE,
    };
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
        let evict = CancellationToken::new();
        let (permit, deadlines) = match normal.clone().try_acquire_owned() {
            Ok(permit) => (permit, usual),
            Err(_) => match overflow.admit(&evict).await {
                Some(permit) => (permit, hurried),
                // Closed at once: the socket is worth more than the connection.
                None => continue,
            },
        };
        // Without TCP_NODELAY a body written after its headers waits out the client's delayed
        // ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let (builder, app, stop) = (builder.clone(), app.clone(), shutdown.clone());
        // Held until the connection ends, so a shutdown waits for it.
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // The token is cancelled once the connection ends, which tells `Overflow` it is gone.
            let _held = (permit, watcher, evict.clone().drop_guard());
            // Nothing is set up for a connection until its first byte: one that never sends it
            // costs a socket until the deadline, no more. (`peek`, not `readable`: readiness may
            // be reported before any byte is there.)
            let mut byte = [0u8; 1];
            let first_byte = tokio::time::timeout(deadlines.first_request, tcp.peek(&mut byte));
            tokio::select! {
                peeked = first_byte => if !matches!(peeked, Ok(Ok(1..))) {
                    return;
                },
                _ = evict.cancelled() => return,
            }
            connection::serve(builder, tcp, peer, app, deadlines, &evict, stop).await;
        });
    }
    drop(listener);
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    if tokio::time::timeout(limits.grace, &mut drained)
        .await
        .is_ok()
    {
        return;
    }
    tracing::warn!(
        grace_secs = limits.grace.as_secs(),
        "requests still in flight after the grace period are cut off"
    );
    // Uploads answer 503 and release their claims; whatever still hangs after that is dropped.
    cut_off.cancel();
    let _ = tokio::time::timeout(CUT_OFF_WAIT, &mut drained).await;
}
