//! Graphs with databases, and their records: `PeerGraphCreate`/`Open`/`Delete`, the record
//! calls, and export and import. A record call that changes the store returns once the change
//! is on disk.

use std::path::{Path, PathBuf};

use peergraph_core::{
    GraphConfig, GraphError, GraphHandle, GraphProperties, HandleError, Record, RecordContent,
    RecordError, RecordId, RecordQuery, RecordStats, RestoreError,
};

use crate::PeerGraph;
use crate::driver::{State, now};
use crate::store::{DatabaseError, GraphDb, path_in};

/// What `open_graph` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphData {
    /// The graph's database existed and was opened; if it had synchronized before, the graph
    /// is synchronized at once (`S_OK`).
    Opened,
    /// No database existed (or the node keeps records in memory): a new one was made, and the
    /// graph synchronizes from its first neighbor (`PEER_S_GRAPH_DATA_CREATED`).
    Created,
}

/// `create_graph` or `open_graph` failed; nothing was opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphOpenError {
    /// The core refused the graph (a duplicate, a bad argument, too many graphs); for
    /// `create_graph`, also `DuplicateGraph` when the graph's database already exists.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The graph's database could not be made or read.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The graph's first properties were refused (too long a name or comment, a zero presence
    /// lifetime) or could not be signed.
    #[error(transparent)]
    Properties(#[from] RecordError),
}

/// A record call that changes the store failed; nothing changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// The core refused the call.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The change could not be written to the graph's database; the record is held in memory
    /// and flooded, but would not survive a restart.
    #[error(transparent)]
    Database(#[from] DatabaseError),
}

