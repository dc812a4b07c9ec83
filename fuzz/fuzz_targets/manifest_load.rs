//! Any bytes given to the manifest loader give documents or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = slipway_manifests::load_str(text, "fuzz.yaml");
        let _ = slipway_manifests::Loader::default().load_json(text, "fuzz.json");
    }
});
