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
    let total = parse_or_zero(text)?;
    if total.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: must be longer than zero"
        ));
    }
    Ok(total)
}

/// [`parse`], with zero (`0s`) accepted: for `prune --older-than`, where zero means
/// every finished run.
pub fn parse_or_zero(text: &str) -> Result<Duration, String> {
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
    Ok(total)
}

/// The one way the tool writes a duration for people (messages, `show`, `runs`, `top`,
/// the status line): at most the two largest units, a zero part left out, so that
/// whole values read back through [`parse`]: `850ms`, `1.5s`, `42s`, `2m30s`, `3h`,
/// `1h5m`, `7d`, `3d4h`. Below a minute a tenth of a second is shown when it is not
/// zero; from a minute on the value is rounded to whole seconds. What ticks every
/// second (the status line, `top`) passes whole seconds.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let tenths = (ms + 50) / 100;
    if tenths < 600 {
        return match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            t => format!("{}.{t}s", tenths / 10),
        };
    }
    let secs = (ms + 500) / 1000;
    let (big, small, units) = match secs {
        0..3600 => (secs / 60, secs % 60, ("m", "s")),
        3600..86_400 => (secs / 3600, secs % 3600 / 60, ("h", "m")),
        _ => (secs / 86_400, secs % 86_400 / 3600, ("d", "h")),
    };
    if small == 0 {
        format!("{big}{}", units.0)
    } else {
        format!("{big}{}{small}{}", units.0, units.1)
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
    fn human_is_short_and_reads_back() {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (ms(850), "850ms"),
            (ms(1000), "1s"),
            (ms(1500), "1.5s"),
            (ms(2000), "2s"),
            (ms(12_340), "12.3s"),
            (ms(59_940), "59.9s"),
            (ms(59_960), "1m"),
            (secs(60), "1m"),
            (secs(150), "2m30s"),
            (secs(245), "4m5s"),
            (secs(3599), "59m59s"),
            (secs(3600), "1h"),
            (secs(3720), "1h2m"),
            (secs(3 * 3600), "3h"),
            (secs(86_399), "23h59m"),
            (secs(7 * 86_400), "7d"),
            (secs(3 * 86_400 + 4 * 3600 + 59), "3d4h"),
            (MAX, MAX_TEXT),
        ] {
            assert_eq!(human(d), text, "{d:?}");
        }
        // Whole values parse back to what they say.
        for d in [secs(1), secs(42), secs(150), secs(3600), secs(7 * 86_400)] {
            assert_eq!(parse(&human(d)), Ok(d));
        }
    }
}
