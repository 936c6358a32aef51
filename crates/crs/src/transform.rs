//! [`Transformer`]: points and bounding boxes from one CRS to another, in degrees or metres.

use std::fmt;

use proj4rs::Proj;

use crate::{Bbox, Crs, CrsError};

/// Points per edge when a bounding box is densified (GDAL's default).
pub const DENSIFY_POINTS: usize = 21;

/// Degrees by which a projected CRS's area of use is widened before a bounding box is cut to
/// it ([`Transformer::transform_bbox`]): data a little outside the official area still shows.
const DOMAIN_MARGIN_DEGREES: f64 = 10.0;

type BoxedError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A transform from one CRS to another, reusable and shareable between threads.
///
/// Coordinates are `(x, y)` = (easting or longitude, northing or latitude) in the CRS's units:
/// degrees for geographic CRSs (never radians), metres for projected ones; axis order plays
/// no part here (see [`Crs::axis_order`]).
///
/// ```
/// use crs::{Bbox, Crs, Transformer};
///
/// let to_lamb93 = Transformer::new(&Crs::crs84(), &Crs::parse("EPSG:2154")?)?;
/// let (x, y) = to_lamb93.transform_point(3.0, 46.5)?;
/// assert!((x - 700_000.0).abs() < 1e-6 && (y - 6_600_000.0).abs() < 1e-6);
///
/// // A bounding box is densified: the result holds the whole curved footprint.
/// let france = Bbox::new(-5.0, 41.0, 10.0, 51.5)?;
/// let projected = to_lamb93.transform_bbox(&france)?;
/// assert!(projected.contains_point(x, y));
/// # Ok::<(), crs::CrsError>(())
/// ```
pub struct Transformer {
    from: Crs,
    to: Crs,
    kind: Kind,
}

enum Kind {
    Identity,
    Proj(Box<Pipeline>),
}

struct Pipeline {
    src: &'static Proj,
    src_geo: bool,
    dst: &'static Proj,
    dst_geo: bool,
    /// WGS 84 longitude/latitude (for clamping and pole checks).
    wgs84: &'static Proj,
    /// Clamp points to this WGS 84 area before projecting into `dst` (Web Mercator).
    clamp: Option<Bbox>,
    /// Limits of the target in its own units (the world for geographic targets, the square
    /// world for Web Mercator), applied to transformed boxes.
    limits: Option<Bbox>,
}

fn proj_of(crs: &Crs) -> Result<&'static Proj, CrsError> {
    crs.def()
        .proj
        .as_ref()
        .map_err(|message| CrsError::Definition {
            code: crs.code().to_owned(),
            source: message.clone().into(),
        })
}

/// One proj4rs transform, taking and giving degrees for geographic CRSs.
fn step(
    src: &Proj,
    src_geo: bool,
    dst: &Proj,
    dst_geo: bool,
    x: f64,
    y: f64,
) -> Result<(f64, f64), BoxedError> {
    if !(x.is_finite() && y.is_finite()) {
        return Err("coordinates must be finite numbers".into());
    }
    let mut p = if src_geo {
        (x.to_radians(), y.to_radians(), 0.0)
    } else {
        (x, y, 0.0)
    };
    proj4rs::transform::transform(src, dst, &mut p)?;
    let out = if dst_geo {
        (p.0.to_degrees(), p.1.to_degrees())
    } else {
        (p.0, p.1)
    };
    if out.0.is_finite() && out.1.is_finite() {
        Ok(out)
    } else {
        Err("the result is not a finite number (outside the projection's domain?)".into())
    }
}

impl Pipeline {
    fn forward(&self, x: f64, y: f64) -> Result<(f64, f64), BoxedError> {
        step(self.src, self.src_geo, self.dst, self.dst_geo, x, y)
    }

    /// Transforms a point of a bounding box: through WGS 84 longitude/latitude, clamped,
    /// when the target needs it. Returns the point and its WGS 84 longitude when known.
    fn sample(&self, x: f64, y: f64) -> Result<((f64, f64), Option<f64>), BoxedError> {
        if let Some(area) = &self.clamp {
            let (lon, lat) = step(self.src, self.src_geo, self.wgs84, true, x, y)?;
            let (lon, lat) = area.clamp_point(lon, lat);
            let out = step(self.wgs84, true, self.dst, self.dst_geo, lon, lat)?;
            Ok((out, Some(lon)))
        } else {
            let out = self.forward(x, y)?;
            Ok((out, self.dst_geo.then_some(out.0)))
        }
    }
}

