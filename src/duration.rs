//! Durations as people write them in flags and config: `90s`, `20m`, `1h30m`, `500ms`.

use std::time::Duration;

/// The longest duration accepted anywhere (`--timeout`, `--detach-after`, `wait`'s,
/// the config's, `prune --older-than`): 365 days. A deadline is an `Instant` plus a
/// duration, and `9999999999999999999h` used to parse, start the agent and then panic
/// on that addition with the agent left running (issue 16); a year is far beyond any
/// run and far inside what every clock can add.
pub const MAX: Duration = Duration::from_secs(365 * 86_400);
/// [`MAX`] as written in messages and the docs.
pub const MAX_TEXT: &str = "365d";

/// Parses `1h30m`, `90s`, `20m`, `500ms`, `2d`. A unit is required: a bare `90` is
/// ambiguous (seconds? minutes?) and rejected with a suggestion. More than [`MAX`] is
/// an error naming the limit.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration (expected e.g. 90s, 20m, 1h)".to_owned());
    }
    let too_long = || format!("invalid duration {text:?}: longer than the maximum, {MAX_TEXT}");
    // Each part and the sum saturate; the sum is then compared with MAX.
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "invalid duration {text:?} (expected e.g. 90s, 20m, 1h30m)"
            ));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        // Only digits: the one way to fail is a number too large for u64.
        let n: u64 = number.parse().map_err(|_| too_long())?;
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            "" => {
                return Err(format!(
                    "invalid duration {text:?}: missing unit (did you mean {n}s or {n}m?)"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {other:?} (use ms, s, m, h or d)"
                ));
            }
        };
        total = total.saturating_add(part);
        rest = after;
    }
    if total > MAX {
        return Err(too_long());
    }
    if total.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: must be longer than zero"
        ));
    }
    Ok(total)
}

/// Formats a duration compactly for messages: `850ms`, `12.3s`, `4m05s`, `1h02m`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = d.as_secs() / 60;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("20m"), Ok(Duration::from_secs(1200)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse(" 2d "), Ok(Duration::from_secs(172_800)));
    }

    #[test]
    fn rejects_what_is_ambiguous_or_wrong() {
        assert_eq!(
            parse("90").unwrap_err(),
            "invalid duration \"90\": missing unit (did you mean 90s or 90m?)"
        );
        assert!(parse("5x").unwrap_err().contains("unknown unit \"x\""));
        assert!(parse("").is_err());
        assert!(parse("0s").unwrap_err().contains("longer than zero"));
        assert!(parse("m").is_err());
        assert!(parse("-5s").is_err());
    }

    #[test]
    fn longer_than_the_maximum_is_refused() {
        assert_eq!(parse("365d"), Ok(MAX));
        assert_eq!(parse("8760h"), Ok(MAX));
        for text in [
            "365d1ms",
            "366d",
            "9999999999999999999h",
            "99999999999999999999h",
            "18446744073709551615ms",
            "1d18446744073709551615d",
        ] {
            assert_eq!(
                parse(text).unwrap_err(),
                format!("invalid duration {text:?}: longer than the maximum, 365d"),
            );
        }
        assert_eq!(parse(MAX_TEXT), Ok(MAX));
    }

    #[test]
    fn human_is_compact() {
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human(Duration::from_secs(245)), "4m05s");
        assert_eq!(human(Duration::from_secs(3720)), "1h02m");
    }
}
