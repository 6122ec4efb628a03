//! The interactive console (`ferrymail console`): a rustyline REPL that checks each line
//! locally, answers `help` itself, and sends the rest to a [`ConsoleTarget`] — the running
//! server over the control socket ([`SocketTarget`]) or, elsewhere, the in-process server.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::control::{client_request_with_progress, ControlResponse};
use super::{complete, help_text, parse, split_words, AdminCommand};

pub const PROMPT: &str = "ferrymail> ";
/// Words that leave the console; they are never sent to the server.
pub const EXIT_WORDS: [&str; 2] = ["exit", "quit"];

/// Where console commands go.
pub trait ConsoleTarget {
    /// Runs one command line (already validated by the console) and returns its result.
    fn run(&mut self, line: &str) -> ControlResponse;
}

/// A running server reached through its control socket.
#[derive(Debug, Clone)]
pub struct SocketTarget {
    pub path: PathBuf,
    /// Bound on each read and write; `shutdown` answers only once the server has stopped
    /// accepting, so keep it generous.
    pub timeout: Duration,
}

impl SocketTarget {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SocketTarget {
            path: path.into(),
            timeout: Duration::from_secs(120),
        }
    }
}

impl ConsoleTarget for SocketTarget {
    fn run(&mut self, line: &str) -> ControlResponse {
        let mut shown = false;
        let r = client_request_with_progress(&self.path, line, self.timeout, &mut |p| {
            shown = true;
            super::calendar::show_progress(p);
        });
        if shown && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprintln!();
        }
        r.unwrap_or_else(|e| {
            ControlResponse::error(format!(
                "cannot reach the server at {}: {e}",
                self.path.display()
            ))
        })
    }
}

/// rustyline glue: completion from [`complete`], defaults for the rest.
struct ConsoleHelper;

impl Completer for ConsoleHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, mut words) = complete(line, pos);
        if start == 0 {
            words.extend(
                EXIT_WORDS
                    .iter()
                    .filter(|w| w.starts_with(line[..pos.min(line.len())].trim()))
                    .map(|w| w.to_string()),
            );
            words.sort();
        }
        let single = words.len() == 1;
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                // A unique match is finished: move on to the next word.
                replacement: if single { format!("{w} ") } else { w.clone() },
                display: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ConsoleHelper {
    type Hint = String;
}
impl Highlighter for ConsoleHelper {}
impl Validator for ConsoleHelper {}
impl Helper for ConsoleHelper {}

fn readline_io(e: ReadlineError) -> io::Error {
    match e {
        ReadlineError::Io(e) => e,
        other => io::Error::other(other),
    }
}

/// What the console does with one line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Nothing,
    Exit,
    /// Print this locally (help text or a parse error), don't send.
    Local(String),
    /// Send the line to the target.
    Send {
        command: AdminCommand,
    },
}

pub(crate) fn classify(line: &str) -> Step {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Step::Nothing;
    }
    if EXIT_WORDS.contains(&trimmed.to_ascii_lowercase().as_str()) {
        return Step::Exit;
    }
    match split_words(trimmed).and_then(|w| parse(&w)) {
        Err(e) => Step::Local(e.to_string()),
        Ok(AdminCommand::Help(topic)) => Step::Local(help_text(topic.as_deref())),
        Ok(command) => Step::Send { command },
    }
}

/// Whether a line may go to history: never one that carries a password, even a mistyped one.
fn keep_in_history(line: &str, step: &Step) -> bool {
    match step {
        Step::Send { command } => !command.has_secret(),
        _ => !line.contains("--pass"),
    }
}

fn print_output(out: &mut impl Write, text: &str) -> io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Runs the console until `exit`/`quit`, Ctrl-D, or a successful `shutdown`. Ctrl-C clears
/// the line. History is read from and saved to `history_file` when given.
pub fn run_repl(target: &mut dyn ConsoleTarget, history_file: Option<&Path>) -> io::Result<()> {
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .max_history_size(1000)
        .map_err(readline_io)?
        .build();
    let mut editor: Editor<ConsoleHelper, DefaultHistory> =
        Editor::with_config(config).map_err(readline_io)?;
    editor.set_helper(Some(ConsoleHelper));
    if let Some(h) = history_file {
        // A missing history file is normal on first use.
        let _ = editor.load_history(h);
    }
    let mut stdout = io::stdout();
    loop {
        let line = match editor.readline(PROMPT) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(readline_io(e)),
        };
        let step = classify(&line);
        if step != Step::Nothing && keep_in_history(&line, &step) {
            let _ = editor.add_history_entry(line.trim());
        }
        match step {
            Step::Nothing => {}
            Step::Exit => break,
            Step::Local(text) => print_output(&mut stdout, &text)?,
            Step::Send { command } => {
                let response = match command {
                    AdminCommand::Calendar(_) => {
                        let words = super::calendar::for_server(command.clone()).to_words();
                        target.run(&super::join_words(&words))
                    }
                    _ => target.run(line.trim()),
                };
                if response.ok {
                    print_output(&mut stdout, &response.output)?;
                } else {
                    let text = if response.output.is_empty() {
                        "failed"
                    } else {
                        &response.output
                    };
                    print_output(&mut stdout, &format!("error: {text}"))?;
                }
                if response.ok && command == AdminCommand::Shutdown {
                    break;
                }
            }
        }
    }
    if let Some(h) = history_file {
        editor.save_history(h).map_err(readline_io)?;
    }
    Ok(())
}
