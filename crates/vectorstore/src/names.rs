//! Name normalisation, as the Géoplateforme's Entrepôt does it on integration.
//!
//! Producers' files carry names such as `Cantons-Lux` or `Nom de la commune`; the stored table
//! and its columns are `cantons_lux` and `nom_de_la_commune`, so that SQL, SLD property names
//! and WMS layer names never need quoting. SLDs written against the original file still resolve
//! (see [`crate::Store::layer`]), because the same function maps both sides.

use std::collections::HashSet;

/// Normalises a layer or attribute name: lowercase ASCII, accents removed, every other
/// character (dash, space, punctuation) replaced by `_`; a leading digit gets a `_` prefix and
/// an empty result becomes `_`.
///
/// ```
/// use vectorstore::normalize_name;
/// assert_eq!(normalize_name("Cantons-Lux"), "cantons_lux");
/// assert_eq!(normalize_name("Département d'Île"), "departement_d_ile");
/// assert_eq!(normalize_name("2020 Pop"), "_2020_pop");
/// ```
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            'a'..='z' | '0'..='9' | '_' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            _ => match fold_accent(c) {
                Some(folded) => out.push_str(folded),
                None => out.push('_'),
            },
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The unaccented lowercase spelling of a Latin letter with a diacritic (Latin-1 and Latin
/// Extended-A, which covers French and the other languages of the EU's producers).
fn fold_accent(c: char) -> Option<&'static str> {
    let lower: String = c.to_lowercase().collect();
    let mut chars = lower.chars();
    let first = chars.next()?;
    if chars.next().is_some() {
        // İ lowercases to two characters: i + combining dot.
        return (first == 'i').then_some("i");
    }
    Some(match first {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// Hands out normalised names that are unique within one scope (a layer's columns, or the
/// layers of one stored data), case-insensitively, and never equal to a reserved name.
#[derive(Debug, Default)]
pub(crate) struct UniqueNames {
    taken: HashSet<String>,
}

impl UniqueNames {
    /// A scope where `reserved` names (such as `fid` and `geom`) are already taken.
    pub(crate) fn with_reserved(reserved: &[&str]) -> UniqueNames {
        UniqueNames {
            taken: reserved.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// The normalised form of `name`, suffixed `_2`, `_3`… if already taken.
    pub(crate) fn claim(&mut self, name: &str) -> String {
        let base = normalize_name(name);
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_case_accents_dashes_and_spaces() {
        assert_eq!(normalize_name("NAME_1"), "name_1");
        assert_eq!(normalize_name("Nom de la Commune"), "nom_de_la_commune");
        assert_eq!(normalize_name("Œuvre-Été"), "oeuvre_ete");
        assert_eq!(normalize_name("Straße"), "strasse");
        assert_eq!(normalize_name("łódź"), "lodz");
    }

    #[test]
    fn odd_names_still_become_valid_identifiers() {
        assert_eq!(normalize_name(""), "_");
        assert_eq!(normalize_name("1st"), "_1st");
        assert_eq!(normalize_name("a.b/c"), "a_b_c");
        assert_eq!(normalize_name("日本"), "__");
    }

    #[test]
    fn colliding_names_get_numbered_suffixes() {
        let mut names = UniqueNames::with_reserved(&["fid", "geom"]);
        assert_eq!(names.claim("Nom"), "nom");
        assert_eq!(names.claim("NOM"), "nom_2");
        assert_eq!(names.claim("nom"), "nom_3");
        assert_eq!(names.claim("GEOM"), "geom_2");
    }
}
