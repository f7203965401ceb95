//! Tells the loader which target it was built for: native plugins must match it exactly.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=TONEARM_NATIVE_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
