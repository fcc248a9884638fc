//! Reading a peer's identity out of its certificate.

use peergraph_core::PeerIdentity;
use ring::digest::{SHA256, digest};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::{CertificateError, Error};
use x509_parser::prelude::{ASN1Time, FromDer, X509Certificate};

/// The identity a certificate stands for: the SHA-256 of its SubjectPublicKeyInfo.
///
/// Fails with [`CertificateError::BadEncoding`] if the bytes are not one DER certificate.
/// This neither checks the validity period nor proves the peer holds the key; the verifiers
/// do both during the handshake.
pub fn identity_of_certificate(certificate: &CertificateDer<'_>) -> Result<PeerIdentity, Error> {
    let parsed = parse(certificate)?;
    Ok(spki_identity(&parsed))
}

/// Parses the certificate, checks that `now` lies inside its validity period and returns
/// its identity.
pub(crate) fn check_certificate(
    certificate: &CertificateDer<'_>,
    now: UnixTime,
) -> Result<PeerIdentity, Error> {
    let parsed = parse(certificate)?;
    let seconds = i64::try_from(now.as_secs()).map_err(|_| bad_encoding())?;
    let now = ASN1Time::from_timestamp(seconds).map_err(|_| bad_encoding())?;
    let validity = parsed.validity();
    if now < validity.not_before {
        return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    if now > validity.not_after {
        return Err(Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(spki_identity(&parsed))
}

fn parse<'a>(certificate: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, Error> {
    match X509Certificate::from_der(certificate.as_ref()) {
        // Trailing bytes would let two encodings map to one identity check; refuse them.
        Ok((&[], parsed)) => Ok(parsed),
        _ => Err(bad_encoding()),
    }
}

fn spki_identity(parsed: &X509Certificate<'_>) -> PeerIdentity {
    let hash = digest(&SHA256, parsed.tbs_certificate.subject_pki.raw);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(hash.as_ref());
    PeerIdentity::from_spki_sha256(bytes)
}

fn bad_encoding() -> Error {
    Error::InvalidCertificate(CertificateError::BadEncoding)
}
