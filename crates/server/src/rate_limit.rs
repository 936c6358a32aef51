//! Request rates per client and layer, as the Géoplateforme caps them (WMS-Vector 50 and
//! WMS-Raster 40 requests per second per client): a token bucket per (layer, client), a
//! client being its API key when it sends one, else its address. A bucket holds one second's
//! worth of requests (the burst) and refills continuously; a request finding it empty is
//! refused (429) with the seconds until the next token. Idle buckets are forgotten.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Independent locks: concurrent requests of different clients rarely wait for each other.
const SHARDS: usize = 16;
/// Checks between sweeps of idle buckets.
const SWEEP_EVERY: u64 = 4096;
/// A bucket unused this long is full again and forgotten.
const IDLE: Duration = Duration::from_mins(1);

/// Who is asking: the API key (by hash) or the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// A request with an API key.
    Key(u64),
    /// A request without: its client address.
    Address(IpAddr),
}

impl Client {
    /// The client of a key (hashed: the key itself is not kept).
    pub fn key(value: &str) -> Client {
        let mut hasher = std::hash::DefaultHasher::new();
        value.hash(&mut hasher);
        Client::Key(hasher.finish())
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every (layer, client).
#[derive(Debug)]
pub struct RateLimiter {
    /// Buckets by (hash of the layer name, client): no allocation per request.
    shards: Vec<Mutex<HashMap<(u64, Client), Bucket>>>,
    checks: AtomicU64,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            checks: AtomicU64::new(0),
        }
    }
}

impl RateLimiter {
    /// Takes a token of `client`'s bucket on `layer` (`rate` requests per second): `Err` with
    /// the wait until the next one when it is empty.
    pub fn check(
        &self,
        layer: &str,
        client: Client,
        rate: u32,
        now: Instant,
    ) -> Result<(), Duration> {
        if rate == 0 {
            return Ok(());
        }
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(now);
        }
        let rate = f64::from(rate);
        let mut hasher = std::hash::DefaultHasher::new();
        layer.hash(&mut hasher);
        let key = (hasher.finish(), client);
        let mut hasher = std::hash::DefaultHasher::new();
        key.hash(&mut hasher);
        let shard = &self.shards[(hasher.finish() % SHARDS as u64) as usize];
        let mut buckets = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: rate,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    /// Forgets the buckets idle for a minute (they are full again).
    fn sweep(&self, now: Instant) {
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|_, b| now.saturating_duration_since(b.updated) < IDLE);
        }
    }

    /// Buckets kept (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |b| b.len()))
            .sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = RateLimiter::default();
        let client = Client::Address("192.0.2.1".parse().unwrap());
        let start = Instant::now();
        for _ in 0..10 {
            assert!(limiter.check("roads", client, 10, start).is_ok());
        }
        let wait = limiter.check("roads", client, 10, start).unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another client, another layer: their own buckets.
        assert!(limiter.check("roads", Client::key("k"), 10, start).is_ok());
        assert!(limiter.check("rivers", client, 10, start).is_ok());
        // Over 2 s at 10/s: 20 more, not 21 (the burst does not grow past a second's worth).
        let mut allowed = 0;
        for step in 1..=200 {
            let now = start + Duration::from_millis(10 * step);
            if limiter.check("roads", client, 10, now).is_ok() {
                allowed += 1;
            }
        }
        assert!((19..=21).contains(&allowed), "{allowed}");
        // No limit: always.
        for _ in 0..100 {
            assert!(limiter.check("roads", client, 0, start).is_ok());
        }
    }

    #[test]
    fn idle_buckets_are_forgotten() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        for i in 0..100u8 {
            let client = Client::Address(IpAddr::from([10, 0, 0, i]));
            limiter.check("roads", client, 5, start).unwrap();
        }
        assert_eq!(limiter.len(), 100);
        limiter.sweep(start + Duration::from_secs(61));
        assert_eq!(limiter.len(), 0);
    }
}
