//! Live delivery: every committed event is published on an [`EventBus`] (in-process by
//! default, Redis pub/sub across nodes) and reaches the websocket sessions and long-poll
//! requests subscribed to its topic. The event logs in the database stay the truth: a
//! subscriber that may have missed something (a gap in sequence numbers, a lagging
//! receiver, a Redis reconnect) re-reads it from the log, so nobody ever sees a gap.

pub mod bus;
pub mod feed;
pub mod hub;
pub mod topics;
pub mod ws;

pub use bus::{BusSignal, EventBus, LiveEvent, LocalBus, MeteredBus, RedisBus};
pub use topics::Topic;
