//! Certificate verifiers for a network without certificate authorities.
//!
//! Any self-signed certificate is acceptable because a node's identity is its public key: the
//! handshake signature proves the peer holds that key, and the caller compares the resulting
//! identity with the one it expects. The certificate's own self-signature is not checked
//! because it proves nothing the handshake signature does not.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use crate::certificate::check_certificate;

/// The checks both verifiers share: the handshake is signed by the certificate's key, with an
/// algorithm of the provider.
macro_rules! handshake_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// Accepts a server's self-signed certificate if it parses and is within its validity period.
#[derive(Debug)]
pub struct SelfSignedServerVerifier {
    provider: Arc<CryptoProvider>,
}

impl SelfSignedServerVerifier {
    /// Checks handshake signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl ServerCertVerifier for SelfSignedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        check_certificate(end_entity, now)?;
        Ok(ServerCertVerified::assertion())
    }

    handshake_signature_checks!();
}

/// Requires a client certificate and accepts it if it is self-signed-acceptable in the same
/// sense as [`SelfSignedServerVerifier`].
#[derive(Debug)]
pub struct SelfSignedClientVerifier {
    provider: Arc<CryptoProvider>,
}

impl SelfSignedClientVerifier {
    /// Checks handshake signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl ClientCertVerifier for SelfSignedClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        check_certificate(end_entity, now)?;
        Ok(ClientCertVerified::assertion())
    }

    handshake_signature_checks!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256, date_time_ymd};

    fn certificate(not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> CertificateDer<'static> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key generation");
        let mut params = CertificateParams::new(vec!["peergraph".to_owned()]).expect("valid name");
        params.not_before = date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = date_time_ymd(not_after.0, not_after.1, not_after.2);
        params
            .self_signed(&key)
            .expect("self-signing")
            .der()
            .clone()
    }

    fn verifier() -> SelfSignedServerVerifier {
        SelfSignedServerVerifier::new(crate::crypto_provider())
    }

    fn verify(cert: &CertificateDer<'_>) -> Result<ServerCertVerified, Error> {
        let name = ServerName::try_from("peergraph").expect("valid DNS name");
        verifier().verify_server_cert(cert, &[], &name, &[], UnixTime::now())
    }

    #[test]
    fn expired_certificate_is_rejected() {
        let cert = certificate((2000, 1, 1), (2001, 1, 1));
        assert!(matches!(
            verify(&cert),
            Err(Error::InvalidCertificate(rustls::CertificateError::Expired))
        ));
    }

    #[test]
    fn not_yet_valid_certificate_is_rejected() {
        let cert = certificate((4000, 1, 1), (4001, 1, 1));
        assert!(matches!(
            verify(&cert),
            Err(Error::InvalidCertificate(
                rustls::CertificateError::NotValidYet
            ))
        ));
    }

    #[test]
    fn current_self_signed_certificate_is_accepted() {
        assert!(verify(&certificate((2000, 1, 1), (4000, 1, 1))).is_ok());
    }

    #[test]
    fn garbage_certificate_is_bad_encoding() {
        let cert = CertificateDer::from(vec![0x30, 0x03, 0x01, 0x02]);
        assert!(matches!(
            verify(&cert),
            Err(Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding
            ))
        ));
    }
}
