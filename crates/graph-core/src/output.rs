//! [`Output`]: everything a driver must act on, pulled from [`Node::poll_output`].

use std::time::Instant;

use crate::address::PeerAddress;
use crate::ids::{GraphHandle, LinkId, RegistrationHandle};
#[cfg(doc)]
use crate::node::Node;

/// What the node needs its driver to do next, from [`Node::poll_output`].
///
/// This enum is the map of a driver: one arm per duty. Call `poll_output` after every input and
/// command and act on each output until [`Timeout`](Self::Timeout), which always comes last and
/// says when to call again if no input arrives first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// `graph`'s record store changed: take the writes with [`Node::take_store_writes`] and
    /// make them durable, in order, before acting on what follows (it always comes first).
    Store {
        /// The graph.
        graph: GraphHandle,
    },
    /// Open a link to `address`, then report [`Node::handle_link_up`] or
    /// [`Node::handle_link_closed`] for `link`.
    Dial {
        /// The link to open.
        link: LinkId,
        /// Where to.
        address: PeerAddress,
    },
    /// `link` has frames to write: pull them in order with [`Node::poll_transmit`]. A driver
    /// applying backpressure may leave frames queued until the link can take them; the link is
    /// reported again only when new frames are queued.
    Transmit {
        /// The link with frames.
        link: LinkId,
    },
    /// Write what [`Node::poll_transmit`] still yields for `link`, close it, then report
    /// [`Node::handle_link_closed`].
    Close {
        /// The link to close.
        link: LinkId,
    },
    /// Read frames from `link` again. After [`Node::handle_frame`], a driver checks
    /// [`Node::link_readable`]: while it is false (the connection's receive window is full:
    /// the application has not taken its `IncomingData`), the driver reads nothing more from the
    /// link, so transport flow control holds the sender back. This output says the window has
    /// drained to half and reading may go on.
    Resume {
        /// The link to read again.
        link: LinkId,
    },
    /// `registration` has events: take them with [`Node::take_event`] or
    /// [`Node::take_events`]. Reported once until its queue is drained and new events arrive.
    Events {
        /// The registration with events.
        registration: RegistrationHandle,
    },
    /// Nothing more to do now. Call `poll_output` again at this instant (`None`: no deadline)
    /// or after the next input, whichever comes first; deadlines due by then fire inside it.
    Timeout(Option<Instant>),
}