impl Transformer {
    /// A transform from `from` to `to` (the identity when they are [equivalent](Crs::equivalent)).
    pub fn new(from: &Crs, to: &Crs) -> Result<Transformer, CrsError> {
        if from.equivalent(to) {
            return Ok(Transformer {
                from: from.clone(),
                to: to.clone(),
                kind: Kind::Identity,
            });
        }
        let src = proj_of(from)?;
        let dst = proj_of(to)?;
        let wgs84 = proj_of(&Crs::crs84())?;
        let (src_geo, dst_geo) = (from.is_geographic(), to.is_geographic());
        let clamp = to.def().clamp_to_area.then(|| to.valid_area());
        let limits = if dst_geo {
            Some(Bbox::world())
        } else if let Some(area) = &clamp {
            let corner = |lon, lat| step(wgs84, true, dst, false, lon, lat);
            let context = |source| CrsError::Definition {
                code: to.code().to_owned(),
                source,
            };
            let (min_x, min_y) = corner(area.min_x(), area.min_y()).map_err(context)?;
            let (max_x, max_y) = corner(area.max_x(), area.max_y()).map_err(context)?;
            Some(Bbox::new(min_x, min_y, max_x, max_y)?)
        } else {
            None
        };
        let pipeline = Pipeline {
            src,
            src_geo,
            dst,
            dst_geo,
            wgs84,
            clamp,
            limits,
        };
        Ok(Transformer {
            from: from.clone(),
            to: to.clone(),
            kind: Kind::Proj(Box::new(pipeline)),
        })
    }

    /// The source CRS.
    pub fn from(&self) -> &Crs {
        &self.from
    }

    /// The target CRS.
    pub fn to(&self) -> &Crs {
        &self.to
    }

    /// Whether the transform leaves coordinates unchanged (the CRSs are equivalent).
    pub fn is_identity(&self) -> bool {
        matches!(self.kind, Kind::Identity)
    }

    /// The transform the other way.
    pub fn inverse(&self) -> Result<Transformer, CrsError> {
        Transformer::new(&self.to, &self.from)
    }

    /// `src_box` in longitude/latitude cut to the target's domain, when it reaches beyond it.
    fn outside_domain(&self, src_box: &Bbox) -> Result<Option<Bbox>, CrsError> {
        let area = self.to.valid_area();
        let m = DOMAIN_MARGIN_DEGREES;
        let domain = Bbox {
            min_x: area.min_x() - m,
            min_y: area.min_y() - m,
            max_x: area.max_x() + m,
            max_y: area.max_y() + m,
        }
        .intersection(&Bbox::world())
        .unwrap_or_else(Bbox::world);
        let lonlat = if self.from.is_geographic() {
            *src_box
        } else {
            match Transformer::new(&self.from, &Crs::crs84())?.transform_bbox(src_box) {
                Ok(b) => b,
                // Nothing of it on Earth: nothing of it in the target either.
                Err(_) => {
                    return Err(CrsError::OutsideValidArea {
                        crs: self.from.code().to_owned(),
                        bbox: *src_box,
                    })
                }
            }
        };
        if domain.contains(&lonlat) {
            return Ok(None);
        }
        lonlat
            .intersection(&domain)
            .map(Some)
            .ok_or_else(|| CrsError::OutsideValidArea {
                crs: self.from.code().to_owned(),
                bbox: *src_box,
            })
    }

    fn error(&self, x: f64, y: f64, source: BoxedError) -> CrsError {
        CrsError::Transform {
            from: self.from.code().to_owned(),
            to: self.to.code().to_owned(),
            x,
            y,
            source,
        }
    }

    /// Transforms one point. Exact: no clamping (a latitude of ±90° into Web Mercator fails).
    pub fn transform_point(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        match &self.kind {
            Kind::Identity if x.is_finite() && y.is_finite() => Ok((x, y)),
            Kind::Identity => Err(self.error(x, y, "coordinates must be finite numbers".into())),
            Kind::Proj(p) => p.forward(x, y).map_err(|e| self.error(x, y, e)),
        }
    }

