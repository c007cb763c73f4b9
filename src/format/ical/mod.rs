//! A small iCalendar (RFC 5545) writer for bookings: one `VCALENDAR` with its `VEVENT`s,
//! and a `VTIMEZONE` for every time zone the events use, so that calendar applications
//! show each booking at the venue's wall-clock time.
//!
//! What it takes care of:
//! - content lines end in CRLF and are folded at 75 octets (on UTF-8 character
//!   boundaries; a continuation line starts with one space);
//! - TEXT values are escaped (`\\`, `\;`, `\,`, `\n`), other control characters dropped;
//! - `DTSTART;TZID=…`/`DTEND;TZID=…` carry the venue's local time (converted with
//!   chrono-tz), except for a local time that a fall-back transition makes ambiguous and
//!   that is its second occurrence, which is written in UTC;
//! - the `VTIMEZONE` is computed from the tz database: the zone's offset transitions are
//!   found year by year (hourly scan, then bisection to the second), and when they follow
//!   the same yearly pattern over the years the calendar covers they become one
//!   `STANDARD` and one `DAYLIGHT` sub-component with an `RRULE` such as
//!   `FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU`; a zone without daylight saving gets a single
//!   `STANDARD`; an irregular zone gets one sub-component per transition.
//!
//! It is pure: no I/O, no clock (the caller passes `DTSTAMP`).

pub mod booking;

use actors::booking::BookingStatus;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc,
    Weekday,
};
use chrono_tz::{OffsetName, Tz};
use std::collections::BTreeMap;

/// The product identifier every calendar carries.
pub const PRODID: &str = "-//Fimy//Bookings//FR";
/// The longest content line, in octets, not counting its CRLF.
pub const MAX_LINE_OCTETS: usize = 75;

/// `STATUS` of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Confirmed,
    Cancelled,
    Tentative,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
            Self::Tentative => "TENTATIVE",
        }
    }

    /// The event status of a booking status: booked (and after) is confirmed, not yet
    /// confirmed is tentative, anything that did not or will not happen is cancelled.
    pub fn of_booking(status: BookingStatus) -> Self {
        if status.is_booked() {
            Self::Confirmed
        } else if status.is_unconfirmed() {
            Self::Tentative
        } else {
            Self::Cancelled
        }
    }
}

/// One `VEVENT`.
#[derive(Debug, Clone)]
pub struct Event {
    /// Globally unique, e.g. `<booking id>@fimy`.
    pub uid: String,
    /// `DTSTAMP`: when this calendar was produced.
    pub stamp: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The zone `DTSTART`/`DTEND` are written in (the venue's).
    pub tz: Tz,
    pub summary: String,
    pub location: String,
    pub description: String,
    pub status: EventStatus,
    /// Revision number; increases with every change subscribers must pick up.
    pub sequence: i64,
    /// `LAST-MODIFIED`, when known.
    pub last_modified: Option<DateTime<Utc>>,
}

/// A `VCALENDAR` (`METHOD:PUBLISH`).
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    /// The calendar's name for subscribers (`NAME` and `X-WR-CALNAME`).
    pub name: Option<String>,
    /// How often subscribers should poll (`REFRESH-INTERVAL` and `X-PUBLISHED-TTL`).
    pub refresh_interval: Option<Duration>,
    pub events: Vec<Event>,
}

impl Calendar {
    /// The calendar as iCalendar text.
    pub fn to_ics(&self) -> String {
        let mut w = Writer::default();
        w.prop("BEGIN", "VCALENDAR");
        w.prop("PRODID", PRODID);
        w.prop("VERSION", "2.0");
        w.prop("CALSCALE", "GREGORIAN");
        w.prop("METHOD", "PUBLISH");
        if let Some(name) = &self.name {
            w.text("NAME", name);
            w.text("X-WR-CALNAME", name);
        }
        if let Some(every) = self.refresh_interval {
            let d = duration(every);
            w.prop("REFRESH-INTERVAL;VALUE=DURATION", &d);
            w.prop("X-PUBLISHED-TTL", &d);
        }
        for (tz, first, last) in zone_years(&self.events).into_values() {
            write_vtimezone(&mut w, tz, first, last);
        }
        for ev in &self.events {
            write_event(&mut w, ev);
        }
        w.prop("END", "VCALENDAR");
        w.out
    }
}

