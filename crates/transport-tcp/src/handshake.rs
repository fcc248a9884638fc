//! Turning a finished TLS session into [`LinkInfo`], and TLS failures into named errors.

use std::io;
use std::net::SocketAddr;

use peergraph_transport::{
    AuthError, BoxError, EXPORTER_LABEL, EXPORTER_LEN, LinkInfo, check_alpn,
    identity_of_certificate,
};
use rustls::ConnectionCommon;

/// Reads the verified identity and the exporter value from a completed handshake.
pub(crate) fn link_info<Data>(
    remote_addr: SocketAddr,
    session: &ConnectionCommon<Data>,
) -> Result<LinkInfo, AuthError> {
    check_alpn(session.alpn_protocol())?;
    let certificate = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or(AuthError::MissingCertificate)?;
    let remote_identity =
        identity_of_certificate(certificate).map_err(|error| AuthError::Tls(Box::new(error)))?;
    let exporter = session
        .export_keying_material([0u8; EXPORTER_LEN], EXPORTER_LABEL, None)
        .map_err(|error| AuthError::Tls(Box::new(error)))?;
    Ok(LinkInfo {
        remote_addr,
        remote_identity,
        exporter,
    })
}

/// What went wrong during a TLS handshake over TCP.
pub(crate) enum Failure {
    /// rustls refused the peer or the peer sent an alert.
    Tls(AuthError),
    /// The TCP connection failed underneath.
    Lost(BoxError),
}

/// tokio-rustls reports TLS errors as `io::Error`s wrapping a `rustls::Error`.
pub(crate) fn classify(error: io::Error) -> Failure {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
    {
        // Checked just above that an inner rustls::Error is present.
        let inner = error.into_inner().expect("inner error present");
        return Failure::Tls(AuthError::Tls(inner));
    }
    Failure::Lost(Box::new(error))
}
