//! Fonts and text shaping: the bundled DejaVu Sans (regular and bold; Latin, Greek, Cyrillic,
//! Arabic, Hebrew and more), plus any `.ttf` / `.otf` of a configured folder, selected by SLD
//! `font-family`, `font-weight` and `font-style`. Text is shaped by rustybuzz (kerning,
//! ligatures, combining accents, right-to-left scripts) and drawn as glyph outlines.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustybuzz::ttf_parser;
use tiny_skia::PathBuilder;

use crate::RenderError;

static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// One font face.
pub struct FontFace {
    /// Family name, lower case.
    pub family: String,
    /// Bold.
    pub bold: bool,
    /// Italic or oblique.
    pub italic: bool,
    /// The shaping face.
    pub face: rustybuzz::Face<'static>,
}

/// Every available face; the first is the bundled regular face, the fallback.
pub struct Fonts {
    faces: Vec<FontFace>,
    /// Glyphs already drawn, shared by every render: labels repeat the same letters.
    sprites: Mutex<HashMap<SpriteKey, Option<Arc<Sprite>>>>,
}

/// A glyph drawn at one size, subpixel offset and colour (or its halo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpriteKey {
    /// The face (its address: faces live as long as the renderer).
    pub face: usize,
    /// Glyph id.
    pub glyph: u16,
    /// Pixels per font unit (bits).
    pub size: u32,
    /// Subpixel x offset, in quarters of a pixel.
    pub quarter: u8,
    /// RGBA.
    pub color: u32,
    /// Halo radius (bits), for the halo sprite.
    pub halo: Option<u32>,
}

/// A drawn glyph and where its top-left corner sits relative to the glyph's origin.
#[derive(Debug)]
pub struct Sprite {
    /// The pixels.
    pub pixmap: tiny_skia::Pixmap,
    /// Offset of the pixmap's left edge from the origin.
    pub left: i32,
    /// Offset of the pixmap's top edge from the baseline.
    pub top: i32,
}

/// Most glyph sprites kept (a few MB).
const MAX_SPRITES: usize = 8192;

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.faces
                    .iter()
                    .map(|face| (&face.family, face.bold, face.italic)),
            )
            .finish()
    }
}

/// Most bytes of fonts read from the font folder (they stay in memory for the process's life).
const MAX_FONT_BYTES: u64 = 256 << 20;

impl Fonts {
    /// The bundled faces and those of `dir`.
    pub fn load(dir: Option<&Path>) -> Result<Fonts, RenderError> {
        let mut faces = Vec::new();
        for (data, bold) in [(DEJAVU_SANS, false), (DEJAVU_SANS_BOLD, true)] {
            if let Some(face) = rustybuzz::Face::from_slice(data, 0) {
                faces.push(FontFace {
                    family: "dejavu sans".to_owned(),
                    bold,
                    italic: false,
                    face,
                });
            }
        }
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir).map_err(|source| RenderError::Font {
                path: dir.to_owned(),
                source,
            })?;
            let mut paths: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        e.eq_ignore_ascii_case("ttf") || e.eq_ignore_ascii_case("otf")
                    })
                })
                .collect();
            paths.sort();
            let mut total = 0u64;
            for path in paths {
                let bytes = std::fs::read(&path).map_err(|source| RenderError::Font {
                    path: path.clone(),
                    source,
                })?;
                total += bytes.len() as u64;
                if total > MAX_FONT_BYTES {
                    break;
                }
                // Fonts live as long as the process: loaded once at start-up.
                let data: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if let Some(face) = rustybuzz::Face::from_slice(data, 0) {
                    let family = family_name(&face).unwrap_or_default().to_lowercase();
                    if family.is_empty() {
                        continue;
                    }
                    faces.push(FontFace {
                        family,
                        bold: face.is_bold(),
                        italic: face.is_italic() || face.is_oblique(),
                        face,
                    });
                }
            }
        }
        Ok(Fonts {
            faces,
            sprites: Mutex::new(HashMap::new()),
        })
    }

    /// The sprite of a key, drawn by `make` at first use.
    pub fn sprite(
        &self,
        key: SpriteKey,
        make: impl FnOnce() -> Option<Sprite>,
    ) -> Option<Arc<Sprite>> {
        {
            let sprites = self
                .sprites
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(hit) = sprites.get(&key) {
                return hit.clone();
            }
        }
        let made = make().map(Arc::new);
        let mut sprites = self
            .sprites
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if sprites.len() >= MAX_SPRITES {
            sprites.clear();
        }
        sprites.insert(key, made.clone());
        made
    }

    /// The face for SLD family names (first available wins), weight and style; DejaVu Sans
    /// when none is available.
    pub fn select(&self, families: &[String], bold: bool, italic: bool) -> Option<&FontFace> {
        let score = |f: &FontFace| u8::from(f.bold == bold) * 2 + u8::from(f.italic == italic);
        for family in families {
            let wanted = family.trim().to_lowercase();
            let generic = matches!(
                wanted.as_str(),
                "sans-serif" | "sansserif" | "serif" | "monospaced" | "monospace" | "dialog"
            );
            let name = if generic {
                "dejavu sans".to_owned()
            } else {
                wanted
            };
            if let Some(face) = self
                .faces
                .iter()
                .filter(|f| f.family == name)
                .max_by_key(|f| score(f))
            {
                return Some(face);
            }
        }
        self.faces
            .iter()
            .filter(|f| f.family == "dejavu sans")
            .max_by_key(|f| score(f))
            .or_else(|| self.faces.first())
    }
}

