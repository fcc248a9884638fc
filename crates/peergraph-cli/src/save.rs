//! Receiving one file: written to a temporary name while it arrives, checked against the
//! sender's SHA-256 and size, then renamed into place.

use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};
use tokio::fs::File;
use tokio::io::AsyncWriteExt;

use crate::node::hex;
use crate::transfer::{Ack, finish, sanitize_file_name};

/// A file being received on one connection.
pub(crate) struct IncomingFile {
    name: String,
    part: PathBuf,
    target: PathBuf,
    /// `None` once the transfer failed; later chunks are then dropped and the end is refused.
    file: Option<File>,
    error: Option<String>,
    expected: u64,
    received: u64,
    hasher: Context,
    /// Whether an existing file of the same name may be replaced.
    overwrite: bool,
}

/// What the receiver accepts.
pub(crate) struct SavePolicy {
    /// Replace an existing file of the same name.
    pub(crate) overwrite: bool,
    /// The largest file accepted, in bytes.
    pub(crate) max_size: u64,
}

impl IncomingFile {
    /// Starts receiving `announced` (as the sender named it) into `dir`.
    pub(crate) async fn start(dir: &Path, announced: &str, size: u64, policy: &SavePolicy) -> Self {
        let name = sanitize_file_name(announced).map(str::to_owned);
        let (target, part) = match &name {
            Some(name) => (dir.join(name), dir.join(format!(".{name}.part"))),
            None => (PathBuf::new(), PathBuf::new()),
        };
        let mut incoming = Self {
            name: name.clone().unwrap_or_else(|| announced.to_owned()),
            part,
            target,
            file: None,
            error: None,
            expected: size,
            received: 0,
            hasher: Context::new(&SHA256),
            overwrite: false,
        };
        if name.is_none() {
            incoming.error = Some(format!("unsafe file name {announced:?}"));
            return incoming;
        }
        if size > policy.max_size {
            incoming.error = Some(format!(
                "{size} bytes is over the receiver's limit of {}",
                policy.max_size
            ));
            return incoming;
        }
        if !policy.overwrite && tokio::fs::symlink_metadata(&incoming.target).await.is_ok() {
            incoming.error = Some(format!("{} already exists", incoming.target.display()));
            return incoming;
        }
        incoming.overwrite = policy.overwrite;
        // A new file, never one that is there already (a partial file of another transfer).
        let created = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&incoming.part)
            .await;
        match created {
            Ok(file) => incoming.file = Some(file),
            Err(error) => incoming.fail(format!(
                "cannot create {}: {error}",
                incoming.part.display()
            )),
        }
        incoming
    }

    /// The sanitized name (or what was announced, if it was unsafe).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Appends the next chunk.
    pub(crate) async fn write(&mut self, chunk: &[u8]) {
        let Some(file) = &mut self.file else { return };
        self.received += chunk.len() as u64;
        if self.received > self.expected {
            return self.fail(format!("more than the announced {} bytes", self.expected));
        }
        self.hasher.update(chunk);
        if let Err(error) = file.write_all(chunk).await {
            self.fail(format!("cannot write {}: {error}", self.part.display()));
        }
    }

    /// Ends the transfer: the file is kept only if size and SHA-256 match the sender's.
    pub(crate) async fn finish(mut self, sender_sha256: [u8; 32]) -> Ack {
        let sha256 = finish(&self.hasher);
        if let Some(file) = &mut self.file {
            if let Err(error) = file.flush().await {
                self.fail(format!("cannot write {}: {error}", self.part.display()));
            }
        }
        if self.error.is_none() && self.received != self.expected {
            self.fail(format!("got {} of {} bytes", self.received, self.expected));
        }
        if self.error.is_none() && sha256 != sender_sha256 {
            self.fail(format!(
                "checksum mismatch: sender {}, received {}",
                hex(&sender_sha256),
                hex(&sha256)
            ));
        }
        if self.error.is_none() {
            self.file = None;
            if let Err(error) = self.put_in_place().await {
                self.fail(format!("cannot save {}: {error}", self.target.display()));
            }
        }
        match self.error.take() {
            None => Ack::Ok { sha256 },
            Some(reason) => Ack::Err(reason),
        }
    }

    /// Gives the finished file its name: a rename that replaces what is there when asked to
    /// overwrite; otherwise a hard link, which fails if the name was taken meanwhile, then the
    /// partial name removed.
    async fn put_in_place(&self) -> std::io::Result<()> {
        if self.overwrite {
            return tokio::fs::rename(&self.part, &self.target).await;
        }
        tokio::fs::hard_link(&self.part, &self.target).await?;
        tokio::fs::remove_file(&self.part).await
    }

    /// Records the first failure and removes the partial file.
    fn fail(&mut self, reason: String) {
        if self.error.is_none() {
            self.error = Some(reason);
        }
        self.file = None;
        let _ = std::fs::remove_file(&self.part); // may not exist; nothing else to do if not
    }

    /// Where the file was saved (meaningful after a successful finish).
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for IncomingFile {
    /// A transfer cut short (connection lost) leaves no partial file behind.
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.part); // best effort on the way out
        }
    }
}
