//! What the fuzz targets run: Tonearm's readers of outside input, driven the way the host
//! drives them. Whatever the input, none may panic, hang, or allocate without bound; an
//! error is a fine answer.
//!
//! Each target in `fuzz_targets/` is one line over a function here, so the seeds and the
//! regression inputs under `corpus/` and `regressions/` replay through the same code.

mod component;
mod records;
mod registry;

use std::sync::{Arc, Mutex, PoisonError};

use tonearm_core::registry::Registry;
use tonearm_core::state::MemoryState;
use tonearm_core::sync::tags::{self, ReadLimits};
use tonearm_core::testing::MemoryProvider;
use tonearm_plugin_api::{
    ByteRange, Clock, Decoder, HostContext, HttpClient, HttpRequest, HttpResponse, Instantiate,
    Log, LogLevel, MemoryByteSource, PluginDescriptor, PluginResult, ProbeHint, RemoteEntry,
};

/// The ELF checks run before a native library is mapped, from the loader's own source
/// (the loader crate itself would bring wasmtime into every fuzz build).
#[path = "../../loader/src/native/preflight.rs"]
#[allow(dead_code)]
mod preflight;

/// Reads beyond this are not needed to find a fault, and a tiny input may claim hours.
const MAX_SAMPLES: usize = 1 << 20;
/// Chunks read at most.
const MAX_READS: usize = 4096;

fn hint(ext: &str) -> ProbeHint {
    ProbeHint {
        extension: Some(ext.into()),
        mime: None,
    }
}

/// Probes, describes, decodes (bounded) and seeks `data` as a file named `*.ext`.
pub fn decode(decoder: &dyn Decoder, ext: &str, data: &[u8]) {
    let hint = hint(ext);
    let _ = decoder.probe(&data[..data.len().min(64 * 1024)], &hint);
    let source = || Arc::new(MemoryByteSource::new(data.to_vec()));
    let _ = decoder.describe(source(), &hint);
    let Ok(mut session) = decoder.open(source(), &hint) else {
        return;
    };
    let total = session.spec().total_frames.unwrap_or(0);
    let mut chunk = Vec::new();
    let mut samples = 0;
    for _ in 0..MAX_READS {
        match session.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(_) => samples += chunk.len(),
        }
        if samples > MAX_SAMPLES {
            break;
        }
    }
    for frame in [0, total / 2, total.saturating_add(1), u64::MAX / 2] {
        if session.seek(frame).is_ok() {
            let _ = session.read(&mut chunk);
        }
    }
}

/// The Symphonia decoder, as the host creates it.
pub fn symphonia() -> Box<dyn Decoder> {
    instantiate_decoder(&tonearm_plugin_symphonia::DESCRIPTOR)
}

/// The Opus decoder, as the host creates it.
pub fn opus() -> Box<dyn Decoder> {
    instantiate_decoder(&tonearm_plugin_opus::DESCRIPTOR)
}

fn instantiate_decoder(descriptor: &PluginDescriptor) -> Box<dyn Decoder> {
    let Instantiate::Decoder(make) = descriptor.instantiate else {
        unreachable!("a decoder's descriptor")
    };
    make(&context()).unwrap_or_else(|e| panic!("the decoder starts: {e}"))
}

/// Reads the tags of `data` as a sync does: the host's reader (lofty, Symphonia's
/// salvage), then the decoders. The first byte picks the file name's extension.
pub fn tags(data: &[u8]) {
    const EXTENSIONS: [&str; 10] = [
        "mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff", "wv", "ape", "bin",
    ];
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let ext = EXTENSIONS[usize::from(pick) % EXTENSIONS.len()];
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let registry = REGISTRY.get_or_init(|| {
        let registry = Registry::new(tonearm_core::events::EventBus::default());
        for descriptor in [
            &tonearm_plugin_symphonia::DESCRIPTOR,
            &tonearm_plugin_opus::DESCRIPTOR,
        ] {
            let plugin = tonearm_core::plugin::load_builtin(descriptor)
                .unwrap_or_else(|e| panic!("a builtin loads: {e}"));
            registry
                .register(plugin)
                .unwrap_or_else(|e| panic!("a builtin registers: {e}"));
        }
        registry
    });
    let entry = RemoteEntry {
        id: "fuzz".into(),
        path: format!("fuzz.{ext}"),
        size: bytes.len() as u64,
        modified_ms: None,
        content_hash: None,
        mime: None,
    };
    let provider = MemoryProvider::new(bytes.to_vec());
    let _ = tags::read(provider, &entry, ReadLimits::default(), registry);
}

