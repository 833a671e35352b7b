//! Serving connections (plain HTTP and HTTPS) with limits, so that no client can hold the
//! server's connections or file descriptors forever:
//!
//! - at most `max_connections` connections at once: past that, trentd stops accepting (new
//!   connections wait in the kernel's backlog) until one closes, and the timeouts below make
//!   sure one does;
//! - the TLS handshake, and every request head (from the moment the server waits for it: right
//!   after accept, and after each response on a keep-alive connection), must arrive within
//!   `header_read`;
//! - a request body must arrive whole within `body_read` of its head (else the request fails
//!   and the connection is closed);
//! - a connection that moves no byte in either direction for `idle`, with no request being
//!   handled, is closed (this also covers HTTP/2, which has no request-head timeout).
//!
//! Graceful shutdown: on the shutdown signal trentd stops accepting, lets each connection
//! finish its current request, and drops whatever is still open after 10 seconds.

use axum::extract::ConnectInfo;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How long connections may take, and how many there may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub body_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

/// How long open connections get to finish after the shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => p.map_err(|e| e.to_string())?,
        };
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors (EMFILE/ENFILE) or a connection reset before accept:
                    // wait a little instead of spinning, and keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(tcp, peer, router, limits, stop).await,
                Some(cfg) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(cfg.get_inner());
                    match tokio::time::timeout(limits.header_read, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => connection(stream, peer, router, limits, stop).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection task holds a slot: once all slots are back, every connection is done.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), slots.acquire_many(all)).await;
    Ok(())
}

/// Serves one connection until the client closes it, a limit closes it, or shutdown.
async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    router: axum::Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked { inner: stream, activity: activity.clone() });
    let act = activity.clone();
    let body_read = limits.body_read;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let req = req.map(|body| axum::body::Body::new(Timed::new(body, body_read)));
        let busy = Busy::enter(act.clone());
        let router = router.clone();
        async move {
            let _busy = busy;
            tower::ServiceExt::oneshot(router, req).await
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut closing: Option<tokio::time::Instant> = None;
    loop {
        let deadline = closing.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
            }
            _ = tick.tick(), if closing.is_none() => {
                // hyper's header timer starts only once it knows the protocol, so the first
                // request's head is also timed here: it must have come within `header_read`.
                let no_request = activity.requests.load(Ordering::Relaxed) == 0
                    && activity.start.elapsed() >= limits.header_read;
                if no_request || activity.idle_for() >= limits.idle {
                    tracing::debug!(%peer, "closing an idle connection");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(tokio::time::Instant::now() + Duration::from_secs(1));
                }
            }
            _ = tokio::time::sleep_until(deadline), if closing.is_some() => return,
        }
    }
}

/// When a connection last moved a byte, and how many of its requests are being handled.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    busy: AtomicUsize,
    requests: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
        }
    }
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }
    /// How long nothing has happened on the connection (zero while a request is handled).
    fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// Counts a request as being handled while it lives.
struct Busy(Arc<Activity>);

impl Busy {
    fn enter(a: Arc<Activity>) -> Self {
        a.busy.fetch_add(1, Ordering::Relaxed);
        a.requests.fetch_add(1, Ordering::Relaxed);
        Busy(a)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that notes every read and write in its connection's [`Activity`].
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails once its deadline passes before it has all arrived.
struct Timed {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl Timed {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Timed { inner, deadline: Box::pin(tokio::time::sleep(limit)), limit }
    }
}

/// The error a body gets when it does not arrive within the body-read timeout.
#[derive(Debug)]
pub struct BodyTimeout(pub Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {} seconds", self.0.as_secs())
    }
}

impl std::error::Error for BodyTimeout {}

/// The body-read timeout behind a body error, if that is what it was.
pub fn body_timeout(e: axum::Error) -> Option<BodyTimeout> {
    let inner = e.into_inner();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&*inner);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<BodyTimeout>() {
            return Some(BodyTimeout(t.0));
        }
        cur = err.source();
    }
    None
}

impl Body for Timed {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(self.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Raises the soft limit on open files to the hard limit (where allowed) and returns the soft
/// limit now in force, if known.
pub fn raise_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    // Linux refuses more than fs.nr_open (often 1,048,576) even when the hard limit is infinite.
    let want = now.maximum.unwrap_or(1 << 20);
    if now.current.is_some_and(|c| c < want) {
        match setrlimit(Resource::Nofile, Rlimit { current: Some(want), maximum: now.maximum }) {
            Ok(()) => return Some(want),
            Err(e) => {
                tracing::warn!(error = %e, soft = ?now.current, hard = ?now.maximum, "could not raise the open-file limit")
            }
        }
    }
    now.current
}

/// The default connection cap: 4,096, or fewer when the open-file limit leaves less room
/// (keeping 128 descriptors for the database, audit trail and other files).
pub fn default_max_connections(file_limit: Option<u64>) -> usize {
    match file_limit {
        Some(n) => usize::try_from(n.saturating_sub(128)).unwrap_or(usize::MAX).clamp(16, 4096),
        None => 4096,
    }
}

/// Binds the listener (before anything else starts, so a port in use fails first).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))
}
