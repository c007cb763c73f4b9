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

/// The bus topic that tells every node a user's access changed (a session ended, a staff
/// membership or device was removed). It has no log and cannot be subscribed to; open
/// connections of that user re-read who they serve and re-check what they follow.
pub fn access_topic(user: uuid::Uuid) -> String {
    format!("access:{user}")
}

/// Announces that `user`'s access changed, after the change is committed. This node's
/// session cache forgets them before the call returns; other nodes' on the message.
pub async fn access_changed(state: &crate::state::AppState, user: uuid::Uuid) {
    state.sessions.forget_user(user);
    state
        .bus
        .publish(vec![LiveEvent {
            topic: access_topic(user),
            seq: 0,
            kind: "access_changed".to_owned(),
            data: serde_json::json!({}),
            at: state.clock.now(),
            donor_seq: None,
        }])
        .await;
}
