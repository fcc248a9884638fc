//! The link table's parts, by hand.

use bytes::Bytes;

use super::*;
use crate::address::source_of;

#[test]
fn the_send_queue_keeps_frames_in_order_across_its_inline_slot() {
    let frame = |n: u8| crate::codec::data([n; 16], Bytes::new());
    let mut queue = SendQueue::default();
    assert!(queue.is_empty());
    queue.push_frame(frame(1));
    queue.push_frame(frame(2));
    queue.push_frame(frame(3));
    assert_eq!(queue.pop_front(), Some(frame(1)));
    // The inline slot is free again while older frames wait in the queue: a new frame
    // must still come last.
    queue.push_frame(frame(4));
    for n in 2..=4 {
        assert_eq!(queue.pop_front(), Some(frame(n)));
    }
    assert_eq!(queue.pop_front(), None);
    assert!(queue.is_empty());
}

#[test]
fn a_removed_link_is_forgotten_and_the_pending_count_follows_each_link() {
    let limits = Limits::default();
    let mut links = Links::new(&limits);
    #[allow(clippy::disallowed_methods)] // any instant will do: the test's clock never moves
    let now = Instant::now();
    let mut inbound = Link::new(LinkState::AwaitingHello, Direction::Inbound, now, now);
    inbound.remote_addr = Some(([192, 0, 2, 1], 1).into());
    let id = links.insert(inbound);
    let source = source_of([192, 0, 2, 1].into());
    assert_eq!(
        (
            links.pending(Direction::Inbound),
            links.pending_from(source)
        ),
        (1, 1)
    );
    assert!(links.release(id).is_some());
    assert_eq!(
        (
            links.pending(Direction::Inbound),
            links.pending_from(source)
        ),
        (0, 0)
    );
    assert!(
        links.get(id).is_some(),
        "a released link waits for the driver's close"
    );
    links.remove(id);
    assert!(links.get(id).is_none());
}
