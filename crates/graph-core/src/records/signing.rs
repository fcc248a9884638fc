//! Who wrote a record: the author's P-256 key signs it, the key's identity (the SHA-256 of its
//! SubjectPublicKeyInfo, as for a transport identity) is the author, and the record id is bound
//! to that identity (docs/PROTOCOL.md section 4, "Records").

use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

use super::RecordId;
use crate::identity::PeerIdentity;

/// The DER of a P-256 SubjectPublicKeyInfo up to its 65-byte uncompressed point.
const SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The length of an uncompressed P-256 point.
pub(crate) const AUTHOR_KEY_LEN: usize = 65;

/// The length of a signature (r and s, 32 bytes each).
pub(crate) const SIGNATURE_LEN: usize = 64;

const SIGNATURE_CONTEXT: &[u8] = b"peergraph/1 record";
const ID_CONTEXT: &[u8] = b"peergraph/1 record id";

/// The key was not a PKCS#8 P-256 key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the signing key is not a PKCS#8 ECDSA P-256 key")]
pub struct SigningKeyError;

/// This node's identity key, which signs the records it writes.
pub(crate) struct Signer {
    key: EcdsaKeyPair,
    random: SystemRandom,
    identity: PeerIdentity,
}

impl Signer {
    pub(crate) fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, SigningKeyError> {
        let random = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &random)
            .map_err(|_| SigningKeyError)?;
        let identity = identity_of(key.public_key().as_ref());
        Ok(Self {
            key,
            random,
            identity,
        })
    }

    pub(crate) fn identity(&self) -> PeerIdentity {
        self.identity
    }

    pub(crate) fn author_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// Signs an encoded `Record` for `graph_id`.
    pub(crate) fn sign(&self, graph_id: &str, record: &[u8]) -> Vec<u8> {
        self.key
            .sign(&self.random, &message(graph_id, record))
            .expect("signing with a valid P-256 key does not fail")
            .as_ref()
            .to_vec()
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.identity)
    }
}

/// Whether `signature` is `author_key`'s over `record` for `graph_id`.
pub(crate) fn verify(graph_id: &str, author_key: &[u8], record: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, author_key)
        .verify(&message(graph_id, record), signature)
        .is_ok()
}

fn message(graph_id: &str, record: &[u8]) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(SIGNATURE_CONTEXT.len() + graph_id.len() + record.len() + 2);
    message.extend_from_slice(SIGNATURE_CONTEXT);
    message.push(0);
    message.extend_from_slice(graph_id.as_bytes());
    message.push(0);
    message.extend_from_slice(record);
    message
}

/// The identity of the holder of an uncompressed P-256 public key.
pub(crate) fn identity_of(author_key: &[u8]) -> PeerIdentity {
    let mut spki = Vec::with_capacity(SPKI_PREFIX.len() + author_key.len());
    spki.extend_from_slice(&SPKI_PREFIX);
    spki.extend_from_slice(author_key);
    let hash = digest(&SHA256, &spki);
    PeerIdentity::from_spki_sha256(hash.as_ref().try_into().expect("SHA-256 is 32 bytes"))
}

/// The id of the record `author` made with `nonce`.
pub(crate) fn record_id(author: &PeerIdentity, nonce: u64) -> RecordId {
    let mut input = Vec::with_capacity(ID_CONTEXT.len() + 1 + 32 + 8);
    input.extend_from_slice(ID_CONTEXT);
    input.push(0);
    input.extend_from_slice(author.as_bytes());
    input.extend_from_slice(&nonce.to_be_bytes());
    let hash = digest(&SHA256, &input);
    RecordId(hash.as_ref()[..16].try_into().expect("16 of 32 bytes"))
}

/// The first 16 bytes of the SHA-256 of `bytes`.
pub(crate) fn digest16(bytes: &[u8]) -> [u8; 16] {
    digest(&SHA256, bytes).as_ref()[..16]
        .try_into()
        .expect("16 of 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Vec<u8> {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn a_signature_holds_for_its_graph_and_bytes_only() {
        let signer = Signer::from_pkcs8(&key()).unwrap();
        let signature = signer.sign("graph", b"record");
        assert_eq!(signature.len(), SIGNATURE_LEN);
        assert_eq!(signer.author_key().len(), AUTHOR_KEY_LEN);
        assert!(verify("graph", signer.author_key(), b"record", &signature));
        assert!(!verify("other", signer.author_key(), b"record", &signature));
        assert!(!verify("graph", signer.author_key(), b"recorD", &signature));
        let stranger = Signer::from_pkcs8(&key()).unwrap();
        assert!(!verify(
            "graph",
            stranger.author_key(),
            b"record",
            &signature
        ));
    }

    #[test]
    fn record_ids_differ_by_author_and_nonce() {
        let a = Signer::from_pkcs8(&key()).unwrap().identity();
        let b = Signer::from_pkcs8(&key()).unwrap().identity();
        assert_ne!(record_id(&a, 1), record_id(&b, 1));
        assert_ne!(record_id(&a, 1), record_id(&a, 2));
        assert_eq!(record_id(&a, 1), record_id(&a, 1));
    }

    #[test]
    fn a_key_that_is_not_pkcs8_p256_is_refused() {
        assert_eq!(
            Signer::from_pkcs8(b"nonsense").unwrap_err(),
            SigningKeyError
        );
    }
}
