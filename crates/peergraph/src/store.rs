//! Each graph's records on disk: one redb database per graph and peer id, in the node's data
//! directory. The core keeps the records; this file makes its writes durable, in order, one
//! transaction per batch, and gives them back when the graph is opened again.

use std::fmt;
use std::fs;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use peergraph_core::{RecordId, StoreWrite};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use ring::digest::{SHA256, digest};

/// Record id (16 bytes) to signed record.
const RECORDS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("records");

/// The graph the database belongs to, and whether it has synchronized.
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

const GRAPH_ID: &str = "graph_id";
const PEER_ID: &str = "peer_id";
const SYNCHRONIZED: &str = "synchronized";

/// A graph database could not be used. Each names its file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// The file could not be created, read or written (`PEER_E_DATABASE_ACCESSDENIED`).
    #[error("cannot use graph database {path}")]
    Access {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The file is not a graph database, or is damaged (`PEER_E_INVALID_DATABASE`).
    #[error("graph database {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file holds another graph, or this graph for another peer id
    /// (`PEER_E_INVALID_DATABASE`).
    #[error("graph database {path} holds graph {graph_id:?} for peer {peer_id:?}")]
    OtherGraph {
        /// The file.
        path: PathBuf,
        /// The graph id it holds.
        graph_id: String,
        /// The peer id it holds.
        peer_id: String,
    },
    /// Another process has the file open (`PEER_E_GRAPH_IN_USE`).
    #[error("graph database {path} is open in another process")]
    InUse {
        /// The file.
        path: PathBuf,
    },
}

/// What a graph database held when it was opened.
pub(crate) struct Stored {
    pub(crate) records: Vec<Bytes>,
    pub(crate) synchronized: bool,
}

/// One graph's database.
pub(crate) struct GraphDb {
    db: Database,
    path: PathBuf,
}

impl fmt::Debug for GraphDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GraphDb({})", self.path.display())
    }
}

/// The file of graph `graph_id`'s database for `peer_id` in `dir`: the graph and peer ids
/// hashed, since either may hold any character.
pub(crate) fn path_in(dir: &Path, graph_id: &str, peer_id: &str) -> PathBuf {
    let mut input = Vec::with_capacity(graph_id.len() + peer_id.len() + 1);
    input.extend_from_slice(graph_id.as_bytes());
    input.push(0);
    input.extend_from_slice(peer_id.as_bytes());
    let hash = digest(&SHA256, &input);
    let name: String = hash.as_ref()[..12]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    dir.join(format!("graph-{name}.redb"))
}

