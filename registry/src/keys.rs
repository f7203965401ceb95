//! Ed25519 keys: the index's role keys and publishers' keys, and what they sign.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::RegistryError;

/// The prefix of a secret key's text form, so one is never mistaken for a public key.
const SECRET_PREFIX: &str = "tonearm-secret-key:";

/// What a signature covers: the payload, and the kind of document it signs, so that a
/// signature made for one role's file never passes for another's.
fn message(kind: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(payload.len() + 32);
    m.extend_from_slice(b"tonearm-registry/1\n");
    m.extend_from_slice(kind.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(payload);
    m
}

/// A key's name in the index: the first 16 bytes of the SHA-256 of its public key, in hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl KeyId {
    /// Whether it has a key id's form (32 lowercase hex digits): anything else is not
    /// shown to users as one.
    pub fn is_well_formed(&self) -> bool {
        self.0.len() == 32
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A public key, written as base64 of its 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Its name in the index.
    pub fn id(&self) -> KeyId {
        let digest = Sha256::digest(self.0.as_bytes());
        KeyId(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Its text form: base64 of its bytes.
    pub fn to_text(&self) -> String {
        BASE64.encode(self.0.as_bytes())
    }

    /// Reads a key's text form.
    pub fn from_text(text: &str) -> Result<Self, RegistryError> {
        let bad = |reason: String| RegistryError::BadKey(reason);
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| bad(format!("not base64: {e}")))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| bad(format!("{} bytes, not 32", b.len())))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
        // A small-order key verifies signatures anyone can make.
        if key.is_weak() {
            return Err(bad("a weak (small-order) key".into()));
        }
        Ok(Self(key))
    }

    /// Whether `signature` (base64) is this key's over `payload` as a `kind` document.
    pub(crate) fn verifies(&self, kind: &str, payload: &[u8], signature: &str) -> bool {
        let Ok(bytes) = BASE64.decode(signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.0
            .verify_strict(&message(kind, payload), &signature)
            .is_ok()
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_text(&text).map_err(serde::de::Error::custom)
    }
}

/// A secret key. Its text form (`tonearm-secret-key:` and base64 of its seed) is what
/// `tonearm registry keygen` writes; it never reaches a log line.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.public().id())
    }
}

impl SecretKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<Self, RegistryError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| RegistryError::BadKey(format!("no randomness: {e}")))?;
        Ok(Self::from_seed(seed))
    }

    /// The key whose seed is `seed` (keep the seed as secret as the key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Its text form.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(self.0.to_bytes()))
    }

    /// Reads a secret key's text form.
    pub fn from_text(text: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::BadKey(reason.to_owned());
        let seed = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| bad("not a secret key (it starts with tonearm-secret-key:)"))?;
        let seed: [u8; 32] = BASE64
            .decode(seed)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("a secret key's seed is 32 bytes of base64"))?;
        Ok(Self::from_seed(seed))
    }

    /// Its signature (base64) over `payload` as a `kind` document.
    pub(crate) fn sign(&self, kind: &str, payload: &[u8]) -> String {
        BASE64.encode(self.0.sign(&message(kind, payload)).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn keys_round_trip_and_signatures_bind_the_kind() {
        let key = SecretKey::generate().unwrap();
        let again = SecretKey::from_text(&key.to_text()).unwrap();
        assert_eq!(again.public(), key.public());
        let public = PublicKey::from_text(&key.public().to_text()).unwrap();
        assert_eq!(public.id(), key.public().id());
        assert!(!format!("{key:?}").contains(&key.to_text()[SECRET_PREFIX.len()..]));

        let signature = key.sign("snapshot", b"{}");
        assert!(public.verifies("snapshot", b"{}", &signature));
        assert!(
            !public.verifies("timestamp", b"{}", &signature),
            "another kind"
        );
        assert!(
            !public.verifies("snapshot", b"{ }", &signature),
            "another payload"
        );
        assert!(!public.verifies("snapshot", b"{}", "not base64!"));
        assert!(PublicKey::from_text("AAAA").is_err());
        // The identity point: a small-order key any signature would pass for.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = PublicKey::from_text(&BASE64.encode(identity)).unwrap_err();
        assert!(weak.to_string().contains("weak"), "{weak}");
        assert!(SecretKey::from_text(&public.to_text()).is_err());
    }
}
