//! Reading features out, as WFS and OGC API – Features hand them to clients: every feature
//! (those without a geometry too), in a stable order, streamed one at a time from the stored
//! GeoPackage so that exporting a million features runs in constant memory, and stopped as
//! soon as the caller has enough (a page is full, the client has left).
//!
//! The renderer's queries ([`Store::features`]) answer from memory, simplify and drop what has
//! no geometry; these scans read the stored rows as they are.

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::sync::Arc;

use crs::{Bbox, Crs, Transformer};
use geo::MapCoords;
use geo_types::{Coord, Geometry, Rect};

use crate::gpkg::quote;
use crate::store::Store;
use crate::value::{AttributeType, Value};
use crate::VectorError;

/// What [`Store::scan`] reads.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a> {
    /// The layer (stored or original name).
    pub layer: &'a str,
    /// Only the features whose geometry intersects this box, given in that CRS (x/y order).
    pub bbox: Option<(&'a Bbox, &'a Crs)>,
    /// The CRS of the answered geometries (`None`: the layer's).
    pub crs: Option<&'a Crs>,
    /// The attributes answered, in this order (stored or original names); `None`: all.
    pub attributes: Option<&'a [&'a str]>,
    /// Only the features of these ids.
    pub ids: Option<&'a [i64]>,
    /// The order: attributes and whether ascending; ties (and no order) by feature id.
    pub sort: &'a [(&'a str, bool)],
}

impl<'a> Scan<'a> {
    /// Every feature of `layer`, in feature id order, with all its attributes.
    pub fn all(layer: &'a str) -> Scan<'a> {
        Scan {
            layer,
            bbox: None,
            crs: None,
            attributes: None,
            ids: None,
            sort: &[],
        }
    }
}

/// A feature as read by a scan: its geometry may be absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The feature id.
    pub fid: i64,
    /// The geometry in the scan's CRS; `None` when the row has none (or it has no image in
    /// that CRS).
    pub geometry: Option<Geometry<f64>>,
    /// The asked attributes (stored names) with their values.
    pub properties: Vec<(Arc<str>, Value)>,
}

impl Record {
    /// The value of an attribute, by stored name.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }
}

