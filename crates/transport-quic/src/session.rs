//! What a finished QUIC handshake tells us about the peer.

use peergraph_transport::{
    AuthError, EXPORTER_LABEL, EXPORTER_LEN, LinkInfo, check_alpn, identity_of_certificate,
};
use quinn::crypto::rustls::HandshakeData;
use rustls::pki_types::CertificateDer;

/// Application close code sent when the peer is not the one we pinned or not a peergraph node.
pub(crate) const NOT_AUTHENTICATED: quinn::VarInt = quinn::VarInt::from_u32(1);

/// Application close code sent to a peer whose connection opened no stream in time.
pub(crate) const NO_STREAM: quinn::VarInt = quinn::VarInt::from_u32(2);

/// Identity and exporter value of an established connection, shared by all its links.
pub(crate) fn link_info(connection: &quinn::Connection) -> Result<LinkInfo, AuthError> {
    let alpn = connection
        .handshake_data()
        .and_then(|data| data.downcast::<HandshakeData>().ok())
        .and_then(|data| data.protocol);
    check_alpn(alpn.as_deref())?;
    let chain = connection
        .peer_identity()
        .and_then(|identity| identity.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or(AuthError::MissingCertificate)?;
    let certificate = chain.first().ok_or(AuthError::MissingCertificate)?;
    let remote_identity =
        identity_of_certificate(certificate).map_err(|error| AuthError::Tls(Box::new(error)))?;
    let mut exporter = [0u8; EXPORTER_LEN];
    connection
        .export_keying_material(&mut exporter, EXPORTER_LABEL, &[])
        .map_err(|_| AuthError::Tls("TLS exporter unavailable".into()))?;
    Ok(LinkInfo {
        remote_addr: connection.remote_address(),
        remote_identity,
        exporter,
    })
}
