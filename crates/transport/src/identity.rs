//! A node's key pair and self-signed certificate, ephemeral or kept in a directory.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use peergraph_core::PeerIdentity;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::SERVER_NAME;

/// File holding the private key inside an identity directory.
const KEY_FILE: &str = "node.key.pem";

/// A node's ECDSA P-256 key pair and a self-signed certificate for it.
///
/// The identity is the key, not the certificate: the certificate is re-issued at every load,
/// and [`Identity::peer_identity`] stays the same as long as the key does. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

struct Inner {
    key_pkcs8: Vec<u8>,
    certificate: CertificateDer<'static>,
    peer_identity: PeerIdentity,
}

/// Why an identity could not be created or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Reading or writing the key file failed.
    #[error("cannot access identity file {path}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// The key file does not hold a usable PKCS#8 PEM key.
    #[error("identity key file {path} is not a PKCS#8 PEM key")]
    InvalidKey {
        /// The file involved.
        path: PathBuf,
        /// The parser's complaint.
        #[source]
        source: rcgen::Error,
    },
    /// The key could not be generated or the certificate could not be issued.
    #[error("cannot issue a certificate")]
    Certificate(#[source] rcgen::Error),
}

impl Identity {
    /// A fresh identity that lives only in memory.
    pub fn generate() -> Result<Self, IdentityError> {
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(IdentityError::Certificate)?;
        Self::from_key(&key)
    }

    /// The identity kept in `dir`, created there (key file mode 0600) if absent.
    pub fn load_or_generate(dir: impl AsRef<Path>) -> Result<Self, IdentityError> {
        let dir = dir.as_ref();
        let path = dir.join(KEY_FILE);
        let io_error = |source| IdentityError::Io {
            path: path.clone(),
            source,
        };
        match fs::read_to_string(&path) {
            Ok(pem) => {
                let key = KeyPair::from_pem(&pem).map_err(|source| IdentityError::InvalidKey {
                    path: path.clone(),
                    source,
                })?;
                Self::from_key(&key)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir).map_err(io_error)?;
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
                    .map_err(IdentityError::Certificate)?;
                write_private(&path, key.serialize_pem().as_bytes()).map_err(io_error)?;
                Self::from_key(&key)
            }
            Err(error) => Err(io_error(error)),
        }
    }

    fn from_key(key: &KeyPair) -> Result<Self, IdentityError> {
        let mut params = CertificateParams::new(vec![SERVER_NAME.to_owned()])
            .map_err(IdentityError::Certificate)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "peergraph node");
        params.distinguished_name = name;
        let certificate = params
            .self_signed(key)
            .map_err(IdentityError::Certificate)?;
        let certificate = certificate.der().clone();
        // rcgen just produced this DER, so failing to parse it back is a bug in rcgen.
        let peer_identity = crate::identity_of_certificate(&certificate)
            .expect("rcgen emits a parseable certificate");
        Ok(Self {
            inner: Arc::new(Inner {
                key_pkcs8: key.serialize_der(),
                certificate,
                peer_identity,
            }),
        })
    }

    /// The identity peers will verify for this node.
    pub fn peer_identity(&self) -> PeerIdentity {
        self.inner.peer_identity
    }

    /// The self-signed certificate presented in handshakes.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.inner.certificate
    }

    /// The private key, PKCS#8 DER.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.inner.key_pkcs8.clone()))
    }
}

impl std::fmt::Debug for Identity {
    // The key must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("peer_identity", &self.inner.peer_identity)
            .finish()
    }
}

/// Writes through a temporary file created with mode 0600, so the key is never readable by
/// others, not even for an instant, and a crash never leaves half a key behind.
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_from_directory_keeps_the_identity() {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let first = Identity::load_or_generate(dir.path()).expect("fresh identity");
        let second = Identity::load_or_generate(dir.path()).expect("reloaded identity");
        assert_eq!(first.peer_identity(), second.peer_identity());
        assert_ne!(
            first.peer_identity(),
            Identity::generate().expect("ephemeral").peer_identity()
        );
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_readable_by_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        Identity::load_or_generate(dir.path()).expect("fresh identity");
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .expect("key file exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_key_file_is_a_named_error() {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        fs::write(dir.path().join(KEY_FILE), "not a key").expect("write");
        assert!(matches!(
            Identity::load_or_generate(dir.path()),
            Err(IdentityError::InvalidKey { .. })
        ));
    }
}
