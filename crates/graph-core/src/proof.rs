//! The graph membership proof: HMAC-SHA256 keyed with the graph secret over the link's TLS
//! exporter value. A graph without a secret uses the empty key, so every Hello carries a proof of
//! the same shape.

use ring::hmac;

/// Length of a proof, in bytes.
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

/// Computes or checks proofs for one graph.
pub(crate) struct MembershipKey(hmac::Key);

impl MembershipKey {
    pub(crate) fn new(secret: Option<&[u8]>) -> Self {
        Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            secret.unwrap_or_default(),
        ))
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

    pub(crate) fn prove(&self, role: Role, graph_id: &str, exporter: &[u8; 32]) -> [u8; PROOF_LEN] {
        let tag = hmac::sign(&self.0, &Self::message(role, graph_id, exporter));
        let mut proof = [0u8; PROOF_LEN];
        proof.copy_from_slice(tag.as_ref());
        proof
    }

    /// Constant-time check.
    pub(crate) fn verify(
        &self,
        role: Role,
        graph_id: &str,
        exporter: &[u8; 32],
        proof: &[u8],
    ) -> bool {
        hmac::verify(&self.0, &Self::message(role, graph_id, exporter), proof).is_ok()
    }
}
