//! Commands on graphs and event registrations.

use crate::codec::CloseReason;
use crate::config::GraphConfig;
use crate::error::{
    ArgumentProblem, EventError, GraphError, HandleError, InvalidArgument, RegisterError,
};
use crate::event::{EventType, GraphEvent};
use crate::ids::{GraphHandle, RegistrationHandle};
use crate::info::NodeInfo;
use crate::links::Unread;
use crate::validate;

use super::Node;

impl Node {
    /// Creates a graph on this node (`PeerGraphCreate`).
    /// The graph starts `SYNCHRONIZED`: it holds everything there is.
    pub fn create_graph(&mut self, config: GraphConfig) -> Result<GraphHandle, GraphError> {
        self.add_graph(config, true)
    }

    /// Joins a graph created elsewhere (`PeerGraphOpen`). The graph becomes `SYNCHRONIZED` once
    /// its first neighbor has sent it every item the neighbor holds.
    pub fn open_graph(&mut self, config: GraphConfig) -> Result<GraphHandle, GraphError> {
        self.add_graph(config, false)
    }

    fn add_graph(
        &mut self,
        config: GraphConfig,
        synchronized: bool,
    ) -> Result<GraphHandle, GraphError> {
        self.initialized()?;
        validate::name("graph_id", &config.graph_id)
            .and_then(|()| validate::name("peer_id", &config.peer_id))
            .map_err(|argument| GraphError::InvalidArgument { argument })?;
        if self
            .graphs
            .find(&config.graph_id, &config.peer_id)
            .is_some()
        {
            return Err(GraphError::DuplicateGraph);
        }
        if self.graphs.len() >= self.config.limits.max_graphs {
            return Err(GraphError::TooManyGraphs);
        }
        let handle = self.graphs.insert(config, self.listening, synchronized);
        // Its presence is published and its maintenance starts at the next `poll_output`.
        self.graphs_due.push(handle);
        Ok(handle)
    }

    /// Closes a graph (`PeerGraphClose`): its handle and registrations die at once and every
    /// connection of the graph ends; remote peers see `Disconnected(PeerGraphClosed)`.
    pub fn close_graph(&mut self, graph: GraphHandle) -> Result<(), HandleError> {
        self.graph(graph).map_err(HandleError::from)?;
        self.release_graph(graph);
        Ok(())
    }

    pub(super) fn release_graph(&mut self, handle: GraphHandle) {
        // The neighbors learn that this node left before its links close.
        self.withdraw_presence(handle);
        let Some(graph) = self.graphs.remove(handle) else {
            return;
        };
        for registration in graph.registrations() {
            self.drop_registration(*registration);
        }
        for link in self.links.select(|link| link.graph == Some(handle)) {
            // The graph's registrations are gone, so no local event is raised.
            self.end_link(link, None, Some(CloseReason::GraphClosed));
        }
    }

    /// The local node in a graph (`PeerGraphGetNodeInfo(0)`).
    pub fn node_info(&self, graph: GraphHandle) -> Result<NodeInfo, HandleError> {
        self.graph(graph)?;
        Ok(self.local_node(graph))
    }

    /// Registers for a set of event types on a graph (`PeerGraphRegisterEvent`). Each registration
    /// gets its own copy of every event of those types.
    pub fn register_event(
        &mut self,
        graph: GraphHandle,
        event_types: &[EventType],
    ) -> Result<RegistrationHandle, RegisterError> {
        self.graph(graph)?;
        if event_types.is_empty() {
            let argument = InvalidArgument {
                argument: "event_types",
                problem: ArgumentProblem::Empty,
            };
            return Err(RegisterError::InvalidArgument { argument });
        }
        if self.registrations.len() >= self.config.limits.max_registrations {
            return Err(RegisterError::TooManyRegistrations);
        }
        let handle = self.registrations.insert(graph, event_types);
        self.graphs
            .get_mut(graph)
            .expect("graph checked live above")
            .add_registration(handle);
        Ok(handle)
    }

    /// Ends a registration (`PeerGraphUnregisterEvent`); its queued events are dropped.
    pub fn unregister_event(&mut self, registration: RegistrationHandle) -> Result<(), EventError> {
        self.initialized()?;
        let graph = self
            .drop_registration(registration)
            .ok_or(EventError::InvalidRegistration)?;
        if let Some(graph) = self.graphs.get_mut(graph) {
            graph.remove_registration(registration);
        }
        Ok(())
    }

    /// Removes a registration; the data it still held counts off its connections' windows.
    fn drop_registration(&mut self, registration: RegistrationHandle) -> Option<GraphHandle> {
        let (graph, queue) = self.registrations.remove(registration)?;
        self.events_left_queue(&queue);
        Some(graph)
    }

    /// Takes the oldest queued event of a registration (`PeerGraphGetEventData`); `Ok(None)` when
    /// the queue is empty (`PEER_S_NO_EVENT_DATA`).
    pub fn take_event(
        &mut self,
        registration: RegistrationHandle,
    ) -> Result<Option<GraphEvent>, EventError> {
        self.initialized()?;
        // Counted before it leaves, so that the event goes from the queue to the caller
        // without a stop on the way.
        if let Some((connection, bytes)) = self.registrations.data_in_front(registration) {
            self.data_left_queue(connection, Unread::one(bytes));
        }
        self.registrations.take_event(registration)
    }

    /// Moves up to `limit` of a registration's queued events, oldest first, to the end of
    /// `events`, and returns how many were moved (0 when the queue is empty). The same events, in
    /// the same order, as that many [`take_event`](Self::take_event) calls, for one call's cost.
    pub fn take_events(
        &mut self,
        registration: RegistrationHandle,
        events: &mut Vec<GraphEvent>,
        limit: usize,
    ) -> Result<usize, EventError> {
        self.initialized()?;
        let count = self
            .registrations
            .take_events(registration, events, limit)?;
        let start = events.len() - count;
        self.events_left_queue(&events[start..]);
        Ok(count)
    }
}
