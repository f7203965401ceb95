//! A signed document: its payload as the exact text that was signed, and the signatures.
//!
//! Signing the text itself, not a re-serialisation of parsed JSON, spares the index a
//! canonical JSON form: any tool, in any language, verifies the bytes it reads.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::RegistryError;
use crate::keys::{KeyId, PublicKey, SecretKey};

/// The most signatures a document may carry.
const MAX_SIGNATURES: usize = 64;

/// One key's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySignature {
    /// The key.
    pub keyid: KeyId,
    /// Its ed25519 signature, base64.
    pub sig: String,
}

/// A signed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The document, as the JSON text that was signed.
    pub signed: String,
    /// Who signed it.
    pub signatures: Vec<KeySignature>,
}

/// Which keys may sign a document, and how many of them must.
#[derive(Debug, Clone, Copy)]
pub struct Signers<'a> {
    /// Every key the index knows, by id.
    pub keys: &'a BTreeMap<KeyId, PublicKey>,
    /// The ones that may sign this document.
    pub allowed: &'a [KeyId],
    /// How many distinct allowed keys must.
    pub threshold: u32,
}

impl Envelope {
    /// `document` serialised and signed, as a `kind` document, by each of `keys`.
    pub fn sign<T: Serialize>(
        kind: &str,
        document: &T,
        keys: &[&SecretKey],
    ) -> Result<Self, RegistryError> {
        let signed = serde_json::to_string(document)
            .map_err(|e| RegistryError::corrupt(kind, e.to_string()))?;
        Ok(Self::sign_text(kind, signed, keys))
    }

    /// `signed`, the JSON text of a document, signed as it is, as a `kind` document, by
    /// each of `keys`: for tools that write the text themselves.
    pub fn sign_text(kind: &str, signed: String, keys: &[&SecretKey]) -> Self {
        let signatures = keys
            .iter()
            .map(|key| KeySignature {
                keyid: key.public().id(),
                sig: key.sign(kind, signed.as_bytes()),
            })
            .collect();
        Self { signed, signatures }
    }

    /// Reads an envelope from a file's bytes.
    pub fn parse(kind: &str, bytes: &[u8]) -> Result<Self, RegistryError> {
        serde_json::from_slice(bytes).map_err(|e| RegistryError::corrupt(kind, e.to_string()))
    }

    /// The document, if at least `signers.threshold` distinct allowed keys signed it as a
    /// `kind` document; the error names the keys that signed it but are not trusted.
    pub fn verify<T: DeserializeOwned>(
        &self,
        kind: &str,
        signers: Signers<'_>,
    ) -> Result<T, RegistryError> {
        // A document needs a few signatures; thousands are an attempt to make a host
        // verify without end.
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(RegistryError::Signature {
                document: kind.to_owned(),
                reason: format!(
                    "{} signatures, more than {MAX_SIGNATURES}",
                    self.signatures.len()
                ),
            });
        }
        let mut valid = BTreeSet::new();
        let mut unknown = BTreeSet::new();
        for signature in &self.signatures {
            if valid.contains(&signature.keyid) {
                continue;
            }
            let trusted = signers
                .allowed
                .contains(&signature.keyid)
                .then(|| signers.keys.get(&signature.keyid))
                .flatten();
            match trusted {
                Some(key) if key.verifies(kind, self.signed.as_bytes(), &signature.sig) => {
                    valid.insert(&signature.keyid);
                }
                Some(_) => {}
                // Unauthenticated text: shown only if it has a key id's form.
                None if signature.keyid.is_well_formed() => {
                    unknown.insert(signature.keyid.to_string());
                }
                None => {
                    unknown.insert("(a malformed key id)".to_owned());
                }
            }
        }
        // A threshold of 0 would trust anything: no index may ask for it.
        let needed = signers.threshold.max(1) as usize;
        if valid.len() < needed {
            let mut reason = format!(
                "{} valid signature(s) of trusted keys, {needed} needed",
                valid.len()
            );
            if !unknown.is_empty() {
                reason.push_str(&format!(
                    "; signed by keys it does not trust: {}",
                    unknown.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            return Err(RegistryError::Signature {
                document: kind.to_owned(),
                reason,
            });
        }
        serde_json::from_str(&self.signed).map_err(|e| RegistryError::corrupt(kind, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn one_key_counts_once_and_floods_of_signatures_are_refused() {
        let (a, b) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        let keys = BTreeMap::from([(a.public().id(), a.public()), (b.public().id(), b.public())]);
        let allowed = [a.public().id(), b.public().id()];
        let signers = Signers {
            keys: &keys,
            allowed: &allowed,
            threshold: 2,
        };
        let twice = Envelope::sign("snapshot", &1u8, &[&a, &a]).unwrap();
        assert!(twice.verify::<u8>("snapshot", signers).is_err());
        let both = Envelope::sign("snapshot", &1u8, &[&a, &b]).unwrap();
        assert_eq!(both.verify::<u8>("snapshot", signers).unwrap(), 1);
        let flood = Envelope::sign("snapshot", &1u8, &vec![&a; MAX_SIGNATURES + 1]).unwrap();
        let refused = flood.verify::<u8>("snapshot", signers).unwrap_err();
        assert!(refused.to_string().contains("more than"), "{refused}");
    }
}
