//! Availability rules and the slots they open, computed in the partner's time zone so a
//! 09:00 slot stays at 09:00 local across daylight-saving changes. A local time that does
//! not exist (the spring-forward gap) opens no slot; one that exists twice (fall back)
//! opens one slot, at its first occurrence.

use crate::InvalidValue;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Opening hours on one weekday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyWindow {
    /// `mon` … `sun`.
    pub weekday: String,
    /// Local `HH:MM`.
    pub start: String,
    pub end: String,
}

/// A date whose hours differ: closed, or other windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateException {
    /// `YYYY-MM-DD`, local.
    pub date: String,
    #[serde(default)]
    pub closed: bool,
    /// Replaces the weekly hours of that date when not closed.
    #[serde(default)]
    pub windows: Vec<TimeWindow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start: String,
    pub end: String,
}

/// When an experience can be booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityRules {
    /// IANA time zone of the venue (e.g. `America/Toronto`).
    pub timezone: String,
    pub weekly: Vec<WeeklyWindow>,
    #[serde(default)]
    pub exceptions: Vec<DateException>,
    /// People per slot.
    pub capacity: u32,
    /// Length of a slot (the experience's duration).
    pub slot_minutes: u32,
    /// Gap between the end of a slot and the start of the next.
    #[serde(default)]
    pub buffer_minutes: u32,
    /// How long before a slot starts it can still be booked.
    #[serde(default)]
    pub min_notice_minutes: u32,
    /// How far ahead slots can be booked.
    pub horizon_days: u32,
}

/// A slot's start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTime {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

fn parse_time(field: &'static str, raw: &str) -> Result<NaiveTime, InvalidValue> {
    if raw == "24:00" {
        return NaiveTime::from_hms_opt(23, 59, 59)
            .ok_or_else(|| InvalidValue::new(field, "bad time"));
    }
    NaiveTime::parse_from_str(raw, "%H:%M")
        .map_err(|_| InvalidValue::new(field, format!("{raw:?} is not a local time HH:MM")))
}

fn parse_weekday(raw: &str) -> Result<Weekday, InvalidValue> {
    match raw {
        "mon" => Ok(Weekday::Mon),
        "tue" => Ok(Weekday::Tue),
        "wed" => Ok(Weekday::Wed),
        "thu" => Ok(Weekday::Thu),
        "fri" => Ok(Weekday::Fri),
        "sat" => Ok(Weekday::Sat),
        "sun" => Ok(Weekday::Sun),
        _ => Err(InvalidValue::new(
            "weekday",
            format!("{raw:?} is not mon…sun"),
        )),
    }
}

type Windows = Vec<(NaiveTime, NaiveTime)>;

fn window(start: &str, end: &str) -> Result<(NaiveTime, NaiveTime), InvalidValue> {
    let (s, e) = (parse_time("start", start)?, parse_time("end", end)?);
    if s >= e {
        return Err(InvalidValue::new(
            "end",
            "a window must end after it starts",
        ));
    }
    Ok((s, e))
}

