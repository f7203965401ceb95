//! Ogg pages read straight from the byte source, to seek without decoding from the start:
//! where the audio pages begin, and which page to resume from for a target position
//! (RFC 7845 §6: bisect by granule position, then pre-roll).
//!
//! opus-pure's reader reads forward only and keeps its page parser private, so the page
//! layout (RFC 3533 §6) and its checksum are read here.

use std::sync::Arc;

use tonearm_plugin_api::{ByteSource, PluginResult};

const CAPTURE: &[u8; 4] = b"OggS";
const HEADER_LEN: usize = 27;
const FLAG_CONTINUED: u8 = 0x01;
const FLAG_END: u8 = 0x04;
/// How much is read from the source at once: a probe costs one read (one request, for a
/// remote source) unless its pages are larger.
const BLOCK: usize = 16 * 1024;
/// Below this span the search reads pages in order instead of halving.
const SCAN: u64 = BLOCK as u64;

/// One checked Ogg page.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Where the page starts in the source.
    pub offset: u64,
    /// The whole page's length: header, segment table and body.
    pub len: u64,
    /// The granule position: 48 kHz samples through the last packet completed here.
    pub granule: i64,
    /// The logical stream the page belongs to.
    pub serial: u32,
    /// The page begins with the rest of a packet from the page before.
    pub continued: bool,
    /// The stream's last page.
    pub last: bool,
    /// The segment table.
    lacing: Vec<u8>,
    /// The body.
    body: Vec<u8>,
}

impl Page {
    /// Where the next page starts.
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }

    /// The packets that end on this page, whole ones only (a packet continued from the page
    /// before is partial here and left out).
    fn completed(&self) -> Vec<&[u8]> {
        let mut packets = Vec::new();
        let (mut start, mut at) = (0, 0);
        let mut first = true;
        for &lace in &self.lacing {
            at += usize::from(lace);
            if lace < 255 {
                if !(first && self.continued) && at > start {
                    packets.push(&self.body[start..at]);
                }
                first = false;
                start = at;
            }
        }
        packets
    }

    /// How many packets end on this page, the partial first one included.
    fn packets_ending(&self) -> usize {
        self.lacing.iter().filter(|&&lace| lace < 255).count()
    }

    /// The granule position of the first sample of the first packet that starts on this
    /// page, when decoding can resume here: the page starts a packet, completes at least
    /// one, and its granule accounts for them. Not the last page: its granule may be
    /// short of its packets by the end trimming (RFC 7845 §4.4).
    pub fn resume_granule(&self) -> Option<u64> {
        if self.continued || self.last || self.granule < 0 {
            return None;
        }
        let packets = self.completed();
        if packets.is_empty() {
            return None;
        }
        let mut samples = 0u64;
        for packet in packets {
            samples += opus_pure::packet::samples_48k(packet).ok()? as u64;
        }
        u64::try_from(self.granule).ok()?.checked_sub(samples)
    }
}

/// Reads pages from a source through a one-block cache.
pub(crate) struct Pages<'a> {
    source: &'a dyn ByteSource,
    len: u64,
    block_at: u64,
    block: Vec<u8>,
}

impl<'a> Pages<'a> {
    /// Pages of `source`.
    pub fn new(source: &'a dyn ByteSource) -> PluginResult<Self> {
        Ok(Self {
            len: source.len()?,
            source,
            block_at: 0,
            block: Vec::new(),
        })
    }

    /// Up to `n` bytes at `offset` (fewer at the end of the source).
    fn bytes(&mut self, offset: u64, n: usize) -> PluginResult<&[u8]> {
        let cached =
            offset >= self.block_at && offset + n as u64 <= self.block_at + self.block.len() as u64;
        if !cached {
            let want = n.max(BLOCK);
            let left = usize::try_from(self.len.saturating_sub(offset)).unwrap_or(usize::MAX);
            self.block.resize(want.min(left), 0);
            let got = self.source.read_at(offset, &mut self.block)?;
            self.block.truncate(got);
            self.block_at = offset;
        }
        let from = usize::try_from(offset - self.block_at).unwrap_or(usize::MAX);
        let to = from.saturating_add(n).min(self.block.len());
        Ok(self.block.get(from..to).unwrap_or_default())
    }

