//! `ferrymail bench`: load tools that work against any server, ours or not.
//!
//! A crate of its own (the `ferrymail-bench` binary, which `ferrymail bench ARGS…` runs), so
//! that the server carries none of it; it uses the server library only for what both sides
//! share (the client TLS configuration, the RFC 5322 date) and, in its tests, to start a
//! real server in process.
//!
//! `bench smtp` opens C connections to an SMTP server and sends N messages
//! of a given size over them, then reports throughput, latency percentiles,
//! its own CPU time and, when given server PIDs or process names, the
//! server's CPU time per message (summed over every process, so that
//! multi-process servers such as Postfix compare fairly).
//!
//! `bench relay` (in [`relay`]) submits the same load to a relay and measures until an
//! SMTP sink of its own ([`sink`]) has every message: relaying throughput end to end.
//!
//! `bench imap` (in [`imap`]) runs a mixed IMAP load for a number of seconds
//! and reports operations per second and latency per command, the server's
//! CPU per operation and, with idling connections, its memory per connection.
//!
//! `bench pop3` (in [`pop3`]) runs POP3 sessions (login, LIST, RETR of N messages, QUIT)
//! over C connections and reports sessions and messages per second, latency per command
//! and the server's CPU per session and per RETR.
//!
//! `bench drip` (in [`drip`]) holds slow-drip connections open against SMTP and IMAP and
//! measures how quickly a normal client still connects, logs in and sends.
//!
//! `bench api` and `bench sse` (in [`api`]) load the management API with GET requests and
//! measure the server's CPU per open dashboard stream (issue 13).
//!
//! `bench dav` (in [`dav`]) seeds a CalDAV calendar and measures sync-collection,
//! time-range calendar-query and PROPFIND Depth 1 on it, with the server's CPU and memory
//! (issue 15).
//!
//! Modules:
//! - [`imap`]: everything of `bench imap`, reusing the pieces below;
//! - [`pop3`]: everything of `bench pop3`;
//! - [`options`]: command-line parsing into [`SmtpBenchOptions`];
//! - [`message`]: unique, exact-size, dot-stuffed test messages;
//! - [`client`]: a bounded SMTP client (EHLO, STARTTLS, AUTH PLAIN, PIPELINING);
//! - [`tls`]: the accept-any-certificate verifier (bench-only);
//! - [`load`]: the connection tasks and counting rules ([`smtp_load`]);
//! - [`stats`]: percentiles, getrusage and /proc CPU accounting;
//! - [`report`]: the text and `RESULT {json}` output.

pub mod api;
pub mod client;
pub mod dav;
pub mod drip;
pub mod imap;
pub mod load;
pub mod message;
pub mod options;
pub mod pop3;
pub mod relay;
pub mod report;
pub mod sink;
pub mod stats;
pub mod tls;

#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;

pub use load::smtp_load;
pub use options::{Credentials, SmtpBenchOptions, TlsMode, USAGE};
pub use report::SmtpBenchReport;

use options::{parse_smtp_args, Parsed};

/// Entry point for `ferrymail bench ARGS...`; `args` excludes "bench".
///
/// Returns the report text to print, or a usage or start-up error (which
/// includes the usage text when the arguments were at fault).
pub fn run(args: &[String]) -> Result<String, String> {
    let usage_error = |e: String| format!("{e}\n\n{USAGE}");
    if let Some((sub, rest)) = args.split_first() {
        if sub == "imap" {
            return imap::run(rest);
        }
        if sub == "pop3" {
            return pop3::run(rest);
        }
        if sub == "api" {
            return api::run(api::Command::Api, rest);
        }
        if sub == "sse" {
            return api::run(api::Command::Sse, rest);
        }
        if sub == "dav" {
            return dav::run(rest);
        }
        if sub == "relay" {
            return run_relay(rest);
        }
        if sub == "drip" {
            return match drip::parse_drip_args(rest) {
                Ok(Some(opts)) => runtime()?.block_on(drip::drip_run(opts)),
                Ok(None) => Ok(drip::USAGE.to_string()),
                Err(e) => Err(format!("{e}\n\n{}", drip::USAGE)),
            };
        }
    }
    let opts = match args.split_first() {
        Some((sub, rest)) if sub == "smtp" => match parse_smtp_args(rest).map_err(usage_error)? {
            Parsed::Help => return Ok(USAGE.to_string()),
            Parsed::Run(opts) => *opts,
        },
        Some((help, _)) if help == "--help" || help == "-h" || help == "help" => {
            return Ok(format!(
                "{USAGE}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
                relay::USAGE,
                imap::USAGE,
                pop3::USAGE,
                drip::USAGE,
                api::USAGE,
                api::SSE_USAGE,
                dav::USAGE
            ))
        }
        Some((other, _)) => return Err(usage_error(format!("unknown bench {other:?}"))),
        None => return Err(usage_error("missing benchmark name".into())),
    };
    let report = runtime()?.block_on(smtp_load(opts))?;
    Ok(report.render())
}

/// The runtime every load command runs on (two workers, IO and timers).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting runtime: {e}"))
}

/// `bench relay ARGS...`.
fn run_relay(args: &[String]) -> Result<String, String> {
    let opts = match relay::parse_relay_args(args) {
        Ok(Some(opts)) => opts,
        Ok(None) => return Ok(relay::USAGE.to_string()),
        Err(e) => return Err(format!("{e}\n\n{}", relay::USAGE)),
    };
    let report = runtime()?.block_on(relay::relay_load(opts))?;
    Ok(report.render())
}
