//! Graph membership, proved without letting anyone test guesses of the secret offline: SPAKE2
//! (symmetric mode, Ed25519 group) over a key derived from the secret's exact bytes, bound to the
//! graph and to the link's TLS exporter, and confirmed by each side with an HMAC under the agreed
//! key (docs/PROTOCOL.md section 3, docs/design/0005).
//!
//! A share is `x·B + w·S` for a fresh random scalar `x`: whatever the secret, it is a uniformly
//! random point, so a captured share confirms no guess. Only a confirmation depends on the
//! secret, and a side sends its confirmation only after it has checked the other's (the target
//! proves first, the initiator second), so each handshake tests at most one guess, online.
//!
//! A graph without a secret sends empty shares and empty confirmations: an open graph costs no
//! cryptography, and a secret on only one side fails on both.

use ring::{hkdf, hmac};
use spake2::{Ed25519Group, Identity, Password, Spake2};

/// Length of a share made with a secret: a side byte (`S`) and a compressed Edwards point.
pub(crate) const SHARE_LEN: usize = 33;

/// Length of a confirmation made with a secret.
pub(crate) const CONFIRMATION_LEN: usize = 32;

/// The salt of the HKDF that turns a secret into SPAKE2's password.
const PASSWORD_SALT: &[u8] = b"peergraph/2 graph secret";

/// Which side confirms; each side's confirmation differs so neither can be reflected.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    Initiator,
    Target,
}

impl Role {
    fn label(self) -> &'static [u8] {
        match self {
            Role::Initiator => b"peergraph/2 initiator",
            Role::Target => b"peergraph/2 target",
        }
    }
}

/// A graph's secret as SPAKE2's password, or none for an open graph.
pub(crate) struct GraphKey(Option<Password>);

impl GraphKey {
    /// `HKDF-SHA256(salt = "peergraph/2 graph secret", ikm = secret)`, 32 bytes: every byte of
    /// the secret counts (no padding, no pre-hash of long secrets).
    pub(crate) fn new(secret: Option<&[u8]>) -> Self {
        Self(secret.map(|secret| {
            let mut password = [0; 32];
            hkdf::Salt::new(hkdf::HKDF_SHA256, PASSWORD_SALT)
                .extract(secret)
                .expand(&[], Length32)
                .and_then(|okm| okm.fill(&mut password))
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            Password::new(password)
        }))
    }

    /// Whether the graph has a secret (its shares are not empty).
    pub(crate) fn has_secret(&self) -> bool {
        self.0.is_some()
    }

    /// Starts this side's exchange on a link, with a fresh scalar from the system's generator.
    pub(crate) fn start(&self, graph_id: &str, exporter: &[u8; 32]) -> Exchange {
        self.start_with(graph_id, exporter, |password, identity| {
            Spake2::<Ed25519Group>::start_symmetric(password, identity)
        })
    }

    /// As [`start`](Self::start), with the scalar drawn from `rng`: for the published test
    /// vector only.
    #[cfg(test)]
    pub(crate) fn start_with_rng(
        &self,
        graph_id: &str,
        exporter: &[u8; 32],
        rng: impl rand_core::CryptoRng + rand_core::RngCore,
    ) -> Exchange {
        self.start_with(graph_id, exporter, |password, identity| {
            Spake2::<Ed25519Group>::start_symmetric_with_rng(password, identity, rng)
        })
    }

    fn start_with(
        &self,
        graph_id: &str,
        exporter: &[u8; 32],
        start: impl FnOnce(&Password, &Identity) -> (Spake2<Ed25519Group>, Vec<u8>),
    ) -> Exchange {
        match &self.0 {
            None => Exchange {
                spake: None,
                share: Vec::new(),
            },
            Some(password) => {
                let (spake, share) = start(password, &Identity::new(&identity(graph_id, exporter)));
                Exchange {
                    spake: Some(Box::new(spake)),
                    share,
                }
            }
        }
    }
}

/// SPAKE2's identity: `"peergraph/2" 0x00 graph_id 0x00 exporter`. A share made for one TLS
/// session is worthless in another, so a relay cannot splice two handshakes.
fn identity(graph_id: &str, exporter: &[u8; 32]) -> Vec<u8> {
    let mut identity = Vec::with_capacity(45 + graph_id.len());
    identity.extend_from_slice(b"peergraph/2\0");
    identity.extend_from_slice(graph_id.as_bytes());
    identity.push(0);
    identity.extend_from_slice(exporter);
    identity
}

/// One side's exchange on one link, from its share to the agreed key.
pub(crate) struct Exchange {
    /// SPAKE2's state (its scalar); boxed, as a link holds it only during its handshake.
    spake: Option<Box<Spake2<Ed25519Group>>>,
    share: Vec<u8>,
}

impl Exchange {
    /// The share to send: empty for an open graph, else [`SHARE_LEN`] bytes.
    pub(crate) fn share(&self) -> &[u8] {
        &self.share
    }

    /// Completes the exchange with the other side's share. `None` when the shares do not fit
    /// together: a share where the graph has no secret, none where it has one, or a share that
    /// is not a point of the group.
    pub(crate) fn finish(self, peer_share: &[u8]) -> Option<Confirmations> {
        match self.spake {
            None => peer_share.is_empty().then_some(Confirmations(None)),
            Some(spake) => {
                let key = spake.finish(peer_share).ok()?;
                Some(Confirmations(Some(hmac::Key::new(hmac::HMAC_SHA256, &key))))
            }
        }
    }
}

/// The agreed key of a finished exchange, which makes and checks confirmations. Both sides hold
/// the same key only if they used the same secret, graph and TLS session; a share that did not
/// come from such a side gives a key nobody else holds.
pub(crate) struct Confirmations(Option<hmac::Key>);

impl Confirmations {
    /// `HMAC-SHA256(key, label)` for `role`; empty for an open graph.
    pub(crate) fn confirmation(&self, role: Role) -> Confirmation {
        Confirmation(self.0.as_ref().map(|key| hmac::sign(key, role.label())))
    }

    /// Whether `received` is the confirmation of `role`; constant-time when a secret is set.
    pub(crate) fn verify(&self, role: Role, received: &[u8]) -> bool {
        match &self.0 {
            None => received.is_empty(),
            Some(key) => {
                received.len() == CONFIRMATION_LEN
                    && hmac::verify(key, role.label(), received).is_ok()
            }
        }
    }
}

/// A confirmation to send, held without an allocation: empty for an open graph.
pub(crate) struct Confirmation(Option<hmac::Tag>);

impl AsRef<[u8]> for Confirmation {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |tag| tag.as_ref())
    }
}

/// Where a link's membership exchange stands.
#[derive(Default)]
pub(crate) enum Membership {
    /// No exchange in progress: before the handshake and after it.
    #[default]
    Idle,
    /// The initiator's exchange, from its Hello to the target's Accept.
    Started(Exchange),
    /// The target's agreed key, from its Accept to the initiator's Confirm.
    Agreed(Box<Confirmations>),
}

/// ring's HKDF output length type for 32 bytes.
struct Length32;

impl hkdf::KeyType for Length32 {
    fn len(&self) -> usize {
        32
    }
}

#[cfg(test)]
mod tests;
