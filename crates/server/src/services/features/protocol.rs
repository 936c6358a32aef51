//! The names every part of the WFS shares: versions, the prefix and namespace of feature types.

/// The prefix of feature type names (`tuilerie:countries`).
pub const PREFIX: &str = "tuilerie";
/// The namespace of feature types and their properties.
pub const NAMESPACE: &str = "urn:x-tuilerie:features";

/// A WFS version served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 2.0.0 (the default).
    V200,
    /// 1.1.0.
    V110,
}

impl Version {
    /// As written in requests and documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V200 => "2.0.0",
            Version::V110 => "1.1.0",
        }
    }

    /// The version a `VERSION` or `ACCEPTVERSIONS` item names.
    pub fn parse(text: &str) -> Option<Version> {
        match text.trim() {
            "2.0.0" | "2.0" => Some(Version::V200),
            "1.1.0" | "1.1" => Some(Version::V110),
            _ => None,
        }
    }
}
