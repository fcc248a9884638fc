//! The application protocol the commands speak on top of typed messages (see USAGE.md).
//!
//! Each message is one peergraph data message; its 16-byte type id says what it is and its
//! bytes carry a small fixed binary layout (integers big-endian):
//!
//! | type id            | bytes                                                      |
//! |--------------------|------------------------------------------------------------|
//! | `peergraph.text`   | UTF-8 text; the receiver answers with an ack               |
//! | `peergraph.fstart` | size u64, name length u16, name (UTF-8)                    |
//! | `peergraph.fchunk` | the next bytes of the file                                 |
//! | `peergraph.fend`   | SHA-256 of the whole file (32 bytes)                       |
//! | `peergraph.ack`    | status u8 (0 ok, 1 error), SHA-256 received (32), reason   |
//! | `peergraph.bye`    | empty: the sender is done; the receiver closes the connection |
//!
//! Type ids are the ASCII name padded with zero bytes. Bytes after the layout are ignored, so
//! fields can be added at the end.

use bytes::{BufMut, Bytes, BytesMut};
use ring::digest::{Context, SHA256};

/// Files travel in chunks of this many bytes: large enough to amortise per-message cost, small
/// enough to keep memory and the progress bar smooth.
pub(crate) const CHUNK_SIZE: usize = 256 * 1024;

/// Longest file name accepted in `fstart`.
const MAX_NAME_LEN: usize = 255;

const fn type_id(name: &[u8]) -> [u8; 16] {
    let mut id = [0u8; 16];
    let mut i = 0;
    while i < name.len() {
        id[i] = name[i];
        i += 1;
    }
    id
}

const TEXT: [u8; 16] = type_id(b"peergraph.text");
const FILE_START: [u8; 16] = type_id(b"peergraph.fstart");
const FILE_CHUNK: [u8; 16] = type_id(b"peergraph.fchunk");
const FILE_END: [u8; 16] = type_id(b"peergraph.fend");
const ACK: [u8; 16] = type_id(b"peergraph.ack");
const BYE: [u8; 16] = type_id(b"peergraph.bye");

/// One message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// A text message (a chat line, or `send --message`).
    Text(String),
    /// A file follows: its name and size.
    FileStart { name: String, size: u64 },
    /// The next bytes of the file.
    FileChunk(Bytes),
    /// The file is complete; its SHA-256.
    FileEnd { sha256: [u8; 32] },
    /// The answer to a text or a file end.
    Ack(Ack),
    /// The sender is done; the receiver closes the connection, which proves to the sender that
    /// everything before arrived.
    Bye,
}

/// The outcome the receiver reports for a text or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ack {
    /// Received; the SHA-256 the receiver computed over what it got.
    Ok { sha256: [u8; 32] },
    /// Not accepted, and why.
    Err(String),
}

/// A message the protocol does not know, or whose bytes are too short for its layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unknown;

impl Message {
    /// The type id and bytes to hand to `send_data`.
    pub(crate) fn encode(self) -> ([u8; 16], Bytes) {
        match self {
            Self::Text(text) => (TEXT, Bytes::from(text)),
            Self::FileStart { name, size } => {
                let mut out = BytesMut::with_capacity(10 + name.len());
                out.put_u64(size);
                // Names longer than MAX_NAME_LEN are cut by the sender (see `file_name_of`).
                out.put_u16(name.len() as u16);
                out.put_slice(name.as_bytes());
                (FILE_START, out.freeze())
            }
            Self::FileChunk(bytes) => (FILE_CHUNK, bytes),
            Self::FileEnd { sha256 } => (FILE_END, Bytes::copy_from_slice(&sha256)),
            Self::Ack(ack) => {
                let mut out = BytesMut::with_capacity(33);
                match ack {
                    Ack::Ok { sha256 } => {
                        out.put_u8(0);
                        out.put_slice(&sha256);
                    }
                    Ack::Err(reason) => {
                        out.put_u8(1);
                        out.put_slice(&[0; 32]);
                        out.put_slice(reason.as_bytes());
                    }
                }
                (ACK, out.freeze())
            }
            Self::Bye => (BYE, Bytes::new()),
        }
    }

