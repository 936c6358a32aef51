//! The tile matrix sets a server knows, by id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{PyramidError, TileMatrixSet};

/// Well-known synonyms: a lookup for the left id falls back to the right one when the left one
/// is not loaded. ROK4 calls Web Mercator `PM`; OGC calls it `WebMercatorQuad`.
const ALIASES: &[(&str, &str)] = &[("PM", "WebMercatorQuad"), ("WebMercatorQuad", "PM")];

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
