//! The format of a cached track at rest: authenticated encryption in segments, so a read
//! anywhere in the track decrypts only the segments it touches, and any change to the file
//! (a flipped bit, a cut, a segment moved or swapped with another file's) fails to decrypt.
//!
//! ```text
//! header   "TONEARMC" | version u32 | segment u32 | length u64 | nonce prefix [16]   (40 bytes)
//! segment  XChaCha20-Poly1305(plain[i]) | tag [16]                 for i in 0..segments
//! nonce    prefix | i as u64 big-endian                             (24 bytes, never reused)
//! aad      entry id | header | i | last?                            (binds each segment)
//! ```

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// Bytes of plain audio per segment.
pub const SEGMENT: u32 = 64 * 1024;
/// Bytes of the header.
pub const HEADER: u64 = 40;
/// Bytes an encrypted segment adds to its plain text.
pub const TAG: u64 = 16;
const MAGIC: &[u8; 8] = b"TONEARMC";
/// The longest track the format holds (1 TiB): no arithmetic on a length overflows.
const MAX_LENGTH: u64 = 1 << 40;
const VERSION: u32 = 1;

/// Why a cached file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// The header is not one this format wrote.
    #[error("not a cached track (bad header)")]
    Header,
    /// A segment failed authentication: the file was changed or cut.
    #[error("segment {0} of the cached track does not authenticate")]
    Tampered(u64),
    /// A segment could not be encrypted (past ChaCha20's limit of 256 GiB).
    #[error("segment {0} cannot be encrypted")]
    Seal(u64),
}

/// The header of one cached file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Bytes of plain text per segment.
    pub segment: u32,
    /// Bytes of plain text in all.
    pub length: u64,
    /// The nonces' first 16 bytes, drawn at random for this file.
    pub nonce_prefix: [u8; 16],
}

impl Header {
    /// A header for `length` bytes of plain text.
    pub fn new(length: u64, nonce_prefix: [u8; 16]) -> Self {
        Self {
            segment: SEGMENT,
            length,
            nonce_prefix,
        }
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER as usize] {
        let mut out = [0u8; HEADER as usize];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.segment.to_le_bytes());
        out[16..24].copy_from_slice(&self.length.to_le_bytes());
        out[24..40].copy_from_slice(&self.nonce_prefix);
        out
    }

    /// Reads a header.
    pub fn decode(bytes: &[u8]) -> Result<Self, CryptError> {
        let field = |range: std::ops::Range<usize>| bytes.get(range).ok_or(CryptError::Header);
        if field(0..8)? != MAGIC {
            return Err(CryptError::Header);
        }
        let word = |r| -> Result<u32, CryptError> {
            Ok(u32::from_le_bytes(
                field(r)?.try_into().map_err(|_| CryptError::Header)?,
            ))
        };
        if word(8..12)? != VERSION {
            return Err(CryptError::Header);
        }
        // The header is not authenticated by itself (every segment's associated data
        // holds it), so nothing in it is trusted beyond what this format writes.
        let segment = word(12..16)?;
        if segment != SEGMENT {
            return Err(CryptError::Header);
        }
        let length = u64::from_le_bytes(field(16..24)?.try_into().map_err(|_| CryptError::Header)?);
        if length > MAX_LENGTH {
            return Err(CryptError::Header);
        }
        let nonce_prefix = field(24..40)?.try_into().map_err(|_| CryptError::Header)?;
        Ok(Self {
            segment,
            length,
            nonce_prefix,
        })
    }

    /// Segments in the file: at least one, so even an empty track has a segment that
    /// authenticates its header (a file cut to its header fails).
    pub fn segments(&self) -> u64 {
        self.length.div_ceil(u64::from(self.segment)).max(1)
    }

    /// Bytes of plain text in segment `i`.
    pub fn plain_len(&self, i: u64) -> u64 {
        let start = i * u64::from(self.segment);
        self.length
            .saturating_sub(start)
            .min(u64::from(self.segment))
    }

    /// Where segment `i` starts in the file.
    pub fn offset(&self, i: u64) -> u64 {
        HEADER + i * (u64::from(self.segment) + TAG)
    }

    /// Bytes of the whole file.
    pub fn file_len(&self) -> u64 {
        HEADER + self.length + self.segments() * TAG
    }
}