    /// Parses a received message.
    pub(crate) fn decode(type_id: [u8; 16], data: Bytes) -> Result<Self, Unknown> {
        Ok(match type_id {
            TEXT => Self::Text(String::from_utf8_lossy(&data).into_owned()),
            FILE_START => {
                let size = u64::from_be_bytes(
                    data.get(..8)
                        .ok_or(Unknown)?
                        .try_into()
                        .map_err(|_| Unknown)?,
                );
                let len = u16::from_be_bytes(
                    data.get(8..10)
                        .ok_or(Unknown)?
                        .try_into()
                        .map_err(|_| Unknown)?,
                );
                let name = data.get(10..10 + usize::from(len)).ok_or(Unknown)?;
                Self::FileStart {
                    name: String::from_utf8_lossy(name).into_owned(),
                    size,
                }
            }
            FILE_CHUNK => Self::FileChunk(data),
            FILE_END => Self::FileEnd {
                sha256: digest_at(&data, 0)?,
            },
            ACK => Self::Ack(match data.first() {
                Some(0) => Ack::Ok {
                    sha256: digest_at(&data, 1)?,
                },
                Some(_) => Ack::Err(
                    String::from_utf8_lossy(data.get(33..).unwrap_or_default()).into_owned(),
                ),
                None => return Err(Unknown),
            }),
            BYE => Self::Bye,
            _ => return Err(Unknown),
        })
    }
}

fn digest_at(data: &[u8], at: usize) -> Result<[u8; 32], Unknown> {
    data.get(at..at + 32)
        .ok_or(Unknown)?
        .try_into()
        .map_err(|_| Unknown)
}

/// The SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    finish(&{
        let mut context = Context::new(&SHA256);
        context.update(bytes);
        context
    })
}

/// The digest of a running SHA-256.
pub(crate) fn finish(context: &Context) -> [u8; 32] {
    let mut digest = [0u8; 32];
    digest.copy_from_slice(context.clone().finish().as_ref());
    digest
}

/// The name a sender announces for `path`: its final component, cut to the name limit.
pub(crate) fn file_name_of(path: &std::path::Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    let mut end = name.len().min(MAX_NAME_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Some(name[..end].to_owned())
}

/// The name a received file is saved under: exactly what the sender announced, if that is a plain
/// name. `None` for anything else, so that a peer can neither write outside the save directory
/// nor create a hidden file there (a dotfile such as `.bashrc`, or the `.NAME.part` of another
/// transfer): empty, over 255 bytes, starting with `.`, containing `/` or `\`, or containing a
/// control character.
pub(crate) fn sanitize_file_name(announced: &str) -> Option<&str> {
    let bad = announced.is_empty()
        || announced.len() > MAX_NAME_LEN
        || announced.starts_with('.')
        || announced.contains(['/', '\\'])
        || announced.chars().any(char::is_control);
    (!bad).then_some(announced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(message: Message) {
        let (type_id, data) = message.clone().encode();
        assert_eq!(Message::decode(type_id, data), Ok(message));
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(Message::Text("hello ✓".into()));
        round_trip(Message::FileStart {
            name: "report.pdf".into(),
            size: 50 << 20,
        });
        round_trip(Message::FileChunk(Bytes::from_static(b"chunk")));
        round_trip(Message::FileEnd { sha256: [7; 32] });
        round_trip(Message::Ack(Ack::Ok { sha256: [9; 32] }));
        round_trip(Message::Ack(Ack::Err("checksum mismatch".into())));
        round_trip(Message::Bye);
    }

    #[test]
    fn short_or_unknown_messages_are_rejected() {
        assert_eq!(
            Message::decode(FILE_END, Bytes::from_static(b"short")),
            Err(Unknown)
        );
        assert_eq!(
            Message::decode(FILE_START, Bytes::from_static(&[0; 9])),
            Err(Unknown)
        );
        assert_eq!(Message::decode([1; 16], Bytes::new()), Err(Unknown));
    }

    #[test]
    fn received_names_must_be_plain_names() {
        assert_eq!(sanitize_file_name("report.pdf"), Some("report.pdf"));
        assert_eq!(sanitize_file_name("a.b.c ✓"), Some("a.b.c ✓"));
        for bad in [
            "../../etc/passwd",
            "/abs/path/x.bin",
            "..\\..\\win.ini",
            "..",
            ".",
            ".bashrc",
            ".x.part",
            "dir/",
            "",
        ] {
            assert_eq!(sanitize_file_name(bad), None, "{bad:?}");
        }
        assert_eq!(sanitize_file_name(&"x".repeat(256)), None);
        assert_eq!(sanitize_file_name("a\nb"), None);
    }

    #[test]
    fn the_digest_is_sha256() {
        assert_eq!(
            crate::node::hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