    /// The bytes from `offset` on that one read brings: what is cached, if enough is.
    fn chunk(&mut self, offset: u64) -> PluginResult<&[u8]> {
        let cached_end = self.block_at + self.block.len() as u64;
        let n = if offset >= self.block_at && offset + HEADER_LEN as u64 <= cached_end {
            usize::try_from(cached_end - offset).unwrap_or(usize::MAX)
        } else {
            BLOCK
        };
        self.bytes(offset, n)
    }

    /// The page starting exactly at `offset`, if one does and its checksum holds.
    pub fn page_at(&mut self, offset: u64) -> PluginResult<Option<Page>> {
        let header = self.bytes(offset, HEADER_LEN)?;
        if header.len() < HEADER_LEN || &header[..4] != CAPTURE || header[4] != 0 {
            return Ok(None);
        }
        let flags = header[5];
        let granule = i64::from_le_bytes(header[6..14].try_into().unwrap_or_default());
        let serial = u32::from_le_bytes(header[14..18].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(header[22..26].try_into().unwrap_or_default());
        let segments = usize::from(header[26]);
        let lacing = self.bytes(offset + HEADER_LEN as u64, segments)?.to_vec();
        if lacing.len() < segments {
            return Ok(None);
        }
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let len = HEADER_LEN + segments + body_len;
        let page = self.bytes(offset, len)?;
        if page.len() < len || checksum(page) != crc {
            return Ok(None);
        }
        Ok(Some(Page {
            offset,
            len: len as u64,
            granule,
            serial,
            continued: flags & FLAG_CONTINUED != 0,
            last: flags & FLAG_END != 0,
            lacing,
            body: page[HEADER_LEN + segments..].to_vec(),
        }))
    }

    /// The first checked page of stream `serial` that starts in `from..until`.
    fn next_page(&mut self, from: u64, until: u64, serial: u32) -> PluginResult<Option<Page>> {
        let until = until.min(self.len);
        let mut at = from;
        while at < until {
            let chunk = self.chunk(at)?;
            let candidates: Vec<u64> = chunk
                .windows(CAPTURE.len())
                .enumerate()
                .filter(|(_, w)| w == CAPTURE)
                .map(|(i, _)| at + i as u64)
                .take_while(|&offset| offset < until)
                .collect();
            let chunk_len = chunk.len();
            for offset in candidates {
                if let Some(page) = self.page_at(offset)?
                    && page.serial == serial
                {
                    return Ok(Some(page));
                }
            }
            if chunk_len < CAPTURE.len() {
                break;
            }
            // Overlap by three bytes: a capture pattern may straddle two chunks.
            at += (chunk_len - (CAPTURE.len() - 1)) as u64;
        }
        Ok(None)
    }

    /// Where the audio pages start: the end of the page that completes the second packet
    /// (RFC 7845 §3: `OpusHead`, then `OpusTags`, which finishes its page). Also the
    /// stream's serial number.
    pub fn audio_start(&mut self) -> PluginResult<Option<(u64, u32)>> {
        let Some(first) = self.page_at(0)? else {
            return Ok(None);
        };
        let serial = first.serial;
        let (mut page, mut packets) = (first, 0);
        loop {
            if page.serial == serial {
                packets += page.packets_ending();
            }
            if packets >= 2 {
                return Ok(Some((page.end(), serial)));
            }
            match self.page_at(page.end())? {
                Some(next) => page = next,
                None => return Ok(None),
            }
        }
    }

    /// The last page of stream `serial` after `audio_start` that decoding can resume from
    /// at or before granule `want`, with the granule it resumes at; `None` when no page
    /// after the first audio page qualifies. `end_granule`, the last page's granule, makes
    /// the first guesses better.
    pub fn resume_point(
        &mut self,
        audio_start: u64,
        serial: u32,
        want: u64,
        end_granule: Option<u64>,
    ) -> PluginResult<Option<(u64, u64)>> {
        let mut best = None;
        // The span still searched, with the granule positions known at its ends.
        let (mut lo, mut hi) = (audio_start, self.len);
        let (mut lo_granule, mut hi_granule) = (0, end_granule);
        while hi - lo > SCAN {
            let span = hi - lo;
            // Guess where `want` lies as if bytes were spread evenly over time (Opus is near
            // constant bitrate), a little early so the page found is just before it; kept
            // off the span's ends, so that a bad guess still shrinks the span by an eighth.
            let guess = match hi_granule {
                Some(hi_granule) if hi_granule > lo_granule => {
                    let fraction =
                        want.saturating_sub(lo_granule) as f64 / (hi_granule - lo_granule) as f64;
                    (lo + (fraction.min(1.0) * span as f64) as u64).saturating_sub(SCAN / 2)
                }
                _ => lo + span / 2,
            }
            .clamp(lo + span / 8, hi - span / 8);
            let mut found = None;
            let mut at = guess;
            while let Some(page) = self.next_page(at, hi, serial)? {
                if let Some(granule) = page.resume_granule() {
                    found = Some((page, granule));
                    break;
                }
                at = page.end();
            }
            match found {
                Some((page, granule)) if granule <= want => {
                    best = Some((page.offset, granule));
                    let page_end = u64::try_from(page.granule).unwrap_or(0);
                    if page_end > want {
                        // `want` is on this page: every later page resumes after it.
                        return Ok(best.filter(|&(offset, _)| offset > audio_start));
                    }
                    lo = page.end();
                    lo_granule = page_end;
                    // A page may run past `hi`; everything from `hi` on resumes too late.
                    hi = hi.max(lo);
                }
                Some((_, granule)) => {
                    hi = guess;
                    hi_granule = Some(granule);
                }
                None => hi = guess,
            }
        }
        // Then page by page from a page boundary.
        let mut at = lo;
        while at < hi {
            let Some(page) = self.page_at(at)? else { break };
            if page.serial == serial
                && let Some(granule) = page.resume_granule()
            {
                if granule > want {
                    break;
                }
                best = Some((page.offset, granule));
            }
            at = page.end();
        }
        Ok(best.filter(|&(offset, _)| offset > audio_start))
    }
}

/// The stream's header pages followed by its pages from `from` on: what a reader starting
/// at the beginning would see had the pages in between not been there.
pub(crate) struct Resumed {
    /// The whole stream.
    pub source: Arc<dyn ByteSource>,
    /// Where the audio pages start (the header pages end).
    pub head: u64,
    /// Where reading resumes.
    pub from: u64,
}

impl ByteSource for Resumed {
    fn len(&self) -> PluginResult<u64> {
        Ok(self.head + self.source.len()?.saturating_sub(self.from))
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        let mut done = 0;
        if offset < self.head {
            let n = usize::try_from(self.head - offset)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            done = self.source.read_at(offset, &mut buf[..n])?;
            if done < n {
                return Ok(done);
            }
        }
        let at = self.from + (offset + done as u64).saturating_sub(self.head);
        Ok(done + self.source.read_at(at, &mut buf[done..])?)
    }
}

/// The Ogg page checksum (CRC-32, polynomial 0x04c11db7, not reflected), computed with the
/// checksum field read as zero.
fn checksum(page: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut r = (i as u32) << 24;
            let mut bit = 0;
            while bit < 8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04c1_1db7
                } else {
                    r << 1
                };
                bit += 1;
            }
            table[i] = r;
            i += 1;
        }
        table
    };
    page.iter().enumerate().fold(0u32, |crc, (i, &byte)| {
        let byte = if (22..26).contains(&i) { 0 } else { byte };
        (crc << 8) ^ TABLE[((crc >> 24) as u8 ^ byte) as usize]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonearm_plugin_api::MemoryByteSource;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every page of `bytes`, in order.
    fn all_pages(bytes: &[u8]) -> Vec<Page> {
        let source = MemoryByteSource::new(bytes.to_vec());
        let mut pages = Pages::new(&source).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(page) = pages.page_at(at).unwrap() {
            at = page.end();
            out.push(page);
        }
        assert_eq!(at, bytes.len() as u64, "pages cover the file");
        out
    }

    #[test]
    fn reads_every_page_of_an_opusenc_file_and_checks_them() {
        let bytes = fixture("03 long.opus");
        let pages = all_pages(&bytes);
        assert!(pages.len() > 20, "{} pages", pages.len());
        let mut damaged = bytes.clone();
        let second = pages[1].offset as usize;
        damaged[second + HEADER_LEN + 5] ^= 0x40;
        let source = MemoryByteSource::new(damaged);
        let mut reader = Pages::new(&source).unwrap();
        assert!(reader.page_at(pages[1].offset).unwrap().is_none());
        assert!(reader.page_at(pages[2].offset).unwrap().is_some());
    }

    #[test]
    fn resume_granules_follow_the_previous_pages_granule() {
        let pages = all_pages(&fixture("03 long.opus"));
        let mut checked = 0;
        for pair in pages.windows(2).skip(2) {
            if let Some(granule) = pair[1].resume_granule() {
                assert_eq!(
                    granule as i64, pair[0].granule,
                    "page at {}",
                    pair[1].offset
                );
                checked += 1;
            }
        }
        assert!(checked > 10);
    }

    #[test]
    fn the_resume_point_is_the_last_page_at_or_before_the_target() {
        let bytes = fixture("03 long.opus");
        let pages = all_pages(&bytes);
        let source = MemoryByteSource::new(bytes.clone());
        let mut reader = Pages::new(&source).unwrap();
        let (audio_start, serial) = reader.audio_start().unwrap().unwrap();
        assert_eq!(audio_start, pages[2].offset, "two header pages");
        let resumable: Vec<(u64, u64)> = pages
            .iter()
            .filter_map(|p| Some((p.offset, p.resume_granule()?)))
            .collect();
        let last = resumable.last().unwrap().1;
        for want in (0..last + 50_000).step_by(7_919) {
            let expected = resumable
                .iter()
                .rev()
                .find(|&&(_, g)| g <= want)
                .copied()
                .filter(|&(offset, _)| offset > audio_start);
            // With and without the stream's length to guess from.
            for end_granule in [None, Some(pages.last().unwrap().granule as u64)] {
                assert_eq!(
                    reader
                        .resume_point(audio_start, serial, want, end_granule)
                        .unwrap(),
                    expected,
                    "want {want}"
                );
            }
        }
    }

    #[test]
    fn only_whole_packets_count_toward_where_a_page_resumes() {
        // A 20 ms CELT packet (TOC 0xfc: one 20 ms frame) between the tail of a packet
        // from the page before and the head of one continued on the next.
        let mut body = vec![0u8; 10];
        body.extend([0xfc; 20]);
        body.extend([0u8; 255]);
        let page = |continued| Page {
            offset: 0,
            len: 0,
            granule: 48_960,
            serial: 1,
            continued,
            last: false,
            lacing: if continued {
                vec![10, 20, 255]
            } else {
                vec![20, 255]
            },
            body: if continued {
                body.clone()
            } else {
                body[10..].to_vec()
            },
        };
        assert_eq!(page(true).completed(), vec![&body[10..30]]);
        assert_eq!(page(true).resume_granule(), None, "starts mid-packet");
        assert_eq!(page(false).completed().len(), 1);
        assert_eq!(page(false).resume_granule(), Some(48_000));
        let last = Page {
            last: true,
            ..page(false)
        };
        assert_eq!(last.resume_granule(), None, "end-trimmed granule");
    }

    #[test]
    fn a_resumed_source_is_the_headers_then_the_rest() {
        let bytes: Vec<u8> = (0..100u8).collect();
        let resumed = Resumed {
            source: Arc::new(MemoryByteSource::new(bytes)),
            head: 10,
            from: 60,
        };
        assert_eq!(resumed.len().unwrap(), 50);
        let mut buf = [0u8; 20];
        assert_eq!(resumed.read_at(5, &mut buf).unwrap(), 20);
        let expected: Vec<u8> = (5..10).chain(60..75).collect();
        assert_eq!(buf.to_vec(), expected);
        assert_eq!(resumed.read_at(45, &mut buf).unwrap(), 5);
        assert_eq!(buf[..5].to_vec(), (95..100).collect::<Vec<u8>>());
    }
}