/// Encrypts and decrypts the segments of one cached file.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    header: Header,
    /// What the segments are bound to: the entry they belong to.
    entry: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for the file of entry `entry`, with the cache's `key`.
    pub fn new(key: &[u8; 32], header: Header, entry: &str) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&Key::from(*key)),
            header,
            entry: entry.as_bytes().to_vec(),
        }
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn nonce(&self, i: u64) -> XNonce {
        let mut nonce = [0u8; 24];
        nonce[..16].copy_from_slice(&self.header.nonce_prefix);
        nonce[16..].copy_from_slice(&i.to_be_bytes());
        XNonce::from(nonce)
    }

    fn aad(&self, i: u64) -> Vec<u8> {
        let mut aad = self.entry.clone();
        aad.extend_from_slice(&self.header.encode());
        aad.extend_from_slice(&i.to_le_bytes());
        aad.push(u8::from(i + 1 == self.header.segments()));
        aad
    }

    /// Segment `i`, encrypted.
    pub fn seal(&self, i: u64, plain: &[u8]) -> Result<Vec<u8>, CryptError> {
        let aad = self.aad(i);
        let payload = Payload {
            msg: plain,
            aad: &aad,
        };
        self.cipher
            .encrypt(&self.nonce(i), payload)
            .map_err(|_| CryptError::Seal(i))
    }

    /// Segment `i`, decrypted; an error if it was changed.
    pub fn open(&self, i: u64, sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
        if sealed.len() as u64 != self.header.plain_len(i) + TAG {
            return Err(CryptError::Tampered(i));
        }
        let aad = self.aad(i);
        let payload = Payload {
            msg: sealed,
            aad: &aad,
        };
        self.cipher
            .decrypt(&self.nonce(i), payload)
            .map_err(|_| CryptError::Tampered(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn seal_all(sealer: &Sealer, plain: &[u8]) -> Vec<u8> {
        let mut file = sealer.header().encode().to_vec();
        for i in 0..sealer.header().segments() {
            let at = (i * u64::from(SEGMENT)) as usize;
            let end = at + sealer.header().plain_len(i) as usize;
            file.extend(sealer.seal(i, &plain[at..end]).unwrap());
        }
        file
    }

    fn open_all(key: &[u8; 32], entry: &str, file: &[u8]) -> Result<Vec<u8>, CryptError> {
        let header = Header::decode(file)?;
        let sealer = Sealer::new(key, header, entry);
        let mut plain = Vec::new();
        for i in 0..header.segments() {
            let at = header.offset(i) as usize;
            let end = (at as u64 + header.plain_len(i) + TAG) as usize;
            plain.extend(sealer.open(i, file.get(at..end).ok_or(CryptError::Tampered(i))?)?);
        }
        Ok(plain)
    }

    #[test]
    fn a_track_comes_back_whole_and_any_change_is_caught() {
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sealer = Sealer::new(&KEY, Header::new(plain.len() as u64, [1; 16]), "entry");
        let file = seal_all(&sealer, &plain);
        assert_eq!(file.len() as u64, sealer.header().file_len());
        assert_eq!(open_all(&KEY, "entry", &file).unwrap(), plain);

        let mut flipped = file.clone();
        flipped[HEADER as usize + 70_000] ^= 1;
        assert_eq!(
            open_all(&KEY, "entry", &flipped),
            Err(CryptError::Tampered(1))
        );
        let cut = &file[..file.len() - 10];
        assert!(open_all(&KEY, "entry", cut).is_err(), "a cut file");
        assert!(open_all(&[8; 32], "entry", &file).is_err(), "another key");
        assert!(
            open_all(&KEY, "other", &file).is_err(),
            "another entry's file"
        );
        // Two whole segments swapped.
        let seg = (SEGMENT as u64 + TAG) as usize;
        let mut swapped = file.clone();
        let (a, b) = (HEADER as usize, HEADER as usize + seg);
        let first: Vec<u8> = swapped[a..a + seg].to_vec();
        swapped.copy_within(b..b + seg, a);
        swapped[b..b + seg].copy_from_slice(&first);
        assert!(
            open_all(&KEY, "entry", &swapped).is_err(),
            "segments swapped"
        );
        assert_eq!(
            Header::decode(b"not a header at all, not at all......."),
            Err(CryptError::Header)
        );
        // A header forged to say "empty" over a file cut to its header.
        let mut forged = Header::decode(&file).unwrap();
        forged.length = 0;
        let cut: Vec<u8> = forged.encode().to_vec();
        assert!(open_all(&KEY, "entry", &cut).is_err(), "an emptied file");
        // A real empty track opens, and is one authenticated segment.
        let empty = Sealer::new(&KEY, Header::new(0, [2; 16]), "entry");
        let mut file = empty.header().encode().to_vec();
        file.extend(empty.seal(0, &[]).unwrap());
        assert_eq!(open_all(&KEY, "entry", &file).unwrap(), Vec::<u8>::new());
    }
}
