//! ROK4 slabs: tiled TIFF files holding `tiles_per_width × tiles_per_height` tiles.
//!
//! The layout is fixed so that a tile read needs no TIFF parsing: a 2048-byte header (TIFF
//! header, IFD at offset 16 with tags in a fixed order), then `n` little-endian u32 tile offsets
//! at byte 2048 and `n` u32 tile sizes at `2048 + 4n`, then the tiles, each starting on a
//! 16-byte boundary. Tile index = row · W + col within the slab; size 0 means no data. Since it
//! is a valid tiled TIFF, GDAL opens a slab as an image; since the tags sit where ROK4 expects
//! them, ROK4 reads ours and we read its.
//!
//! Slab files are named from the slab column and row in base 36, digits interleaved and split
//! into `path_depth` folders: slab (159, 367) at depth 2 is `00/4A/F7.tif`.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::format::{SampleType, TileFormat};
use crate::PyramidError;

/// Size of the fixed slab header.
pub const HEADER_SIZE: usize = 2048;

/// TIFF field types.
const SHORT: u16 = 3;
const LONG: u16 = 4;

const B36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn base36(mut n: u32) -> Vec<u8> {
    let mut digits = Vec::new();
    loop {
        digits.push(B36[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

/// The path of a slab relative to its level's image directory, e.g. `00/4A/F7.tif`.
pub fn slab_path(slab_col: u32, slab_row: u32, path_depth: u32) -> String {
    let col = base36(slab_col);
    let row = base36(slab_row);
    let len = (path_depth as usize + 1).max(col.len()).max(row.len());
    let pad = |digits: Vec<u8>| {
        let mut padded = vec![b'0'; len - digits.len()];
        padded.extend(digits);
        padded
    };
    let (col, row) = (pad(col), pad(row));
    // Pairs (col digit, row digit); the last `path_depth` pairs each start a new component,
    // the leading pairs all belong to the first one.
    let first = len - path_depth as usize;
    let mut path = String::with_capacity(len * 3 + 4);
    for k in 0..len {
        if k >= first && k > 0 {
            path.push('/');
        }
        path.push(char::from(col[k]));
        path.push(char::from(row[k]));
    }
    path.push_str(".tif");
    path
}

/// The slab (column, row) of a slab path such as `00/4A/F7.tif` (inverse of [`slab_path`]).
pub fn parse_slab_path(path: &str) -> Option<(u32, u32)> {
    let stem = path
        .strip_suffix(".tif")
        .or_else(|| path.strip_suffix(".TIF"))?;
    let digits: Vec<char> = stem.chars().filter(|c| *c != '/').collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    let mut col: u32 = 0;
    let mut row: u32 = 0;
    for pair in digits.chunks(2) {
        col = col.checked_mul(36)?.checked_add(pair[0].to_digit(36)?)?;
        row = row.checked_mul(36)?.checked_add(pair[1].to_digit(36)?)?;
    }
    Some((col, row))
}

/// What a slab header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlabLayout {
    /// Tile format.
    pub format: TileFormat,
    /// Samples per pixel (1 to 4).
    pub channels: u8,
    /// Tile width in pixels.
    pub tile_width: u32,
    /// Tile height in pixels.
    pub tile_height: u32,
    /// Tiles per slab, across.
    pub tiles_per_width: u32,
    /// Tiles per slab, down.
    pub tiles_per_height: u32,
}

impl SlabLayout {
    /// Number of tiles in a slab.
    pub fn tile_count(&self) -> usize {
        self.tiles_per_width as usize * self.tiles_per_height as usize
    }

    /// The 2048-byte header: a TIFF header and one IFD with the tags ROK4 writes, in its order.
    pub fn header(&self) -> [u8; HEADER_SIZE] {
        let mut h = [0u8; HEADER_SIZE];
        let n = self.tile_count() as u32;
        let bits: u16 = match self.format.sample_type() {
            SampleType::Uint8 => 8,
            SampleType::Float32 => 32,
        };
        let jpeg = self.format.jpeg_quality().is_some();
        let photometric: u16 = match (jpeg, self.channels) {
            (true, _) => 6,      // YCbCr, as ROK4 writes JPEG slabs
            (false, 1 | 2) => 1, // min-is-black
            _ => 2,              // RGB
        };
        h[0..2].copy_from_slice(b"II");
        h[2..4].copy_from_slice(&42u16.to_le_bytes());
        h[4..8].copy_from_slice(&16u32.to_le_bytes());
        // Bits per sample for up to 4 channels, at offset 8 (ROK4 reads it there).
        for k in 0..4 {
            h[8 + 2 * k..10 + 2 * k].copy_from_slice(&bits.to_le_bytes());
        }
        let mut entries: Vec<(u16, u16, u32, [u8; 4])> = Vec::with_capacity(14);
        let long = |v: u32| v.to_le_bytes();
        let short = |v: u16| {
            let mut b = [0u8; 4];
            b[0..2].copy_from_slice(&v.to_le_bytes());
            b
        };
        entries.push((256, LONG, 1, long(self.tile_width * self.tiles_per_width)));
        entries.push((257, LONG, 1, long(self.tile_height * self.tiles_per_height)));
        let channels = u32::from(self.channels);
        let bits_value = match self.channels {
            1 => short(bits),
            2 => {
                let mut b = [0u8; 4];
                b[0..2].copy_from_slice(&bits.to_le_bytes());
                b[2..4].copy_from_slice(&bits.to_le_bytes());
                b
            }
            _ => long(8),
        };
        entries.push((258, SHORT, channels, bits_value));
        entries.push((259, SHORT, 1, short(self.format.tiff_compression())));
        entries.push((262, SHORT, 1, short(photometric)));
        entries.push((277, SHORT, 1, short(u16::from(self.channels))));
        entries.push((322, LONG, 1, long(self.tile_width)));
        entries.push((323, LONG, 1, long(self.tile_height)));
        let index = HEADER_SIZE as u32;
        entries.push((324, LONG, n, long(if n == 1 { index + 8 } else { index })));
        entries.push((325, LONG, n, long(index + 4 * n)));
        if self.channels == 2 || self.channels == 4 {
            entries.push((338, SHORT, 1, short(2))); // unassociated alpha
        }
        let sample_format: u16 = match self.format.sample_type() {
            SampleType::Uint8 => 1,
            SampleType::Float32 => 3,
        };
        entries.push((339, SHORT, 1, short(sample_format)));
        if photometric == 6 {
            // Our JPEG encoder does not subsample chroma.
            let mut b = [0u8; 4];
            b[0..2].copy_from_slice(&1u16.to_le_bytes());
            b[2..4].copy_from_slice(&1u16.to_le_bytes());
            entries.push((530, SHORT, 2, b));
        }
        h[16..18].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        let mut p = 18;
        for (tag, kind, count, value) in entries {
            h[p..p + 2].copy_from_slice(&tag.to_le_bytes());
            h[p + 2..p + 4].copy_from_slice(&kind.to_le_bytes());
            h[p + 4..p + 8].copy_from_slice(&count.to_le_bytes());
            h[p + 8..p + 12].copy_from_slice(&value);
            p += 12;
        }
        // Next IFD offset: 0 (already zero).
        h
    }
}

/// Writes one slab file whole and crash-safe: temporary file in the same folder, fsync,
/// rename. A reader sees either no slab or the complete slab, never a partial one.
///
/// `tiles[k]` is the encoded tile `k` (row-major within the slab), or `None` for no data.
pub fn write_slab(
    path: &Path,
    layout: &SlabLayout,
    tiles: &[Option<Vec<u8>>],
) -> Result<(), PyramidError> {
    let bytes = slab_bytes(path, layout, tiles)?;
    write_atomically(path, &bytes)
}

/// The bytes of a slab (header, index, tiles); `path` names it in errors.
pub(crate) fn slab_bytes(
    path: &Path,
    layout: &SlabLayout,
    tiles: &[Option<Vec<u8>>],
) -> Result<Vec<u8>, PyramidError> {
    let n = layout.tile_count();
    if tiles.len() != n {
        return Err(PyramidError::Slab {
            path: path.to_owned(),
            reason: format!("{} tiles given for a slab of {n}", tiles.len()),
        });
    }
    let mut offsets = vec![0u32; n];
    let mut sizes = vec![0u32; n];
    let mut position = HEADER_SIZE + 8 * n;
    let mut body: Vec<u8> = Vec::new();
    for (k, tile) in tiles.iter().enumerate() {
        let Some(tile) = tile.as_ref().filter(|t| !t.is_empty()) else {
            continue;
        };
        let aligned = (position + 15) & !15;
        body.resize(body.len() + (aligned - position), 0);
        position = aligned;
        let (Ok(offset), Ok(size)) = (u32::try_from(position), u32::try_from(tile.len())) else {
            return Err(PyramidError::Slab {
                path: path.to_owned(),
                reason: "slab larger than 4 GiB: use smaller slabs (tiles_per_width/height)"
                    .to_owned(),
            });
        };
        offsets[k] = offset;
        sizes[k] = size;
        body.extend_from_slice(tile);
        position += tile.len();
    }
    let mut bytes = Vec::with_capacity(HEADER_SIZE + 8 * n + body.len());
    bytes.extend_from_slice(&layout.header());
    for v in &offsets {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    for v in &sizes {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temporary file, fsync and rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PyramidError> {
    let write_error = |source| PyramidError::Write {
        path: path.to_owned(),
        source,
    };
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent).map_err(write_error)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary: PathBuf = parent.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(write_error(error));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn slab_paths_follow_rok4() {
        // The example of ROK4's documentation: DATA/12/00/4A/F7.tif is slab (159, 367).
        assert_eq!(slab_path(159, 367, 2), "00/4A/F7.tif");
        assert_eq!(parse_slab_path("00/4A/F7.tif"), Some((159, 367)));
        assert_eq!(slab_path(5, 3, 2), "00/00/53.tif");
        assert_eq!(slab_path(0, 0, 0), "00.tif");
        // Leading digit pairs beyond the depth stay in the first folder name.
        assert_eq!(slab_path(36 * 36 * 36, 1, 2), "1000/00/01.tif");
    }

    #[test]
    fn slab_paths_round_trip() {
        for depth in 0..4 {
            for (col, row) in [(0, 0), (1, 35), (36, 1295), (46_655, 2), (1_000_000, 7)] {
                let path = slab_path(col, row, depth);
                assert_eq!(parse_slab_path(&path), Some((col, row)), "{path}");
                assert_eq!(path.matches('/').count(), depth as usize, "{path}");
            }
        }
    }

    #[test]
    fn header_tags_sit_where_rok4_reads_them() {
        let layout = SlabLayout {
            format: TileFormat::JpgUint8,
            channels: 3,
            tile_width: 256,
            tile_height: 256,
            tiles_per_width: 16,
            tiles_per_height: 8,
        };
        let h = layout.header();
        let u32_at = |p: usize| u32::from_le_bytes(h[p..p + 4].try_into().unwrap());
        let u16_at = |p: usize| u16::from_le_bytes(h[p..p + 2].try_into().unwrap());
        assert_eq!(&h[0..4], b"II*\0");
        assert_eq!(u32_at(4), 16);
        assert_eq!(u32_at(26), 4096); // width
        assert_eq!(u32_at(38), 2048); // height
        assert_eq!(u16_at(8), 8); // bits per sample
        assert_eq!(u32_at(62) & 0xffff, 7); // compression
        assert_eq!(u32_at(74) & 0xffff, 6); // photometric
        assert_eq!(u32_at(86) & 0xffff, 3); // channels
        assert_eq!(u32_at(98), 256);
        assert_eq!(u32_at(110), 256);
        assert_eq!(u32_at(122), 2048);
        assert_eq!(u32_at(134), 2048 + 4 * 128);
        assert_eq!(u16_at(138), 339); // sample format (no extra samples with 3 channels)
    }
}
