//! SLD files as WMS styles: read, parsed and validated once, each `UserStyle` a named style
//! (the default first), the `NamedLayer` of a table picked by its name.

use std::path::{Path, PathBuf};

use super::layer::LayerStyle;

/// Why an SLD file cannot be served. The cause is part of the message (these errors become a
/// layer's refusal reason, one line).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StyleError {
    /// The file cannot be read.
    #[error("cannot read style {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file is not SLD.
    #[error("style {}: {cause}", path.display())]
    Parse { path: PathBuf, cause: sld::SldError },
    /// The SLD has an error (the first one).
    #[error("style {} is invalid: {problem} (check it with `tuilerie style check`)", path.display())]
    Invalid {
        path: PathBuf,
        problem: sld::Problem,
    },
    /// The SLD holds no style for the table.
    #[error("style {} holds no UserStyle", path.display())]
    Empty { path: PathBuf },
}

/// The WMS styles of an SLD file: each `UserStyle` of its first `NamedLayer`, the default one
/// (`IsDefault`, else the first) first; unnamed styles are named `default`, `style2`…
pub(super) fn load_styles(path: &Path) -> Result<Vec<LayerStyle>, StyleError> {
    styles_of(read_sld(path)?, path)
}

/// An SLD file, read, parsed and validated.
pub(super) fn read_sld(path: &Path) -> Result<sld::Sld, StyleError> {
    let text = std::fs::read_to_string(path).map_err(|cause| StyleError::Read {
        path: path.to_owned(),
        cause,
    })?;
    let parsed = sld::parse(&text).map_err(|cause| StyleError::Parse {
        path: path.to_owned(),
        cause,
    })?;
    if let Some(problem) = parsed.validate().into_iter().next() {
        return Err(StyleError::Invalid {
            path: path.to_owned(),
            problem,
        });
    }
    Ok(parsed)
}

/// The WMS styles of a parsed SLD (see [`load_styles`]).
fn styles_of(parsed: sld::Sld, path: &Path) -> Result<Vec<LayerStyle>, StyleError> {
    styles_for(parsed, path, &[])
}

/// The WMS styles of the `NamedLayer` named as one of `tables` (exactly, else after
/// normalisation), else of the first one: one SLD may style several tables.
pub(super) fn styles_for(
    parsed: sld::Sld,
    path: &Path,
    tables: &[&str],
) -> Result<Vec<LayerStyle>, StyleError> {
    let mut layers = parsed.layers;
    let name_of = |l: &sld::NamedLayer| l.name.as_ref().map(|n| n.value.clone());
    let position = layers
        .iter()
        .position(|l| name_of(l).is_some_and(|n| tables.contains(&n.as_str())))
        .or_else(|| {
            let wanted: Vec<String> = tables
                .iter()
                .map(|t| vectorstore::normalize_name(t))
                .collect();
            layers.iter().position(|l| {
                name_of(l).is_some_and(|n| wanted.contains(&vectorstore::normalize_name(&n)))
            })
        })
        .unwrap_or(0);
    let mut user_styles: Vec<sld::UserStyle> = if position < layers.len() {
        layers.swap_remove(position).styles
    } else {
        Vec::new()
    };
    if user_styles.is_empty() {
        return Err(StyleError::Empty {
            path: path.to_owned(),
        });
    }
    if let Some(i) = user_styles.iter().position(|s| s.is_default) {
        let default = user_styles.remove(i);
        user_styles.insert(0, default);
    }
    let mut styles: Vec<LayerStyle> = Vec::new();
    for (k, style) in user_styles.into_iter().enumerate() {
        let mut name = style
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| {
                if k == 0 {
                    "default".to_owned()
                } else {
                    format!("style{}", k + 1)
                }
            });
        if styles.iter().any(|s| s.name == name) {
            name = format!("{name}_{}", k + 1);
        }
        styles.push(LayerStyle {
            title: style.title.clone().unwrap_or_else(|| name.clone()),
            abstract_text: style.abstract_.clone().unwrap_or_default(),
            name,
            style: Some(style),
        });
    }
    Ok(styles)
}
