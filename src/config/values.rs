//! Scalar conversions: TOML values to durations, sizes, signals, commands…
//! Each returns the message of what is wrong; the caller adds the position.

use std::time::Duration;

use nix::sys::signal::Signal;
use toml::de::DeValue;

use crate::model::parse_signal;

/// The message for a value of the wrong type.
pub(crate) fn expected(what: &str, value: &DeValue<'_>) -> String {
    let found = value.type_str();
    let article = if found.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("expected {what}, found {article} {found}")
}

/// The value of a TOML integer, when it fits an i64.
fn integer_of(value: &DeValue<'_>) -> Option<i64> {
    let integer = value.as_integer()?;
    i64::from_str_radix(integer.as_str(), integer.radix()).ok()
}

/// A string.
pub(crate) fn string(value: &DeValue<'_>) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| expected("a string", value))
}

/// A boolean.
pub(crate) fn boolean(value: &DeValue<'_>) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| expected("true or false", value))
}

/// An integer within the range of `T`, described by `what` in messages.
pub(crate) fn number<T: TryFrom<i64>>(value: &DeValue<'_>, what: &str) -> Result<T, String> {
    match integer_of(value) {
        Some(number) => T::try_from(number).map_err(|_| format!("{number} is not {what}")),
        None if value.is_integer() => Err(format!("the number is too large for {what}")),
        None => Err(expected(what, value)),
    }
}

/// One of a fixed set of strings.
pub(crate) fn choice<T: Copy>(value: &DeValue<'_>, options: &[(&str, T)]) -> Result<T, String> {
    let valid = options
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = value
        .as_str()
        .ok_or_else(|| expected(&format!("one of {valid}"), value))?;
    options
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, choice)| *choice)
        .ok_or_else(|| format!("unknown value \"{text}\" (valid: {valid})"))
}

/// A duration: a string like "500ms", "10s", "2m", "1h30m", "1.5s", or a
/// number of seconds.
pub(crate) fn duration(value: &DeValue<'_>) -> Result<Duration, String> {
    const WHAT: &str = "a duration like \"500ms\", \"10s\", \"2m\" or a number of seconds";
    if let Some(seconds) = integer_of(value) {
        return u64::try_from(seconds)
            .map(Duration::from_secs)
            .map_err(|_| format!("invalid duration {seconds}: must not be negative"));
    }
    if let Some(float) = value.as_float() {
        return float
            .as_str()
            .parse::<f64>()
            .ok()
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .ok_or_else(|| format!("invalid duration {}: expected {WHAT}", float.as_str()));
    }
    let text = value.as_str().ok_or_else(|| expected(WHAT, value))?;
    parse_duration(text).ok_or_else(|| format!("invalid duration \"{text}\": expected {WHAT}"))
}

/// Parses "500ms", "10s", "2m", "1h", "1.5s", "1m30s", or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let units = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(units);
        let number: f64 = number.parse().ok()?;
        let seconds_per_unit = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total = total.checked_add(Duration::try_from_secs_f64(number * seconds_per_unit).ok()?)?;
        rest = tail;
    }
    Some(total)
}

/// A size: a string like "50MB", "64KiB", "512" or a number of bytes.
pub(crate) fn size(value: &DeValue<'_>) -> Result<u64, String> {
    const WHAT: &str = "a size like \"64KiB\", \"50MB\" or a number of bytes";
    if value.is_integer() {
        return number(value, "a size in bytes (not negative)");
    }
    let text = value.as_str().ok_or_else(|| expected(WHAT, value))?;
    parse_size(text).ok_or_else(|| format!("invalid size \"{text}\": expected {WHAT}"))
}

/// Parses "64KiB", "50MB", "1G", "512B" or "512" into bytes.
/// KB/MB/GB are powers of 1000, KiB/MiB/GiB and bare K/M/G powers of 1024.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    let bytes = number * multiplier as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// A signal name (`TERM`, `SIGTERM`) or number.
pub(crate) fn signal(value: &DeValue<'_>) -> Result<Signal, String> {
    let text = match (value.as_str(), integer_of(value)) {
        (Some(text), _) => text.to_owned(),
        (None, Some(number)) => number.to_string(),
        _ => return Err(expected("a signal name like \"TERM\"", value)),
    };
    parse_signal(&text).ok_or_else(|| format!("invalid signal \"{text}\""))
}

/// An octal mode given as a string like "0600" or "022" (or a TOML 0o literal).
pub(crate) fn octal(value: &DeValue<'_>, max: u32) -> Result<u32, String> {
    let what = "an octal string like \"0600\"";
    if let Some(integer) = value.as_integer() {
        if integer.radix() != 8 {
            return Err(format!(
                "expected {what} (a plain number would be read as decimal)"
            ));
        }
    }
    let text = match (value.as_str(), value.as_integer()) {
        (Some(text), _) => text.to_owned(),
        (None, Some(integer)) => integer.as_str().to_owned(),
        _ => return Err(expected(what, value)),
    };
    let digits = text.strip_prefix("0o").unwrap_or(&text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if !digits.is_empty() && mode <= max => Ok(mode),
        Ok(_) => Err(format!("invalid octal value \"{text}\": at most {max:o}")),
        Err(_) => Err(format!("invalid octal value \"{text}\": expected {what}")),
    }
}

