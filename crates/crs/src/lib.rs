//! Coordinate reference systems for Tuilerie.
//!
//! OGC services spell the same CRS many ways (`EPSG:4326`, `urn:ogc:def:crs:EPSG::4326`,
//! `http://www.opengis.net/def/crs/EPSG/0/4326`, `CRS:84`, `IGNF:WGS84G`…) and disagree on axis
//! order (WMS 1.3.0 and WMTS use the CRS's own order: latitude first for EPSG geographic CRSs).
//! Getting either wrong shifts maps by continents or swaps them across the equator, and each
//! client (QGIS, OpenLayers, GDAL, OWSLib) notices. This crate turns every spelling into one
//! [`Crs`] value, knows its axis order, units and area of use, and transforms points and
//! bounding boxes between CRSs with `proj4rs` (pure Rust, checked against PROJ to 1 mm on a
//! committed table of reference points). It is pure: no I/O.
//!
//! Coordinates in this API are always `(x, y)` = (easting or longitude, northing or latitude),
//! in degrees or metres; the axis order only matters when reading or writing OGC strings
//! ([`Crs::axis_order`], [`Bbox::from_ogc`], [`Bbox::to_ogc`]).
//!
//! Identifiers keep their identity: `IGNF:LAMB93` stays `IGNF:LAMB93` (its [`Crs::code`]) but
//! is [`equivalent`](Crs::equivalent) to `EPSG:2154`, and advertises itself to clients as
//! `urn:ogc:def:crs:EPSG::2154` ([`Crs::urn`]). IGNF's geographic CRSs (`IGNF:WGS84G`,
//! `IGNF:RGF93G`, `IGNF:ETRS89G`) are longitude-first, like `CRS:84` and as IGNF and ROK4
//! define them, so they are equivalent to, not equal to, the latitude-first EPSG CRSs.
//!
//! ```
//! use crs::{AxisOrder, Bbox, Crs, Transformer};
//!
//! let crs = Crs::parse("http://www.opengis.net/def/crs/EPSG/0/4326")?;
//! assert_eq!(crs.code(), "EPSG:4326");
//! assert_eq!(crs.axis_order(), AxisOrder::NorthEast);
//!
//! // WMS 1.3.0 BBOX=lat_min,lon_min,lat_max,lon_max in EPSG:4326.
//! let bbox = Bbox::from_ogc([-10.0, -20.0, 10.0, 20.0], &crs)?;
//! let to_mercator = Transformer::new(&crs, &Crs::web_mercator())?;
//! let m = to_mercator.transform_bbox(&bbox)?;
//! assert!((m.max_x() - 2_226_389.816).abs() < 1e-3);
//! # Ok::<(), crs::CrsError>(())
//! ```
#![forbid(unsafe_code)]

mod bbox;
mod crs;
mod registry;
mod transform;
mod wkt;

pub use crate::bbox::Bbox;
pub use crate::crs::{Crs, METRES_PER_DEGREE};
pub use crate::transform::{Transformer, DENSIFY_POINTS};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrsError {
    /// The identifier is a CRS spelling, but not of a CRS we know.
    #[error("unknown CRS '{0}': known codes are {known}", known = crate::crs::KNOWN)]
    Unknown(String),
    /// The text is not a CRS spelling at all.
    #[error(
        "cannot read '{0}' as a CRS: use EPSG:n, urn:ogc:def:crs:EPSG::n, \
         http://www.opengis.net/def/crs/EPSG/0/n, CRS:84 or IGNF:NAME"
    )]
    Malformed(String),
    /// Bounding box coordinates that are inverted, infinite or NaN.
    #[error("invalid bounding box {min_x},{min_y},{max_x},{max_y}: {reason}")]
    InvalidBbox {
        /// Given minimum x.
        min_x: f64,
        /// Given minimum y.
        min_y: f64,
        /// Given maximum x.
        max_x: f64,
        /// Given maximum y.
        max_y: f64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A point could not be transformed (outside the projection's domain, not finite…).
    #[error("cannot transform ({x}, {y}) from {from} to {to}")]
    Transform {
        /// Source CRS code.
        from: String,
        /// Target CRS code.
        to: String,
        /// The point's x.
        x: f64,
        /// The point's y.
        y: f64,
        /// What proj4rs (or the finiteness check) said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A bounding box lies entirely outside the area where its CRS means anything.
    #[error("bounding box {bbox} lies outside the valid area of {crs}")]
    OutsideValidArea {
        /// The CRS code.
        crs: String,
        /// The box.
        bbox: Bbox,
    },
    /// A built-in definition that proj4rs refuses: a bug of this crate.
    #[error("the definition of {code} is unusable (a bug of the crs crate)")]
    Definition {
        /// The CRS code.
        code: String,
        /// What proj4rs said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// The order of the two axes as the CRS defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AxisOrder {
    /// x (easting / longitude) first.
    EastNorth,
    /// y (northing / latitude) first — EPSG geographic CRSs.
    NorthEast,
}

impl AxisOrder {
    /// Reads a pair written in this order (e.g. a WMTS TopLeftCorner) as `(x, y)`.
    ///
    /// ```
    /// use crs::AxisOrder;
    /// assert_eq!(AxisOrder::NorthEast.to_xy(90.0, -180.0), (-180.0, 90.0));
    /// ```
    pub fn to_xy(self, first: f64, second: f64) -> (f64, f64) {
        match self {
            AxisOrder::EastNorth => (first, second),
            AxisOrder::NorthEast => (second, first),
        }
    }

    /// Writes `(x, y)` in this order.
    pub fn from_xy(self, x: f64, y: f64) -> (f64, f64) {
        self.to_xy(x, y)
    }
}
