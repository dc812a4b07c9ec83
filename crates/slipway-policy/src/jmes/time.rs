//! Kyverno's time functions (`pkg/engine/jmespath/time.go`) with Go's
//! semantics: layouts are Go reference layouts (`2006-01-02T15:04:05Z07:00`),
//! durations are Go durations (`1h30m0s`), results are RFC 3339 strings
//! keeping the parsed offset (`Z` for a zero offset, as Go prints it).

use chrono::{Datelike, FixedOffset, NaiveDate, Offset, TimeZone, Timelike, Utc};
use jmespath::Runtime;

use crate::duration::Duration;

use super::functions::{add, string};
use super::value::{bool_var, str_var};

/// Go's `time.RFC3339` layout.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// An instant with the UTC offset it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime(chrono::DateTime<FixedOffset>);

impl GoTime {
    /// Nanoseconds between `self` and `other` (`self - other`), saturated to
    /// the range of a Go duration.
    pub fn sub(&self, other: &GoTime) -> i64 {
        let diff = self.0.signed_duration_since(other.0);
        diff.num_nanoseconds()
            .unwrap_or(if diff > chrono::TimeDelta::zero() {
                i64::MAX
            } else {
                i64::MIN
            })
    }

    /// The instant `nanos` later, in the same offset.
    pub fn add_nanos(&self, nanos: i64) -> Result<GoTime, String> {
        self.0
            .checked_add_signed(chrono::TimeDelta::nanoseconds(nanos))
            .map(GoTime)
            .ok_or_else(|| "time out of range".to_owned())
    }

    /// The same instant in UTC.
    pub fn utc(&self) -> GoTime {
        GoTime(self.0.with_timezone(&utc_offset()))
    }

