//! The crate's import graph between file modules, read from the source text.
//!
//! The module tree is followed from the crate root through its `mod NAME;` declarations
//! (with `#[path]` and inline `mod NAME { … }` blocks), so every node is a file the compiler
//! reads and knows its module path. Within each file, every path that starts with `crate::`
//! (or `$crate::`), `super::` or `self::` — in `use` trees, `{…}` groups included, and in
//! code — is resolved to the longest module path that is a file module; that is an edge.
//! Comments, doc comments (so doc tests) and literals are never read (see `lexer`).
//! Paths that start with another name (`std::`, `sled::`, a child module's bare name) are
//! kept apart as [`Graph::bare`], for rules about outside crates.

use std::collections::{BTreeMap, BTreeSet};

use crate::lexer::{tokenize, Kind, Token};

/// A module path without the leading `crate`, e.g. `["actors", "listener"]`; the root is
/// empty.
pub type ModPath = Vec<String>;

/// One path in the code that names a module of the crate, resolved to a file module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub from: ModPath,
    pub to: ModPath,
    pub file: String,
    pub line: usize,
}

/// One path whose first segment is not `crate`, `super` or `self` (`std::…`, `sled::…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bare {
    pub first: String,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Default)]
pub struct Graph {
    /// Every file module, by module path, with its file.
    pub modules: BTreeMap<ModPath, String>,
    /// Every reference to another file module (references to a file's own module are not
    /// kept).
    pub refs: Vec<Ref>,
    pub bare: Vec<Bare>,
    /// `mod` declarations whose file was not found (the compiler would not build that).
    pub missing: Vec<String>,
}

/// How a module path reads in messages: `actors::listener`, or `crate` for the root.
pub fn show(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_string()
    } else {
        path.join("::")
    }
}

/// Builds the graph of the crate whose root file is `root` (e.g. `src/lib.rs`), from
/// `files` (path → source text, paths relative to the package, `/`-separated).
pub fn build(files: &BTreeMap<String, String>, root: &str) -> Graph {
    let mut graph = Graph::default();
    let mut pending = vec![(root.to_string(), ModPath::new(), true)];
    while let Some((file, module, mod_rs)) = pending.pop() {
        if graph.modules.contains_key(&module) {
            continue;
        }
        let Some(text) = files.get(&file) else {
            graph.missing.push(format!(
                "{file} (module {}) is declared but not found",
                show(&module)
            ));
            continue;
        };
        graph.modules.insert(module.clone(), file.clone());
        let scan = scan_file(text);
        let own_dir = if mod_rs {
            parent_dir(&file).to_string()
        } else {
            join(parent_dir(&file), file_stem(&file))
        };
        for decl in scan.decls {
            let mut child = module.clone();
            child.extend(decl.inline.iter().cloned());
            child.push(decl.name.clone());
            let inline_dir = decl
                .inline
                .iter()
                .fold(own_dir.clone(), |dir, m| join(&dir, m));
            let (child_file, child_mod_rs) = match &decl.path_attr {
                Some(p) if decl.inline.is_empty() => (normalize(&join(parent_dir(&file), p)), true),
                Some(p) => (normalize(&join(&inline_dir, p)), true),
                None => {
                    let flat = join(&inline_dir, &format!("{}.rs", decl.name));
                    let nested = join(&inline_dir, &format!("{}/mod.rs", decl.name));
                    if files.contains_key(&nested) && !files.contains_key(&flat) {
                        (nested, true)
                    } else {
                        (flat, false)
                    }
                }
            };
            pending.push((child_file, child, child_mod_rs));
        }
        for (inline, segments, line) in scan.paths {
            let mut here = module.clone();
            here.extend(inline);
            match resolve(&here, &segments) {
                Resolved::Crate(abs) => graph.refs.push(Ref {
                    from: module.clone(),
                    to: abs,
                    file: file.clone(),
                    line,
                }),
                Resolved::Bare(first) => graph.bare.push(Bare {
                    first,
                    file: file.clone(),
                    line,
                }),
                Resolved::Outside => {}
            }
        }
    }
    // Now that every file module is known, each reference points at the longest one.
    let modules = graph.modules.clone();
    for r in &mut graph.refs {
        while !modules.contains_key(&r.to) {
            r.to.pop();
        }
    }
    graph.refs.retain(|r| r.to != r.from);
    graph
}

/// Only the names of outside paths, for files outside the module tree (`tests/…`).
pub fn bare_paths(file: &str, text: &str) -> Vec<Bare> {
    scan_file(text)
        .paths
        .into_iter()
        .filter_map(|(_, segments, line)| match resolve(&[], &segments) {
            Resolved::Bare(first) => Some(Bare {
                first,
                file: file.to_string(),
                line,
            }),
            _ => None,
        })
        .collect()
}

enum Resolved {
    /// An absolute module path inside the crate (not yet cut to a file module).
    Crate(ModPath),
    Bare(String),
    /// `super::` past the root: not a path into this crate.
    Outside,
}