// ---------------------------------------------------------------- content lines

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    /// `NAME:VALUE` with the value written as is (already escaped or not TEXT).
    fn prop(&mut self, name: &str, value: &str) {
        fold_into(&mut self.out, &format!("{name}:{value}"));
    }

    /// A TEXT property.
    fn text(&mut self, name: &str, value: &str) {
        self.prop(name, &escape_text(value));
    }
}

/// Appends one content line, folded at [`MAX_LINE_OCTETS`] octets on character
/// boundaries, each physical line ending in CRLF.
pub fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for ch in line.chars() {
        let n = ch.len_utf8();
        if used + n > MAX_LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(ch);
        used += n;
    }
    out.push_str("\r\n");
}

/// One content line, folded, with its CRLF.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    fold_into(&mut out, line);
    out
}

/// Escapes a TEXT value: backslash, semicolon and comma get a backslash, line breaks
/// (CRLF, CR or LF) become `\n`, other control characters but tab are dropped.
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn utc_stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local_stamp(at: NaiveDateTime) -> String {
    at.format("%Y%m%dT%H%M%S").to_string()
}

/// An RFC 5545 duration of whole seconds, e.g. `PT1H`, `P1D`, `PT90M` → `PT1H30M`.
fn duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 || days == 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 || (h == 0 && m == 0) {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

/// A UTC offset as `+hhmm` (or `+hhmmss` when it has seconds).
fn utc_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a % 3600 / 60, a % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

// ---------------------------------------------------------------- events

/// `NAME;TZID=zone:local` or, when the local time would be read as another instant
/// (second occurrence of an ambiguous time), `NAME:utcZ`.
fn date_time_prop(w: &mut Writer, name: &str, at: DateTime<Utc>, tz: Tz) {
    let local = at.with_timezone(&tz).naive_local();
    let reads_back = match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t == at,
        LocalResult::Ambiguous(first, _) => first == at,
        LocalResult::None => false,
    };
    if reads_back {
        w.prop(&format!("{name};TZID={}", tz.name()), &local_stamp(local));
    } else {
        w.prop(name, &utc_stamp(at));
    }
}

fn write_event(w: &mut Writer, ev: &Event) {
    w.prop("BEGIN", "VEVENT");
    w.text("UID", &ev.uid);
    w.prop("DTSTAMP", &utc_stamp(ev.stamp));
    date_time_prop(w, "DTSTART", ev.start, ev.tz);
    date_time_prop(w, "DTEND", ev.end.max(ev.start), ev.tz);
    w.prop("SEQUENCE", &ev.sequence.max(0).to_string());
    w.prop("STATUS", ev.status.as_str());
    w.text("SUMMARY", &ev.summary);
    if !ev.location.is_empty() {
        w.text("LOCATION", &ev.location);
    }
    if !ev.description.is_empty() {
        w.text("DESCRIPTION", &ev.description);
    }
    if let Some(at) = ev.last_modified {
        w.prop("LAST-MODIFIED", &utc_stamp(at));
    }
    w.prop(
        "TRANSP",
        if ev.status == EventStatus::Cancelled {
            "TRANSPARENT"
        } else {
            "OPAQUE"
        },
    );
    w.prop("END", "VEVENT");
}

/// For each zone used (by name), the local years its events fall in, widened by one
/// year on each side so that the time-zone rules cover every event.
fn zone_years(events: &[Event]) -> BTreeMap<&'static str, (Tz, i32, i32)> {
    let mut zones: BTreeMap<&'static str, (Tz, i32, i32)> = BTreeMap::new();
    for ev in events {
        for at in [ev.start, ev.end] {
            let y = at.with_timezone(&ev.tz).year();
            zones
                .entry(ev.tz.name())
                .and_modify(|(_, a, b)| {
                    *a = (*a).min(y - 1);
                    *b = (*b).max(y + 1);
                })
                .or_insert((ev.tz, y - 1, y + 1));
        }
    }
    zones
}

