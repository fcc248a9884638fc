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
