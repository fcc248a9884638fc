//! `peergraph secret new FILE`: a graph secret no one can guess.
//!
//! A graph secret is the password of the membership exchange. Nothing captured from a handshake
//! tests a guess offline, but every attempt to connect to a member tests one: a short password,
//! or any secret a person picks, falls to enough attempts; 256 random bits do not.

use std::io::Write;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};

use crate::exit::{ErrorClass, Failure};
use crate::node::hex;

/// Bytes of randomness in a new secret.
const SECRET_BYTES: usize = 32;

/// Writes a new random secret, as hex digits and a newline, to `file`, which must not exist yet;
/// on Unix the file is readable by its owner only.
pub(crate) fn new(file: &Path) -> Result<(), Failure> {
    let mut secret = [0u8; SECRET_BYTES];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| Failure::other("the system's random number generator failed"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(file).and_then(|mut out| {
        out.write_all(format!("{}\n", hex(&secret)).as_bytes())?;
        out.sync_all()
    });
    written.map_err(|error| {
        Failure::new(
            ErrorClass::File,
            format!("cannot create secret file {}: {error}", file.display()),
        )
    })?;
    println!(
        "wrote a new graph secret to {} (256 random bits); pass it to every member with --secret-file",
        file.display()
    );
    Ok(())
}
