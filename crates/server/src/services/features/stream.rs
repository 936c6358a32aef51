//! Answers written as they are read: a blocking task writes the document through a
//! [`ChunkWriter`] (64 KiB chunks over a small bounded channel), and the response body hands
//! the chunks to hyper. Memory stays constant whatever the number of features; the first
//! byte leaves at once; a client that hangs up closes the channel, the next write fails, and
//! the scan stops. A failure after the first byte aborts the connection (the client sees a
//! truncated transfer, never a document that looks whole).

use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;

const CHUNK_BYTES: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// The writing end: `std::io::Write` on a blocking thread.
#[derive(Debug)]
pub struct ChunkWriter {
    buffer: Vec<u8>,
    send: mpsc::Sender<io::Result<Bytes>>,
}

/// The reading end: the response body's chunks.
#[derive(Debug)]
pub struct ChunkStream {
    receive: mpsc::Receiver<io::Result<Bytes>>,
}

/// A writer and the stream of what it writes.
pub fn channel() -> (ChunkWriter, ChunkStream) {
    let (send, receive) = mpsc::channel(CHUNKS_IN_FLIGHT);
    (
        ChunkWriter {
            buffer: Vec::with_capacity(CHUNK_BYTES),
            send,
        },
        ChunkStream { receive },
    )
}

fn client_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the client closed the connection",
    )
}

impl ChunkWriter {
    /// Ends the answer with a failure: the connection is aborted.
    pub fn fail(self, message: &str) {
        let _ = self
            .send
            .blocking_send(Err(io::Error::other(message.to_owned())));
    }

    /// Sends what is buffered and ends the answer.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush()
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.send
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| client_gone())
    }
}

impl futures_core::Stream for ChunkStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receive.poll_recv(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_arrive_in_order_and_a_gone_reader_stops_the_writer() {
        let (mut writer, mut stream) = channel();
        let writing = tokio::task::spawn_blocking(move || {
            for i in 0..100_000u32 {
                writeln!(writer, "{i}")?;
            }
            writer.finish()
        });
        let mut text = Vec::new();
        while let Some(chunk) =
            std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next_unpin(cx)).await
        {
            text.extend_from_slice(&chunk.unwrap());
        }
        writing.await.unwrap().unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.lines().count(), 100_000);
        assert_eq!(text.lines().last(), Some("99999"));

        let (mut writer, stream) = channel();
        drop(stream);
        let result = tokio::task::spawn_blocking(move || {
            for _ in 0..1000 {
                writer.write_all(&[b'x'; 1024])?;
            }
            writer.finish()
        })
        .await
        .unwrap();
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }

    trait PollNext {
        fn poll_next_unpin(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<io::Result<Bytes>>>;
    }

    impl PollNext for ChunkStream {
        fn poll_next_unpin(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<io::Result<Bytes>>> {
            futures_core::Stream::poll_next(self, cx)
        }
    }
}
