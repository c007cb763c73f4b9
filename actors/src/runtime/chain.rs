//! The hash chain over an entity's events — gift cards, slots and partner calendars alike:
//! each event's hash is `SHA-256(prev_hash ‖ "\n" ‖ canonical envelope)`, where the
//! envelope is the JSON object `{at, card_id, data, kind, seq}` with keys sorted and no
//! insignificant whitespace. Changing, removing, inserting or reordering any stored event
//! breaks every later link.
//!
//! This is a stored format: every chain already written was hashed with exactly these
//! field names (the owner's id is called `card_id` for every entity kind, since cards
//! came first), this time format and this separator. Changing any of them makes every
//! stored chain fail `fimy audit verify`; a new format needs a new version of the link.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `prev_hash` of a card's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// JSON with object keys sorted at every level and no whitespace: one text per value.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Event times are kept to the microsecond (what both databases store exactly).
pub fn event_time(now: DateTime<Utc>) -> DateTime<Utc> {
    now.trunc_subsecs(6)
}

/// The text form of an event time inside the hashed envelope.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The hash of one event given the hash before it. `data` is the event's canonical JSON.
pub fn link(
    prev_hash: &str,
    card_id: Uuid,
    seq: i64,
    kind: &str,
    data: &str,
    at: DateTime<Utc>,
) -> String {
    let envelope = format!(
        "{{\"at\":{},\"card_id\":{},\"data\":{},\"kind\":{},\"seq\":{}}}",
        Value::String(format_time(at)),
        Value::String(card_id.to_string()),
        data,
        Value::String(kind.to_owned()),
        seq
    );
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(envelope.as_bytes());
    hex_lower(&h.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": 2, "x": 1}], "c": "é"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":"é","z":[3,{"x":1,"y":2}]},"b":1}"#
        );
    }

    #[test]
    fn any_change_changes_the_hash() {
        let id = Uuid::now_v7();
        let at = event_time(Utc::now());
        let h = link(GENESIS, id, 1, "card_opened", "{}", at);
        assert_eq!(h.len(), 64);
        assert_eq!(h, link(GENESIS, id, 1, "card_opened", "{}", at));
        assert_ne!(h, link(GENESIS, id, 2, "card_opened", "{}", at));
        assert_ne!(h, link(GENESIS, id, 1, "card_used", "{}", at));
        assert_ne!(h, link(GENESIS, id, 1, "card_opened", "{\"a\":1}", at));
        assert_ne!(h, link(&h, id, 1, "card_opened", "{}", at));
        assert_ne!(
            h,
            link(
                GENESIS,
                id,
                1,
                "card_opened",
                "{}",
                at + chrono::Duration::microseconds(1)
            )
        );
    }
}