impl AvailabilityRules {
    /// Checks every field; the rules are stored only if this passes.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        self.tz()?;
        if !(1..=500).contains(&self.capacity) {
            return Err(InvalidValue::new("capacity", "between 1 and 500"));
        }
        if !(5..=24 * 60 * 3).contains(&self.slot_minutes) {
            return Err(InvalidValue::new("slot_minutes", "between 5 and 4320"));
        }
        if self.buffer_minutes > 24 * 60 {
            return Err(InvalidValue::new("buffer_minutes", "at most 1440"));
        }
        if self.min_notice_minutes > 60 * 24 * 60 {
            return Err(InvalidValue::new("min_notice_minutes", "at most 60 days"));
        }
        if !(1..=730).contains(&self.horizon_days) {
            return Err(InvalidValue::new("horizon_days", "between 1 and 730"));
        }
        if self.weekly.len() > 100 || self.exceptions.len() > 1000 {
            return Err(InvalidValue::new("weekly", "too many windows"));
        }
        for w in &self.weekly {
            parse_weekday(&w.weekday)?;
            window(&w.start, &w.end)?;
        }
        for x in &self.exceptions {
            NaiveDate::parse_from_str(&x.date, "%Y-%m-%d").map_err(|_| {
                InvalidValue::new("date", format!("{:?} is not YYYY-MM-DD", x.date))
            })?;
            for w in &x.windows {
                window(&w.start, &w.end)?;
            }
        }
        Ok(())
    }

    pub fn tz(&self) -> Result<Tz, InvalidValue> {
        self.timezone.parse().map_err(|_| {
            InvalidValue::new(
                "timezone",
                format!("{:?} is not an IANA time zone", self.timezone),
            )
        })
    }

    /// The opening windows of one local date.
    fn windows_on(&self, date: NaiveDate) -> Windows {
        let key = date.format("%Y-%m-%d").to_string();
        if let Some(x) = self.exceptions.iter().find(|x| x.date == key) {
            if x.closed {
                return Vec::new();
            }
            return x
                .windows
                .iter()
                .filter_map(|w| window(&w.start, &w.end).ok())
                .collect();
        }
        self.weekly
            .iter()
            .filter(|w| parse_weekday(&w.weekday).is_ok_and(|d| d == date.weekday()))
            .filter_map(|w| window(&w.start, &w.end).ok())
            .collect()
    }

    /// Bookable slots starting in `[from, to)`, as seen at `now` (minimum notice and
    /// horizon applied).
    pub fn slots_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<SlotTime> {
        let Ok(tz) = self.tz() else {
            return Vec::new();
        };
        let earliest = from.max(now + Duration::minutes(i64::from(self.min_notice_minutes)));
        let latest = to.min(now + Duration::days(i64::from(self.horizon_days)));
        if earliest >= latest {
            return Vec::new();
        }
        let slot = Duration::minutes(i64::from(self.slot_minutes));
        let step = slot + Duration::minutes(i64::from(self.buffer_minutes));
        let first_day = earliest.with_timezone(&tz).date_naive() - Duration::days(1);
        let last_day = latest.with_timezone(&tz).date_naive() + Duration::days(1);
        let mut out = Vec::new();
        let mut day = first_day;
        while day <= last_day {
            for (open, close) in self.windows_on(day) {
                let mut t = day.and_time(open);
                let end = day.and_time(close);
                while t + slot <= end {
                    // A gap opens no slot; an overlap opens the first occurrence.
                    if let Some(start) = tz.from_local_datetime(&t).earliest() {
                        let starts_at = start.with_timezone(&Utc);
                        if starts_at >= earliest && starts_at < latest {
                            out.push(SlotTime {
                                starts_at,
                                ends_at: starts_at + slot,
                            });
                        }
                    }
                    t += step;
                }
            }
            day += Duration::days(1);
        }
        out.sort_by_key(|s| s.starts_at);
        out.dedup_by_key(|s| s.starts_at);
        out
    }

    /// The slot starting exactly at `starts_at`, if the rules open one that is bookable now.
    pub fn slot_at(&self, starts_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<SlotTime> {
        self.slots_between(starts_at, starts_at + Duration::seconds(1), now)
            .into_iter()
            .find(|s| s.starts_at == starts_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(tz: &str, start: &str, end: &str, slot: u32) -> AvailabilityRules {
        AvailabilityRules {
            timezone: tz.into(),
            weekly: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .map(|d| WeeklyWindow {
                    weekday: (*d).into(),
                    start: start.into(),
                    end: end.into(),
                })
                .collect(),
            exceptions: vec![],
            capacity: 4,
            slot_minutes: slot,
            buffer_minutes: 0,
            min_notice_minutes: 0,
            horizon_days: 730,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn local_starts(r: &AvailabilityRules, from: &str, to: &str) -> Vec<String> {
        let tz = r.tz().unwrap();
        r.slots_between(at(from), at(to), at("2026-01-01T00:00:00Z"))
            .iter()
            .map(|s| {
                s.starts_at
                    .with_timezone(&tz)
                    .format("%m-%d %H:%M %Z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn nine_oclock_stays_nine_oclock_across_montreal_dst() {
        let r = rules("America/Toronto", "09:00", "10:00", 60);
        // Spring forward on 2026-03-08, fall back on 2026-11-01.
        let s = r.slots_between(
            at("2026-03-07T00:00:00Z"),
            at("2026-03-10T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
        );
        let utc: Vec<String> = s
            .iter()
            .map(|x| x.starts_at.format("%d %H:%M").to_string())
            .collect();
        assert_eq!(utc, ["07 14:00", "08 13:00", "09 13:00"]);
        let s = r.slots_between(
            at("2026-10-31T00:00:00Z"),
            at("2026-11-03T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
        );
        let utc: Vec<String> = s
            .iter()
            .map(|x| x.starts_at.format("%d %H:%M").to_string())
            .collect();
        assert_eq!(utc, ["31 13:00", "01 14:00", "02 14:00"]);
    }

    #[test]
    fn the_spring_gap_opens_no_slot_and_the_autumn_overlap_opens_one_in_paris() {
        // Paris: 2026-03-29 02:00 → 03:00; 2026-10-25 03:00 → 02:00.
        let r = rules("Europe/Paris", "01:00", "04:00", 60);
        assert_eq!(
            local_starts(&r, "2026-03-28T23:00:00Z", "2026-03-29T05:00:00Z"),
            ["03-29 01:00 CET", "03-29 03:00 CEST"]
        );
        let autumn = local_starts(&r, "2026-10-24T22:00:00Z", "2026-10-25T05:00:00Z");
        assert_eq!(
            autumn,
            ["10-25 01:00 CEST", "10-25 02:00 CEST", "10-25 03:00 CET"]
        );
    }

    #[test]
    fn slots_over_a_dst_change_last_their_real_duration() {
        let r = rules("America/Toronto", "01:00", "04:00", 120);
        let s = r.slots_between(
            at("2026-03-08T00:00:00Z"),
            at("2026-03-09T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].ends_at - s[0].starts_at, Duration::minutes(120));
    }

    #[test]
    fn buffers_notice_horizon_and_closures_apply() {
        let mut r = rules("Europe/Paris", "10:00", "13:00", 50);
        r.buffer_minutes = 10;
        let day = local_starts(&r, "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z");
        assert_eq!(
            day,
            ["06-01 10:00 CEST", "06-01 11:00 CEST", "06-01 12:00 CEST"]
        );
        r.exceptions.push(DateException {
            date: "2026-06-01".into(),
            closed: true,
            windows: vec![],
        });
        assert!(local_starts(&r, "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z").is_empty());
        r.exceptions[0] = DateException {
            date: "2026-06-01".into(),
            closed: false,
            windows: vec![TimeWindow {
                start: "15:00".into(),
                end: "16:00".into(),
            }],
        };
        assert_eq!(
            local_starts(&r, "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
            ["06-01 15:00 CEST"]
        );

        let now = at("2026-06-01T08:30:00Z"); // 10:30 in Paris
        r.exceptions.clear();
        r.min_notice_minutes = 60;
        r.horizon_days = 1;
        let s = r.slots_between(now, now + Duration::days(3), now);
        assert_eq!(
            s.first().unwrap().starts_at,
            at("2026-06-01T10:00:00Z"),
            "12:00 local is the first with an hour's notice"
        );
        assert!(s.last().unwrap().starts_at <= now + Duration::days(1));
        assert!(
            r.slot_at(at("2026-06-01T09:00:00Z"), now).is_none(),
            "11:00 local is too soon"
        );
        assert!(r.slot_at(at("2026-06-01T10:00:00Z"), now).is_some());
        assert!(
            r.slot_at(at("2026-06-01T10:05:00Z"), now).is_none(),
            "not a slot start"
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut r = rules("Mars/Olympus", "10:00", "12:00", 60);
        assert_eq!(r.validate().unwrap_err().field, "timezone");
        r.timezone = "Europe/Paris".into();
        r.weekly[0].end = "09:00".into();
        assert_eq!(r.validate().unwrap_err().field, "end");
        r.weekly[0].end = "12:00".into();
        r.weekly[0].weekday = "someday".into();
        assert_eq!(r.validate().unwrap_err().field, "weekday");
        r.weekly[0].weekday = "mon".into();
        r.capacity = 0;
        assert_eq!(r.validate().unwrap_err().field, "capacity");
    }
}
