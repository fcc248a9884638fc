//! The text form of where a peer is: `peer@host:port#identity`.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use peergraph_core::{PeerAddress, PeerIdentity};

/// A peer id, the address to reach it at, and optionally the identity it must prove.
///
/// Text form: `PEER@HOST:PORT` or `PEER@HOST:PORT#IDENTITY`, where `HOST` is an IP address
/// (IPv6 in brackets) or a name that resolves locally (such as `localhost`) and `IDENTITY` is 64
/// hexadecimal digits. Example: `bob@127.0.0.1:4040#3f2a…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLocator {
    /// The peer id to ask for at the address.
    pub peer_id: String,
    /// Where, and optionally who.
    pub address: PeerAddress,
}

/// Why a locator did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocatorError {
    /// There is no `@` separating the peer id from the address.
    #[error("expected PEER@HOST:PORT[#IDENTITY]: missing `@`")]
    MissingPeerId,
    /// The part after `@` is not `HOST:PORT`, or the host does not resolve.
    #[error("`{0}` is not HOST:PORT with a resolvable host")]
    BadAddress(String),
    /// The part after `#` is not 64 hexadecimal digits.
    #[error("the identity after `#` must be 64 hexadecimal digits")]
    BadIdentity,
}

impl FromStr for PeerLocator {
    type Err = LocatorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (peer_id, rest) = text.split_once('@').ok_or(LocatorError::MissingPeerId)?;
        if peer_id.is_empty() {
            return Err(LocatorError::MissingPeerId);
        }
        let (host_port, identity) = match rest.split_once('#') {
            Some((host_port, identity)) => (
                host_port,
                Some(
                    identity
                        .parse::<PeerIdentity>()
                        .map_err(|_| LocatorError::BadIdentity)?,
                ),
            ),
            None => (rest, None),
        };
        let socket = resolve(host_port)?;
        Ok(Self {
            peer_id: peer_id.to_owned(),
            address: PeerAddress { socket, identity },
        })
    }
}

fn resolve(host_port: &str) -> Result<SocketAddr, LocatorError> {
    if let Ok(socket) = host_port.parse() {
        return Ok(socket);
    }
    let bad = || LocatorError::BadAddress(host_port.to_owned());
    // Names go through the system resolver; only those it answers locally (hosts file) make
    // sense for a peer address here.
    host_port
        .to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

impl fmt::Display for PeerLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.peer_id, self.address.socket)?;
        if let Some(identity) = self.address.identity {
            write!(f, "#{identity}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locator_with_an_identity_round_trips_through_text() {
        let text = format!("bob@127.0.0.1:4040#{}", "ab".repeat(32));
        let locator: PeerLocator = text.parse().expect("valid");
        assert_eq!(locator.peer_id, "bob");
        assert_eq!(
            locator.address.socket,
            "127.0.0.1:4040".parse().expect("valid")
        );
        assert_eq!(locator.to_string(), text);
    }

    #[test]
    fn ipv6_and_names_resolve_and_the_identity_is_optional() {
        let v6: PeerLocator = "p@[::1]:9".parse().expect("valid");
        assert_eq!(v6.address.identity, None);
        assert!(v6.address.socket.is_ipv6());
        let named: PeerLocator = "p@localhost:9".parse().expect("localhost resolves");
        assert!(named.address.socket.ip().is_loopback());
    }

    #[test]
    fn malformed_locators_name_what_is_wrong() {
        assert_eq!(
            "127.0.0.1:1".parse::<PeerLocator>(),
            Err(LocatorError::MissingPeerId)
        );
        assert_eq!(
            "@127.0.0.1:1".parse::<PeerLocator>(),
            Err(LocatorError::MissingPeerId)
        );
        assert!(matches!(
            "p@nowhere".parse::<PeerLocator>(),
            Err(LocatorError::BadAddress(_))
        ));
        assert_eq!(
            "p@127.0.0.1:1#zz".parse::<PeerLocator>(),
            Err(LocatorError::BadIdentity)
        );
    }
}
