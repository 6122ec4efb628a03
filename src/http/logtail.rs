//! The log tail behind the API's `/api/v1/logs` and the dashboard's live log: a
//! `tracing_subscriber` layer that keeps the last [`CAPACITY`] lines in memory and
//! broadcasts each new one to whoever streams them.
//!
//! One tail per process ([`global`]), because the subscriber is per process too: `main`
//! registers [`layer`] next to the stderr output (which it leaves unchanged), and the HTTP
//! handlers read the same ring. A line carries its time, level, target, the service and
//! session id of the session span it was logged in (the protocol sessions open spans with
//! `service` and `session` fields), and the message with the event's other fields. Nothing
//! is written to storage: a restart starts an empty tail.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// How many recent lines are kept.
pub const CAPACITY: usize = 2000;

/// How many new lines a slow stream reader may fall behind before it skips some.
const CHANNEL: usize = 256;

/// One log line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LogLine {
    /// Increasing number of the line since the process started.
    pub seq: u64,
    /// Unix milliseconds.
    pub time_ms: u64,
    /// ERROR, WARN, INFO, DEBUG or TRACE.
    pub level: String,
    /// The module that logged it, e.g. `ferrymail::actors::queues`.
    pub target: String,
    /// The service of the session it belongs to (smtp, imap, pop3, submission, …), or the
    /// server part for lines outside a session (`queues`, `folder`, …).
    pub service: String,
    /// The session id (as in the Received header and the auth-failure log), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The message, then the event's other fields as `name=value`.
    pub message: String,
}

/// Which lines a reader wants; empty criteria match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Exact service name (any case).
    pub service: Option<String>,
    /// This level and the more severe ones.
    pub level: Option<Level>,
    /// Exact session id.
    pub session: Option<String>,
}

impl Filter {
    pub fn matches(&self, line: &LogLine) -> bool {
        if let Some(s) = &self.service {
            if !line.service.eq_ignore_ascii_case(s) {
                return false;
            }
        }
        if let Some(max) = self.level {
            // tracing orders levels by verbosity: ERROR < WARN < … < TRACE.
            match line.level.parse::<Level>() {
                Ok(l) if l <= max => {}
                _ => return false,
            }
        }
        if let Some(s) = &self.session {
            if line.session.as_deref() != Some(s.as_str()) {
                return false;
            }
        }
        true
    }
}

/// The ring of recent lines and the channel of new ones.
pub struct LogTail {
    ring: Mutex<(u64, VecDeque<LogLine>)>,
    tx: broadcast::Sender<Arc<LogLine>>,
    capacity: usize,
}

impl LogTail {
    pub fn new(capacity: usize) -> LogTail {
        let (tx, _) = broadcast::channel(CHANNEL);
        LogTail {
            ring: Mutex::new((0, VecDeque::with_capacity(capacity.min(CAPACITY)))),
            tx,
            capacity: capacity.max(1),
        }
    }

    /// Adds a line (its `seq` is set here), dropping the oldest past the capacity, and
    /// sends it to the streams.
    pub fn push(&self, mut line: LogLine) {
        let line = {
            let mut g = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            g.0 += 1;
            line.seq = g.0;
            if g.1.len() == self.capacity {
                g.1.pop_front();
            }
            g.1.push_back(line.clone());
            line
        };
        // No receiver is not an error: nobody is streaming.
        let _ = self.tx.send(Arc::new(line));
    }

    /// The kept lines that match, oldest first, at most `limit` (the newest ones).
    pub fn recent(&self, filter: &Filter, limit: usize) -> Vec<LogLine> {
        let g = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<LogLine> =
            g.1.iter()
                .rev()
                .filter(|l| filter.matches(l))
                .take(limit)
                .cloned()
                .collect();
        out.reverse();
        out
    }

    /// New lines from now on (filter them with [`Filter::matches`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogLine>> {
        self.tx.subscribe()
    }
}

/// The process's tail, made on first use.
pub fn global() -> &'static LogTail {
    static TAIL: OnceLock<LogTail> = OnceLock::new();
    TAIL.get_or_init(|| LogTail::new(CAPACITY))
}

/// The layer that feeds [`global`]; `main` adds it to the subscriber.
pub fn layer() -> TailLayer {
    TailLayer { tail: global() }
}

/// A `tracing_subscriber` layer feeding a [`LogTail`].
pub struct TailLayer {
    tail: &'static LogTail,
}

