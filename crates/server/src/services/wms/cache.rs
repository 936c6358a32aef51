//! The caches of WMS: encoded GetMap images keyed by the normalised request, bounded in bytes,
//! and the capabilities documents of the current snapshot.
//!
//! Keys carry the layer snapshot's sequence, so a publication change makes every older entry
//! unreachable at once (they age out of the LRU).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use lru::LruCache;

use super::protocol::Version;

/// An encoded map and its content type.
#[derive(Debug, Clone)]
pub struct CachedImage {
    /// The encoded bytes.
    pub bytes: Bytes,
    /// Its MIME type.
    pub content_type: &'static str,
    /// Its HTTP validator, when the producer made one (vector tiles: a hash of the bytes).
    pub etag: Option<std::sync::Arc<str>>,
}

/// LRU of encoded maps, at most `capacity` bytes (keys counted too).
#[derive(Debug)]
pub struct ImageCache {
    inner: Mutex<Inner>,
    capacity: usize,
    /// Lookups counted for `/metrics`.
    counters: Option<crate::metrics::CacheCounters>,
}

#[derive(Debug)]
struct Inner {
    entries: LruCache<String, CachedImage>,
    bytes: usize,
}

impl ImageCache {
    /// A cache of `capacity` bytes (0: caches nothing).
    pub fn new(capacity: usize) -> ImageCache {
        ImageCache {
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
            capacity,
            counters: None,
        }
    }

    /// The same, its lookups counted (hits and misses) for `/metrics`.
    pub fn counted(capacity: usize, counters: crate::metrics::CacheCounters) -> ImageCache {
        ImageCache {
            counters: Some(counters),
            ..ImageCache::new(capacity)
        }
    }

    /// The image of a key, marking it recently used.
    pub fn get(&self, key: &str) -> Option<CachedImage> {
        if self.capacity == 0 {
            return None;
        }
        let found = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entries
            .get(key)
            .cloned();
        if let Some(counters) = &self.counters {
            if found.is_some() {
                counters.hits.inc();
            } else {
                counters.misses.inc();
            }
        }
        found
    }

    /// Stores an image; images larger than an eighth of the cache are not kept.
    #[allow(clippy::needless_pass_by_value)] // the key is moved into the map
    pub fn put(&self, key: String, image: CachedImage) {
        let size = key.len() + image.bytes.len();
        if size > self.capacity / 8 {
            return;
        }
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = inner.entries.put(key.clone(), image) {
            inner.bytes -= key.len() + old.bytes.len();
        }
        inner.bytes += size;
        while inner.bytes > self.capacity {
            match inner.entries.pop_lru() {
                Some((k, v)) => inner.bytes -= k.len() + v.bytes.len(),
                None => break,
            }
        }
        if let Some(counters) = &self.counters {
            counters
                .bytes
                .set(i64::try_from(inner.bytes).unwrap_or(i64::MAX));
        }
    }

    #[cfg(test)]
    /// Drops every entry.
    pub fn clear(&self) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.entries.clear();
        inner.bytes = 0;
    }

    #[cfg(test)]
    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes
    }
}

/// Capabilities documents of the current snapshot.
#[derive(Debug, Default)]
pub struct CapabilitiesCache {
    inner: Mutex<(u64, Documents)>,
}

/// Documents by version, base URL and view (the layers a request may see).
type Documents = HashMap<(Version, String, u64), Bytes>;

impl CapabilitiesCache {
    pub(super) fn get_or_build(
        &self,
        (sequence, view): (u64, u64),
        version: Version,
        base: &str,
        build: impl FnOnce() -> String,
    ) -> Bytes {
        {
            let inner = self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if inner.0 == sequence {
                if let Some(doc) = inner.1.get(&(version, base.to_owned(), view)) {
                    return doc.clone();
                }
            }
        }
        let doc = Bytes::from(build());
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.0 != sequence {
            *inner = (sequence, HashMap::new());
        }
        // A handful of base URLs at most in practice; bound it anyway.
        if inner.1.len() >= 64 {
            inner.1.clear();
        }
        inner
            .1
            .insert((version, base.to_owned(), view), doc.clone());
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(n: usize) -> CachedImage {
        CachedImage {
            bytes: Bytes::from(vec![0u8; n]),
            content_type: "image/png",
            etag: None,
        }
    }

    #[test]
    fn stays_within_its_byte_budget_evicting_the_least_recent() {
        let cache = ImageCache::new(1000);
        cache.put("a".into(), image(99));
        cache.put("b".into(), image(99));
        assert!(cache.get("a").is_some());
        for k in 0..20 {
            cache.put(format!("k{k:02}"), image(97));
        }
        assert!(cache.bytes() <= 1000);
        assert!(cache.get("b").is_none());
        assert!(cache.get("k19").is_some());
        // Replacing an entry does not count it twice.
        cache.put("k19".into(), image(50));
        assert!(cache.bytes() <= 1000);
        cache.clear();
        assert_eq!(cache.bytes(), 0);
        assert!(cache.get("k19").is_none());
    }

    #[test]
    fn zero_capacity_and_huge_images_are_not_kept() {
        let none = ImageCache::new(0);
        none.put("a".into(), image(1));
        assert!(none.get("a").is_none());
        let small = ImageCache::new(800);
        small.put("big".into(), image(500));
        assert!(small.get("big").is_none());
    }
}
