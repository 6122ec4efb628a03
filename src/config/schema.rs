//! Typed reading of a `toml::Table` that collects every problem instead of stopping at the
//! first: each `take_*` removes its key, and [`Section::finish`] reports whatever is left
//! over as unknown keys. Problems are recorded as `"<path>: <what>"`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use toml::{Table, Value};

/// The problems found so far, shared by all sections of one file.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub(crate) Vec<String>);

impl Problems {
    pub(crate) fn add(&mut self, path: &str, what: impl std::fmt::Display) {
        self.0.push(format!("{path}: {what}"));
    }
}

/// One table of the file, with the dotted path that leads to it ("" for the root).
pub(crate) struct Section {
    prefix: String,
    table: Table,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

impl Section {
    pub(crate) fn root(table: Table) -> Section {
        Section {
            prefix: String::new(),
            table,
        }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// A sub-table; absent gives an empty section, a non-table is a problem.
    pub(crate) fn section(&mut self, key: &str, p: &mut Problems) -> Section {
        let path = self.path(key);
        let table = match self.table.remove(key) {
            None => Table::new(),
            Some(Value::Table(t)) => t,
            Some(other) => {
                p.add(
                    &path,
                    format!("expected a table, found {}", type_name(&other)),
                );
                Table::new()
            }
        };
        Section {
            prefix: path,
            table,
        }
    }

    fn take(&mut self, key: &str, expected: &str, p: &mut Problems) -> Option<Value> {
        let v = self.table.remove(key)?;
        let ok = matches!(
            (&v, expected),
            (Value::String(_), "a string")
                | (Value::Integer(_), "an integer")
                | (Value::Boolean(_), "a boolean")
                | (Value::Array(_), "an array")
        );
        if ok {
            Some(v)
        } else {
            p.add(
                &self.path(key),
                format!("expected {expected}, found {}", type_name(&v)),
            );
            None
        }
    }

    pub(crate) fn string(&mut self, key: &str, default: &str, p: &mut Problems) -> String {
        match self.take(key, "a string", p) {
            Some(Value::String(s)) => s,
            _ => default.to_string(),
        }
    }

    pub(crate) fn boolean(&mut self, key: &str, default: bool, p: &mut Problems) -> bool {
        match self.take(key, "a boolean", p) {
            Some(Value::Boolean(b)) => b,
            _ => default,
        }
    }

    /// A non-negative integer that is at least `min`.
    pub(crate) fn uint(&mut self, key: &str, default: u64, min: u64, p: &mut Problems) -> u64 {
        match self.take(key, "an integer", p) {
            Some(Value::Integer(i)) => match u64::try_from(i) {
                Ok(n) if n >= min => n,
                Ok(n) => {
                    p.add(&self.path(key), format!("{n} is too small (minimum {min})"));
                    default
                }
                Err(_) => {
                    p.add(&self.path(key), format!("{i} is negative"));
                    default
                }
            },
            _ => default,
        }
    }

    /// Like [`Section::uint`], for counts held in `usize`.
    pub(crate) fn count(
        &mut self,
        key: &str,
        default: usize,
        min: usize,
        p: &mut Problems,
    ) -> usize {
        let n = self.uint(key, default as u64, min as u64, p);
        match usize::try_from(n) {
            Ok(n) => n,
            Err(_) => {
                p.add(&self.path(key), format!("{n} is too large"));
                default
            }
        }
    }

    /// `Some(addr)` for `"ip:port"`, `None` when empty or absent (the service is disabled).
    pub(crate) fn listener(&mut self, key: &str, p: &mut Problems) -> Option<SocketAddr> {
        match self.take(key, "a string", p) {
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => match s.trim().parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    p.add(
                        &self.path(key),
                        format!("invalid address {s:?} (expected \"ip:port\", e.g. \"0.0.0.0:25\" or \"[::]:25\")"),
                    );
                    None
                }
            },
            _ => None,
        }
    }

