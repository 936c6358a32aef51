//! Where log lines go: gathered in memory and written to stderr by a thread of their own every
//! 100 ms (at once when 256 KiB wait). A busy server logs a line per request; a queue that woke
//! its writer for each line cost a thread switch per request — more than formatting the line
//! (measured: 15 % of the cached-tile throughput on two cores). A line reaches stderr at most
//! 100 ms after it was logged, and every line is written before the process ends normally.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How often waiting lines are written.
const INTERVAL: Duration = Duration::from_millis(100);
/// Waiting bytes that make the writer write at once.
const SOON: usize = 256 * 1024;
/// Waiting bytes beyond which loggers wait for the writer (a stderr that does not drain).
const FULL: usize = 16 * 1024 * 1024;

#[derive(Debug, Default)]
struct Batch {
    lines: Mutex<Vec<u8>>,
    /// Wakes the writer early (lines past `SOON`, or closing).
    pending: Condvar,
    /// Wakes loggers waiting for room.
    drained: Condvar,
    closed: AtomicBool,
}

/// What tracing writes log lines into (one `write` per line).
#[derive(Debug, Clone)]
pub(crate) struct BatchWriter(Arc<Batch>);

impl Write for BatchWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let batch = &self.0;
        let mut lines = batch.lines.lock().unwrap_or_else(PoisonError::into_inner);
        while lines.len() >= FULL && !batch.closed.load(Ordering::Acquire) {
            batch.pending.notify_one();
            lines = batch
                .drained
                .wait(lines)
                .unwrap_or_else(PoisonError::into_inner);
        }
        lines.extend_from_slice(buf);
        if lines.len() >= SOON {
            batch.pending.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> BatchWriter {
        self.clone()
    }
}

/// The writing thread: dropping it writes what waits and stops it.
#[derive(Debug)]
pub(crate) struct LogFlusher {
    batch: Arc<Batch>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogFlusher {
    fn drop(&mut self) {
        self.batch.closed.store(true, Ordering::Release);
        self.batch.pending.notify_one();
        self.batch.drained.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A writer into `out` and the thread that writes; `None` when the thread cannot start.
pub(crate) fn batch_writer(out: impl Write + Send + 'static) -> Option<(BatchWriter, LogFlusher)> {
    let batch = Arc::new(Batch::default());
    let shared = Arc::clone(&batch);
    let thread = std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || write_batches(&shared, out))
        .ok()?;
    Some((
        BatchWriter(Arc::clone(&batch)),
        LogFlusher {
            batch,
            thread: Some(thread),
        },
    ))
}

fn write_batches(batch: &Batch, mut out: impl Write) {
    let mut writing = Vec::new();
    loop {
        let closed = {
            let mut lines = batch.lines.lock().unwrap_or_else(PoisonError::into_inner);
            if lines.len() < SOON && !batch.closed.load(Ordering::Acquire) {
                lines = batch
                    .pending
                    .wait_timeout(lines, INTERVAL)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            // Read under the lock: no line lands after the last swap.
            let closed = batch.closed.load(Ordering::Acquire);
            std::mem::swap(&mut *lines, &mut writing);
            batch.drained.notify_all();
            closed
        };
        if !writing.is_empty() {
            // Nowhere to report a failing stderr: the lines are dropped.
            let _ = out.write_all(&writing);
            let _ = out.flush();
            writing.clear();
        }
        if closed {
            return;
        }
    }
}

/// Log time stamps as the default timer writes them (RFC 3339, microseconds, UTC), with the
/// date and time of day formatted once a second per thread: a busy server stamps a line per
/// request, and the calendar arithmetic of every stamp was a visible part of a cached tile's
/// cost.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogTime;

thread_local! {
    /// The last second formatted, and its `YYYY-MM-DDTHH:MM:SS`.
    static SECOND: std::cell::RefCell<(u64, String)> = const {
        std::cell::RefCell::new((u64::MAX, String::new()))
    };
}

impl tracing_subscriber::fmt::time::FormatTime for LogTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let now = std::time::SystemTime::now();
        let since_epoch = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let second = since_epoch.as_secs();
        SECOND.with(|cached| {
            let mut cached = cached.borrow_mut();
            if cached.0 != second {
                let whole = std::time::UNIX_EPOCH + Duration::from_secs(second);
                let text = humantime::format_rfc3339_seconds(whole).to_string();
                *cached = (second, text.trim_end_matches('Z').to_owned());
            }
            std::fmt::Write::write_fmt(
                w,
                format_args!("{}.{:06}Z", cached.1, since_epoch.subsec_micros()),
            )
        })
    }
}

/// The text log line, as tracing's default "full" format lays it out (`{time} {LEVEL} {spans}:
/// {target}: {message} {field=value}…`) but written straight to the line: strings are quoted
/// and escaped as `Debug` writes them, `%`-recorded values as they display, numbers as numbers.
/// The default writer passes every value through an escaping layer and pads each piece; for the
/// one line a cached tile logs, that was most of logging's cost.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogLine;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LogLine
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut w: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing_subscriber::fmt::time::FormatTime as _;
        let meta = event.metadata();
        LogTime.format_time(&mut w)?;
        let level = match *meta.level() {
            tracing::Level::ERROR => " ERROR ",
            tracing::Level::WARN => "  WARN ",
            tracing::Level::INFO => "  INFO ",
            tracing::Level::DEBUG => " DEBUG ",
            tracing::Level::TRACE => " TRACE ",
        };
        w.write_str(level)?;
        if let Some(scope) = ctx.event_scope() {
            let mut any = false;
            for span in scope.from_root() {
                w.write_str(span.name())?;
                let extensions = span.extensions();
                if let Some(fields) =
                    extensions.get::<tracing_subscriber::fmt::FormattedFields<N>>()
                {
                    if !fields.is_empty() {
                        write!(w, "{{{fields}}}")?;
                    }
                }
                w.write_char(':')?;
                any = true;
            }
            if any {
                w.write_char(' ')?;
            }
        }
        w.write_str(meta.target())?;
        w.write_str(": ")?;
        let mut fields = LineFields {
            line: &mut w,
            result: Ok(()),
            first: true,
        };
        event.record(&mut fields);
        fields.result?;
        w.write_char('\n')
    }
}

