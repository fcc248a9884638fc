//! quinn's connection errors mapped onto the named dial and accept errors.

use peergraph_transport::{AcceptError, AuthError, DialError};
use quinn::ConnectionError;

/// QUIC carries TLS alerts as transport error codes 0x100 to 0x1ff (RFC 9001 section 4.8).
fn is_tls_failure(error: &ConnectionError) -> bool {
    let code = match error {
        ConnectionError::TransportError(error) => error.code,
        ConnectionError::ConnectionClosed(close) => close.error_code,
        _ => return false,
    };
    (0x100..0x200).contains(&u64::from(code))
}

pub(crate) fn dial_error(error: ConnectionError) -> DialError {
    match error {
        ConnectionError::TimedOut => DialError::TimedOut,
        ConnectionError::LocallyClosed => DialError::TransportClosed,
        error if is_tls_failure(&error) => AuthError::Tls(Box::new(error)).into(),
        error => DialError::ConnectionLost(Box::new(error)),
    }
}

pub(crate) fn accept_error(error: ConnectionError) -> AcceptError {
    match error {
        ConnectionError::TimedOut => AcceptError::TimedOut,
        error if is_tls_failure(&error) => AuthError::Tls(Box::new(error)).into(),
        error => AcceptError::ConnectionLost(Box::new(error)),
    }
}

pub(crate) fn connect_error(error: quinn::ConnectError) -> DialError {
    match error {
        quinn::ConnectError::EndpointStopping => DialError::TransportClosed,
        quinn::ConnectError::InvalidRemoteAddress(_) => {
            DialError::Unreachable(std::io::Error::new(std::io::ErrorKind::InvalidInput, error))
        }
        error => DialError::ConnectionLost(Box::new(error)),
    }
}
