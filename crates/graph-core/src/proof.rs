//! The graph membership proof: HMAC-SHA256 keyed with the graph secret over the link's TLS
//! exporter value. A graph without a secret sends and expects an empty proof, so an open graph
//! costs no cryptography in the core and a secret on only one side fails on both.

use ring::hmac;

/// Length of a proof made with a secret, in bytes.
pub(crate) const PROOF_LEN: usize = 32;

/// Which side computes the proof; each side's proof differs so neither can be reflected.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    Initiator,
    Target,
}

impl Role {
    fn label(self) -> &'static [u8] {
        match self {
            Role::Initiator => b"peergraph/1 initiator",
            Role::Target => b"peergraph/1 target",
        }
    }
}

/// A proof to send, held without an allocation: empty for a graph without a secret.
pub(crate) struct Proof(Option<hmac::Tag>);

impl AsRef<[u8]> for Proof {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |tag| tag.as_ref())
    }
}

/// Computes or checks proofs for one graph.
pub(crate) struct MembershipKey(Option<hmac::Key>);

impl MembershipKey {
    pub(crate) fn new(secret: Option<&[u8]>) -> Self {
        Self(secret.map(|secret| hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    fn message(role: Role, graph_id: &str, exporter: &[u8; 32]) -> Vec<u8> {
        let mut message = Vec::with_capacity(64 + graph_id.len());
        message.extend_from_slice(role.label());
        message.push(0);
        message.extend_from_slice(graph_id.as_bytes());
        message.push(0);
        message.extend_from_slice(exporter);
        message
    }

    /// The proof to send: empty without a secret, else 32 bytes.
    pub(crate) fn prove(&self, role: Role, graph_id: &str, exporter: &[u8; 32]) -> Proof {
        Proof(
            self.0
                .as_ref()
                .map(|key| hmac::sign(key, &Self::message(role, graph_id, exporter))),
        )
    }

    /// Whether `proof` is what the other side must send; constant-time when a secret is set.
    pub(crate) fn verify(
        &self,
        role: Role,
        graph_id: &str,
        exporter: &[u8; 32],
        proof: &[u8],
    ) -> bool {
        match &self.0 {
            None => proof.is_empty(),
            Some(key) => {
                proof.len() == PROOF_LEN
                    && hmac::verify(key, &Self::message(role, graph_id, exporter), proof).is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // PROTOCOL.md's test vector is checked through the node, on both sides of the handshake,
    // in tests/proof_and_hello.rs.

    /// The exporter of the published test vector: bytes 0x00 to 0x1f.
    fn exporter() -> [u8; 32] {
        std::array::from_fn(|index| index as u8)
    }

    #[test]
    fn the_message_is_label_graph_id_and_exporter_separated_by_zeros() {
        let message = MembershipKey::message(Role::Initiator, "chat", &exporter());
        let mut expected = b"peergraph/1 initiator\0chat\0".to_vec();
        expected.extend_from_slice(&exporter());
        assert_eq!(message, expected);
        let message = MembershipKey::message(Role::Target, "g", &[9; 32]);
        let mut expected = b"peergraph/1 target\0g\0".to_vec();
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(message, expected);
    }

    #[test]
    fn a_proof_verifies_only_for_its_role_graph_exporter_and_secret() {
        let key = MembershipKey::new(Some(b"s3cret"));
        let proof = key.prove(Role::Initiator, "chat", &exporter());
        let proof = proof.as_ref();
        assert_eq!(proof.len(), PROOF_LEN);
        assert!(key.verify(Role::Initiator, "chat", &exporter(), proof));
        assert!(
            !key.verify(Role::Target, "chat", &exporter(), proof),
            "reflected"
        );
        assert!(
            !key.verify(Role::Initiator, "chat2", &exporter(), proof),
            "another graph"
        );
        assert!(
            !key.verify(Role::Initiator, "chat", &[0; 32], proof),
            "another link"
        );
        let other = MembershipKey::new(Some(b"guess"));
        assert!(!other.verify(Role::Initiator, "chat", &exporter(), proof));
        assert!(!key.verify(Role::Initiator, "chat", &exporter(), &proof[..31]));
        let mut longer = proof.to_vec();
        longer.push(0);
        assert!(!key.verify(Role::Initiator, "chat", &exporter(), &longer));
        assert!(!key.verify(Role::Initiator, "chat", &exporter(), &[]));
    }

    #[test]
    fn without_a_secret_the_proof_is_empty_and_only_an_empty_one_verifies() {
        let key = MembershipKey::new(None);
        assert!(
            key.prove(Role::Initiator, "chat", &exporter())
                .as_ref()
                .is_empty()
        );
        assert!(
            key.prove(Role::Target, "chat", &exporter())
                .as_ref()
                .is_empty()
        );
        assert!(key.verify(Role::Initiator, "chat", &exporter(), &[]));
        let proof = MembershipKey::new(Some(b"s3cret")).prove(Role::Initiator, "chat", &exporter());
        assert!(!key.verify(Role::Initiator, "chat", &exporter(), proof.as_ref()));
    }
}
