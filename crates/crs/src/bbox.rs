//! [`Bbox`], a bounding box that cannot be inverted, infinite or NaN.

use std::fmt;

use crate::{AxisOrder, Crs, CrsError};

/// An axis-aligned bounding box in `(x, y)` = (easting or longitude, northing or latitude)
/// order, whatever the axis order of its CRS.
///
/// Its coordinates are finite and `min <= max` on both axes (a point, `min == max`, is allowed).
///
/// ```
/// use crs::{Bbox, Crs};
///
/// // A WMS 1.3.0 BBOX in EPSG:4326 is lat,lon.
/// let b = Bbox::from_ogc([43.0, 1.0, 44.0, 3.0], &Crs::wgs84()).expect("valid");
/// assert_eq!((b.min_x(), b.min_y(), b.max_x(), b.max_y()), (1.0, 43.0, 3.0, 44.0));
/// assert_eq!(b.to_ogc(&Crs::crs84()), [1.0, 43.0, 3.0, 44.0]);
/// assert!(Bbox::new(3.0, 0.0, 1.0, 1.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub(crate) min_x: f64,
    pub(crate) min_y: f64,
    pub(crate) max_x: f64,
    pub(crate) max_y: f64,
}

impl Bbox {
    /// A bounding box, if its coordinates are finite and not inverted.
    pub fn new(min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Result<Bbox, CrsError> {
        let invalid = |reason| CrsError::InvalidBbox {
            min_x,
            min_y,
            max_x,
            max_y,
            reason,
        };
        if ![min_x, min_y, max_x, max_y].iter().all(|v| v.is_finite()) {
            return Err(invalid("coordinates must be finite numbers"));
        }
        if min_x > max_x {
            return Err(invalid("min x is greater than max x"));
        }
        if min_y > max_y {
            return Err(invalid("min y is greater than max y"));
        }
        Ok(Bbox {
            min_x,
            min_y,
            max_x,
            max_y,
        })
    }

    /// The world in longitude, latitude degrees: -180, -90, 180, 90.
    pub fn world() -> Bbox {
        Bbox {
            min_x: -180.0,
            min_y: -90.0,
            max_x: 180.0,
            max_y: 90.0,
        }
    }

    /// The box of one point.
    pub fn from_point(x: f64, y: f64) -> Result<Bbox, CrsError> {
        Bbox::new(x, y, x, y)
    }

    /// Reads four OGC values (WMS 1.3.0 BBOX, WCS/WFS bbox) in the axis order of `crs`:
    /// `lat_min,lon_min,lat_max,lon_max` for EPSG:4326, `x_min,y_min,x_max,y_max` for CRS:84.
    /// WMS 1.1.1 always uses x,y: use [`Bbox::from_axis_order`] with [`AxisOrder::EastNorth`].
    pub fn from_ogc(values: [f64; 4], crs: &Crs) -> Result<Bbox, CrsError> {
        Bbox::from_axis_order(values, crs.axis_order())
    }

    /// Reads four values in the given axis order.
    pub fn from_axis_order(values: [f64; 4], order: AxisOrder) -> Result<Bbox, CrsError> {
        let [a, b, c, d] = values;
        match order {
            AxisOrder::EastNorth => Bbox::new(a, b, c, d),
            AxisOrder::NorthEast => Bbox::new(b, a, d, c),
        }
    }

    /// Writes the four OGC values in the axis order of `crs` (the inverse of [`Bbox::from_ogc`]).
    pub fn to_ogc(&self, crs: &Crs) -> [f64; 4] {
        self.to_axis_order(crs.axis_order())
    }

    /// Writes the four values in the given axis order.
    pub fn to_axis_order(&self, order: AxisOrder) -> [f64; 4] {
        match order {
            AxisOrder::EastNorth => [self.min_x, self.min_y, self.max_x, self.max_y],
            AxisOrder::NorthEast => [self.min_y, self.min_x, self.max_y, self.max_x],
        }
    }

    /// Minimum x (west).
    pub fn min_x(&self) -> f64 {
        self.min_x
    }
    /// Minimum y (south).
    pub fn min_y(&self) -> f64 {
        self.min_y
    }
    /// Maximum x (east).
    pub fn max_x(&self) -> f64 {
        self.max_x
    }
    /// Maximum y (north).
    pub fn max_y(&self) -> f64 {
        self.max_y
    }
    /// `max_x - min_x`.
    pub fn width(&self) -> f64 {
        self.max_x - self.min_x
    }
    /// `max_y - min_y`.
    pub fn height(&self) -> f64 {
        self.max_y - self.min_y
    }
    /// The centre point.
    pub fn center(&self) -> (f64, f64) {
        (
            self.min_x + self.width() / 2.0,
            self.min_y + self.height() / 2.0,
        )
    }

    /// Whether the two boxes share at least one point (touching edges count).
    pub fn intersects(&self, other: &Bbox) -> bool {
        self.min_x <= other.max_x
            && other.min_x <= self.max_x
            && self.min_y <= other.max_y
            && other.min_y <= self.max_y
    }

    /// The common part of the two boxes (degenerate when they only touch), if any.
    pub fn intersection(&self, other: &Bbox) -> Option<Bbox> {
        self.intersects(other).then(|| Bbox {
            min_x: self.min_x.max(other.min_x),
            min_y: self.min_y.max(other.min_y),
            max_x: self.max_x.min(other.max_x),
            max_y: self.max_y.min(other.max_y),
        })
    }

    /// The smallest box holding both.
    #[must_use]
    pub fn union(&self, other: &Bbox) -> Bbox {
        Bbox {
            min_x: self.min_x.min(other.min_x),
            min_y: self.min_y.min(other.min_y),
            max_x: self.max_x.max(other.max_x),
            max_y: self.max_y.max(other.max_y),
        }
    }

    /// Whether the point is inside or on the edge.
    pub fn contains_point(&self, x: f64, y: f64) -> bool {
        self.min_x <= x && x <= self.max_x && self.min_y <= y && y <= self.max_y
    }

    /// Whether `other` lies entirely inside (or on the edge of) this box.
    pub fn contains(&self, other: &Bbox) -> bool {
        self.min_x <= other.min_x
            && other.max_x <= self.max_x
            && self.min_y <= other.min_y
            && other.max_y <= self.max_y
    }

    /// The point of the box nearest to `(x, y)` (the point itself when inside). NaN stays NaN.
    pub fn clamp_point(&self, x: f64, y: f64) -> (f64, f64) {
        (
            x.clamp(self.min_x, self.max_x),
            y.clamp(self.min_y, self.max_y),
        )
    }
}

impl fmt::Display for Bbox {
    /// `min_x,min_y,max_x,max_y`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.min_x, self.min_y, self.max_x, self.max_y
        )
    }
}