// ---------------------------------------------------------------- time zones

/// A change of a zone's UTC offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The first instant with the new offset.
    pub at: DateTime<Utc>,
    /// Offsets in seconds east of UTC, before and after.
    pub from: i32,
    pub to: i32,
    /// The abbreviation in use after it (`CEST`), when the tz database has one.
    pub name: Option<String>,
}

impl Transition {
    /// The wall-clock time of the transition, read in the offset before it (what a
    /// `VTIMEZONE` sub-component's `DTSTART` holds).
    pub fn local_onset(&self) -> NaiveDateTime {
        self.at.naive_utc() + Duration::seconds(i64::from(self.from))
    }

    fn is_daylight(&self) -> bool {
        self.to > self.from
    }
}

fn offset_at(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

fn abbreviation_at(tz: Tz, at: DateTime<Utc>) -> Option<String> {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .abbreviation()
        .map(str::to_owned)
}

fn year_start(year: i32) -> Option<DateTime<Utc>> {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The offset transitions of `tz` during the (UTC) calendar year `year`, in order: the
/// year is scanned hour by hour, and each change is narrowed to the second by bisection.
pub fn transitions(tz: Tz, year: i32) -> Vec<Transition> {
    let (Some(start), Some(end)) = (year_start(year), year_start(year + 1)) else {
        return Vec::new();
    };
    let hour = Duration::hours(1);
    let mut found = Vec::new();
    let mut t = start;
    let mut offset = offset_at(tz, t);
    while t < end {
        let next = t + hour;
        let next_offset = offset_at(tz, next);
        if next_offset != offset {
            // Invariant: `lo` has the old offset, `hi` the new one.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == offset {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            found.push(Transition {
                at: hi,
                from: offset,
                to: next_offset,
                name: abbreviation_at(tz, hi),
            });
            offset = next_offset;
        }
        t = next;
    }
    found
}

fn weekday_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

/// The yearly rule (`FREQ=YEARLY;BYMONTH=m;BYDAY=nDD`) that produces the local onsets of
/// these transitions (one per year, consecutive years), if there is one: the same month,
/// weekday, time of day and offsets every year, and either always the n-th such weekday
/// of the month or always the last one (preferred: it is how most rules are written).
pub fn yearly_rule(onsets: &[Transition]) -> Option<String> {
    let first = onsets.first()?;
    let f = first.local_onset();
    let (month, weekday, time) = (f.month(), f.weekday(), f.time());
    let mut always_last = true;
    let mut nth = Some((f.day() - 1) / 7 + 1);
    for (i, t) in onsets.iter().enumerate() {
        let l = t.local_onset();
        let expected_year = f.year() + i32::try_from(i).ok()?;
        if l.year() != expected_year
            || l.month() != month
            || l.weekday() != weekday
            || l.time() != time
            || t.from != first.from
            || t.to != first.to
        {
            return None;
        }
        always_last &= l.day() + 7 > days_in_month(l.year(), l.month());
        if nth != Some((l.day() - 1) / 7 + 1) {
            nth = None;
        }
    }
    let by_day = if always_last {
        format!("-1{}", weekday_code(weekday))
    } else {
        format!("{}{}", nth?, weekday_code(weekday))
    };
    Some(format!("FREQ=YEARLY;BYMONTH={month};BYDAY={by_day}"))
}

fn write_observance(w: &mut Writer, t: &Transition, rrule: Option<&str>) {
    let kind = if t.is_daylight() {
        "DAYLIGHT"
    } else {
        "STANDARD"
    };
    w.prop("BEGIN", kind);
    w.prop("DTSTART", &local_stamp(t.local_onset()));
    w.prop("TZOFFSETFROM", &utc_offset(t.from));
    w.prop("TZOFFSETTO", &utc_offset(t.to));
    if let Some(r) = rrule {
        w.prop("RRULE", r);
    }
    if let Some(name) = &t.name {
        w.text("TZNAME", name);
    }
    w.prop("END", kind);
}

