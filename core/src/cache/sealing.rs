//! A track read from its source and sealed piece by piece, for a platform's cache to
//! write wherever it keeps files (a folder natively, the origin-private file system in a
//! browser), reporting progress as it goes.

use tonearm_plugin_api::ByteSource;

use super::CacheError;
use super::crypt::{self, Header, Sealer};

/// A progress event is due every this many bytes (and at the end).
pub const PROGRESS_EVERY: u64 = 1 << 20;

/// One piece of a cached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Where it goes in the file.
    pub offset: u64,
    /// Its bytes: the header, or a sealed segment.
    pub bytes: Vec<u8>,
    /// Bytes of the track read so far.
    pub done: u64,
    /// Whether a progress event is due now.
    pub report: bool,
}

/// The pieces of a cached file, in order: its header, then each sealed segment.
pub struct Sealing<'a> {
    source: &'a dyn ByteSource,
    sealer: Sealer,
    /// The next segment; `None` until the header was given.
    next: Option<u64>,
    plain: Vec<u8>,
    reported: u64,
}

impl std::fmt::Debug for Sealing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealing")
            .field("header", self.sealer.header())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<'a> Sealing<'a> {
    /// Seals the `size` bytes of `source` for entry `entry` with the cache's `key`;
    /// `nonce_prefix` must be random, and new for every file.
    pub fn new(
        key: &[u8; 32],
        entry: &str,
        size: u64,
        nonce_prefix: [u8; 16],
        source: &'a dyn ByteSource,
    ) -> Self {
        let header = Header::new(size, nonce_prefix);
        Self {
            source,
            sealer: Sealer::new(key, header, entry),
            next: None,
            plain: vec![0u8; crypt::SEGMENT as usize],
            reported: 0,
        }
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        self.sealer.header()
    }

    fn segment(&mut self, i: u64) -> Result<Piece, CacheError> {
        let header = *self.sealer.header();
        let len = header.plain_len(i) as usize;
        let at = i * u64::from(crypt::SEGMENT);
        read_fully(self.source, at, &mut self.plain[..len])?;
        let bytes = self
            .sealer
            .seal(i, &self.plain[..len])
            .map_err(|e| CacheError::Storage(e.to_string()))?;
        let done = at + len as u64;
        let report = done - self.reported >= PROGRESS_EVERY || i + 1 == header.segments();
        if report {
            self.reported = done;
        }
        Ok(Piece {
            offset: header.offset(i),
            bytes,
            done,
            report,
        })
    }
}

impl Iterator for Sealing<'_> {
    type Item = Result<Piece, CacheError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next {
            None => {
                self.next = Some(0);
                Some(Ok(Piece {
                    offset: 0,
                    bytes: self.sealer.header().encode().to_vec(),
                    done: 0,
                    report: false,
                }))
            }
            Some(i) if i < self.sealer.header().segments() => {
                self.next = Some(i + 1);
                let piece = self.segment(i);
                if piece.is_err() {
                    // Nothing follows a failed read.
                    self.next = Some(u64::MAX);
                }
                Some(piece)
            }
            Some(_) => None,
        }
    }
}

/// Reads exactly `buf.len()` bytes at `at`.
fn read_fully(bytes: &dyn ByteSource, at: u64, buf: &mut [u8]) -> Result<(), CacheError> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = bytes
            .read_at(at + filled as u64, &mut buf[filled..])
            .map_err(|e| CacheError::Source(e.to_string()))?;
        if n == 0 {
            return Err(CacheError::Source(format!(
                "the file ended at byte {} of a listed {}",
                at + filled as u64,
                at + buf.len() as u64
            )));
        }
        filled += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use tonearm_plugin_api::MemoryByteSource;

    use super::*;

    #[test]
    fn the_pieces_make_a_file_that_opens_to_the_track_and_progress_is_reported() {
        let track: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let source = MemoryByteSource::new(track.clone());
        let key = [3u8; 32];
        let sealing = Sealing::new(&key, "entry", track.len() as u64, [9; 16], &source);
        let header = *sealing.header();
        let mut file = Vec::new();
        let mut reports = Vec::new();
        for piece in sealing {
            let piece = piece.unwrap();
            assert_eq!(piece.offset, file.len() as u64, "pieces come in order");
            file.extend_from_slice(&piece.bytes);
            if piece.report {
                reports.push(piece.done);
            }
        }
        assert_eq!(file.len() as u64, header.file_len());
        assert_eq!(reports.last(), Some(&(track.len() as u64)));
        assert_eq!(reports.len(), 3, "about one per MiB: {reports:?}");
        let opener = Sealer::new(&key, Header::decode(&file).unwrap(), "entry");
        let mut plain = Vec::new();
        for i in 0..header.segments() {
            let at = header.offset(i) as usize;
            let end = at + (header.plain_len(i) + crypt::TAG) as usize;
            plain.extend(opener.open(i, &file[at..end]).unwrap());
        }
        assert_eq!(plain, track);
    }

    #[test]
    fn a_source_shorter_than_listed_fails_and_ends_the_pieces() {
        let source = MemoryByteSource::new(vec![1u8; 100_000]);
        let pieces: Vec<_> = Sealing::new(&[0; 32], "e", 200_000, [0; 16], &source).collect();
        assert!(
            matches!(pieces.last(), Some(Err(CacheError::Source(_)))),
            "{pieces:?}"
        );
        assert_eq!(pieces.len(), 3, "the header, one good segment, the failure");
    }
}
