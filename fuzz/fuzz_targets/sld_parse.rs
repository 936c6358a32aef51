//! Feeds arbitrary bytes to the SLD parser, then validates, checks and evaluates whatever
//! parses: none of it may panic, loop or blow up. Seed corpus: `fixtures/sld/`.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(style) = sld::parse_bytes(data) {
        let _ = style.validate();
        let _ = style.check_layer("layer");
        let _ = style.check_attributes(&["id", "name"]);
        let feature: HashMap<String, sld::Value> =
            HashMap::from([("name".to_owned(), sld::Value::from("x"))]);
        for user_style in style.styles() {
            for rule in user_style.rules_for(&feature, 25_000.0) {
                for symbolizer in &rule.symbolizers {
                    let _ = symbolizer.common();
                }
            }
        }
    }
});
