//! Decode speed through the Symphonia plugin — builtin and as a native library — versus
//! calling Symphonia directly; as a wasm component (its decode speed and load times); and
//! the cost of a trivial call into each form.
//!
//! ```sh
//! cargo bench -p tonearm-e2e --bench decode
//! ```
//!
//! Both sides decode the same fixture from memory to interleaved `f32`, in alternating
//! rounds so that machine noise hits both alike; the figure is the ratio of medians.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_host::{EventBus, Registry};
use tonearm_loader::load_builtin;
use tonearm_loader::wasm::{WasmLimits, WasmRuntime};
use tonearm_plugin_api::{Decoder, MemoryByteSource, ProbeHint};

fn direct(bytes: &Arc<[u8]>, ext: &str) -> u64 {
    let mut samples = 0;
    tonearm_e2e::symphonia_direct::decode(
        Box::new(std::io::Cursor::new(bytes.to_vec())),
        ext,
        |chunk, _| samples += chunk.len() as u64,
    );
    samples
}

/// Decodes through a plugin as `direct` decodes: every chunk read, its samples counted,
/// none kept (collecting them all would time a growing `Vec` that `direct` does not have).
fn plugin(decoder: &dyn Decoder, bytes: &Arc<[u8]>, ext: &str) -> u64 {
    let hint = ProbeHint {
        extension: Some(ext.into()),
        mime: None,
    };
    let mut session = decoder
        .open(Arc::new(MemoryByteSource(bytes.clone())), &hint)
        .unwrap();
    let (mut chunk, mut samples) = (Vec::new(), 0);
    while session.read(&mut chunk).unwrap() > 0 {
        samples += chunk.len() as u64;
    }
    samples
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Nanoseconds per call of `probe` on an empty head, as the host calls it (through the
/// registry's guard).
fn probe_cost(decoder: &dyn Decoder, calls: u32) -> f64 {
    let hint = ProbeHint::default();
    let t = Instant::now();
    for _ in 0..calls {
        let _ = std::hint::black_box(decoder.probe(std::hint::black_box(&[]), &hint));
    }
    t.elapsed().as_nanos() as f64 / f64::from(calls)
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let rounds = if smoke { 3 } else { 41 };
    let per_round = if smoke { 1 } else { 40 };
    let builtin = Registry::new(EventBus::default());
    builtin
        .register(load_builtin(&tonearm_plugin_symphonia::DESCRIPTOR).unwrap())
        .unwrap();
    let builtin = builtin.decoder("symphonia").unwrap();
    let native = Registry::new(EventBus::default());
    native
        .register_all(
            tonearm_loader::native::load_native(&tonearm_e2e::native_library(
                "tonearm-plugin-symphonia-dylib",
            ))
            .unwrap(),
        )
        .unwrap();
    let native = native.decoder("symphonia").unwrap();

    // Loading a component: cold (compile) into an empty cache, then warm (from it).
    let component_file = tonearm_e2e::wasm_component("tonearm-plugin-symphonia-component");
    let shared_cache = tonearm_e2e::component_cache();
    let cold_dir = tempfile::tempdir().unwrap();
    let cache_dir = if smoke {
        shared_cache
    } else {
        cold_dir.path().to_owned()
    };
    let runtime = WasmRuntime::new(WasmLimits {
        cache_dir: Some(cache_dir),
        ..WasmLimits::default()
    })
    .unwrap();
    let t = Instant::now();
    runtime.load(&component_file).unwrap();
    let cold = t.elapsed();
    let mut warm = Vec::new();
    for _ in 0..if smoke { 1 } else { 9 } {
        let t = Instant::now();
        runtime.load(&component_file).unwrap();
        warm.push(t.elapsed());
    }
    let warm = median(warm);
    let wasm = Registry::new(EventBus::default());
    wasm.register(runtime.load(&component_file).unwrap())
        .unwrap();
    let wasm = wasm.decoder("symphonia").unwrap();
    let set = FixtureSet::bundled();

    println!("decode benchmark: {rounds} alternating rounds of {per_round} decodes each");
    println!(
        "| input | direct Symphonia | builtin plugin | dylib plugin | wasm component | builtin / direct | dylib / builtin | component / builtin |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for file in ["01 chord.flac", "02 pluck.mp3"] {
        let fixture = set.audio(file).unwrap();
        let ext = fixture.extension();
        let bytes = fixture.bytes.clone();
        let frames = direct(&bytes, &ext);
        assert_eq!(
            frames,
            plugin(builtin.as_ref(), &bytes, &ext),
            "both decode the same frames"
        );
        assert_eq!(
            frames,
            plugin(native.as_ref(), &bytes, &ext),
            "both decode the same frames"
        );
        assert_eq!(
            frames,
            plugin(wasm.as_ref(), &bytes, &ext),
            "both decode the same frames"
        );
        // Each round runs the three in a rotated order, so none always runs first.
        let mut times: [Vec<Duration>; 4] = Default::default();
        for round in 0..rounds {
            for k in 0..4 {
                let variant = (round + k) % 4;
                let t = Instant::now();
                for _ in 0..per_round {
                    let frames = match variant {
                        0 => direct(&bytes, &ext),
                        1 => plugin(builtin.as_ref(), &bytes, &ext),
                        2 => plugin(native.as_ref(), &bytes, &ext),
                        _ => plugin(wasm.as_ref(), &bytes, &ext),
                    };
                    std::hint::black_box(frames);
                }
                times[variant].push(t.elapsed());
            }
        }
        let [d, b, n, w] = times.map(median);
        let audio_s = fixture.frames as f64 / f64::from(fixture.sample_rate) * per_round as f64;
        let rt = |t: Duration| audio_s / t.as_secs_f64();
        println!(
            "| {ext} | {:.0}× | {:.0}× | {:.0}× | {:.0}× | {:.3} (≤ 1.03) | {:.3} (≤ 1.03) | {:.3} (≤ 1.6) |",
            rt(d),
            rt(b),
            rt(n),
            rt(w),
            b.as_secs_f64() / d.as_secs_f64(),
            n.as_secs_f64() / b.as_secs_f64(),
            w.as_secs_f64() / b.as_secs_f64()
        );
    }

    let calls = if smoke { 1_000 } else { 2_000_000 };
    let (mut b, mut n, mut w) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..if smoke { 1 } else { 9 } {
        b.push(probe_cost(builtin.as_ref(), calls));
        n.push(probe_cost(native.as_ref(), calls));
        w.push(probe_cost(wasm.as_ref(), calls / 10));
    }
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (b, n, w) = (mid(b), mid(n), mid(w));
    println!();
    println!(
        "| trivial call (`probe` of an empty head, through the host's guard) | builtin | dylib | wasm component |"
    );
    println!("| --- | --- | --- | --- |");
    println!("| ns per call | {b:.1} | {n:.1} | {w:.1} |");
    println!();
    println!("| loading the Symphonia component | time | target |");
    println!("| --- | --- | --- |");
    if smoke {
        println!("| cold compile | (skipped in the smoke run) | |");
    } else {
        println!(
            "| cold compile (Cranelift, then cached) | {:.0} ms | |",
            cold.as_secs_f64() * 1e3
        );
    }
    println!(
        "| warm load (cached compile, instantiate, manifest) | {:.2} ms | ≤ 10 ms |",
        warm.as_secs_f64() * 1e3
    );
}