/// Answers a plugin's requests from the fuzz input: each answer is a status byte (mapped
/// onto the statuses services send), a header byte (a `Location`, a `Retry-After`, or
/// none) and a body of up to 64 KiB whose length is the next two bytes.
struct ScriptedHttp {
    script: Mutex<Vec<u8>>,
}

impl HttpClient for ScriptedHttp {
    fn send(&self, _: HttpRequest) -> PluginResult<HttpResponse> {
        const STATUSES: [u16; 12] = [200, 200, 200, 206, 302, 400, 401, 403, 404, 410, 429, 503];
        let mut script = self.script.lock().unwrap_or_else(PoisonError::into_inner);
        if script.len() < 4 {
            // The script is spent: the service is gone.
            return Err(tonearm_plugin_api::PluginError::Transient(
                "no answer".into(),
            ));
        }
        let status = STATUSES[usize::from(script[0]) % STATUSES.len()];
        let headers = match script[1] % 4 {
            0 => vec![("Location".into(), "https://example.com/download".into())],
            1 => vec![("Retry-After".into(), "1".into())],
            _ => Vec::new(),
        };
        let len = usize::from(u16::from_le_bytes([script[2], script[3]]));
        let rest = script.split_off(4);
        let len = len.min(rest.len());
        let body = rest[..len].to_vec();
        *script = rest[len..].to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// Drives a storage provider through a listing, the change feed and a read, every answer
/// of its service taken from `data`.
pub fn provider(descriptor: &PluginDescriptor, data: &[u8]) {
    let Instantiate::StorageProvider(make) = descriptor.instantiate else {
        unreachable!("a provider's descriptor")
    };
    let http = Arc::new(ScriptedHttp {
        script: Mutex::new(data.to_vec()),
    });
    let ctx = context()
        .with_http(http)
        .with_state(Arc::new(MemoryState::default()));
    let Ok(provider) = make(&ctx) else {
        return;
    };
    let mut page = None;
    for _ in 0..8 {
        match provider.list(page.as_deref()) {
            Ok(listed) => match listed.next_page {
                Some(next) => page = Some(next),
                None => break,
            },
            Err(_) => break,
        }
    }
    if let Ok(cursor) = provider.change_cursor() {
        let mut cursor = cursor;
        for _ in 0..4 {
            match provider.changes(&cursor) {
                Ok(changes) if changes.has_more => cursor = changes.next_cursor,
                _ => break,
            }
        }
    }
    let _ = provider.read_range(
        "fuzz",
        ByteRange::Span {
            offset: 0,
            len: 4096,
        },
    );
    let _ = provider.read_range("fuzz", ByteRange::Suffix { len: 4096 });
}

pub use component::provider_answers;
pub use records::records;
pub use registry::registry;

/// Checks `data` as a native library file before it would be mapped.
pub fn elf(data: &[u8]) {
    let _ = preflight::check_image(&mut std::io::Cursor::new(data), data.len() as u64);
}

struct Quiet;

impl Log for Quiet {
    fn log(&self, _: LogLevel, _: &str) {}
}

struct Epoch;

impl Clock for Epoch {
    fn now_unix_ms(&self) -> i64 {
        1_700_000_000_000
    }
}

fn context() -> HostContext {
    HostContext::new(Arc::new(Quiet), Arc::new(Epoch))
}