    /// Transforms points in place. Every point is tried: those that fail become NaN, and the
    /// first failure is returned once all are done.
    pub fn transform_points(&self, points: &mut [(f64, f64)]) -> Result<(), CrsError> {
        let mut first = None;
        for point in points.iter_mut() {
            match self.transform_point(point.0, point.1) {
                Ok(p) => *point = p,
                Err(e) => {
                    *point = (f64::NAN, f64::NAN);
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Transforms a bounding box into one that holds its whole footprint.
    ///
    /// The edges are densified ([`DENSIFY_POINTS`] per edge, plus the midpoints between them)
    /// and the result is widened by the largest gap seen between a transformed midpoint and
    /// its chord, so that the curved edges between samples stay inside. Geographic sources are
    /// clamped to the world first, and points going into Web Mercator to its square world
    /// (latitudes within ±85.0511287798066°). A box that holds a pole, or that crosses the
    /// antimeridian, into a geographic CRS or Web Mercator gets the full longitude range.
    /// A box reaching beyond the projected target's domain (its area of use, widened by
    /// 10°) is first cut to it, in longitude/latitude: a conic projection
    /// of the whole world is meaningless (the poles and the antimeridian fly off). Samples that
    /// fail to transform are skipped; a box of which nothing transforms is
    /// [`CrsError::OutsideValidArea`].
    pub fn transform_bbox(&self, bbox: &Bbox) -> Result<Bbox, CrsError> {
        let Kind::Proj(p) = &self.kind else {
            return Ok(*bbox);
        };
        let src_box = if p.src_geo {
            bbox.intersection(&Bbox::world())
                .ok_or_else(|| CrsError::OutsideValidArea {
                    crs: self.from.code().to_owned(),
                    bbox: *bbox,
                })?
        } else {
            *bbox
        };
        if !p.dst_geo && p.clamp.is_none() {
            if let Some(clipped) = self.outside_domain(&src_box)? {
                return Transformer::new(&Crs::crs84(), &self.to)?.transform_bbox(&clipped);
            }
        }
        let ring = ring(&src_box);
        let eval = |x: f64, y: f64| p.sample(x, y).ok();
        let mut extent: Option<Bbox> = None;
        let include = |extent: &mut Option<Bbox>, x: f64, y: f64| {
            let point = Bbox {
                min_x: x,
                min_y: y,
                max_x: x,
                max_y: y,
            };
            *extent = Some(extent.map_or(point, |e| e.union(&point)));
        };
        let (mut pad_x, mut pad_y) = (0.0_f64, 0.0_f64);
        let mut wraps = false;
        let mut previous = eval(ring[0].0, ring[0].1);
        for pair in ring.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let next = eval(b.0, b.1);
            let mid = eval(f64::midpoint(a.0, b.0), f64::midpoint(a.1, b.1));
            for ((x, y), _) in [previous, mid].into_iter().flatten() {
                include(&mut extent, x, y);
            }
            if let (Some((fa, la)), Some((fb, lb)), Some((fm, lm))) = (previous, next, mid) {
                let jump = |l1: Option<f64>, l2: Option<f64>| matches!((l1, l2), (Some(l1), Some(l2)) if (l1 - l2).abs() > 180.0);
                if jump(la, lb) || jump(la, lm) || jump(lm, lb) {
                    wraps = true;
                } else {
                    pad_x = pad_x.max((fm.0 - f64::midpoint(fa.0, fb.0)).abs());
                    pad_y = pad_y.max((fm.1 - f64::midpoint(fa.1, fb.1)).abs());
                }
            } else if let (Some((_, la)), Some((_, lb))) = (previous, next) {
                wraps |= matches!((la, lb), (Some(l1), Some(l2)) if (l1 - l2).abs() > 180.0);
            }
            previous = next;
        }
        let mut full_width = wraps;
        if p.dst_geo || p.clamp.is_some() {
            // A pole inside the source box: the top (bottom) of the world, all longitudes.
            for lat in [90.0, -90.0] {
                if let Ok((x, y)) = step(p.wgs84, true, p.src, p.src_geo, 0.0, lat) {
                    if src_box.contains_point(x, y) {
                        if let Some(((px, py), _)) = eval(x, y) {
                            include(&mut extent, px, py);
                            full_width = true;
                        }
                    }
                }
            }
        }
        if extent.is_none() {
            // No point of the edges transforms (the whole world into a conic projection: the
            // poles and the antimeridian fail): the box's inside may still.
            let n = DENSIFY_POINTS;
            let at = |a: f64, b: f64, i: usize| a + (b - a) * (i as f64 + 0.5) / (n as f64);
            for i in 0..n {
                for j in 0..n {
                    let (x, y) = (
                        at(src_box.min_x(), src_box.max_x(), i),
                        at(src_box.min_y(), src_box.max_y(), j),
                    );
                    if let Some(((px, py), _)) = eval(x, y) {
                        include(&mut extent, px, py);
                    }
                }
            }
        }
        let Some(extent) = extent else {
            // Nothing of the box exists in the target CRS.
            return Err(CrsError::OutsideValidArea {
                crs: self.from.code().to_owned(),
                bbox: *bbox,
            });
        };
        let mut result = Bbox {
            min_x: extent.min_x - pad_x,
            min_y: extent.min_y - pad_y,
            max_x: extent.max_x + pad_x,
            max_y: extent.max_y + pad_y,
        };
        if let Some(limits) = &p.limits {
            if full_width {
                result.min_x = limits.min_x();
                result.max_x = limits.max_x();
            }
            result = result.intersection(limits).unwrap_or(result);
        }
        Ok(result)
    }
}

/// The closed ring of points around a box: `DENSIFY_POINTS` per edge, corners once, first
/// point repeated at the end.
fn ring(b: &Bbox) -> Vec<(f64, f64)> {
    let n = DENSIFY_POINTS - 1;
    let lerp = |a: f64, b: f64, i: usize| a + (b - a) * (i as f64) / (n as f64);
    let mut points = Vec::with_capacity(4 * n + 1);
    points.extend((0..n).map(|i| (lerp(b.min_x(), b.max_x(), i), b.min_y())));
    points.extend((0..n).map(|i| (b.max_x(), lerp(b.min_y(), b.max_y(), i))));
    points.extend((0..n).map(|i| (lerp(b.max_x(), b.min_x(), i), b.max_y())));
    points.extend((0..n).map(|i| (b.min_x(), lerp(b.max_y(), b.min_y(), i))));
    points.push((b.min_x(), b.min_y()));
    points
}

impl fmt::Debug for Transformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transformer")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("identity", &self.is_identity())
            .finish_non_exhaustive()
    }
}