impl GraphDb {
    /// Makes a new database at `path` for the graph; fails if the file exists.
    pub(crate) fn create(
        path: &Path,
        graph_id: &str,
        peer_id: &str,
        synchronized: bool,
    ) -> Result<Self, DatabaseError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|error| access(path, error))?;
        }
        // `create_new` so that two nodes making the same graph's file cannot both succeed.
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|error| access(path, error))?;
        let db = Database::create(path).map_err(|error| opening(path, error))?;
        let this = Self {
            db,
            path: path.to_owned(),
        };
        this.transaction(|records, mut meta| {
            drop(records);
            meta.insert(GRAPH_ID, graph_id.as_bytes())?;
            meta.insert(PEER_ID, peer_id.as_bytes())?;
            meta.insert(SYNCHRONIZED, &[u8::from(synchronized)][..])?;
            Ok(())
        })?;
        Ok(this)
    }

    /// Opens the database at `path`, which must hold graph `graph_id` for `peer_id`.
    pub(crate) fn open(
        path: &Path,
        graph_id: &str,
        peer_id: &str,
    ) -> Result<(Self, Stored), DatabaseError> {
        let (this, (found_graph, found_peer, stored)) = Self::open_and_read(path)?;
        if found_graph != graph_id || found_peer != peer_id {
            return Err(DatabaseError::OtherGraph {
                path: path.to_owned(),
                graph_id: found_graph,
                peer_id: found_peer,
            });
        }
        Ok((this, stored))
    }

    /// Reads an export file: the graph and peer ids it was made for, and its records.
    pub(crate) fn read_export(path: &Path) -> Result<(String, Stored), DatabaseError> {
        let (_, (graph_id, _, stored)) = Self::open_and_read(path)?;
        Ok((graph_id, stored))
    }

    /// Opens and reads the file at `path`. redb trusts the pages it reads and panics on some
    /// damage (a flipped byte in its allocator state, say) before any checksum is checked; such
    /// a panic ends here, as the error it is, with the database dropped unread.
    #[allow(clippy::type_complexity)] // the database and what `read` returns
    fn open_and_read(path: &Path) -> Result<(Self, (String, String, Stored)), DatabaseError> {
        let opened = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let this = Self {
                db: open_checked(path)?,
                path: path.to_owned(),
            };
            let read = this.read()?;
            Ok((this, read))
        }));
        opened.unwrap_or_else(|_| {
            Err(DatabaseError::Corrupt {
                path: path.to_owned(),
                reason: "its pages do not read as a database".to_owned(),
            })
        })
    }

    /// Writes a new file at `path` holding `records` of the graph (an export).
    pub(crate) fn write_export(
        path: &Path,
        graph_id: &str,
        peer_id: &str,
        records: &[(RecordId, Bytes)],
    ) -> Result<(), DatabaseError> {
        let db = Self::create(path, graph_id, peer_id, true)?;
        db.transaction(|mut table, meta| {
            drop(meta);
            for (id, signed) in records {
                table.insert(&id.as_bytes()[..], &signed[..])?;
            }
            Ok(())
        })
    }

    /// Makes `writes` durable in one transaction: when this returns, they survive a crash.
    pub(crate) fn apply(&self, writes: &[StoreWrite]) -> Result<(), DatabaseError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.transaction(|mut records, mut meta| {
            for write in writes {
                match write {
                    StoreWrite::Put { id, signed } => {
                        records.insert(&id.as_bytes()[..], &signed[..])?;
                    }
                    StoreWrite::Remove { id } => {
                        records.remove(&id.as_bytes()[..])?;
                    }
                    StoreWrite::Synchronized => {
                        meta.insert(SYNCHRONIZED, &[1u8][..])?;
                    }
                }
            }
            Ok(())
        })
    }

    fn transaction(
        &self,
        body: impl FnOnce(
            redb::Table<'_, &'static [u8], &'static [u8]>,
            redb::Table<'_, &'static str, &'static [u8]>,
        ) -> Result<(), redb::StorageError>,
    ) -> Result<(), DatabaseError> {
        let path = &self.path;
        let transaction = self.db.begin_write().map_err(|error| access(path, error))?;
        {
            let records = transaction
                .open_table(RECORDS)
                .map_err(|error| access(path, error))?;
            let meta = transaction
                .open_table(META)
                .map_err(|error| access(path, error))?;
            body(records, meta).map_err(|error| access(path, error))?;
        }
        transaction.commit().map_err(|error| access(path, error))
    }

    fn read(&self) -> Result<(String, String, Stored), DatabaseError> {
        let path = &self.path;
        let corrupt = |reason: &str| DatabaseError::Corrupt {
            path: path.clone(),
            reason: reason.to_owned(),
        };
        let transaction = self.db.begin_read().map_err(|error| access(path, error))?;
        let meta = transaction
            .open_table(META)
            .map_err(|_| corrupt("no graph metadata"))?;
        let text = |key: &str| -> Result<String, DatabaseError> {
            let value = meta
                .get(key)
                .map_err(|error| access(path, error))?
                .ok_or_else(|| corrupt("graph metadata incomplete"))?;
            String::from_utf8(value.value().to_vec())
                .map_err(|_| corrupt("graph metadata is not text"))
        };
        let graph_id = text(GRAPH_ID)?;
        let peer_id = text(PEER_ID)?;
        let synchronized = meta
            .get(SYNCHRONIZED)
            .map_err(|error| access(path, error))?
            .is_some_and(|value| value.value() == [1]);
        let table = transaction
            .open_table(RECORDS)
            .map_err(|_| corrupt("no record table"))?;
        let mut records = Vec::new();
        for entry in table.iter().map_err(|error| access(path, error))? {
            let (_, signed) = entry.map_err(|error| access(path, error))?;
            records.push(Bytes::copy_from_slice(signed.value()));
        }
        Ok((
            graph_id,
            peer_id,
            Stored {
                records,
                synchronized,
            },
        ))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens the database at `path` after checking every page's checksum: redb trusts the pages it
/// reads, so a damaged file is found here, with an error, and never read.
fn open_checked(path: &Path) -> Result<Database, DatabaseError> {
    let mut db = Database::open(path).map_err(|error| opening(path, error))?;
    match db.check_integrity() {
        Ok(true) => Ok(db),
        Ok(false) => Err(DatabaseError::Corrupt {
            path: path.to_owned(),
            reason: "it failed its integrity check and was repaired; its records may be lost"
                .to_owned(),
        }),
        Err(error) => Err(opening(path, error)),
    }
}

fn access(path: &Path, error: impl std::error::Error + Send + Sync + 'static) -> DatabaseError {
    DatabaseError::Access {
        path: path.to_owned(),
        source: Box::new(error),
    }
}

/// An error opening a file: in use, corrupt, or unreadable.
fn opening(path: &Path, error: redb::DatabaseError) -> DatabaseError {
    match error {
        redb::DatabaseError::DatabaseAlreadyOpen => DatabaseError::InUse {
            path: path.to_owned(),
        },
        // redb reads a file that is not one of its databases as bad data.
        redb::DatabaseError::Storage(redb::StorageError::Io(error))
            if !matches!(
                error.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            access(path, error)
        }
        other => DatabaseError::Corrupt {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    }
}