    /// Formats as Go's `t.Format(time.RFC3339)`.
    pub fn rfc3339(&self) -> String {
        let t = &self.0;
        let offset = t.offset().local_minus_utc();
        let zone = if offset == 0 {
            "Z".to_owned()
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            format!("{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60)
        };
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// Go's `t.Truncate(d)`: rounds down to a multiple of `d` since Go's zero
    /// time (0001-01-01 UTC); `d <= 0` leaves the time unchanged.
    pub fn truncate(&self, d: i64) -> Result<GoTime, String> {
        if d <= 0 {
            return Ok(*self);
        }
        // Seconds from 0001-01-01T00:00:00Z to the Unix epoch.
        const ZERO_TO_UNIX: i128 = 62_135_596_800;
        let t = &self.0;
        let abs = (i128::from(t.timestamp()) + ZERO_TO_UNIX) * 1_000_000_000
            + i128::from(t.timestamp_subsec_nanos());
        let rem = abs.rem_euclid(i128::from(d));
        let rem = i64::try_from(rem).map_err(|_| "duration out of range".to_owned())?;
        self.add_nanos(-rem)
    }

    /// The cron expression (`minute hour day month weekday`) for this time in
    /// its own offset, as Kyverno's `time_to_cron` builds it.
    pub fn cron(&self) -> String {
        let t = &self.0;
        format!(
            "{} {} {} {} {}",
            t.minute(),
            t.hour(),
            t.day(),
            t.month(),
            t.weekday().num_days_from_sunday()
        )
    }

    /// The current time in UTC.
    pub fn now_utc() -> GoTime {
        GoTime(Utc::now().with_timezone(&utc_offset()))
    }

    /// The current time in the machine's local offset.
    pub fn now_local() -> GoTime {
        GoTime(chrono::Local::now().fixed_offset())
    }
}

fn utc_offset() -> FixedOffset {
    Utc.fix()
}

pub(crate) fn register(rt: &mut Runtime) {
    add(rt, "time_since", 3, |f, a| {
        let layout = string(f, a, 0)?;
        let layout = if layout.is_empty() { RFC3339 } else { layout };
        let t1 = parse(layout, string(f, a, 1)?).map_err(|e| fail(f, &e))?;
        let t2 = match string(f, a, 2)? {
            "" => GoTime::now_local(),
            s => parse(layout, s).map_err(|e| fail(f, &e))?,
        };
        Ok(str_var(format_duration(t2.sub(&t1))))
    });
    add(rt, "time_now", 0, |_, _| {
        Ok(str_var(GoTime::now_local().rfc3339()))
    });
    add(rt, "time_now_utc", 0, |_, _| {
        Ok(str_var(GoTime::now_utc().rfc3339()))
    });
    add(rt, "time_to_cron", 1, |f, a| {
        Ok(str_var(time_arg(f, a, 0)?.cron()))
    });
    add(rt, "time_add", 2, |f, a| {
        let t = time_arg(f, a, 0)?;
        let d = duration_arg(f, a, 1)?;
        Ok(str_var(t.add_nanos(d).map_err(|e| fail(f, &e))?.rfc3339()))
    });
    add(rt, "time_parse", 2, |f, a| {
        let layout = string(f, a, 0)?;
        let value = string(f, a, 1)?;
        // A layout that is an integer means "epoch seconds" in Kyverno.
        if layout.parse::<i64>().is_ok() {
            let secs: i64 = value.parse().map_err(|_| {
                fail(
                    f,
                    &format!("strconv.ParseInt: parsing {value:?}: invalid syntax"),
                )
            })?;
            let t = Utc
                .timestamp_opt(secs, 0)
                .single()
                .ok_or_else(|| fail(f, "time out of range"))?;
            return Ok(str_var(GoTime(t.with_timezone(&utc_offset())).rfc3339()));
        }
        Ok(str_var(
            parse(layout, value).map_err(|e| fail(f, &e))?.rfc3339(),
        ))
    });
    add(rt, "time_utc", 1, |f, a| {
        Ok(str_var(time_arg(f, a, 0)?.utc().rfc3339()))
    });
    add(rt, "time_diff", 2, |f, a| {
        let t1 = time_arg(f, a, 0)?;
        let t2 = time_arg(f, a, 1)?;
        Ok(str_var(format_duration(t2.sub(&t1))))
    });
    add(rt, "time_before", 2, |f, a| {
        Ok(bool_var(time_arg(f, a, 0)?.0 < time_arg(f, a, 1)?.0))
    });
    add(rt, "time_after", 2, |f, a| {
        Ok(bool_var(time_arg(f, a, 0)?.0 > time_arg(f, a, 1)?.0))
    });
    add(rt, "time_between", 3, |f, a| {
        let t = time_arg(f, a, 0)?;
        let start = time_arg(f, a, 1)?;
        let end = time_arg(f, a, 2)?;
        Ok(bool_var(t.0 > start.0 && t.0 < end.0))
    });
    add(rt, "time_truncate", 2, |f, a| {
        let t = time_arg(f, a, 0)?;
        let d = duration_arg(f, a, 1)?;
        Ok(str_var(t.truncate(d).map_err(|e| fail(f, &e))?.rfc3339()))
    });
}

fn fail(function: &str, message: &str) -> String {
    format!("JMESPath function '{function}': {message}")
}

fn time_arg(f: &'static str, a: &[jmespath::Rcvar], i: usize) -> Result<GoTime, String> {
    parse(RFC3339, string(f, a, i)?).map_err(|e| fail(f, &e))
}

fn duration_arg(f: &'static str, a: &[jmespath::Rcvar], i: usize) -> Result<i64, String> {
    parse_duration(string(f, a, i)?).map_err(|e| fail(f, &e))
}

/// Parses a Go duration into nanoseconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    Duration::parse(s)
        .map(|d| d.as_nanos())
        .map_err(|e| e.to_string())
}

/// Formats nanoseconds as Go's `Duration.String()`.
fn format_duration(nanos: i64) -> String {
    Duration(nanos).to_string()
}

// ---------------------------------------------------------------------------
// Go layouts
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    PmLower,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// Fractional seconds with a fixed number of digits (`.000`).
    FracSecond0(usize),
    /// Optional fractional seconds (`.999`).
    FracSecond9(usize),
}

