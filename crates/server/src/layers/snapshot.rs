//! What the request path reads: the layers of each service (WMS; WMTS and TMS), the open
//! ones apart, and what API keys grant — swapped whole when publications change — and the
//! view of one request (the layers its key lets it see).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::layer::{Access, Layer, Layers, RateLimit};

/// The service a request is for: WMS, or tiles (WMTS and TMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// WMS.
    Wms,
    /// WMTS and TMS.
    Tiles,
    /// WFS (and OGC API – Features): the features themselves.
    Features,
}

impl RateLimit {
    /// The limit through a service.
    pub fn of(self, service: Service) -> u32 {
        match service {
            Service::Wms => self.wms,
            Service::Tiles => self.tiles,
            Service::Features => self.features,
        }
    }
}

/// Everything published, as the request path reads it: the layers of each service, and what
/// API keys grant. Swapped whole.
#[derive(Debug)]
pub struct Snapshot {
    /// Layers served by WMS (every one, restricted included).
    pub wms: Arc<Layers>,
    /// Layers served by WMTS and TMS.
    pub tiles: Arc<Layers>,
    /// Feature types served by WFS (vector layers of one table each).
    pub features: Arc<Layers>,
    /// What each key grants.
    pub grants: Vec<catalog::KeyGrant>,
    open_wms: Arc<Layers>,
    open_tiles: Arc<Layers>,
    open_features: Arc<Layers>,
    /// Whether some layer of WMS, tiles, features has a rate limit there.
    rate_limited: [bool; 3],
}

impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot::new(
            BTreeMap::new(),
            BTreeMap::new(),
            BTreeMap::new(),
            Vec::new(),
        )
    }
}

impl Snapshot {
    pub(super) fn new(
        wms: BTreeMap<String, Arc<Layer>>,
        tiles: BTreeMap<String, Arc<Layer>>,
        features: BTreeMap<String, Arc<Layer>>,
        grants: Vec<catalog::KeyGrant>,
    ) -> Snapshot {
        let sequence = next_sequence();
        let open = |map: &BTreeMap<String, Arc<Layer>>| {
            map.iter()
                .filter(|(_, l)| l.access == Access::Open)
                .map(|(n, l)| (n.clone(), Arc::clone(l)))
                .collect()
        };
        let limited = |map: &BTreeMap<String, Arc<Layer>>, service: Service| {
            map.values().any(|l| l.rate.of(service) > 0)
        };
        Snapshot {
            rate_limited: [
                limited(&wms, Service::Wms),
                limited(&tiles, Service::Tiles),
                limited(&features, Service::Features),
            ],
            open_wms: Arc::new(Layers::from_map(open(&wms), sequence)),
            open_tiles: Arc::new(Layers::from_map(open(&tiles), sequence)),
            open_features: Arc::new(Layers::from_map(open(&features), sequence)),
            wms: Arc::new(Layers::from_map(wms, sequence)),
            tiles: Arc::new(Layers::from_map(tiles, sequence)),
            features: Arc::new(Layers::from_map(features, sequence)),
            grants,
        }
    }

    /// Every layer of a service.
    pub fn all(&self, service: Service) -> &Arc<Layers> {
        match service {
            Service::Wms => &self.wms,
            Service::Tiles => &self.tiles,
            Service::Features => &self.features,
        }
    }

    /// Whether some layer of a service has a rate limit there.
    pub fn has_rate_limits(&self, service: Service) -> bool {
        self.rate_limited[service as usize]
    }

    /// Whether some layer of a service is restricted to API keys.
    pub fn has_restricted(&self, service: Service) -> bool {
        let (all, open) = self.sets(service);
        all.len() != open.len()
    }

    /// The layers of a service a request may see: the open ones, plus the restricted ones
    /// whose offerings `granted` names.
    pub fn view(&self, service: Service, granted: Option<&[String]>) -> Arc<Layers> {
        let (all, open) = self.sets(service);
        if !self.has_restricted(service) {
            return Arc::clone(all);
        }
        let Some(granted) = granted else {
            return Arc::clone(open);
        };
        let visible = all
            .by_name
            .iter()
            .filter(|(_, l)| may_see(l, granted))
            .map(|(n, l)| (n.clone(), Arc::clone(l)))
            .collect();
        Arc::new(Layers::from_map(visible, all.sequence))
    }

    /// Every layer of a service, and its open ones.
    fn sets(&self, service: Service) -> (&Arc<Layers>, &Arc<Layers>) {
        match service {
            Service::Wms => (&self.wms, &self.open_wms),
            Service::Tiles => (&self.tiles, &self.open_tiles),
            Service::Features => (&self.features, &self.open_features),
        }
    }

    /// Number of distinct layers (of WMS and tiles; feature types are views of them).
    pub fn len(&self) -> usize {
        self.wms.len()
            + self
                .tiles
                .iter()
                .filter(|l| self.wms.get(&l.name).is_none())
                .count()
    }

    /// Whether nothing is published.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a key granted `granted` may see a layer.
pub fn may_see(layer: &Layer, granted: &[String]) -> bool {
    match &layer.access {
        Access::Open => true,
        Access::Restricted(offerings) => offerings.iter().any(|o| granted.contains(o)),
    }
}

/// A strictly increasing snapshot number (milliseconds since the epoch when possible).
fn next_sequence() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(current) => last = current,
        }
    }
}