    /// An array of `"ip:port"` (or `"ip"`, meaning `default_port`).
    pub(crate) fn addresses(
        &mut self,
        key: &str,
        default_port: u16,
        p: &mut Problems,
    ) -> Vec<SocketAddr> {
        let path = self.path(key);
        let Some(Value::Array(items)) = self.take(key, "an array", p) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Value::String(s) = item else {
                p.add(
                    &item_path,
                    format!("expected a string, found {}", type_name(item)),
                );
                continue;
            };
            let s = s.trim();
            if let Ok(a) = s.parse::<SocketAddr>() {
                out.push(a);
            } else if let Ok(ip) = s.parse::<IpAddr>() {
                out.push(SocketAddr::new(ip, default_port));
            } else {
                p.add(
                    &item_path,
                    format!("invalid address {s:?} (expected \"ip:port\" or \"ip\")"),
                );
            }
        }
        out
    }

    /// An array of strings; `None` when the key is absent or not an array of strings
    /// (the latter reported).
    pub(crate) fn strings(&mut self, key: &str, p: &mut Problems) -> Option<Vec<String>> {
        let path = self.path(key);
        let Value::Array(items) = self.take(key, "an array", p)? else {
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => p.add(
                    &format!("{path}[{i}]"),
                    format!("expected a string, found {}", type_name(other)),
                ),
            }
        }
        Some(out)
    }

    /// A duration: an integer of seconds or a string with a unit ("90s", "15m", "4h", "5d").
    pub(crate) fn duration(
        &mut self,
        key: &str,
        default: Duration,
        min: Duration,
        p: &mut Problems,
    ) -> Duration {
        let path = self.path(key);
        let Some(v) = self.table.remove(key) else {
            return default;
        };
        match duration_value(&v) {
            Ok(d) if d >= min => d,
            Ok(d) => {
                p.add(
                    &path,
                    format!("{}s is too short (minimum {}s)", d.as_secs(), min.as_secs()),
                );
                default
            }
            Err(e) => {
                p.add(&path, e);
                default
            }
        }
    }

    /// A non-empty array of durations (each as [`Section::duration`]), each at least `min`.
    pub(crate) fn durations(
        &mut self,
        key: &str,
        default: &[Duration],
        min: Duration,
        p: &mut Problems,
    ) -> Vec<Duration> {
        let path = self.path(key);
        let Some(Value::Array(items)) = self.take(key, "an array", p) else {
            return default.to_vec();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match duration_value(item) {
                Ok(d) if d >= min => out.push(d),
                Ok(d) => p.add(
                    &format!("{path}[{i}]"),
                    format!("{}s is too short (minimum {}s)", d.as_secs(), min.as_secs()),
                ),
                Err(e) => p.add(&format!("{path}[{i}]"), e),
            }
        }
        if items.is_empty() {
            p.add(&path, "must not be empty");
            return default.to_vec();
        }
        out
    }

    /// An array of tables (`[[section.key]]`), each a section of its own.
    pub(crate) fn tables(&mut self, key: &str, p: &mut Problems) -> Vec<Section> {
        let path = self.path(key);
        let Some(Value::Array(items)) = self.take(key, "an array", p) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::Table(table) => out.push(Section {
                    prefix: format!("{path}[{i}]"),
                    table,
                }),
                other => p.add(
                    &format!("{path}[{i}]"),
                    format!("expected a table, found {}", type_name(&other)),
                ),
            }
        }
        out
    }

    /// Reports every key nobody took.
    pub(crate) fn finish(self, p: &mut Problems) {
        for key in self.table.keys() {
            p.add(&self.path(key), "unknown key");
        }
    }
}

/// Seconds, or a string of digits with a unit: s, m, h, d.
fn duration_value(v: &Value) -> Result<Duration, String> {
    match v {
        Value::Integer(i) => u64::try_from(*i)
            .map(Duration::from_secs)
            .map_err(|_| format!("{i} is negative")),
        Value::String(s) => parse_duration(s).ok_or_else(|| {
            format!("invalid duration {s:?} (expected e.g. \"90s\", \"15m\", \"4h\", \"5d\")")
        }),
        other => Err(format!(
            "expected a duration (\"15m\" or seconds), found {}",
            type_name(other)
        )),
    }
}

/// "90s", "15m", "4h", "5d", or plain seconds "90".
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult).map(Duration::from_secs)
}
