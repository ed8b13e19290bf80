//! The data set's timestamps ("2017-03-19 15:52:39.229 UTC") to epoch microseconds.
//!
//! A dozen lines of calendar arithmetic do not justify a date-time dependency.

/// Parses `YYYY-MM-DD HH:MM:SS[.f…] UTC` (also `T` between date and time, and `Z` or no
/// suffix for UTC) into microseconds since the Unix epoch. Digits past the sixth fractional
/// one are dropped. Returns `None` for anything else, including impossible dates.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let rest = s
        .strip_suffix(" UTC")
        .or_else(|| s.strip_suffix('Z'))
        .unwrap_or(s);
    let b = &b[..rest.len()];
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = &b[r];
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(d.iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut micros = 0i64;
    if b.len() > 19 {
        let frac = &b[19..];
        if frac[0] != b'.' || frac.len() < 2 || !frac[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        for (i, &c) in frac[1..].iter().take(6).enumerate() {
            micros += i64::from(c - b'0') * 10i64.pow(5 - i as u32);
        }
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + min) * 60_000_000 + sec * 1_000_000 + micros)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00 UTC"), Some(0));
        // 1489938759 is the whole-second timestamp the .bin sample stores for this drawing
        assert_eq!(
            parse_timestamp("2017-03-19 15:52:39.229 UTC"),
            Some(1_489_938_759_229_000)
        );
        assert_eq!(
            parse_timestamp("2017-03-08 21:12:07.266040 UTC"),
            Some(1_489_007_527_266_040)
        );
        assert_eq!(
            parse_timestamp("2000-02-29T12:00:00.5Z"),
            Some(951_825_600_500_000)
        );
        assert_eq!(parse_timestamp("1969-12-31 23:59:59 UTC"), Some(-1_000_000));
        // nanoseconds are cut to microseconds
        assert_eq!(
            parse_timestamp("1970-01-01 00:00:00.000001999 UTC"),
            Some(1)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2017-03-19",
            "2017-13-01 00:00:00 UTC",
            "2017-02-29 00:00:00 UTC",
            "2017-03-19 24:00:00 UTC",
            "2017-03-19 15:52:39. UTC",
            "2017-03-19 15:52:39.2x9 UTC",
            "2017/03/19 15:52:39 UTC",
            "yesterday at noon, more or less",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }
}
