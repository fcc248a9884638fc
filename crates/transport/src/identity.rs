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
    /// The key file can be read by other users (its mode allows group or world access), so the
    /// key may be known to others: it is refused, as ssh refuses such a key. `chmod 600` it, or
    /// remove it to have a new identity made.
    #[error(
        "identity key file {path} can be read by other users (mode {mode:o}); run `chmod 600` on it"
    )]
    Exposed {
        /// The file involved.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key could not be generated or the certificate could not be issued.
    #[error("cannot issue a certificate")]
    Certificate(#[source] rcgen::Error),
}

impl Identity {
    /// The private key, PKCS#8 DER (ECDSA P-256): what signs this node's records.
    pub fn key_pkcs8(&self) -> &[u8] {
        &self.inner.key_pkcs8
    }

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
                check_private(&path).map_err(|error| match error {
                    Exposure::Io(source) => IdentityError::Io {
                        path: path.clone(),
                        source,
                    },
                    Exposure::Mode(mode) => IdentityError::Exposed {
                        path: path.clone(),
                        mode,
                    },
                })?;
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
/// Why a key file is not private.
enum Exposure {
    Io(io::Error),
    /// Its permission bits, which allow group or world access.
    Mode(u32),
}

/// Whether `path` is readable by its owner only (always, where there are no Unix modes).
fn check_private(path: &Path) -> Result<(), Exposure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(Exposure::Io)?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(Exposure::Mode(mode));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes a new private file (mode 0600): to a temporary file made new (a stale one is removed
/// first, a link in its place included, never followed), then linked to `path`, which fails if
/// `path` appeared meanwhile, so an existing key is never replaced.
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("tmp");
    match fs::remove_file(&temporary) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::hard_link(&temporary, path));
    let removed = fs::remove_file(&temporary);
    written.and(removed)
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

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused_naming_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let first = Identity::load_or_generate(dir.path()).expect("fresh identity");
        let path = dir.path().join(KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        match Identity::load_or_generate(dir.path()) {
            Err(error @ IdentityError::Exposed { mode: 0o644, .. }) => {
                assert!(error.to_string().contains(&path.display().to_string()));
            }
            other => panic!(
                "expected Exposed, got {:?}",
                other.map(|id| id.peer_identity())
            ),
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let again = Identity::load_or_generate(dir.path()).expect("private again");
        assert_eq!(
            again.peer_identity(),
            first.peer_identity(),
            "the key was kept"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_new_key_never_follows_a_link_left_in_the_temporary_files_place() {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, b"untouched").expect("write");
        let temporary = dir.path().join(KEY_FILE).with_extension("tmp");
        std::os::unix::fs::symlink(&elsewhere, &temporary).expect("symlink");
        Identity::load_or_generate(dir.path()).expect("fresh identity");
        assert_eq!(fs::read(&elsewhere).expect("read"), b"untouched");
        assert!(!temporary.exists(), "no temporary file left");
    }

    #[test]
    fn corrupt_key_file_is_a_named_error() {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let path = dir.path().join(KEY_FILE);
        fs::write(&path, "not a key").expect("write");
        #[cfg(unix)]
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        assert!(matches!(
            Identity::load_or_generate(dir.path()),
            Err(IdentityError::InvalidKey { .. })
        ));
    }
}