/// An array of strings.
pub(crate) fn string_list(value: &DeValue<'_>) -> Result<Vec<String>, String> {
    const WHAT: &str = "an array of strings";
    let array = value.as_array().ok_or_else(|| expected(WHAT, value))?;
    array
        .iter()
        .map(|item| item.get_ref().as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("expected {WHAT}, found an array with a non-string item"))
}

/// A command: a string split like a shell would (no shell runs), or an array
/// of strings; never empty.
pub(crate) fn command(value: &DeValue<'_>) -> Result<Vec<String>, String> {
    let argv = match value.as_str() {
        Some(text) => shell_words::split(text)
            .map_err(|error| format!("cannot split the command: {error}"))?,
        None if value.is_array() => string_list(value)?,
        None => return Err(expected("a string or an array of strings", value)),
    };
    match argv.first() {
        None => Err("the command is empty".to_owned()),
        Some(first) if first.is_empty() => Err("the program path is empty".to_owned()),
        Some(_) => Ok(argv),
    }
}

/// Replaces `{name}` by the program name and `{instance}` by the instance
/// number (empty without instances).
pub(crate) fn substitute(text: &str, name: &str, instance: Option<u32>) -> String {
    let instance = instance
        .map(|number| number.to_string())
        .unwrap_or_default();
    text.replace("{name}", name)
        .replace("{instance}", &instance)
}

/// The closest candidate to a misspelt word, when it is close enough to be a
/// plausible typo.
pub(crate) fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Edit distance counting a swap of two neighbours as one edit (optimal
/// string alignment), case-insensitive, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use toml::de::DeTable;

    /// Parses `v = <text>` and applies `f` to the value.
    fn with_value<T>(text: &str, f: impl Fn(&DeValue<'_>) -> T) -> T {
        let source = format!("v = {text}");
        let table = DeTable::parse(&source).unwrap();
        f(table.get_ref().get("v").unwrap().get_ref())
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        for bad in ["", "s", "10x", "-1s", "1..2s", "ms10", "1e400"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(with_value("3", duration), Ok(Duration::from_secs(3)));
        assert_eq!(with_value("0.25", duration), Ok(Duration::from_millis(250)));
        assert!(with_value("-3", duration).is_err());
        assert!(with_value("true", duration)
            .unwrap_err()
            .contains("found a boolean"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("50MB"), Some(50_000_000));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("12 kb"), Some(12_000));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(with_value("4096", size), Ok(4096));
        assert!(with_value("-1", size).is_err());
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            with_value(r#""nginx -g 'daemon off;'""#, command),
            Ok(vec!["nginx".into(), "-g".into(), "daemon off;".into()])
        );
        assert_eq!(
            with_value(r#"["a b", "c"]"#, command),
            Ok(vec!["a b".into(), "c".into()])
        );
        assert!(with_value(r#""""#, command).unwrap_err().contains("empty"));
        assert!(with_value("[]", command).unwrap_err().contains("empty"));
        assert!(with_value(r#""a 'b""#, command)
            .unwrap_err()
            .contains("cannot split"));
        assert!(with_value("3", command)
            .unwrap_err()
            .contains("expected a string or an array of strings"));
    }

    #[test]
    fn octal_modes() {
        assert_eq!(with_value(r#""0600""#, |v| octal(v, 0o7777)), Ok(0o600));
        assert_eq!(with_value("0o22", |v| octal(v, 0o777)), Ok(0o22));
        assert!(with_value(r#""0800""#, |v| octal(v, 0o7777)).is_err());
        assert!(with_value(r#""""#, |v| octal(v, 0o7777)).is_err());
        assert!(with_value("600", |v| octal(v, 0o7777))
            .unwrap_err()
            .contains("decimal"));
    }

    #[test]
    fn substitution() {
        assert_eq!(substitute("w-{name}-{instance}", "s", Some(2)), "w-s-2");
        assert_eq!(substitute("{instance}", "s", None), "");
    }

    #[test]
    fn suggestions_only_when_close() {
        let keys = ["stop_signal", "stop_timeout", "command"];
        assert_eq!(suggest("stop_sigal", &keys), Some("stop_signal"));
        assert_eq!(suggest("comand", &keys), Some("command"));
        assert_eq!(suggest("frobnicate", &keys), None);
        assert_eq!(suggest("stop_siganl", &keys), Some("stop_signal"));
        assert_eq!(edit_distance("redsi", "redis"), 1);
    }

    #[test]
    fn choices_list_the_valid_values() {
        let options = [("always", 1), ("never", 2)];
        assert_eq!(with_value(r#""never""#, |v| choice(v, &options)), Ok(2));
        let error = with_value(r#""sometimes""#, |v| choice(v, &options)).unwrap_err();
        assert!(error.contains("\"always\", \"never\""), "{error}");
    }
}
