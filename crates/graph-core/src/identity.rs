//! A node's cryptographic identity as the core sees it: 32 opaque bytes.

use std::fmt;
use std::str::FromStr;

/// The verified identity of a node: the SHA-256 digest of its certificate's
/// SubjectPublicKeyInfo, as reported by the transport after the TLS handshake.
///
/// Its text form is 64 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerIdentity([u8; 32]);

impl PeerIdentity {
    /// Wraps a SHA-256 digest of a SubjectPublicKeyInfo.
    pub const fn from_spki_sha256(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerIdentity({self})")
    }
}

/// The text was not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an identity is 64 hexadecimal digits")]
pub struct ParseIdentityError;

impl FromStr for PeerIdentity {
    type Err = ParseIdentityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.as_bytes();
        if text.len() != 64 {
            return Err(ParseIdentityError);
        }
        let mut digest = [0u8; 32];
        for (byte, pair) in digest.iter_mut().zip(text.chunks_exact(2)) {
            let high = hex_value(pair[0]).ok_or(ParseIdentityError)?;
            let low = hex_value(pair[1]).ok_or(ParseIdentityError)?;
            *byte = high << 4 | low;
        }
        Ok(Self(digest))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_text_form_round_trips() {
        let identity = PeerIdentity::from_spki_sha256([0xab; 32]);
        let text = identity.to_string();
        assert_eq!(text, "ab".repeat(32));
        assert_eq!(text.parse::<PeerIdentity>(), Ok(identity));
    }

    #[test]
    fn identity_rejects_wrong_length_and_non_hex() {
        assert_eq!("ab".parse::<PeerIdentity>(), Err(ParseIdentityError));
        assert_eq!(
            "zz".repeat(32).parse::<PeerIdentity>(),
            Err(ParseIdentityError)
        );
    }
}