fn family_name(face: &ttf_parser::Face<'_>) -> Option<String> {
    let names = face.names();
    let pick = |id: u16| {
        names
            .into_iter()
            .filter(|n| n.name_id == id && n.is_unicode())
            .find_map(|n| n.to_string())
    };
    pick(ttf_parser::name_id::TYPOGRAPHIC_FAMILY).or_else(|| pick(ttf_parser::name_id::FAMILY))
}

/// A shaped run of text at a size: glyphs with their pen positions, in pixels.
#[derive(Debug, Clone)]
pub struct Shaped {
    /// (glyph id, x of its origin, y offset (down), advance).
    pub glyphs: Vec<(u16, f32, f32, f32)>,
    /// Advance width of the whole run.
    pub width: f32,
    /// Ascent above the baseline.
    pub ascent: f32,
    /// Descent below the baseline (positive).
    pub descent: f32,
    /// Pixels per font unit.
    pub scale: f32,
}

/// Shapes one line of text.
pub fn shape(face: &FontFace, text: &str, size: f32) -> Shaped {
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.guess_segment_properties();
    let output = rustybuzz::shape(&face.face, &[], buffer);
    let upem = f32::from(face.face.units_per_em().max(1) as u16);
    let scale = size / upem;
    let mut x = 0.0f32;
    let mut glyphs = Vec::with_capacity(output.len());
    for (info, pos) in output.glyph_infos().iter().zip(output.glyph_positions()) {
        let advance = pos.x_advance as f32 * scale;
        glyphs.push((
            info.glyph_id as u16,
            x + pos.x_offset as f32 * scale,
            -(pos.y_offset as f32) * scale,
            advance,
        ));
        x += advance;
    }
    Shaped {
        glyphs,
        width: x,
        ascent: f32::from(face.face.ascender()) * scale,
        descent: -f32::from(face.face.descender()) * scale,
        scale,
    }
}

/// Appends a glyph's outline to a path: origin at (x, y) on the baseline, rotated by `angle`
/// radians (clockwise on screen).
pub fn glyph_outline(
    face: &FontFace,
    glyph: u16,
    scale: f32,
    origin: (f32, f32),
    angle: f32,
    pb: &mut PathBuilder,
) {
    struct Builder<'a> {
        pb: &'a mut PathBuilder,
        scale: f32,
        origin: (f32, f32),
        cos: f32,
        sin: f32,
    }
    impl Builder<'_> {
        fn map(&self, x: f32, y: f32) -> (f32, f32) {
            let (gx, gy) = (x * self.scale, -y * self.scale);
            (
                self.origin.0 + gx * self.cos - gy * self.sin,
                self.origin.1 + gx * self.sin + gy * self.cos,
            )
        }
    }
    impl ttf_parser::OutlineBuilder for Builder<'_> {
        fn move_to(&mut self, x: f32, y: f32) {
            let (x, y) = self.map(x, y);
            self.pb.move_to(x, y);
        }
        fn line_to(&mut self, x: f32, y: f32) {
            let (x, y) = self.map(x, y);
            self.pb.line_to(x, y);
        }
        fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
            let (x1, y1) = self.map(x1, y1);
            let (x, y) = self.map(x, y);
            self.pb.quad_to(x1, y1, x, y);
        }
        fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
            let (x1, y1) = self.map(x1, y1);
            let (x2, y2) = self.map(x2, y2);
            let (x, y) = self.map(x, y);
            self.pb.cubic_to(x1, y1, x2, y2, x, y);
        }
        fn close(&mut self) {
            self.pb.close();
        }
    }
    let mut builder = Builder {
        pb,
        scale,
        origin,
        cos: angle.cos(),
        sin: angle.sin(),
    };
    let _ = face
        .face
        .outline_glyph(ttf_parser::GlyphId(glyph), &mut builder);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_font_shapes_accents_and_other_scripts() {
        let fonts = Fonts::load(None).unwrap();
        let face = fonts.select(&["Arial".to_owned()], false, false).unwrap();
        assert_eq!(face.family, "dejavu sans");
        let bold = fonts
            .select(&["DejaVu Sans".to_owned()], true, false)
            .unwrap();
        assert!(bold.bold);
        // "é" precomposed and as e + combining acute: the same width.
        let a = shape(face, "Évry-Courcouronnes", 12.0);
        let b = shape(face, "E\u{301}vry-Courcouronnes", 12.0);
        assert!(
            (a.width - b.width).abs() < 0.5,
            "{} vs {}",
            a.width,
            b.width
        );
        // Cyrillic and Arabic have glyphs (no .notdef, id 0).
        for text in ["Москва", "القاهرة", "Αθήνα"] {
            let shaped = shape(face, text, 12.0);
            assert!(shaped.glyphs.iter().all(|g| g.0 != 0), "{text}");
            assert!(shaped.width > 20.0);
        }
    }
}
