//! What the server knows of a client's connection while it answers: whether the client is
//! still there.
//!
//! Two kinds of client look alike on the wire: one that shut only its write side after
//! sending its request (some proxies and scripts do) and waits for the answer, and one that
//! closed its socket and left. Both send a FIN; TCP tells them apart only when data arrives:
//! a closed socket answers it with a reset. So when a render asks whether its client is
//! still there and finds the read side at its end, the connection sends the first bytes of
//! the answer to come, `HTTP/1.1 ` (every answer to an HTTP/1.1 request starts so), and
//! removes them from the answer when hyper writes it. A client that left resets the
//! connection and the render stops; a client that half-closed receives a valid answer.
//!
//! HTTP/2 needs none of this: hyper drops the request's future when a stream is reset, and
//! the render pool cancels the jobs of dropped futures (see `services::wms::pool`).

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The bytes every HTTP/1.1 answer of hyper starts with.
const PROBE: &[u8] = b"HTTP/1.1 ";

tokio::task_local! {
    /// The link of the HTTP/1 connection whose task is running (absent for HTTP/2 streams,
    /// which hyper runs as tasks of their own).
    static CURRENT: Arc<Link>;
}

/// Where the answer to the request in flight stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// An HTTP/1.1 request is being answered; nothing of its answer is written yet.
    Waiting,
    /// `sent` bytes of [`PROBE`] went ahead of the answer.
    Probed { sent: usize },
    /// The answer is being written, or the request cannot be probed (HTTP/1.0, HTTP/2).
    Writing,
}

#[derive(Debug)]
struct Shared {
    write: OwnedWriteHalf,
    phase: Phase,
    /// Bytes of the answer hyper is writing that were already sent as the probe.
    skip: usize,
    gone: bool,
}

/// One client connection, shared by its I/O and the renders of its requests.
#[derive(Debug)]
pub struct Link {
    shared: Mutex<Shared>,
}

impl Link {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The link of the connection being served by the current task, if any.
    pub fn current() -> Option<Arc<Link>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Runs `future` (the connection) with this link as [`Link::current`].
    pub fn scope<F: std::future::Future>(
        self: Arc<Link>,
        future: F,
    ) -> impl std::future::Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// A request of `version` starts: its answer may be probed when it is HTTP/1.1.
    pub fn begin(&self, version: axum::http::Version) {
        let mut shared = self.lock();
        shared.phase = if version == axum::http::Version::HTTP_11 {
            Phase::Waiting
        } else {
            Phase::Writing
        };
        shared.skip = 0;
    }

    /// Whether the client has left (closed its connection, or reset it). Cheap enough to ask
    /// between layers and every few hundred features: a few non-blocking system calls.
    pub fn client_gone(&self) -> bool {
        let mut shared = self.lock();
        if shared.gone {
            return true;
        }
        let stream: &TcpStream = shared.write.as_ref();
        if matches!(stream.take_error(), Ok(Some(_)) | Err(_)) {
            shared.gone = true;
            return true;
        }
        if shared.phase != Phase::Waiting {
            return false;
        }
        let mut byte = [MaybeUninit::<u8>::uninit(); 1];
        match socket2::SockRef::from(stream).peek(&mut byte) {
            // The client sent all it will send: probe whether it still listens.
            Ok(0) => match stream.try_write(PROBE) {
                Ok(0) => {}
                Ok(sent) => shared.phase = Phase::Probed { sent },
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => shared.gone = true,
            },
            // A pipelined request waits, or nothing arrived: the client is there.
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => shared.gone = true,
        }
        shared.gone
    }
}

/// A client's TCP stream as hyper reads and writes it, with the probe's bytes taken out of
/// the answer.
#[derive(Debug)]
pub struct ClientStream {
    read: OwnedReadHalf,
    link: Arc<Link>,
}

