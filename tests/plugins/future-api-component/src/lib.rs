//! A wasm component built against a future contract, 0.4.0 (build with --target wasm32-wasip2).
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs, unsafe_code)] // wit-bindgen's generated exports.

wit_bindgen::generate!({ path: "wit", world: "later-plugin" });

struct Future;

impl exports::tonearm::plugin::plugin::Guest for Future {
    fn manifest() -> String {
        tonearm::plugin::host::log("a host should never have called this");
        String::new()
    }
}

export!(Future);
