//! The one "did you mean" rule of the project.
//!
//! Misspelled element names, parameters, functions, vendor options and attributes in a style,
//! and misspelled keys in the server's configuration, all get their suggestion from here, so
//! that a near miss is recognised the same way everywhere.

/// The candidate `word` most likely stands for, if any.
///
/// The rule, with names compared case-insensitively (both lowercased):
/// - the candidate at the smallest Levenshtein distance from `word` ([`strsim::levenshtein`],
///   counted in characters), if that distance is at most `max(2, len / 4)` and less than `len`,
///   where `len` is the candidate's length; the first candidate wins a tie;
/// - else, when `word` has 4 characters or more, the first candidate that starts with it (a
///   truncated name: `strToUpper` for `strToUpperCase`);
/// - else `None`.
///
/// ```
/// use sld::did_you_mean;
///
/// let parameters = ["stroke", "stroke-width", "stroke-opacity"];
/// assert_eq!(did_you_mean("strok", &parameters), Some("stroke"));
/// assert_eq!(did_you_mean("Stroke-Widht", &parameters), Some("stroke-width"));
/// assert_eq!(did_you_mean("colour", &parameters), None);
/// let functions = ["strToUpperCase", "strToLowerCase"];
/// assert_eq!(did_you_mean("strToUpper", &functions), Some("strToUpperCase"));
/// ```
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    let close = candidates
        .iter()
        .map(|candidate| {
            let len = candidate.chars().count();
            let distance = strsim::levenshtein(&word, &candidate.to_lowercase());
            (distance, len, *candidate)
        })
        .filter(|&(distance, len, _)| distance <= 2.max(len / 4) && distance < len)
        .min_by_key(|&(distance, _, _)| distance)
        .map(|(_, _, candidate)| candidate);
    close.or_else(|| {
        (word.chars().count() >= 4)
            .then(|| {
                candidates
                    .iter()
                    .find(|candidate| candidate.to_lowercase().starts_with(&word))
                    .copied()
            })
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn the_closest_candidate_wins_and_the_first_on_ties() {
        assert_eq!(did_you_mean("Rul", &["Rule", "Rules"]), Some("Rule"));
        assert_eq!(did_you_mean("cat", &["bat", "hat"]), Some("bat"));
        assert_eq!(did_you_mean("RULE", &["Rule"]), Some("Rule"));
    }

    #[test]
    fn the_distance_is_bounded_by_the_candidate_length() {
        // Two edits are allowed for short names, a quarter of the length for long ones…
        assert_eq!(did_you_mean("ab", &["xy"]), None);
        assert_eq!(did_you_mean("Nmae", &["Name"]), Some("Name"));
        assert_eq!(
            did_you_mean(
                "PropertyIsGreatrThanOrEqual",
                &["PropertyIsGreaterThanOrEqualTo"]
            ),
            Some("PropertyIsGreaterThanOrEqualTo")
        );
        // … and never the whole candidate.
        assert_eq!(did_you_mean("x", &["ab"]), None);
        assert_eq!(did_you_mean("", &["ab"]), None);
    }

    #[test]
    fn a_truncated_name_of_four_characters_or_more_is_recognised() {
        let functions = ["strToUpperCase", "strToLowerCase"];
        assert_eq!(
            did_you_mean("strToUpper", &functions),
            Some("strToUpperCase")
        );
        assert_eq!(did_you_mean("strT", &functions), Some("strToUpperCase"));
        assert_eq!(did_you_mean("str", &functions), None);
        assert_eq!(did_you_mean("anything", &[]), None);
    }
}