/// The `VTIMEZONE` of `tz`, valid for the local years `first..=last`.
fn write_vtimezone(w: &mut Writer, tz: Tz, first: i32, last: i32) {
    w.prop("BEGIN", "VTIMEZONE");
    w.text("TZID", tz.name());
    let per_year: Vec<Vec<Transition>> = (first..=last).map(|y| transitions(tz, y)).collect();
    let all: Vec<Transition> = per_year.iter().flatten().cloned().collect();
    let base_at = year_start(first).unwrap_or_else(Utc::now);
    let base = Transition {
        at: base_at,
        from: offset_at(tz, base_at),
        to: offset_at(tz, base_at),
        name: abbreviation_at(tz, base_at),
    };
    let fixed_observance = |w: &mut Writer, t: &Transition| {
        // A fixed offset: one STANDARD observance from long before any event.
        w.prop("BEGIN", "STANDARD");
        w.prop("DTSTART", "19700101T000000");
        w.prop("TZOFFSETFROM", &utc_offset(t.from));
        w.prop("TZOFFSETTO", &utc_offset(t.from));
        if let Some(name) = &t.name {
            w.text("TZNAME", name);
        }
        w.prop("END", "STANDARD");
    };
    if all.is_empty() {
        fixed_observance(w, &base);
    } else {
        let yearly = per_year.iter().all(|y| y.len() == 2).then(|| {
            let (daylight, standard): (Vec<Transition>, Vec<Transition>) =
                all.iter().cloned().partition(Transition::is_daylight);
            let d = daylight.first().cloned().zip(yearly_rule(&daylight));
            let s = standard.first().cloned().zip(yearly_rule(&standard));
            d.zip(s)
        });
        match yearly.flatten() {
            Some(((daylight, d_rule), (standard, s_rule))) => {
                write_observance(w, &standard, Some(&s_rule));
                write_observance(w, &daylight, Some(&d_rule));
            }
            None => {
                // No yearly pattern (rules changed, or not Sunday-based): every
                // transition of the covered years, after the offset in force before them.
                let before = Transition {
                    from: all[0].from,
                    to: all[0].from,
                    name: abbreviation_at(tz, all[0].at - Duration::seconds(1)),
                    ..base
                };
                fixed_observance(w, &before);
                for t in &all {
                    write_observance(w, t, None);
                }
            }
        }
    }
    w.prop("END", "VTIMEZONE");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn event(tz: Tz, start: DateTime<Utc>) -> Event {
        Event {
            uid: "0190c3b2-0000-7000-8000-000000000001@fimy".into(),
            stamp: utc(2026, 1, 10, 9, 0),
            start,
            end: start + Duration::minutes(150),
            tz,
            summary: "Menu dégustation à l'érable — Rémi (2 pers.)".into(),
            location: "Bistro du Plateau, 4321 rue Saint-Denis, Montréal".into(),
            description: "Réservation Fimy\nPersonnes : 2; merci".into(),
            status: EventStatus::Confirmed,
            sequence: 3,
            last_modified: None,
        }
    }

    /// A content line: name, parameters, value.
    type Prop = (String, Vec<(String, String)>, String);

    /// Unfolds and splits into (name, params, value), checking the property grammar:
    /// `NAME *(";" PARAM "=" VALUE) ":" VALUE`.
    fn parse(ics: &str) -> Vec<Prop> {
        assert!(ics.ends_with("\r\n"));
        let unfolded = ics.replace("\r\n ", "");
        unfolded
            .strip_suffix("\r\n")
            .unwrap()
            .split("\r\n")
            .map(|line| {
                assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
                let mut in_quotes = false;
                let colon = line
                    .char_indices()
                    .find(|&(_, c)| {
                        if c == '"' {
                            in_quotes = !in_quotes;
                        }
                        c == ':' && !in_quotes
                    })
                    .map(|(i, _)| i)
                    .unwrap_or_else(|| panic!("no ':' in {line:?}"));
                let (head, value) = (&line[..colon], &line[colon + 1..]);
                let mut parts = head.split(';');
                let name = parts.next().unwrap().to_owned();
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                    "bad name in {line:?}"
                );
                let params = parts
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or_else(|| panic!("{line:?}"));
                        assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                (name, params, value.to_owned())
            })
            .collect()
    }

    fn values<'a>(props: &'a [Prop], name: &str) -> Vec<&'a str> {
        props
            .iter()
            .filter(|p| p.0 == name)
            .map(|p| p.2.as_str())
            .collect()
    }

    /// The lines of the component that starts at the n-th `BEGIN:{kind}`.
    fn component(ics: &str, kind: &str, n: usize) -> Vec<String> {
        let unfolded = ics.replace("\r\n ", "");
        let lines: Vec<&str> = unfolded.split("\r\n").collect();
        let begin = format!("BEGIN:{kind}");
        let end = format!("END:{kind}");
        let start = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == begin)
            .nth(n)
            .unwrap()
            .0;
        lines[start..]
            .iter()
            .take_while(|l| **l != end)
            .map(|l| (*l).to_owned())
            .collect()
    }

    #[test]
    fn lines_fold_at_75_octets_on_character_boundaries() {
        let long = format!("DESCRIPTION:{}", "é".repeat(100));
        let folded = fold(&long);
        for line in folded.strip_suffix("\r\n").unwrap().split("\r\n") {
            assert!(line.len() <= MAX_LINE_OCTETS, "{} octets", line.len());
        }
        let physical: Vec<&str> = folded.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        assert!(physical.len() > 2);
        assert!(physical[1..].iter().all(|l| l.starts_with(' ')));
        // "DESCRIPTION:" is 12 octets; 31 two-octet characters fill 74, the 32nd would
        // make 76.
        assert_eq!(physical[0].len(), 74);
        assert_eq!(folded.replace("\r\n ", ""), format!("{long}\r\n"));
        // A 4-octet character is never split either.
        let emoji = fold(&format!("SUMMARY:{}", "🎉".repeat(40)));
        assert_eq!(
            emoji.replace("\r\n ", "").trim_end(),
            format!("SUMMARY:{}", "🎉".repeat(40))
        );
        // Exactly 75 octets stays on one line.
        let exact = "X".repeat(75);
        assert_eq!(fold(&exact), format!("{exact}\r\n"));
        assert_eq!(fold(&"X".repeat(76)), format!("{exact}\r\n X\r\n"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\r\nf\rg\u{7}h\ti"),
            "a\\\\b\\;c\\,d\\ne\\nf\\ngh\ti"
        );
        assert_eq!(escape_text("Crème brûlée"), "Crème brûlée");
    }

    #[test]
    fn a_paris_event_is_in_paris_time_with_its_rules() {
        // 18:30 UTC on 10 July 2026 is 20:30 in Paris (CEST, +02:00).
        let cal = Calendar {
            events: vec![event(chrono_tz::Europe::Paris, utc(2026, 7, 10, 18, 30))],
            ..Default::default()
        };
        let ics = cal.to_ics();
        let props = parse(&ics);
        let start = props
            .iter()
            .find(|p| p.0 == "DTSTART" && !p.1.is_empty())
            .unwrap();
        assert_eq!(
            start.1,
            vec![("TZID".to_owned(), "Europe/Paris".to_owned())]
        );
        assert_eq!(start.2, "20260710T203000");
        assert!(ics.contains("DTEND;TZID=Europe/Paris:20260710T230000\r\n"));
        assert_eq!(values(&props, "TZID"), ["Europe/Paris"]);
        let standard = component(&ics, "STANDARD", 0);
        assert!(
            standard.contains(&"TZOFFSETFROM:+0200".to_owned()),
            "{standard:?}"
        );
        assert!(standard.contains(&"TZOFFSETTO:+0100".to_owned()));
        assert!(standard.contains(&"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU".to_owned()));
        // The covered years start at 2025: the last Sunday of October 2025 is the 26th.
        assert!(standard.contains(&"DTSTART:20251026T030000".to_owned()));
        assert!(standard.contains(&"TZNAME:CET".to_owned()));
        let daylight = component(&ics, "DAYLIGHT", 0);
        assert!(
            daylight.contains(&"TZOFFSETFROM:+0100".to_owned()),
            "{daylight:?}"
        );
        assert!(daylight.contains(&"TZOFFSETTO:+0200".to_owned()));
        assert!(daylight.contains(&"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU".to_owned()));
        assert!(daylight.contains(&"DTSTART:20250330T020000".to_owned()));
        assert!(daylight.contains(&"TZNAME:CEST".to_owned()));
    }

    #[test]
    fn a_toronto_event_gets_second_sunday_of_march_and_first_of_november() {
        // 23:00 UTC on 20 January 2026 is 18:00 in Toronto (EST, -05:00).
        let cal = Calendar {
            events: vec![event(chrono_tz::America::Toronto, utc(2026, 1, 20, 23, 0))],
            ..Default::default()
        };
        let ics = cal.to_ics();
        assert!(ics.contains("\r\nDTSTART;TZID=America/Toronto:20260120T180000\r\n"));
        let standard = component(&ics, "STANDARD", 0);
        assert!(
            standard.contains(&"RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU".to_owned()),
            "{standard:?}"
        );
        assert!(standard.contains(&"TZOFFSETFROM:-0400".to_owned()));
        assert!(standard.contains(&"TZOFFSETTO:-0500".to_owned()));
        assert!(standard.contains(&"DTSTART:20251102T020000".to_owned()));
        let daylight = component(&ics, "DAYLIGHT", 0);
        assert!(
            daylight.contains(&"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU".to_owned()),
            "{daylight:?}"
        );
        assert!(daylight.contains(&"TZOFFSETFROM:-0500".to_owned()));
        assert!(daylight.contains(&"TZOFFSETTO:-0400".to_owned()));
        assert!(daylight.contains(&"DTSTART:20250309T020000".to_owned()));
    }

    #[test]
    fn a_zone_without_daylight_saving_has_one_standard_observance() {
        let cal = Calendar {
            events: vec![event(chrono_tz::Asia::Tokyo, utc(2026, 3, 1, 3, 0))],
            ..Default::default()
        };
        let ics = cal.to_ics();
        assert!(ics.contains("DTSTART;TZID=Asia/Tokyo:20260301T120000\r\n"));
        assert_eq!(ics.matches("BEGIN:STANDARD").count(), 1);
        assert!(!ics.contains("BEGIN:DAYLIGHT"));
        assert!(ics.contains("TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900\r\n"));
        assert!(!ics.contains("RRULE"));
    }

    #[test]
    fn transitions_are_found_to_the_second() {
        let t = transitions(chrono_tz::Europe::Paris, 2026);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].at, utc(2026, 3, 29, 1, 0));
        assert_eq!((t[0].from, t[0].to), (3600, 7200));
        assert_eq!(t[1].at, utc(2026, 10, 25, 1, 0));
        assert!(transitions(chrono_tz::Asia::Tokyo, 2026).is_empty());
        // Lord Howe moves by half an hour; in October at 2:00 local (+10:30) = 15:30 UTC.
        let lh = transitions(chrono_tz::Australia::Lord_Howe, 2026);
        assert_eq!(lh.len(), 2);
        assert_eq!((lh[1].to - lh[1].from, lh[1].at.minute()), (1800, 30));
        assert_eq!(
            yearly_rule(&[lh[1].clone()]).as_deref(),
            Some("FREQ=YEARLY;BYMONTH=10;BYDAY=1SU")
        );
    }

    #[test]
    fn an_ambiguous_second_occurrence_is_written_in_utc() {
        // Toronto falls back at 06:00 UTC on 1 November 2026: 01:30 local happens twice.
        let second = utc(2026, 11, 1, 6, 30);
        let first = utc(2026, 11, 1, 5, 30);
        let tz = chrono_tz::America::Toronto;
        let ics = Calendar {
            events: vec![event(tz, first), event(tz, second)],
            ..Default::default()
        }
        .to_ics();
        assert!(ics.contains("DTSTART;TZID=America/Toronto:20261101T013000\r\n"));
        assert!(ics.contains("DTSTART:20261101T063000Z\r\n"));
    }

    #[test]
    fn the_calendar_is_crlf_throughout_and_parses_as_content_lines() {
        let mut ev = event(chrono_tz::Europe::Paris, utc(2026, 7, 10, 18, 30));
        ev.description = format!("{} ; , \\ fin\nligne 2", "Atelier pâtisserie ".repeat(10));
        ev.status = EventStatus::Cancelled;
        let cal = Calendar {
            name: Some("Fimy — Le Comptoir, Paris".into()),
            refresh_interval: Some(Duration::hours(1)),
            events: vec![
                ev,
                event(chrono_tz::America::Toronto, utc(2026, 1, 20, 23, 0)),
            ],
        };
        let ics = cal.to_ics();
        // Every line break is a CRLF, and no physical line is longer than 75 octets.
        assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
        assert_eq!(ics.matches('\r').count(), ics.matches("\r\n").count());
        for line in ics.split("\r\n") {
            assert!(line.len() <= MAX_LINE_OCTETS);
        }
        let props = parse(&ics);
        assert_eq!(props.first().unwrap().2, "VCALENDAR");
        assert_eq!(values(&props, "PRODID"), [PRODID]);
        assert_eq!(values(&props, "VERSION"), ["2.0"]);
        assert_eq!(values(&props, "CALSCALE"), ["GREGORIAN"]);
        assert_eq!(values(&props, "METHOD"), ["PUBLISH"]);
        assert_eq!(
            values(&props, "X-WR-CALNAME"),
            ["Fimy — Le Comptoir\\, Paris"]
        );
        assert_eq!(values(&props, "REFRESH-INTERVAL"), ["PT1H"]);
        assert_eq!(values(&props, "STATUS"), ["CANCELLED", "CONFIRMED"]);
        assert_eq!(values(&props, "SEQUENCE"), ["3", "3"]);
        assert_eq!(
            values(&props, "DTSTAMP"),
            ["20260110T090000Z", "20260110T090000Z"]
        );
        assert!(values(&props, "DESCRIPTION")[0].ends_with("\\; \\, \\\\ fin\\nligne 2"));
        // Components nest properly.
        let mut stack = Vec::new();
        for (name, _, value) in &props {
            match name.as_str() {
                "BEGIN" => stack.push(value.clone()),
                "END" => assert_eq!(stack.pop().as_deref(), Some(value.as_str())),
                _ => assert!(!stack.is_empty()),
            }
        }
        assert!(stack.is_empty());
        assert_eq!(values(&props, "TZID"), ["America/Toronto", "Europe/Paris"]);
        assert_eq!(
            values(&props, "BEGIN")
                .iter()
                .filter(|v| **v == "VEVENT")
                .count(),
            2
        );
    }

    #[test]
    fn durations_and_offsets_are_formatted() {
        assert_eq!(duration(Duration::hours(1)), "PT1H");
        assert_eq!(duration(Duration::minutes(90)), "PT1H30M");
        assert_eq!(duration(Duration::days(1)), "P1D");
        assert_eq!(duration(Duration::zero()), "PT0S");
        assert_eq!(utc_offset(-18_000), "-0500");
        assert_eq!(utc_offset(0), "+0000");
        assert_eq!(utc_offset(19_800), "+0530");
        assert_eq!(
            EventStatus::of_booking(BookingStatus::NoShow),
            EventStatus::Confirmed
        );
        assert_eq!(
            EventStatus::of_booking(BookingStatus::Held),
            EventStatus::Tentative
        );
        assert_eq!(
            EventStatus::of_booking(BookingStatus::Expired),
            EventStatus::Cancelled
        );
    }
}