/// Finds the next layout element: (literal prefix, element, text after it).
fn next_std(layout: &str) -> (&str, Option<(Std, &str)>, &str) {
    let b = layout.as_bytes();
    let starts = |i: usize, s: &str| layout[i..].starts_with(s);
    for i in 0..b.len() {
        if !layout.is_char_boundary(i) {
            continue;
        }
        let hit: Option<(Std, usize)> = match b[i] {
            b'J' if starts(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if starts(i, "Jan") => Some((Std::Month, 3)),
            b'M' if starts(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if starts(i, "Mon") => Some((Std::WeekDay, 3)),
            b'M' if starts(i, "MST") => Some((Std::Tz, 3)),
            b'0' if starts(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                match b[i + 1] {
                    b'1' => Std::ZeroMonth,
                    b'2' => Std::ZeroDay,
                    b'3' => Std::ZeroHour12,
                    b'4' => Std::ZeroMinute,
                    b'5' => Std::ZeroSecond,
                    _ => Std::Year,
                },
                2,
            )),
            b'1' if starts(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if starts(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if starts(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'_' if starts(i, "_2") && !starts(i, "_2006") => Some((Std::UnderDay, 2)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if starts(i, "PM") => Some((Std::Pm, 2)),
            b'p' if starts(i, "pm") => Some((Std::PmLower, 2)),
            b'-' if starts(i, "-070000") => Some((Std::NumSecondsTz, 7)),
            b'-' if starts(i, "-07:00:00") => Some((Std::NumColonSecondsTz, 9)),
            b'-' if starts(i, "-0700") => Some((Std::NumTz, 5)),
            b'-' if starts(i, "-07:00") => Some((Std::NumColonTz, 6)),
            b'-' if starts(i, "-07") => Some((Std::NumShortTz, 3)),
            b'Z' if starts(i, "Z070000") => Some((Std::Iso8601SecondsTz, 7)),
            b'Z' if starts(i, "Z07:00:00") => Some((Std::Iso8601ColonSecondsTz, 9)),
            b'Z' if starts(i, "Z0700") => Some((Std::Iso8601Tz, 5)),
            b'Z' if starts(i, "Z07:00") => Some((Std::Iso8601ColonTz, 6)),
            b'Z' if starts(i, "Z07") => Some((Std::Iso8601ShortTz, 3)),
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else if ch == b'0' {
                    Some((Std::FracSecond0(j - i - 1), j - i))
                } else {
                    Some((Std::FracSecond9(j - i - 1), j - i))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = hit {
            return (
                &layout[..i],
                Some((std, &layout[i..i + len])),
                &layout[i + len..],
            );
        }
    }
    (layout, None, "")
}

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Case-insensitive prefix lookup of one of `names` (Go's `lookup`).
fn lookup_name(names: &[&str], value: &str) -> Option<(usize, usize)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let n = name.len();
        (value.len() >= n && value.is_char_boundary(n) && value[..n].eq_ignore_ascii_case(name))
            .then_some((i, n))
    })
}

/// Reads 1–2 digits (exactly 2 when `fixed`).
fn getnum(value: &str, fixed: bool) -> Option<(u32, &str)> {
    let b = value.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    if b.len() < 2 || !b[1].is_ascii_digit() {
        if fixed {
            return None;
        }
        return Some((u32::from(b[0] - b'0'), &value[1..]));
    }
    Some((
        u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0'),
        &value[2..],
    ))
}

/// Reads exactly `n` digits.
fn getdigits(value: &str, n: usize) -> Option<(u32, &str)> {
    let b = value.as_bytes();
    if b.len() < n || !b[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = b[..n]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    Some((v, &value[n..]))
}

/// Nanoseconds from a fraction `.ddd` (the leading separator included).
fn parse_nanos(frac: &str) -> Option<u32> {
    let digits = &frac[1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ns: u32 = 0;
    for (i, d) in digits.bytes().take(9).enumerate() {
        ns += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(ns)
}

/// Parses `value` with a Go reference `layout`, like Go's `time.Parse`
/// (times without a zone are UTC; an unknown zone abbreviation gets offset 0).
///
/// # Errors
/// Go-style `parsing time "v" as "layout": cannot parse "rest" as "elem"`.
pub fn parse(layout: &str, value: &str) -> Result<GoTime, String> {
    let err = |rest: &str, elem: &str| {
        format!("parsing time {value:?} as {layout:?}: cannot parse {rest:?} as {elem:?}")
    };
    let range_err = |what: &str| format!("parsing time {value:?}: {what} out of range");
    let mut layout_rest = layout;
    let mut v = value;
    let mut year: i32 = 0;
    let mut month: u32 = 1;
    let mut day: u32 = 1;
    let mut yday: Option<u32> = None;
    let mut hour: u32 = 0;
    let mut minute: u32 = 0;
    let mut second: u32 = 0;
    let mut nanos: u32 = 0;
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut month_set = false;
    let mut day_set = false;
    loop {
        let (prefix, std, suffix) = next_std(layout_rest);
        // Literal text must match; Go skips leading spaces on both sides.
        let p = prefix;
        if !v.starts_with(p) {
            return Err(err(v, p));
        }
        v = &v[p.len()..];
        let Some((std, elem)) = std else {
            if !v.is_empty() {
                return Err(format!("parsing time {value:?}: extra text: {v:?}"));
            }
            break;
        };
        layout_rest = suffix;
        let before = v;
        let bad = || err(before, elem);
        match std {
            Std::Year => {
                let (y, r) = getdigits(v, 2).ok_or_else(bad)?;
                year = if y >= 69 {
                    1900 + y as i32
                } else {
                    2000 + y as i32
                };
                v = r;
            }
            Std::LongYear => {
                let (y, r) = getdigits(v, 4).ok_or_else(bad)?;
                year = y as i32;
                v = r;
            }
            Std::Month | Std::LongMonth => {
                let (i, n) = if std == Std::Month {
                    let shorts: Vec<&str> = LONG_MONTHS.iter().map(|m| &m[..3]).collect();
                    lookup_name(&shorts, v)
                } else {
                    lookup_name(&LONG_MONTHS, v)
                }
                .ok_or_else(bad)?;
                month = i as u32 + 1;
                month_set = true;
                v = &v[n..];
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (m, r) = getnum(v, std == Std::ZeroMonth).ok_or_else(bad)?;
                if !(1..=12).contains(&m) {
                    return Err(range_err("month"));
                }
                month = m;
                month_set = true;
                v = r;
            }
            Std::WeekDay | Std::LongWeekDay => {
                let (_, n) = if std == Std::WeekDay {
                    let shorts: Vec<&str> = LONG_DAYS.iter().map(|d| &d[..3]).collect();
                    lookup_name(&shorts, v)
                } else {
                    lookup_name(&LONG_DAYS, v)
                }
                .ok_or_else(bad)?;
                v = &v[n..];
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && v.starts_with(' ') {
                    v = &v[1..];
                }
                let (d, r) = getnum(v, std == Std::ZeroDay).ok_or_else(bad)?;
                day = d;
                day_set = true;
                v = r;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                let mut w = v;
                if std == Std::UnderYearDay {
                    for _ in 0..2 {
                        if let Some(r) = w.strip_prefix(' ') {
                            w = r;
                        }
                    }
                }
                let n = w.bytes().take(3).take_while(u8::is_ascii_digit).count();
                if n == 0 || (std == Std::ZeroYearDay && n != 3) {
                    return Err(bad());
                }
                let (d, r) = getdigits(w, n).ok_or_else(bad)?;
                if !(1..=366).contains(&d) {
                    return Err(range_err("day-of-year"));
                }
                yday = Some(d);
                v = r;
            }
            Std::Hour => {
                let (h, r) = getnum(v, false).ok_or_else(bad)?;
                if h >= 24 {
                    return Err(range_err("hour"));
                }
                hour = h;
                v = r;
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (h, r) = getnum(v, std == Std::ZeroHour12).ok_or_else(bad)?;
                if h > 12 {
                    return Err(range_err("hour"));
                }
                hour = h;
                v = r;
            }
            Std::Minute | Std::ZeroMinute => {
                let (m, r) = getnum(v, std == Std::ZeroMinute).ok_or_else(bad)?;
                if m >= 60 {
                    return Err(range_err("minute"));
                }
                minute = m;
                v = r;
            }
            Std::Second | Std::ZeroSecond => {
                let (s, r) = getnum(v, std == Std::ZeroSecond).ok_or_else(bad)?;
                if s >= 60 {
                    return Err(range_err("second"));
                }
                second = s;
                v = r;
                // Go accepts a fraction after the seconds even when the layout
                // has none, unless the layout's next element is a fraction.
                let vb = v.as_bytes();
                if vb.len() >= 2 && (vb[0] == b'.' || vb[0] == b',') && vb[1].is_ascii_digit() {
                    let (_, next, _) = next_std(layout_rest);
                    let next_is_frac =
                        matches!(next, Some((Std::FracSecond0(_) | Std::FracSecond9(_), _)))
                            && next_std(layout_rest).0.is_empty();
                    if !next_is_frac {
                        let n = 1 + vb[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                        nanos = parse_nanos(&v[..n]).ok_or_else(bad)?;
                        v = &v[n..];
                    }
                }
            }
            Std::Pm => {
                if v.len() < 2 {
                    return Err(bad());
                }
                match &v[..2] {
                    "PM" => pm = Some(true),
                    "AM" => pm = Some(false),
                    _ => return Err(bad()),
                }
                v = &v[2..];
            }
            Std::PmLower => {
                if v.len() < 2 {
                    return Err(bad());
                }
                match &v[..2] {
                    "pm" => pm = Some(true),
                    "am" => pm = Some(false),
                    _ => return Err(bad()),
                }
                v = &v[2..];
            }
            Std::Iso8601Tz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonTz
            | Std::NumColonSecondsTz => {
                let iso = matches!(
                    std,
                    Std::Iso8601Tz
                        | Std::Iso8601SecondsTz
                        | Std::Iso8601ShortTz
                        | Std::Iso8601ColonTz
                        | Std::Iso8601ColonSecondsTz
                );
                if iso && v.starts_with('Z') {
                    v = &v[1..];
                    offset = Some(0);
                    continue;
                }
                let (colon, with_secs, short) = match std {
                    Std::Iso8601ColonTz | Std::NumColonTz => (true, false, false),
                    Std::Iso8601ColonSecondsTz | Std::NumColonSecondsTz => (true, true, false),
                    Std::Iso8601ShortTz | Std::NumShortTz => (false, false, true),
                    Std::Iso8601SecondsTz | Std::NumSecondsTz => (false, true, false),
                    _ => (false, false, false),
                };
                let sign = match v.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(bad()),
                };
                let mut w = &v[1..];
                let (hh, r) = getdigits(w, 2).ok_or_else(bad)?;
                w = r;
                let mut mm = 0;
                let mut ss = 0;
                if !short {
                    if colon {
                        w = w.strip_prefix(':').ok_or_else(bad)?;
                    }
                    let (m, r) = getdigits(w, 2).ok_or_else(bad)?;
                    mm = m;
                    w = r;
                    if with_secs {
                        if colon {
                            w = w.strip_prefix(':').ok_or_else(bad)?;
                        }
                        let (s, r) = getdigits(w, 2).ok_or_else(bad)?;
                        ss = s;
                        w = r;
                    }
                }
                if hh > 24 || mm > 60 || ss > 60 {
                    return Err(range_err("time zone offset"));
                }
                offset = Some(sign * (hh * 3600 + mm * 60 + ss) as i32);
                v = w;
            }
            Std::Tz => {
                if v.len() >= 3 && &v[..3] == "UTC" {
                    v = &v[3..];
                    offset.get_or_insert(0);
                    continue;
                }
                let n = zone_abbrev_len(v).ok_or_else(bad)?;
                v = &v[n..];
                // Go fabricates a zone with offset 0 for an abbreviation it
                // does not know (it only knows the machine's local zone).
                offset.get_or_insert(0);
            }
            Std::FracSecond0(n) => {
                let need = n + 1;
                if v.len() < need || !v.is_char_boundary(need) {
                    return Err(bad());
                }
                if v.as_bytes()[0] != elem.as_bytes()[0] {
                    return Err(bad());
                }
                nanos = parse_nanos(&v[..need]).ok_or_else(bad)?;
                v = &v[need..];
            }
            Std::FracSecond9(_) => {
                let vb = v.as_bytes();
                if vb.len() < 2 || vb[0] != elem.as_bytes()[0] || !vb[1].is_ascii_digit() {
                    // The fraction is optional.
                    continue;
                }
                let n = 1 + vb[1..]
                    .iter()
                    .take(9)
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                nanos = parse_nanos(&v[..n]).ok_or_else(bad)?;
                v = &v[n..];
            }
        }
    }
    if let Some(is_pm) = pm {
        if is_pm && hour < 12 {
            hour += 12;
        } else if !is_pm && hour == 12 {
            hour = 0;
        }
    }
    let date = if let Some(yd) = yday {
        let d = NaiveDate::from_yo_opt(year, yd).ok_or_else(|| range_err("day-of-year"))?;
        if (month_set && d.month() != month) || (day_set && d.day() != day) {
            return Err(format!(
                "parsing time {value:?}: day-of-year does not match {}",
                if day_set { "day" } else { "month" }
            ));
        }
        d
    } else {
        NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| range_err("day"))?
    };
    let naive = date
        .and_hms_nano_opt(hour, minute, second, nanos)
        .ok_or_else(|| range_err("time"))?;
    let offset = FixedOffset::east_opt(offset.unwrap_or(0)).ok_or_else(|| range_err("offset"))?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(GoTime)
        .ok_or_else(|| range_err("time"))
}

/// Length of a time-zone abbreviation at the start of `v` (Go's
/// `parseTimeZone`): 3–5 upper-case letters, `ChST`/`MeST`, or `GMT±h`.
fn zone_abbrev_len(v: &str) -> Option<usize> {
    if v.len() < 3 {
        return None;
    }
    if v.starts_with("ChST") || v.starts_with("MeST") {
        return Some(4);
    }
    if let Some(rest) = v.strip_prefix("GMT") {
        let b = rest.as_bytes();
        if let Some(&s) = b.first()
            && (s == b'+' || s == b'-')
        {
            let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n > 0 {
                return Some(3 + 1 + n);
            }
        }
        return Some(3);
    }
    if v.as_bytes()[0] == b'+' || v.as_bytes()[0] == b'-' {
        // Numeric abbreviations such as "+03".
        let n = v[1..].bytes().take_while(u8::is_ascii_digit).count();
        return (n == 2 || n == 4).then_some(1 + n);
    }
    let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
    match n {
        3 => Some(3),
        4 if v.as_bytes()[3] == b'T' || v.starts_with("WITA") => Some(4),
        5 if v.as_bytes()[4] == b'T' => Some(5),
        _ => None,
    }
}