impl ClientStream {
    /// Wraps an accepted stream; the link goes to the connection's task.
    pub fn new(stream: TcpStream) -> (ClientStream, Arc<Link>) {
        let (read, write) = stream.into_split();
        let link = Arc::new(Link {
            shared: Mutex::new(Shared {
                write,
                phase: Phase::Writing,
                skip: 0,
                gone: false,
            }),
        });
        (
            ClientStream {
                read,
                link: Arc::clone(&link),
            },
            link,
        )
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

/// Starts an answer's writing: how many of its first bytes went out as the probe.
fn start_answer(shared: &mut Shared) {
    match shared.phase {
        Phase::Waiting => shared.phase = Phase::Writing,
        Phase::Probed { sent } => {
            shared.phase = Phase::Writing;
            shared.skip = sent;
        }
        Phase::Writing => {}
    }
}

fn probe_mismatch() -> io::Error {
    io::Error::other("the answer does not start as the bytes sent ahead of it")
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut shared = self.link.lock();
        start_answer(&mut shared);
        let skip = shared.skip;
        if skip == 0 {
            return Pin::new(&mut shared.write).poll_write(cx, buf);
        }
        if buf.len() <= skip || buf[..skip] != PROBE[..skip] {
            return Poll::Ready(Err(probe_mismatch()));
        }
        match Pin::new(&mut shared.write).poll_write(cx, &buf[skip..]) {
            Poll::Ready(Ok(written)) => {
                shared.skip = 0;
                Poll::Ready(Ok(written + skip))
            }
            other => other,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut shared = self.link.lock();
        start_answer(&mut shared);
        if shared.skip == 0 {
            return Pin::new(&mut shared.write).poll_write_vectored(cx, bufs);
        }
        drop(shared);
        // The head (the first slice) carries the probed bytes: write it alone.
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        self.poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.link.lock().write).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.link.lock().write).poll_shutdown(cx)
    }
}

/// hyper's service with each request announced to the connection's link.
#[derive(Debug, Clone)]
pub struct Announced<S> {
    inner: S,
    link: Arc<Link>,
    peer: std::net::IpAddr,
}

/// The address of the client of a request (its connection's peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

impl<S> Announced<S> {
    /// `inner` serving the connection of `link`, from `peer`.
    pub fn new(inner: S, link: Arc<Link>, peer: std::net::IpAddr) -> Announced<S> {
        Announced { inner, link, peer }
    }
}

impl<S, B> hyper::service::Service<axum::http::Request<B>> for Announced<S>
where
    S: hyper::service::Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut request: axum::http::Request<B>) -> Self::Future {
        self.link.begin(request.version());
        request.extensions_mut().insert(ClientAddr(self.peer));
        self.inner.call(request)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (ClientStream, Arc<Link>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (stream, link) = ClientStream::new(server);
        (stream, link, client)
    }

    #[tokio::test]
    async fn a_half_closed_client_gets_the_whole_answer() {
        let (mut stream, link, mut client) = pair().await;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        client.shutdown().await.unwrap();
        let mut request = vec![0; 18];
        stream.read_exact(&mut request).await.unwrap();
        link.begin(axum::http::Version::HTTP_11);
        // The read side is at its end: the probe goes out, the client is still there.
        let mut gone = false;
        for _ in 0..20 {
            gone |= link.client_gone();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(!gone);
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert_eq!(answer, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    }

    #[tokio::test]
    async fn a_client_that_closed_is_seen_gone() {
        let (mut stream, link, mut client) = pair().await;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut request = vec![0; 18];
        stream.read_exact(&mut request).await.unwrap();
        link.begin(axum::http::Version::HTTP_11);
        assert!(!link.client_gone());
        drop(client);
        let mut gone = false;
        for _ in 0..200 {
            if link.client_gone() {
                gone = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(gone);
    }

    #[tokio::test]
    async fn http_1_0_requests_are_never_probed() {
        let (_stream, link, mut client) = pair().await;
        link.begin(axum::http::Version::HTTP_10);
        client.shutdown().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!link.client_gone());
        let mut nothing = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            client.read_to_end(&mut nothing),
        )
        .await;
        assert!(read.is_err(), "nothing may be sent ahead: {nothing:?}");
    }

    #[tokio::test]
    async fn a_pipelined_request_is_not_mistaken_for_an_end() {
        let (_stream, link, mut client) = pair().await;
        client
            .write_all(b"GET /next HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        link.begin(axum::http::Version::HTTP_11);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!link.client_gone());
        let shared = link.lock();
        assert_eq!(shared.phase, Phase::Waiting);
    }
}