fn resolve(here: &[String], segments: &[String]) -> Resolved {
    let mut base: ModPath;
    let mut rest = segments;
    match segments.first().map(String::as_str) {
        Some("crate") => {
            base = Vec::new();
            rest = &segments[1..];
        }
        Some("super") | Some("self") => {
            base = here.to_vec();
            while let Some(first) = rest.first() {
                match first.as_str() {
                    "self" => {}
                    "super" => {
                        if base.pop().is_none() {
                            return Resolved::Outside;
                        }
                    }
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        Some(first) => return Resolved::Bare(first.to_string()),
        None => return Resolved::Outside,
    }
    // `use a::{self, b}` leaves a `self` after the prefix it names.
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Resolved::Crate(base)
}

/// A `mod NAME;` declaration, inside the inline modules `inline`.
struct Decl {
    inline: Vec<String>,
    name: String,
    path_attr: Option<String>,
}

/// What one file declares and names: (inline modules around it, path segments, line).
struct Scan {
    decls: Vec<Decl>,
    paths: Vec<(Vec<String>, Vec<String>, usize)>,
}

fn scan_file(text: &str) -> Scan {
    let tokens = tokenize(text);
    let mut scan = Scan {
        decls: Vec::new(),
        paths: Vec::new(),
    };
    let mut depth = 0usize;
    // Inline modules open here: (name, depth inside its braces).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let names = |inline: &[(String, usize)]| inline.iter().map(|(n, _)| n.clone()).collect();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match &t.kind {
            Kind::Punct('{') => depth += 1,
            Kind::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Kind::Ident(k) if k == "mod" => {
                if let (Some(name), Some(next)) =
                    (tokens.get(i + 1).and_then(Token::ident), tokens.get(i + 2))
                {
                    if next.is_punct(';') {
                        scan.decls.push(Decl {
                            inline: names(&inline),
                            name: name.to_string(),
                            path_attr: path_attribute(&tokens, i),
                        });
                    } else if next.is_punct('{') {
                        inline.push((name.to_string(), depth + 1));
                    }
                }
            }
            // `extern crate sled;` names a crate without a `::`.
            Kind::Ident(k)
                if k == "extern" && tokens.get(i + 1).is_some_and(|t| t.is_ident("crate")) =>
            {
                if let Some(name) = tokens.get(i + 2).and_then(Token::ident) {
                    scan.paths
                        .push((names(&inline), vec![name.to_string()], t.line));
                }
                i += 3;
                continue;
            }
            Kind::Ident(k) if k == "use" => {
                let mut j = i + 1;
                let mut found = Vec::new();
                use_tree(&tokens, &mut j, Vec::new(), &mut found);
                for (segments, line) in found {
                    scan.paths.push((names(&inline), segments, line));
                }
                // Past the `;` (or wherever the tree ended).
                i = j.max(i + 1);
                continue;
            }
            Kind::Ident(_) if path_starts_at(&tokens, i) => {
                let mut segments = Vec::new();
                let mut j = i;
                while let Some(name) = tokens.get(j).and_then(Token::ident) {
                    segments.push(name.to_string());
                    if tokens.get(j + 1).map(|t| &t.kind) == Some(&Kind::PathSep) {
                        j += 2;
                    } else {
                        break;
                    }
                }
                if segments.len() > 1 {
                    scan.paths.push((names(&inline), segments, t.line));
                }
                i = j + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    scan
}

/// Whether a path starts at identifier `i` in code (not in a `use`): the identifier is
/// followed by `::` and is not itself a later segment of a path, nor the `crate`/`super`
/// of a visibility (`pub(in crate::a)` says who may see an item, it imports nothing).
fn path_starts_at(tokens: &[Token], i: usize) -> bool {
    if tokens.get(i + 1).map(|t| &t.kind) != Some(&Kind::PathSep) {
        return false;
    }
    let prev = i.checked_sub(1).map(|p| &tokens[p]);
    let before = i.checked_sub(2).map(|p| &tokens[p]);
    match prev {
        // `a::b`, `<T as Trait>::f`: `b` and `f` are not starts; `::sled::x` (a leading
        // `::`, also after `->` or `=>`) is.
        Some(p) if p.kind == Kind::PathSep => {
            let arrow = i >= 3 && (tokens[i - 3].is_punct('-') || tokens[i - 3].is_punct('='));
            !before.is_some_and(|b| b.ident().is_some() || (b.is_punct('>') && !arrow))
        }
        Some(p) if p.is_ident("in") => !before.is_some_and(|b| b.is_punct('(')),
        _ => true,
    }
}

/// Parses one use tree at `*i`, pushing every full path it names (`a::{b, c::d}` gives
/// `a::b` and `a::c::d`; a glob gives its prefix); leaves `*i` after the tree.
fn use_tree(
    tokens: &[Token],
    i: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, usize)>,
) {
    let mut segments = prefix;
    let mut line = tokens.get(*i).map_or(0, |t| t.line);
    if tokens.get(*i).map(|t| &t.kind) == Some(&Kind::PathSep) {
        *i += 1;
    }
    while let Some(t) = tokens.get(*i) {
        match &t.kind {
            Kind::Ident(name) => {
                segments.push(name.clone());
                line = t.line;
                *i += 1;
                if tokens.get(*i).map(|t| &t.kind) == Some(&Kind::PathSep) {
                    *i += 1;
                    continue;
                }
                if tokens.get(*i).is_some_and(|t| t.is_ident("as")) {
                    *i += 2;
                }
                break;
            }
            Kind::Punct('*') => {
                *i += 1;
                break;
            }
            Kind::Punct('{') => {
                *i += 1;
                while let Some(t) = tokens.get(*i) {
                    if t.is_punct('}') {
                        *i += 1;
                        break;
                    }
                    if t.is_punct(',') {
                        *i += 1;
                        continue;
                    }
                    let before = *i;
                    use_tree(tokens, i, segments.clone(), out);
                    if *i == before {
                        *i += 1;
                    }
                }
                if tokens.get(*i).is_some_and(|t| t.is_punct(';')) {
                    *i += 1;
                }
                return;
            }
            _ => break,
        }
    }
    if !segments.is_empty() {
        out.push((segments, line));
    }
    if tokens.get(*i).is_some_and(|t| t.is_punct(';')) {
        *i += 1;
    }
}

/// The `#[path = "…"]` among the attributes just before the `mod` at `at` (skipping a
/// visibility such as `pub(crate)`).
fn path_attribute(tokens: &[Token], at: usize) -> Option<String> {
    let mut k = at;
    // Visibility: `pub`, `pub(crate)`, `pub(in a::b)`.
    if k > 0 && tokens[k - 1].is_punct(')') {
        while k > 0 && !tokens[k - 1].is_punct('(') {
            k -= 1;
        }
        k = k.saturating_sub(1);
    }
    if k > 0 && tokens[k - 1].is_ident("pub") {
        k -= 1;
    }
    // Attributes, last to first: `# [ … ]`.
    while k >= 2 && tokens[k - 1].is_punct(']') {
        let close = k - 1;
        let mut open = close;
        let mut nest = 0usize;
        loop {
            if tokens[open].is_punct(']') {
                nest += 1;
            } else if tokens[open].is_punct('[') {
                nest -= 1;
                if nest == 0 {
                    break;
                }
            }
            if open == 0 {
                return None;
            }
            open -= 1;
        }
        if open == 0 || !tokens[open - 1].is_punct('#') {
            return None;
        }
        let body = &tokens[open + 1..close];
        if let [name, eq, value] = body {
            if name.is_ident("path") && eq.is_punct('=') {
                if let Kind::Str(s) = &value.kind {
                    return Some(s.clone());
                }
            }
        }
        k = open - 1;
    }
    None
}

fn parent_dir(file: &str) -> &str {
    file.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn file_stem(file: &str) -> &str {
    let name = file.rsplit_once('/').map_or(file, |(_, name)| name);
    name.strip_suffix(".rs").unwrap_or(name)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Removes `.` and `dir/..` (`#[path = "../../tests/common/dns.rs"]`).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The import graph reduced to distinct edges between file modules.
pub fn edges(graph: &Graph) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut out: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for m in graph.modules.keys() {
        out.entry(m.clone()).or_default();
    }
    for r in &graph.refs {
        out.entry(r.from.clone()).or_default().insert(r.to.clone());
    }
    out
}

/// Every elementary cycle, each once, written from its smallest module and back to it
/// (`[a, b, a]`). Bounded: at most `limit` cycles are listed.
pub fn cycles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>, limit: usize) -> Vec<Vec<ModPath>> {
    let mut found = Vec::new();
    for start in edges.keys() {
        // Only through modules after `start`, so each cycle is found from its smallest one.
        let mut path = vec![start.clone()];
        // Each frame holds the neighbours still to try, last first, so they go in order.
        let mut stack = vec![edges[start]
            .iter()
            .rev()
            .filter(|n| *n >= start)
            .collect::<Vec<_>>()];
        while let Some(next) = stack.last_mut() {
            if found.len() >= limit {
                return found;
            }
            let Some(n) = next.pop() else {
                stack.pop();
                path.pop();
                continue;
            };
            if n == start {
                let mut cycle = path.clone();
                cycle.push(start.clone());
                if cycle.len() > 2 {
                    found.push(cycle);
                }
            } else if !path.contains(n) {
                path.push(n.clone());
                let onward = edges
                    .get(n)
                    .map(|s| s.iter().rev().filter(|m| *m >= start).collect())
                    .unwrap_or_default();
                stack.push(onward);
            }
        }
    }
    found
}
