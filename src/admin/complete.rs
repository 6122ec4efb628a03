//! Tab completion of command words, options and queue names, from the command table.

use super::commands::{find, groups, subcommands, Arg, Spec};
use super::words::scan;
use super::{PUBLIC, QUEUE_NAMES};

/// Completes the word under the cursor: returns where the replaced word starts (a byte
/// offset in `line`) and the candidates, sorted. Only the text before `pos` is considered.
pub fn complete(line: &str, pos: usize) -> (usize, Vec<String>) {
    let mut pos = pos.min(line.len());
    while !line.is_char_boundary(pos) {
        pos -= 1;
    }
    let s = scan(&line[..pos]);
    let mut words: Vec<String> = s.words.iter().map(|w| w.text.clone()).collect();
    let (start, prefix) = match (s.open_word, s.words.last()) {
        (true, Some(last)) => {
            words.pop();
            (last.start, last.text.clone())
        }
        _ => (pos, String::new()),
    };
    let mut out: Vec<String> = candidates(&words)
        .into_iter()
        .filter(|c| c.starts_with(&prefix))
        .collect();
    out.sort();
    out.dedup();
    (start, out)
}

/// Everything that may follow `before` (the complete words before the cursor).
fn candidates(before: &[String]) -> Vec<String> {
    let owned = |v: Vec<&str>| v.into_iter().map(String::from).collect();
    let Some(first) = before.first().map(|w| w.to_ascii_lowercase()) else {
        return owned(groups());
    };
    if first == "help" {
        return match before.len() {
            1 => owned(groups()),
            2 => owned(subcommands(&before[1].to_ascii_lowercase())),
            _ => Vec::new(),
        };
    }
    if let Some(spec) = find(&first) {
        return after_path(spec, &before[1..]);
    }
    let Some(second) = before.get(1).map(|w| w.to_ascii_lowercase()) else {
        return owned(subcommands(&first));
    };
    match find(&format!("{first} {second}")) {
        Some(spec) => after_path(spec, &before[2..]),
        None => Vec::new(),
    }
}

/// Candidates once the command is known: its options, or values for the next positional.
fn after_path(spec: &Spec, rest: &[String]) -> Vec<String> {
    let mut positionals = 0;
    let mut options_done = false;
    let mut used: Vec<&str> = Vec::new();
    let mut it = rest.iter().peekable();
    while let Some(w) = it.next() {
        if options_done || !w.starts_with("--") {
            positionals += 1;
        } else if w == "--" {
            options_done = true;
        } else if let Some(flag) = spec.flags.iter().find(|f| f.name == w.as_str()) {
            used.push(flag.name);
            if flag.value.is_some() {
                // The option's value: nothing to offer while it is being typed (a password).
                if it.next().is_none() {
                    return Vec::new();
                }
            }
        } else if let Some((name, _)) = w.split_once('=') {
            used.push(
                spec.flags
                    .iter()
                    .find(|f| f.name == name)
                    .map_or("", |f| f.name),
            );
        }
    }
    let mut out: Vec<String> = Vec::new();
    if !options_done {
        out.extend(
            spec.flags
                .iter()
                .filter(|f| !used.contains(&f.name))
                .map(|f| f.name.to_string()),
        );
    }
    match spec.args.get(positionals) {
        Some(Arg::Queue) => out.extend(QUEUE_NAMES.iter().map(|q| q.to_string())),
        Some(Arg::Owner) => out.push(PUBLIC.to_string()),
        Some(Arg::Text("IDENTIFIER")) => out.push(crate::storage::ANYONE.to_string()),
        Some(Arg::Rights) => out.push("none".to_string()),
        Some(Arg::Choice(_, words)) => out.extend(words.iter().map(|w| w.to_string())),
        _ => {}
    }
    out
}