/// The `service` and `session` fields of a span, kept in its extensions.
#[derive(Default)]
struct SpanTags {
    service: Option<String>,
    session: Option<String>,
}

impl Visit for SpanTags {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "service" => self.service = Some(value.to_string()),
            "session" => self.session = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "service" => self.service = Some(unquote(format!("{value:?}"))),
            "session" => self.session = Some(unquote(format!("{value:?}"))),
            _ => {}
        }
    }
}

/// An event's message and other fields.
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

fn unquote(s: String) -> String {
    match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.to_string(),
        None => s,
    }
}

/// The server part a target names: `ferrymail::actors::queues::remote` → `queues`.
fn part_of(target: &str) -> String {
    let mut parts = target.split("::").skip(1);
    match (parts.next(), parts.next()) {
        (Some("actors" | "admin" | "http" | "storage"), Some(p)) => p.to_string(),
        (Some(p), _) => p.to_string(),
        (None, _) => target.to_string(),
    }
}

impl<S> Layer<S> for TailLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut tags = SpanTags::default();
        attrs.record(&mut tags);
        if tags.service.is_some() || tags.session.is_some() {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(tags);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let (mut service, mut session) = (None, None);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                let ext = span.extensions();
                if let Some(t) = ext.get::<SpanTags>() {
                    if service.is_none() {
                        service = t.service.clone();
                    }
                    if session.is_none() {
                        session = t.session.clone();
                    }
                }
                if service.is_none() {
                    service = Some(span.name().to_string());
                }
            }
        }
        let mut msg = Message::default();
        event.record(&mut msg);
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.tail.push(LogLine {
            seq: 0,
            time_ms,
            level: meta.level().to_string(),
            target: meta.target().to_string(),
            service: service.unwrap_or_else(|| part_of(meta.target())),
            session,
            message: format!("{}{}", msg.text, msg.fields),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    fn line(service: &str, level: &str, session: Option<&str>) -> LogLine {
        LogLine {
            seq: 0,
            time_ms: 0,
            level: level.into(),
            target: "t".into(),
            service: service.into(),
            session: session.map(String::from),
            message: "m".into(),
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_lines_and_filters() {
        let tail = LogTail::new(3);
        for i in 0..5 {
            let mut l = line(if i % 2 == 0 { "smtp" } else { "imap" }, "INFO", None);
            l.message = format!("{i}");
            tail.push(l);
        }
        let all = tail.recent(&Filter::default(), 10);
        let msgs: Vec<&str> = all.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(msgs, ["2", "3", "4"]);
        assert_eq!(all[2].seq, 5);
        let smtp = Filter {
            service: Some("SMTP".into()),
            ..Filter::default()
        };
        assert_eq!(tail.recent(&smtp, 10).len(), 2);
        assert_eq!(tail.recent(&Filter::default(), 1)[0].message, "4");
    }

    #[test]
    fn level_and_session_filters() {
        let f = Filter {
            level: Some(Level::WARN),
            session: Some("ab".into()),
            ..Filter::default()
        };
        assert!(f.matches(&line("x", "ERROR", Some("ab"))));
        assert!(f.matches(&line("x", "WARN", Some("ab"))));
        assert!(!f.matches(&line("x", "INFO", Some("ab"))));
        assert!(!f.matches(&line("x", "WARN", Some("cd"))));
        assert!(!f.matches(&line("x", "WARN", None)));
    }

    #[test]
    fn the_layer_records_span_service_and_session() {
        let tail: &'static LogTail = Box::leak(Box::new(LogTail::new(10)));
        let mut rx = tail.subscribe();
        let subscriber = tracing_subscriber::registry().with(TailLayer { tail });
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("smtp", service = "submission", session = %"S1");
            let _g = span.enter();
            tracing::warn!(peer = "1.2.3.4", "hello {}", 7);
        });
        let got = tail.recent(&Filter::default(), 10);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].service, "submission");
        assert_eq!(got[0].session.as_deref(), Some("S1"));
        assert_eq!(got[0].level, "WARN");
        assert_eq!(got[0].message, "hello 7 peer=1.2.3.4");
        assert_eq!(rx.try_recv().unwrap().message, got[0].message);
    }

    #[test]
    fn a_line_outside_a_session_is_named_after_its_module() {
        assert_eq!(part_of("ferrymail::actors::queues::remote"), "queues");
        assert_eq!(part_of("ferrymail::server"), "server");
        assert_eq!(part_of("other"), "other");
    }
}