/// `delete_graph` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeleteGraphError {
    /// The graph is open on this node (`PEER_E_GRAPH_IN_USE`): close it first.
    #[error("the graph is open")]
    InUse,
    /// The node keeps records in memory: there is no database to delete.
    #[error("the node has no data directory")]
    NoDataDirectory,
    /// No database exists for this graph and peer id (`PEER_E_DATABASE_NOT_PRESENT`).
    #[error("no database at {path}")]
    NotPresent {
        /// Where it would be.
        path: PathBuf,
    },
    /// The file could not be removed.
    #[error("cannot remove {path}")]
    Access {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// `export_database` or `import_database` failed; nothing was written or kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The graph handle is closed or stale, or the node is not initialized.
    #[error(transparent)]
    Handle(#[from] HandleError),
    /// The file could not be written or read, or holds another graph.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// A record in the file does not decode or is not signed by its author for this graph.
    #[error("{path}: {error}")]
    Records {
        /// The file.
        path: PathBuf,
        /// Which record, and what is wrong with it.
        #[source]
        error: RestoreError,
    },
}

impl PeerGraph {
    /// Where the database of graph `graph_id` for `peer_id` is kept (`None` without a data
    /// directory).
    pub fn database_path(&self, graph_id: &str, peer_id: &str) -> Option<PathBuf> {
        self.data_dir().map(|dir| path_in(dir, graph_id, peer_id))
    }

    /// Creates a graph (`PeerGraphCreate`) and its database; the graph is synchronized at once,
    /// and its first properties (empty name and comment) name this node's peer id as its
    /// creator. Fails with `DuplicateGraph` if the graph's database already exists here.
    pub fn create_graph(&self, config: GraphConfig) -> Result<GraphHandle, GraphOpenError> {
        self.create_graph_with_properties(config, "", "", None)
    }

    /// [`create_graph`](Self::create_graph) with the graph's first friendly name, comment and
    /// presence lifetime (the rules of [`set_graph_properties`](Self::set_graph_properties)).
    /// If they are refused, or cannot be written, nothing was created.
    pub fn create_graph_with_properties(
        &self,
        config: GraphConfig,
        friendly_name: &str,
        comment: &str,
        presence_lifetime: Option<std::time::Duration>,
    ) -> Result<GraphHandle, GraphOpenError> {
        let path = self.database_path(&config.graph_id, &config.peer_id);
        self.shared().with(|state| {
            let db = match &path {
                Some(path) if path.exists() => return Err(GraphError::DuplicateGraph.into()),
                Some(path) => Some(GraphDb::create(
                    path,
                    &config.graph_id,
                    &config.peer_id,
                    true,
                )?),
                None => None,
            };
            let created = state
                .node
                .create_graph(config)
                .map_err(GraphOpenError::from);
            let written = created.and_then(|graph| {
                state.databases.extend(db.map(|db| (graph, db)));
                let first = state
                    .node
                    .set_graph_properties(now(), graph, friendly_name, comment, presence_lifetime)
                    .map_err(GraphOpenError::from)
                    .and_then(|()| Ok(save(state, graph)?));
                if first.is_err() {
                    let _ = state.node.close_graph(graph);
                    state.databases.remove(&graph);
                }
                first.map(|()| graph)
            });
            if written.is_err() {
                if let Some(path) = path {
                    let _ = std::fs::remove_file(path);
                }
            }
            written
        })
    }

    /// Opens a graph (`PeerGraphOpen`): with its database if it has one here (its records
    /// back at once, [`GraphData::Opened`]), or with a new one ([`GraphData::Created`]).
    /// A database that is damaged or holds another graph fails with an error naming its file.
    pub fn open_graph(
        &self,
        config: GraphConfig,
    ) -> Result<(GraphHandle, GraphData), GraphOpenError> {
        let path = self.database_path(&config.graph_id, &config.peer_id);
        self.shared().with(|state| {
            let (db, stored, data) = match &path {
                Some(path) if path.exists() => {
                    let (db, stored) = GraphDb::open(path, &config.graph_id, &config.peer_id)?;
                    (Some(db), Some(stored), GraphData::Opened)
                }
                Some(path) => {
                    let db = GraphDb::create(path, &config.graph_id, &config.peer_id, false)?;
                    (Some(db), None, GraphData::Created)
                }
                None => (None, None, GraphData::Created),
            };
            let graph = state.node.open_graph(config)?;
            if let (Some(stored), Some(db)) = (stored, &db) {
                let restored =
                    state
                        .node
                        .restore_records(graph, stored.records, stored.synchronized);
                if let Err(error) = restored {
                    let _ = state.node.close_graph(graph);
                    return Err(DatabaseError::Corrupt {
                        path: db.path().to_owned(),
                        reason: error.to_string(),
                    }
                    .into());
                }
            }
            state.databases.extend(db.map(|db| (graph, db)));
            Ok((graph, data))
        })
    }

    /// Deletes the database of a graph that is not open here (`PeerGraphDelete`); the next
    /// `open_graph` makes a new one.
    pub fn delete_graph(&self, graph_id: &str, peer_id: &str) -> Result<(), DeleteGraphError> {
        let path = self
            .database_path(graph_id, peer_id)
            .ok_or(DeleteGraphError::NoDataDirectory)?;
        self.shared().with(|state| {
            if state.databases.values().any(|db| db.path() == path) {
                return Err(DeleteGraphError::InUse);
            }
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    Err(DeleteGraphError::NotPresent { path })
                }
                Err(source) => Err(DeleteGraphError::Access { path, source }),
            }
        })
    }

    /// Adds a record (`PeerGraphAddRecord`): signed with this node's identity, on disk when
    /// this returns, and flooded to every node of the graph. Returns its id.
    pub fn add_record(
        &self,
        graph: GraphHandle,
        content: RecordContent,
    ) -> Result<RecordId, RecordsError> {
        self.shared().with(|state| {
            let id = state.node.add_record(now(), graph, content)?;
            save(state, graph)?;
            Ok(id)
        })
    }

    /// Replaces a record this node's identity wrote (`PeerGraphUpdateRecord`); the expiry may
    /// only move later.
    pub fn update_record(
        &self,
        graph: GraphHandle,
        id: RecordId,
        content: RecordContent,
    ) -> Result<(), RecordsError> {
        self.shared().with(|state| {
            state.node.update_record(now(), graph, id, content)?;
            Ok(save(state, graph)?)
        })
    }

    /// Deletes a record (`PeerGraphDeleteRecord`): for every node (only its author may), or
    /// with `local` only here.
    pub fn delete_record(
        &self,
        graph: GraphHandle,
        id: RecordId,
        local: bool,
    ) -> Result<(), RecordsError> {
        self.shared().with(|state| {
            state.node.delete_record(now(), graph, id, local)?;
            Ok(save(state, graph)?)
        })
    }

    /// The graph's properties (`PeerGraphGetProperties`): the newest any member set.
    pub fn graph_properties(&self, graph: GraphHandle) -> Result<GraphProperties, RecordError> {
        self.shared().lock().node.graph_properties(graph)
    }

    /// Sets the graph's friendly name, comment and presence lifetime for every node
    /// (`PeerGraphSetProperties`); each raises `PropertyChanged`.
    pub fn set_graph_properties(
        &self,
        graph: GraphHandle,
        friendly_name: &str,
        comment: &str,
        presence_lifetime: Option<std::time::Duration>,
    ) -> Result<(), RecordsError> {
        self.shared().with(|state| {
            state.node.set_graph_properties(
                now(),
                graph,
                friendly_name,
                comment,
                presence_lifetime,
            )?;
            Ok(save(state, graph)?)
        })
    }

    /// One record (`PeerGraphGetRecord`).
    pub fn get_record(&self, graph: GraphHandle, id: RecordId) -> Result<Record, RecordError> {
        self.shared().lock().node.get_record(graph, id)
    }

    /// The graph's records of a type and creator, if given (`PeerGraphEnumRecords`).
    pub fn enum_records(
        &self,
        graph: GraphHandle,
        record_type: Option<[u8; 16]>,
        creator_id: Option<&str>,
    ) -> Result<Vec<Record>, RecordError> {
        self.shared()
            .lock()
            .node
            .enum_records(graph, record_type, creator_id)
    }

    /// The graph's records that match `query` (`PeerGraphSearchRecords`).
    pub fn search_records(
        &self,
        graph: GraphHandle,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, RecordError> {
        self.shared().lock().node.search_records(graph, query)
    }

    /// Counts of the graph's record store.
    pub fn record_stats(&self, graph: GraphHandle) -> Result<RecordStats, HandleError> {
        self.shared().lock().node.record_stats(graph)
    }

    /// Writes every record and tombstone of the graph, its properties record too, to a new file
    /// at `path` (`PeerGraphExportDatabase`); returns how many. Fails if the file exists.
    pub fn export_database(&self, graph: GraphHandle, path: &Path) -> Result<usize, TransferError> {
        let (records, graph_id, peer_id) = {
            let state = self.shared().lock();
            let info = state.node.node_info(graph)?;
            (
                state.node.signed_records(graph)?,
                info.graph_id,
                info.peer_id,
            )
        };
        GraphDb::write_export(path, &graph_id, &peer_id, &records)?;
        Ok(records.len())
    }

    /// Takes the records of an export of this graph (`PeerGraphImportDatabase`): each is
    /// checked like a record from a neighbor, and those newer than the version held are kept,
    /// saved and flooded. Unlike Windows, an import merges rather than replaces, so it may run
    /// while the graph is connected. Returns how many were kept.
    pub fn import_database(&self, graph: GraphHandle, path: &Path) -> Result<usize, TransferError> {
        let (graph_id, stored) = GraphDb::read_export(path)?;
        self.shared().with(|state| {
            let info = state.node.node_info(graph)?;
            if graph_id != info.graph_id {
                return Err(DatabaseError::OtherGraph {
                    path: path.to_owned(),
                    graph_id,
                    peer_id: String::new(),
                }
                .into());
            }
            let kept = state
                .node
                .import_records(now(), graph, stored.records)
                .map_err(|error| TransferError::Records {
                    path: path.to_owned(),
                    error,
                })?;
            save(state, graph)?;
            Ok(kept)
        })
    }
}

/// Makes the graph's pending writes durable.
fn save(state: &mut State, graph: GraphHandle) -> Result<(), DatabaseError> {
    let writes = state.node.take_store_writes(graph);
    match state.databases.get(&graph) {
        Some(db) => db.apply(&writes),
        None => Ok(()),
    }
}
