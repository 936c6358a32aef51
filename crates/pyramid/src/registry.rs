//! The tile matrix sets a server knows, by id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{PyramidError, TileMatrixSet};

/// Well-known synonyms: a lookup for the left id falls back to the right one when the left one
/// is not loaded. ROK4 calls Web Mercator `PM`; OGC calls it `WebMercatorQuad`.
const ALIASES: &[(&str, &str)] = &[("PM", "WebMercatorQuad"), ("WebMercatorQuad", "PM")];

/// The tile matrix sets shipped in `config/tilematrixsets/`, compiled into the binary so that a
/// server without any file knows them.
const BUILTIN: &[(&str, &str)] = &[
    (
        "LAMB93.json",
        include_str!("../../../config/tilematrixsets/LAMB93.json"),
    ),
    (
        "LAMB93_10cm.json",
        include_str!("../../../config/tilematrixsets/LAMB93_10cm.json"),
    ),
    (
        "LAMB93_10m.json",
        include_str!("../../../config/tilematrixsets/LAMB93_10m.json"),
    ),
    (
        "LAMB93_12.5m.json",
        include_str!("../../../config/tilematrixsets/LAMB93_12.5m.json"),
    ),
    (
        "LAMB93_1M_MNT.json",
        include_str!("../../../config/tilematrixsets/LAMB93_1M_MNT.json"),
    ),
    (
        "LAMB93_1m.json",
        include_str!("../../../config/tilematrixsets/LAMB93_1m.json"),
    ),
    (
        "LAMB93_2.5m.json",
        include_str!("../../../config/tilematrixsets/LAMB93_2.5m.json"),
    ),
    (
        "LAMB93_2.5m_EUE.json",
        include_str!("../../../config/tilematrixsets/LAMB93_2.5m_EUE.json"),
    ),
    (
        "LAMB93_25cm.json",
        include_str!("../../../config/tilematrixsets/LAMB93_25cm.json"),
    ),
    (
        "LAMB93_25m.json",
        include_str!("../../../config/tilematrixsets/LAMB93_25m.json"),
    ),
    (
        "LAMB93_50cm.json",
        include_str!("../../../config/tilematrixsets/LAMB93_50cm.json"),
    ),
    (
        "LAMB93_5cm.json",
        include_str!("../../../config/tilematrixsets/LAMB93_5cm.json"),
    ),
    (
        "LAMB93_IGNF.json",
        include_str!("../../../config/tilematrixsets/LAMB93_IGNF.json"),
    ),
    (
        "PM.json",
        include_str!("../../../config/tilematrixsets/PM.json"),
    ),
    (
        "WGS84G.json",
        include_str!("../../../config/tilematrixsets/WGS84G.json"),
    ),
    (
        "WebMercatorQuad.json",
        include_str!("../../../config/tilematrixsets/WebMercatorQuad.json"),
    ),
    (
        "WorldCRS84Quad.json",
        include_str!("../../../config/tilematrixsets/WorldCRS84Quad.json"),
    ),
];

/// A set of tile matrix sets, by id, with the PM ↔ WebMercatorQuad aliases.
#[derive(Debug, Clone, Default)]
pub struct TileMatrixSets {
    sets: BTreeMap<String, (TileMatrixSet, Option<PathBuf>)>,
}

impl TileMatrixSets {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every `*.json` file of a directory (e.g. `config/tilematrixsets`), in file name
    /// order. Fails on the first unreadable or invalid file, and on two files with one id.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, PyramidError> {
        let dir = dir.as_ref();
        let io = |source| PyramidError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "json") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut sets = Self::new();
        for path in files {
            let tms = TileMatrixSet::load(&path)?;
            sets.insert_from(tms, Some(path))?;
        }
        Ok(sets)
    }

    /// The tile matrix sets shipped with Tuilerie (PM, WebMercatorQuad, WorldCRS84Quad, WGS84G,
    /// LAMB93 and its variants).
    pub fn builtin() -> Self {
        let mut sets = Self::new();
        for (name, text) in BUILTIN {
            // The shipped files are tested to load (tests/tilematrixsets.rs); one that did not
            // would be a build defect, skipped rather than fatal.
            if let Ok(tms) = TileMatrixSet::from_json(text) {
                let _ = sets.insert_from(tms, Some(PathBuf::from(format!("(builtin) {name}"))));
            }
        }
        sets
    }

    /// Adds every `*.json` file of a directory, replacing sets of the same id (operators'
    /// files win over the built-in ones).
    pub fn extend_from_dir(&mut self, dir: impl AsRef<Path>) -> Result<(), PyramidError> {
        let loaded = Self::load_dir(dir)?;
        for (id, entry) in loaded.sets {
            self.sets.insert(id, entry);
        }
        Ok(())
    }

    /// Adds a tile matrix set; fails if one with the same id is already there.
    pub fn insert(&mut self, tms: TileMatrixSet) -> Result<(), PyramidError> {
        self.insert_from(tms, None)
    }

    fn insert_from(
        &mut self,
        tms: TileMatrixSet,
        path: Option<PathBuf>,
    ) -> Result<(), PyramidError> {
        if let Some((_, first)) = self.sets.get(tms.id()) {
            let unnamed = || PathBuf::from("(inserted)");
            return Err(PyramidError::DuplicateTileMatrixSet {
                id: tms.id().to_owned(),
                first: first.clone().unwrap_or_else(unnamed),
                second: path.unwrap_or_else(unnamed),
            });
        }
        self.sets.insert(tms.id().to_owned(), (tms, path));
        Ok(())
    }

    /// The tile matrix set with this id (case-sensitive), or the one it is an alias of.
    pub fn get(&self, id: &str) -> Option<&TileMatrixSet> {
        self.sets.get(id).map(|(t, _)| t).or_else(|| {
            ALIASES
                .iter()
                .filter(|(alias, _)| *alias == id)
                .find_map(|(_, target)| self.sets.get(*target).map(|(t, _)| t))
        })
    }

    /// The tile matrix sets, by id.
    pub fn iter(&self) -> impl Iterator<Item = &TileMatrixSet> {
        self.sets.values().map(|(t, _)| t)
    }

    /// Number of tile matrix sets (aliases not counted).
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}