impl Store {
    /// Reads the features `scan` selects, in its order, handing each to `visit` until it
    /// breaks. Nothing is held in memory beyond the feature being read.
    pub fn scan(
        &self,
        scan: &Scan<'_>,
        visit: &mut dyn FnMut(Record) -> ControlFlow<()>,
    ) -> Result<(), VectorError> {
        let i = self.resolve_layer(scan.layer)?;
        let meta = &self.metadata().layers[i];
        let native = self.layer_crs(i);
        let crs_error = |source| VectorError::Crs {
            context: format!("scanning layer '{}'", meta.name),
            source,
        };
        let columns: Vec<usize> = match scan.attributes {
            None => (0..meta.attributes.len()).collect(),
            Some(names) => self.attribute_indexes(i, names)?,
        };
        let sort: Vec<(usize, bool)> = scan
            .sort
            .iter()
            .map(|(name, ascending)| {
                self.attribute_indexes(i, &[name])
                    .map(|found| (found[0], *ascending))
            })
            .collect::<Result<_, _>>()?;
        let rect = match scan.bbox {
            None => None,
            Some((bbox, crs)) if crs.equivalent(native) => Some(*bbox),
            Some((bbox, crs)) => {
                let to_native = Transformer::new(crs, native).map_err(crs_error)?;
                match to_native.transform_bbox(bbox) {
                    Ok(b) => Some(b),
                    // Wholly outside the layer CRS's domain: nothing there.
                    Err(crs::CrsError::OutsideValidArea { .. }) => return Ok(()),
                    Err(e) => return Err(crs_error(e)),
                }
            }
        }
        .map(|b| {
            Rect::new(
                Coord {
                    x: b.min_x(),
                    y: b.min_y(),
                },
                Coord {
                    x: b.max_x(),
                    y: b.max_y(),
                },
            )
        });
        let to_output = match scan.crs {
            Some(crs) if !crs.equivalent(native) => {
                Some(Transformer::new(native, crs).map_err(crs_error)?)
            }
            _ => None,
        };

        let mut select = vec!["t.fid".to_owned(), "t.geom".to_owned()];
        select.extend(
            columns
                .iter()
                .map(|&c| format!("t.{}", quote(&meta.attributes[c].name))),
        );
        let mut sql = format!("SELECT {} FROM {} t", select.join(", "), quote(&meta.name));
        let mut conditions = Vec::new();
        if rect.is_some() {
            let _ = write!(
                sql,
                " JOIN {} r ON r.id = t.fid",
                quote(&format!("rtree_{}_geom", meta.name))
            );
            conditions.push("r.minx <= ?3 AND r.maxx >= ?1 AND r.miny <= ?4 AND r.maxy >= ?2");
        }
        let id_list;
        if let Some(ids) = scan.ids {
            id_list = format!(
                "t.fid IN ({})",
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            );
            conditions.push(&id_list);
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY ");
        for (c, ascending) in &sort {
            let _ = write!(
                sql,
                "t.{} {}, ",
                quote(&meta.attributes[*c].name),
                if *ascending { "ASC" } else { "DESC" }
            );
        }
        sql.push_str("t.fid");

        let names = self.layer_names(i);
        let types: Vec<AttributeType> = columns.iter().map(|&c| meta.attributes[c].ty).collect();
        let conn = self.connection()?;
        let result = (|| {
            let mut stmt = conn.prepare(&sql)?;
            let params: Vec<f64> = rect.map_or_else(Vec::new, |r| {
                vec![r.min().x, r.min().y, r.max().x, r.max().y]
            });
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            while let Some(row) = rows.next()? {
                let fid: i64 = row.get(0)?;
                let geometry = match row.get_ref(1)? {
                    rusqlite::types::ValueRef::Blob(b) => {
                        crate::geom::decode(b).ok().and_then(|d| d.geometry)
                    }
                    _ => None,
                };
                if let Some(rect) = &rect {
                    if !geometry
                        .as_ref()
                        .is_some_and(|g| geo::Intersects::intersects(g, rect))
                    {
                        continue;
                    }
                }
                let geometry = match (&to_output, geometry) {
                    (Some(to), Some(g)) => g
                        .try_map_coords(|c| {
                            to.transform_point(c.x, c.y).map(|(x, y)| Coord { x, y })
                        })
                        .ok(),
                    (_, g) => g,
                };
                let mut properties = Vec::with_capacity(columns.len());
                for (k, (&c, ty)) in columns.iter().zip(&types).enumerate() {
                    properties.push((
                        Arc::clone(&names[c]),
                        Value::from_sql(row.get_ref(k + 2)?, *ty),
                    ));
                }
                let record = Record {
                    fid,
                    geometry,
                    properties,
                };
                if visit(record).is_break() {
                    break;
                }
            }
            Ok::<_, rusqlite::Error>(())
        })();
        self.release(conn);
        result.map_err(|source| self.sqlite_error(source))
    }

    /// How many features `scan` selects (its attributes, order and CRS aside). Without a box
    /// SQLite counts the rows; with one, the exact intersection test needs the geometries.
    pub fn count(&self, scan: &Scan<'_>) -> Result<u64, VectorError> {
        if scan.bbox.is_none() {
            let i = self.resolve_layer(scan.layer)?;
            let meta = &self.metadata().layers[i];
            let mut sql = format!("SELECT count(*) FROM {}", quote(&meta.name));
            if let Some(ids) = scan.ids {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                let _ = write!(sql, " WHERE fid IN ({})", list.join(","));
            }
            let conn = self.connection()?;
            let counted = conn.query_row(&sql, [], |row| row.get::<_, i64>(0));
            self.release(conn);
            return counted
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(|source| self.sqlite_error(source));
        }
        let mut counted = 0u64;
        let none: &[&str] = &[];
        let counting = Scan {
            attributes: Some(none),
            sort: &[],
            crs: None,
            ..*scan
        };
        self.scan(&counting, &mut |_| {
            counted += 1;
            ControlFlow::Continue(())
        })?;
        Ok(counted)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{ingest, IngestOptions, StoreOptions};
    use std::path::Path;

    fn store() -> (tempfile::TempDir, Store) {
        let data = tempfile::tempdir().unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gpkg/world.gpkg");
        let report = ingest(
            &fixture,
            data.path(),
            "world",
            &IngestOptions::default(),
            &mut |_, _| {},
        )
        .unwrap();
        let store = Store::open(report.stored.as_ref().unwrap(), StoreOptions::default()).unwrap();
        (data, store)
    }

    fn all(store: &Store, scan: &Scan<'_>) -> Vec<Record> {
        let mut out = Vec::new();
        store
            .scan(scan, &mut |r| {
                out.push(r);
                ControlFlow::Continue(())
            })
            .unwrap();
        out
    }

    #[test]
    fn a_full_scan_reads_every_row_in_fid_order() {
        let (_dir, store) = store();
        let meta = store.layer("countries").unwrap();
        let records = all(&store, &Scan::all("countries"));
        assert_eq!(records.len() as u64, meta.features);
        assert!(records.windows(2).all(|w| w[0].fid < w[1].fid));
        assert_eq!(records[0].properties.len(), meta.attributes.len());
        assert_eq!(store.count(&Scan::all("countries")).unwrap(), meta.features);
    }

    #[test]
    fn bbox_ids_sort_attributes_and_early_stop() {
        let (_dir, store) = store();
        let wgs84 = Crs::parse("EPSG:4326").unwrap();
        let europe = Bbox::new(-10.0, 35.0, 30.0, 60.0).unwrap();
        let scan = Scan {
            bbox: Some((&europe, &wgs84)),
            ..Scan::all("countries")
        };
        let inside = all(&store, &scan);
        // Brute force: every feature whose geometry meets the box.
        let rect = Rect::new(Coord { x: -10.0, y: 35.0 }, Coord { x: 30.0, y: 60.0 });
        let expected: Vec<i64> = all(&store, &Scan::all("countries"))
            .into_iter()
            .filter(|r| {
                r.geometry
                    .as_ref()
                    .is_some_and(|g| geo::Intersects::intersects(g, &rect))
            })
            .map(|r| r.fid)
            .collect();
        assert_eq!(inside.iter().map(|r| r.fid).collect::<Vec<_>>(), expected);
        assert!(!expected.is_empty());
        assert_eq!(store.count(&scan).unwrap(), expected.len() as u64);

        let ids = [expected[1], expected[0]];
        let meta = store.layer("countries").unwrap();
        let first = meta.attributes[0].name.clone();
        let attributes = [first.as_str()];
        let picked = all(
            &store,
            &Scan {
                ids: Some(&ids),
                attributes: Some(&attributes),
                ..Scan::all("countries")
            },
        );
        assert_eq!(
            picked.iter().map(|r| r.fid).collect::<Vec<_>>(),
            vec![expected[0], expected[1]]
        );
        assert_eq!(picked[0].properties.len(), 1);
        let by_ids = Scan {
            ids: Some(&ids),
            ..Scan::all("countries")
        };
        assert_eq!(store.count(&by_ids).unwrap(), 2);

        let sort = [(first.as_str(), false)];
        let sorted = all(
            &store,
            &Scan {
                sort: &sort,
                attributes: Some(&attributes),
                ..Scan::all("countries")
            },
        );
        let values: Vec<&Value> = sorted.iter().map(|r| &r.properties[0].1).collect();
        let descending = |a: &Value, b: &Value| match (a, b) {
            (Value::Text(a), Value::Text(b)) => a >= b,
            (Value::Integer(a), Value::Integer(b)) => a >= b,
            (Value::Real(a), Value::Real(b)) => a >= b,
            (_, Value::Null) => true,
            _ => false,
        };
        assert!(
            values.windows(2).all(|w| descending(w[0], w[1])),
            "{values:?}"
        );
        assert_eq!(sorted.len() as u64, meta.features);

        let mut seen = 0;
        store
            .scan(&Scan::all("countries"), &mut |_| {
                seen += 1;
                if seen == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!(seen, 3);
        assert!(store
            .scan(
                &Scan {
                    attributes: Some(&["no_such_column"]),
                    ..Scan::all("countries")
                },
                &mut |_| ControlFlow::Continue(())
            )
            .is_err());
    }

    #[test]
    fn geometries_are_reprojected_when_asked() {
        let (_dir, store) = store();
        let mercator = Crs::web_mercator();
        let mut native = Vec::new();
        let mut projected = Vec::new();
        store
            .scan(&Scan::all("countries"), &mut |r| {
                native.push(r);
                ControlFlow::Break(())
            })
            .unwrap();
        store
            .scan(
                &Scan {
                    crs: Some(&mercator),
                    ..Scan::all("countries")
                },
                &mut |r| {
                    projected.push(r);
                    ControlFlow::Break(())
                },
            )
            .unwrap();
        let a = geo::BoundingRect::bounding_rect(native[0].geometry.as_ref().unwrap()).unwrap();
        let b = geo::BoundingRect::bounding_rect(projected[0].geometry.as_ref().unwrap()).unwrap();
        assert!(a.max().x.abs() <= 180.0);
        assert!(b.max().x.abs() > 1000.0);
    }
}
