//! Which rules draw a feature at a scale: filters, scale ranges and `ElseFilter`.

use crate::model::{Rule, UserStyle};
use crate::Attributes;

impl Rule {
    /// Whether the rule is active at a scale denominator: `MinScaleDenominator` inclusive,
    /// `MaxScaleDenominator` exclusive, as SE 1.1 says.
    pub fn applies_at(&self, scale_denominator: f64) -> bool {
        self.min_scale.is_none_or(|min| scale_denominator >= min)
            && self.max_scale.is_none_or(|max| scale_denominator < max)
    }

    /// Whether the rule's filter takes the feature (no filter takes every feature; an
    /// `ElseFilter` rule is decided by [`UserStyle::rules_for`]).
    pub fn matches(&self, feature: &dyn Attributes) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| filter.matches(feature))
    }
}

impl UserStyle {
    /// The rules that draw `feature` at `scale_denominator`, in drawing order: in each feature
    /// type style, the rules active at that scale whose filter takes the feature, or, when none
    /// does, its active `ElseFilter` rules. As in GeoServer, a rule without a filter takes
    /// every feature, so it also keeps the `ElseFilter` rules of its feature type style away.
    pub fn rules_for(&self, feature: &dyn Attributes, scale_denominator: f64) -> Vec<&crate::Rule> {
        let mut rules = Vec::new();
        for fts in &self.feature_type_styles {
            let start = rules.len();
            rules.extend(fts.rules.iter().filter(|rule| {
                !rule.else_filter && rule.applies_at(scale_denominator) && rule.matches(feature)
            }));
            if rules.len() == start {
                rules.extend(
                    fts.rules
                        .iter()
                        .filter(|rule| rule.else_filter && rule.applies_at(scale_denominator)),
                );
            }
        }
        rules
    }
}
