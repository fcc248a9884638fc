//! rustls configurations: `ring` provider, TLS 1.3 only, ALPN `peergraph/1`, mutual auth.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ServerConfig};

use crate::verify::{SelfSignedClientVerifier, SelfSignedServerVerifier};
use crate::{AuthError, Identity};

/// The only application protocol spoken on a link.
pub const ALPN: &[u8] = b"peergraph/1";

/// The TLS exporter label whose output binds the graph membership exchange to the session.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-peergraph-membership";

/// Length of the exporter value in bytes.
pub const EXPORTER_LEN: usize = 32;

/// The server name a dialer sends. Verifiers ignore names; identity comes from the key.
pub const SERVER_NAME: &str = "peergraph";

/// The `ring` crypto provider every peergraph TLS configuration uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The dialing side's configuration: presents `identity` and accepts any valid self-signed
/// server certificate.
pub fn client_config(identity: &Identity) -> Result<ClientConfig, rustls::Error> {
    let provider = crypto_provider();
    let verifier = Arc::new(SelfSignedServerVerifier::new(provider.clone()));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.certificate().clone()], identity.private_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// The accepting side's configuration: presents `identity` and requires a valid self-signed
/// client certificate.
pub fn server_config(identity: &Identity) -> Result<ServerConfig, rustls::Error> {
    let provider = crypto_provider();
    let verifier = Arc::new(SelfSignedClientVerifier::new(provider.clone()));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.certificate().clone()], identity.private_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// Fails unless the handshake agreed on [`ALPN`]: a rustls server lets a client that offers
/// no ALPN at all through.
pub fn check_alpn(negotiated: Option<&[u8]>) -> Result<(), AuthError> {
    if negotiated == Some(ALPN) {
        Ok(())
    } else {
        Err(AuthError::AlpnMismatch)
    }
}