/// Writes an event's fields: the message first as it is, then ` name=value`.
struct LineFields<'a, 'w> {
    line: &'a mut tracing_subscriber::fmt::format::Writer<'w>,
    result: std::fmt::Result,
    first: bool,
}

impl LineFields<'_, '_> {
    fn put(&mut self, field: &tracing::field::Field, value: std::fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        self.result = if field.name() == "message" {
            self.line.write_fmt(value)
        } else {
            let separator = if self.first { "" } else { " " };
            write!(self.line, "{separator}{}={value}", field.name())
        };
        self.first = false;
    }
}

impl tracing::field::Visit for LineFields<'_, '_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.put(field, format_args!("{value}"));
        } else {
            self.put(field, format_args!("{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put(field, format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.put(field, format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put(field, format_args!("{value}"));
    }

    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        self.put(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field, format_args!("{value:?}"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A sink whose bytes the test reads.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a line looks like: the default layout, strings quoted and escaped, `%` values and
    /// numbers as they are, the message unquoted, spans' fields before the target.
    #[test]
    fn lines_are_laid_out_as_the_default_format_with_strings_escaped() {
        let sink = Sink::default();
        let written = Arc::clone(&sink.0);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .event_format(LogLine)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job", id = "a b");
            span.in_scope(|| {
                tracing::warn!(
                    path = %"/wmts/x",
                    name = "quote\" and\nline",
                    status = 200_u16,
                    ms = 0.5,
                    ok = true,
                    "answered {}",
                    7
                );
            });
            tracing::error!(error = %std::io::Error::other("disk"), "failed");
        });
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let (stamp, rest) = lines[0].split_once(' ').unwrap();
        assert!(humantime::parse_rfc3339(stamp).is_ok(), "{stamp}");
        assert_eq!(
            rest,
            " WARN job{id=\"a b\"}: tuilerie::log_writer::tests: answered 7 \
             path=/wmts/x name=\"quote\\\" and\\nline\" status=200 ms=0.5 ok=true"
        );
        assert!(
            lines[1].ends_with("ERROR tuilerie::log_writer::tests: failed error=disk"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn time_stamps_are_rfc3339_with_microseconds_as_before() {
        use tracing_subscriber::fmt::time::FormatTime as _;
        let mut first = String::new();
        LogTime
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(
                &mut first,
            ))
            .unwrap();
        let mut second = String::new();
        LogTime
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(
                &mut second,
            ))
            .unwrap();
        for stamp in [&first, &second] {
            assert_eq!(stamp.len(), "2026-12-06T02:23:18.183892Z".len(), "{stamp}");
            let parsed = humantime::parse_rfc3339(stamp).unwrap();
            let off = std::time::SystemTime::now()
                .duration_since(parsed)
                .unwrap_or_default();
            assert!(off < Duration::from_mins(1), "{stamp}");
        }
        assert!(first <= second, "{first} then {second}");
    }

    #[test]
    fn lines_are_written_soon_in_order_and_all_at_the_end() {
        let sink = Sink::default();
        let (writer, flusher) = batch_writer(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        writer
                            .write_all(format!("thread {t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Written within the interval, without a flush.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().len() < 8_000 * 15 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut last = writer.clone();
        last.write_all(b"the end\n").unwrap();
        drop(flusher);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8_001);
        assert_eq!(lines.last(), Some(&"the end"));
        // Each thread's lines whole and in order.
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .copied()
                .collect();
            let expected: Vec<String> =
                (0..2_000).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(mine, expected);
        }
    }
}
