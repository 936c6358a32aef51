//! The listener: accepts connections, serves them with hyper (HTTP/1.1 and HTTP/2), and shuts
//! down gracefully — on the shutdown signal it stops accepting, lets in-flight requests finish
//! (up to `server.shutdown_grace_secs`), then returns.
//!
//! A hand-written accept loop rather than `axum::serve`, because the request head limit
//! (`server.max_header_bytes`, answered 431 by hyper) is only configurable on hyper's builder,
//! and because each worker thread runs its own single-threaded runtime accepting from the
//! shared socket (see [`Server`]). Handlers must therefore never block for long: slow
//! work (rendering) goes to `spawn_blocking` or rayon.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::app::router;
use crate::config::Config;
use crate::connection::{Announced, ClientStream};
use crate::services::wms::StartError;
use crate::state::{AppState, Published};

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr} (is another server using this port? change server.listen or --listen)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket has no local address.
    #[error("cannot read the listening address")]
    LocalAddr(#[source] std::io::Error),
    /// A runtime or worker thread could not start.
    #[error("cannot start the server's threads")]
    Runtime(#[source] std::io::Error),
    /// A service could not start (the WMS renderer or render threads).
    #[error(transparent)]
    Service(#[from] StartError),
}

/// A bound server, ready to run: workers share the listening socket, each served by its own
/// single-threaded runtime on its own thread — the nginx model: no work-stealing wake-ups
/// between threads on the hot path. Signal handlers are
/// installed at construction, before the address is announced.
#[derive(Debug)]
pub struct Server {
    listeners: Vec<std::net::TcpListener>,
    runtime: tokio::runtime::Runtime,
    local: SocketAddr,
}

impl Server {
    /// Binds `server.listen` once per worker (`server.workers`, 0 = one per CPU).
    pub fn bind(config: &Config) -> Result<Server, ServeError> {
        let workers = match config.server.workers {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        };
        let addr = config.server.listen;
        let first = bind_listener(addr)?;
        let local = first.local_addr().map_err(ServeError::LocalAddr)?;
        let mut listeners = vec![first];
        // The workers share one listening socket (duplicated descriptors): an idle worker takes
        // the next connection. (Separate SO_REUSEPORT sockets hash connections to workers
        // blindly, which left one worker saturated and the other idle under load.)
        for _ in 1..workers {
            listeners.push(first_clone(&listeners[0], addr)?);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        Ok(Server {
            listeners,
            runtime,
            local,
        })
    }

    /// The bound address (the actual port when the configured one is 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests on every worker.
    pub fn run(self, config: Config, published: Published) -> Result<(), ServeError> {
        let Server {
            listeners,
            runtime,
            local,
        } = self;
        let shutdown = {
            let _entered = runtime.enter();
            shutdown_signal()
        };
        let limits = Limits {
            grace: config.server.shutdown_grace,
            max_header_bytes: config.server.max_header_bytes.max(8192),
            connections: Arc::new(tokio::sync::Semaphore::new(config.server.max_connections)),
            max_connections: config.server.max_connections,
            warned: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        };
        let app = router(AppState::new(config, published))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tracing::info!(%local, workers = listeners.len(), "listening");
        let mut listeners = listeners.into_iter();
        let Some(main_listener) = listeners.next() else {
            return Ok(());
        };
        let mut threads = Vec::new();
        for (index, listener) in listeners.enumerate() {
            let app = app.clone();
            let stopped = stopped.clone();
            let limits = limits.clone();
            let thread = std::thread::Builder::new()
                .name(format!("tuilerie-worker-{}", index + 1))
                .spawn(move || -> Result<(), ServeError> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(ServeError::Runtime)?;
                    runtime.block_on(serve_listener(listener, app, stopped, limits))
                })
                .map_err(ServeError::Runtime)?;
            threads.push(thread);
        }
        runtime.block_on(async {
            let signal = async {
                shutdown.await;
                let _ = stop.send(true);
            };
            let ((), served) =
                tokio::join!(signal, serve_listener(main_listener, app, stopped, limits));
            served
        })?;
        for thread in threads {
            if let Ok(result) = thread.join() {
                result?;
            } else {
                tracing::error!("a worker thread panicked");
            }
        }
        Ok(())
    }
}

fn first_clone(
    listener: &std::net::TcpListener,
    addr: SocketAddr,
) -> Result<std::net::TcpListener, ServeError> {
    listener
        .try_clone()
        .map_err(|source| ServeError::Bind { addr, source })
}

fn bind_listener(addr: SocketAddr) -> Result<std::net::TcpListener, ServeError> {
    use socket2::{Domain, Socket, Type};
    let bind_error = |source| ServeError::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(bind_error)?;
    // SO_REUSEADDR only (restart without waiting for TIME_WAIT); no SO_REUSEPORT, so that a
    // second server on the same port fails loudly instead of sharing it.
    socket.set_reuse_address(true).map_err(bind_error)?;
    socket.set_nonblocking(true).map_err(bind_error)?;
    socket.bind(&addr.into()).map_err(bind_error)?;
    socket.listen(1024).map_err(bind_error)?;
    Ok(socket.into())
}

/// What every accept loop shares: the shutdown grace, the request head limit, and the
/// connections served at once (past the cap, new ones wait in the listen backlog).
#[derive(Debug, Clone)]
struct Limits {
    grace: Duration,
    max_header_bytes: usize,
    connections: Arc<tokio::sync::Semaphore>,
    max_connections: usize,
    /// When the cap was last logged (seconds since the epoch): once a minute at most.
    warned: Arc<std::sync::atomic::AtomicU64>,
}

impl Limits {
    /// A connection slot, waiting (and saying so, once a minute) when every one is taken.
    async fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() {
            return Some(permit);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.warned.load(std::sync::atomic::Ordering::Relaxed);
        if now >= last + 60
            && self
                .warned
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
        {
            tracing::warn!(
                max_connections = self.max_connections,
                "connection limit reached: new connections wait until one closes (server.max_connections)"
            );
        }
        Arc::clone(&self.connections).acquire_owned().await.ok()
    }
}

/// Accepts and serves connections of one listener until `stopped` turns true, then drains.
async fn serve_listener(
    listener: std::net::TcpListener,
    app: axum::Router,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    limits: Limits,
) -> Result<(), ServeError> {
    let Limits {
        grace,
        max_header_bytes,
        ..
    } = limits;
    let listener = TcpListener::from_std(listener).map_err(ServeError::LocalAddr)?;
    let service = TowerToHyperService::new(app);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_buf_size(max_header_bytes)
        .header_read_timeout(Duration::from_secs(30))
        // A client that shut its write side after its request still gets its answer.
        .half_close(true);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();

    loop {
        let slot = tokio::select! {
            slot = limits.slot() => slot,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Running out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (stream, link) = ClientStream::new(stream);
                let connection = builder
                    .serve_connection(
                        TokioIo::new(stream),
                        Announced::new(service.clone(), Arc::clone(&link), peer.ip()),
                    )
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(link.scope(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, error = %error, "connection ended with an error");
                    }
                    drop(slot);
                }));
            }
            _ = stopped.wait_for(|stop| *stop) => break,
        }
    }
    drop(listener);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over: closing remaining connections"),
    }
    Ok(())
}

/// Installs the SIGINT and SIGTERM handlers now (so that a signal arriving before the server
/// loop first polls is not the default "terminate" action) and returns a future that resolves
/// on either.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => tracing::info!("SIGINT received"),
                        _ = terminate.recv() => tracing::info!("SIGTERM received"),
                    }
                }
                (interrupt, terminate) => {
                    if let Err(error) = interrupt.and(terminate) {
                        tracing::error!(%error, "cannot listen for SIGINT / SIGTERM");
                    }
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("Ctrl-C received");
            } else {
                std::future::pending::<()>().await;
            }
        }
    }
}
