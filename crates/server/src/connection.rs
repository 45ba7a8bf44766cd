//! One client connection, HTTP/1 or HTTP/2, from its first byte to its close: it must start a
//! request within the header deadline, is closed gracefully once it sat idle (no request in
//! flight) for the idle timeout, and on shutdown, and is dropped if it lingers after that. HTTP/2
//! has no header deadline of its own, so without this a partial preface or an idle connection
//! would hold its socket for ever.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, Response},
    Router,
};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use tokio::{net::TcpStream, sync::watch};
use tokio_util::sync::CancellationToken;

/// How often a connection looks at its deadlines.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// What a connection is allowed.
#[derive(Clone, Copy)]
pub struct Deadlines {
    /// To start the first request, from the first byte.
    pub first_request: Duration,
    /// Without a request in flight, before it is closed.
    pub idle: Duration,
}

/// What a connection has asked of the server so far.
struct Activity {
    started_any: AtomicBool,
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(self.last.lock().expect("activity lock").elapsed())
    }
}

/// Held by a request until its response body has been sent (or dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last.lock().expect("activity lock") = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The router as one connection sees it: each request learns the peer's address and counts as
/// activity until its response has been sent.
#[derive(Clone)]
struct Tracked {
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl tower::Service<Request<Incoming>> for Tracked {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Body>, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Incoming>) -> Self::Future {
        self.activity.started_any.store(true, Ordering::SeqCst);
        self.activity.in_flight.fetch_add(1, Ordering::SeqCst);
        let in_flight = InFlight(self.activity.clone());
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let response = tower::ServiceExt::oneshot(self.app.clone(), request.map(Body::new));
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _held = &in_flight;
                    frame
                }))
            }))
        })
    }
}

/// Serves `tcp` until the client closes it, a deadline passes, or the server shuts down.
pub async fn serve(
    builder: Arc<Builder<TokioExecutor>>,
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    deadlines: Deadlines,
    evict: &CancellationToken,
    mut shutdown: watch::Receiver<bool>,
) {
    let opened = Instant::now();
    let activity = Arc::new(Activity {
        started_any: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        last: Mutex::new(opened),
    });
    let service = TowerToHyperService::new(Tracked {
        app,
        peer,
        activity: activity.clone(),
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    let mut check = tokio::time::interval(CHECK_EVERY);
    let mut closing: Option<Instant> = None;
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            // Evicted to make room past the connection cap, while it has asked nothing.
            _ = evict.cancelled(), if !activity.started_any.load(Ordering::SeqCst) => return,
            _ = shutdown.wait_for(|stop| *stop), if closing.is_none() => {
                connection.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
            _ = check.tick() => {
                let started = activity.started_any.load(Ordering::SeqCst);
                if !started && opened.elapsed() >= deadlines.first_request {
                    // A partial preface or headers never finished: nothing to be graceful about.
                    return;
                }
                let idle = activity.idle_for();
                match closing {
                    None if idle.is_some_and(|idle| idle >= deadlines.idle) => {
                        connection.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                    // Told to go and still there with nothing in flight: the client ignores it.
                    Some(since)
                        if idle.is_some() && since.elapsed() >= deadlines.first_request =>
                    {
                        return;
                    }
                    _ => {}
                }
            }
        }
    }
}
