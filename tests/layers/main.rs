//! The layer rules of docs/architecture.md §2 (issue 11), checked on the source tree: which
//! module may import which, who may name sled, and no import cycle between file modules.
//!
//! Plain Rust, no outside tool: `graph` follows the module tree from `src/lib.rs` and
//! resolves every `crate::`, `super::` and `self::` path in code (not in comments, doc
//! tests or strings) to the file module it names. Each failure lists the offending files
//! and lines. The graph builder itself is tested at the end of this file on small inputs.

mod graph;
mod lexer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use graph::{show, Graph};

/// What each top-level module must not import (first segment of the module path).
const LAYER_RULES: &[(&str, &[&str])] = &[
    (
        "net",
        &["actors", "admin", "http", "server", "outbound", "fetch"],
    ),
    ("outbound", &["actors", "admin", "http", "server"]),
    ("fetch", &["actors", "admin", "http", "server"]),
    ("actors", &["admin", "http", "server"]),
    (
        "delivery",
        &[
            "actors", "admin", "http", "server", "outbound", "fetch", "net",
        ],
    ),
    (
        "mailauth",
        &[
            "actors", "admin", "http", "server", "fetch", "delivery", "net",
        ],
    ),
    (
        "config",
        &[
            "actors",
            "admin",
            "http",
            "server",
            "outbound",
            "fetch",
            "delivery",
            "mailauth",
            "net",
            "storage",
            "protocols",
        ],
    ),
    (
        "storage",
        &[
            "actors", "admin", "outbound", "fetch", "http", "server", "net", "delivery", "mailauth",
        ],
    ),
];

/// The sled backend's own directory: the only place that may name the `sled` crate.
const SLED_BACKEND_DIR: &str = "src/storage/sled/";

/// Files outside [`SLED_BACKEND_DIR`] allowed to name sled: none. An entry would need a
/// reason beside it, and a listed file that no longer names sled fails the test.
const SLED_ALLOWED_FILES: &[&str] = &[];

/// Import cycles tolerated for now, each written from its smallest module (as the failure
/// message prints them), grouped under the reason they exist: none. A cycle not listed
/// fails the test, and so does a listed one that no longer occurs, so the list stays exact.
const ALLOWED_CYCLES: &[(&str, &[&str])] = &[];

/// At most this many cycles are listed (the search is bounded; the graph is small).
const CYCLE_LIMIT: usize = 10_000;

fn package_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `src/` and `tests/`, by `/`-separated path from the package.
fn source_files() -> &'static BTreeMap<String, String> {
    static FILES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut files = BTreeMap::new();
        for top in ["src", "tests"] {
            collect(&package_dir().join(top), top, &mut files);
        }
        assert!(
            files.contains_key("src/lib.rs"),
            "src/lib.rs not found under {}",
            package_dir().display()
        );
        files
    })
}

fn collect(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let rel = format!("{rel}/{name}");
        if path.is_dir() {
            collect(&path, &rel, out);
        } else if name.ends_with(".rs") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            out.insert(rel, text);
        }
    }
}

/// The library's graph (from `src/lib.rs`).
fn crate_graph() -> &'static Graph {
    static GRAPH: OnceLock<Graph> = OnceLock::new();
    GRAPH.get_or_init(|| {
        let g = graph::build(source_files(), "src/lib.rs");
        assert!(g.missing.is_empty(), "{}", g.missing.join("\n"));
        g
    })
}

fn layer(path: &[String]) -> &str {
    path.first().map_or("crate", String::as_str)
}

fn fail_with(title: &str, lines: Vec<String>) {
    assert!(lines.is_empty(), "{title}:\n  {}", lines.join("\n  "));
}

#[test]
fn every_source_file_under_src_is_read() {
    let bin = graph::build(source_files(), "src/main.rs");
    assert!(bin.missing.is_empty(), "{}", bin.missing.join("\n"));
    let read: Vec<&String> = crate_graph()
        .modules
        .values()
        .chain(bin.modules.values())
        .collect();
    let unread: Vec<String> = source_files()
        .keys()
        .filter(|f| f.starts_with("src/") && !read.contains(f))
        .cloned()
        .collect();
    fail_with(
        "files under src/ that no `mod` declaration reaches (so these rules do not see them)",
        unread,
    );
    // The tree is what the compiler reads: a few known modules and files.
    let g = crate_graph();
    for (module, file) in [
        ("actors::listener", "src/actors/listener.rs"),
        ("net::conn", "src/net/conn.rs"),
        (
            "storage::sled::directory::tests",
            "src/storage/sled/directory_tests.rs",
        ),
    ] {
        let path: Vec<String> = module.split("::").map(String::from).collect();
        assert_eq!(g.modules.get(&path).map(String::as_str), Some(file));
    }
}

#[test]
fn protocols_import_nothing_outside_protocols() {
    let bad = crate_graph()
        .refs
        .iter()
        .filter(|r| layer(&r.from) == "protocols" && layer(&r.to) != "protocols")
        .map(|r| format!("{}:{}: {} → {}", r.file, r.line, show(&r.from), show(&r.to)))
        .collect();
    fail_with("src/protocols imports from outside crate::protocols", bad);
}

#[test]
fn layers_run_one_way() {
    let mut bad = Vec::new();
    for r in &crate_graph().refs {
        let (from, to) = (layer(&r.from), layer(&r.to));
        for (rule, forbidden) in LAYER_RULES {
            if from == *rule && forbidden.contains(&to) {
                bad.push(format!(
                    "{}:{}: {} → {} ({from} must not import {to})",
                    r.file,
                    r.line,
                    show(&r.from),
                    show(&r.to)
                ));
            }
        }
    }
    fail_with(
        "imports against the layering (docs/architecture.md §2)",
        bad,
    );
}

#[test]
fn only_the_sled_backend_names_sled() {
    let mut naming: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (file, text) in source_files() {
        for b in graph::bare_paths(file, text) {
            if b.first == "sled" {
                naming.entry(b.file).or_default().push(b.line);
            }
        }
    }
    let bad = naming
        .iter()
        .filter(|(f, _)| {
            !f.starts_with(SLED_BACKEND_DIR) && !SLED_ALLOWED_FILES.contains(&f.as_str())
        })
        .map(|(f, lines)| format!("{f}: lines {lines:?}"))
        .collect();
    fail_with(
        &format!("files outside {SLED_BACKEND_DIR} that name sled (`sled::`, `use sled`)"),
        bad,
    );
    let stale = SLED_ALLOWED_FILES
        .iter()
        .filter(|f| !naming.contains_key(**f))
        .map(|f| f.to_string())
        .collect();
    fail_with(
        "SLED_ALLOWED_FILES entries that no longer name sled (remove them from the list)",
        stale,
    );
}

#[test]
fn no_import_cycles() {
    let g = crate_graph();
    let found = graph::cycles(&graph::edges(g), CYCLE_LIMIT);
    assert!(found.len() < CYCLE_LIMIT, "more than {CYCLE_LIMIT} cycles");
    let written: Vec<String> = found.iter().map(|c| write_cycle(c)).collect();
    let allowed: Vec<&str> = ALLOWED_CYCLES
        .iter()
        .flat_map(|(_, cycles)| cycles.iter().copied())
        .collect();
    let new = found
        .iter()
        .zip(&written)
        .filter(|(_, w)| !allowed.contains(&w.as_str()))
        .map(|(c, w)| format!("{w}\n    {}", cycle_evidence(g, c)))
        .collect();
    fail_with("import cycles between file modules", new);
    let stale = allowed
        .iter()
        .filter(|a| !written.iter().any(|w| w == *a))
        .map(|a| a.to_string())
        .collect();
    fail_with(
        "ALLOWED_CYCLES entries that no longer occur (remove them from the list)",
        stale,
    );
}

fn write_cycle(cycle: &[Vec<String>]) -> String {
    cycle
        .iter()
        .map(|m| show(m))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Where each step of a cycle is made: the first line of each edge.
fn cycle_evidence(g: &Graph, cycle: &[Vec<String>]) -> String {
    cycle
        .windows(2)
        .map(|w| {
            g.refs
                .iter()
                .find(|r| r.from == w[0] && r.to == w[1])
                .map_or_else(String::new, |r| format!("{}:{}", r.file, r.line))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// The graph builder on small inputs.

fn tree(files: &[(&str, &str)]) -> Graph {
    let files: BTreeMap<String, String> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    let g = graph::build(&files, "src/lib.rs");
    assert!(g.missing.is_empty(), "{:?}", g.missing);
    g
}

fn edge_list(g: &Graph) -> Vec<String> {
    graph::edges(g)
        .iter()
        .flat_map(|(from, to)| {
            to.iter()
                .map(move |t| format!("{} → {}", show(from), show(t)))
        })
        .collect()
}

#[test]
fn builder_finds_a_cycle_and_writes_it_from_its_smallest_module() {
    let g = tree(&[
        ("src/lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        ("src/b.rs", "pub struct B(crate::c::C);\n"),
        ("src/c.rs", "pub fn f() -> crate::a::A { crate::a::A }\n"),
    ]);
    let cycles = graph::cycles(&graph::edges(&g), CYCLE_LIMIT);
    let written: Vec<String> = cycles.iter().map(|c| write_cycle(c)).collect();
    assert_eq!(written, ["a → b → c → a"]);
    assert_eq!(
        cycle_evidence(&g, &cycles[0]),
        "src/a.rs:1, src/b.rs:1, src/c.rs:1"
    );
}

#[test]
fn builder_lists_each_elementary_cycle_once() {
    // a ⇄ b and a ⇄ c: two cycles through a, none through b and c together.
    let g = tree(&[
        ("src/lib.rs", "mod a; mod b; mod c;"),
        ("src/a.rs", "use crate::{b::X, c::Y};"),
        ("src/b.rs", "use crate::a;"),
        ("src/c.rs", "fn f() { crate::a::g() }"),
    ]);
    let written: Vec<String> = graph::cycles(&graph::edges(&g), CYCLE_LIMIT)
        .iter()
        .map(|c| write_cycle(c))
        .collect();
    assert_eq!(written, ["a → b → a", "a → c → a"]);
    // No edges, no cycles.
    let g = tree(&[
        ("src/lib.rs", "mod a; mod b;"),
        ("src/a.rs", "use crate::b;"),
        ("src/b.rs", ""),
    ]);
    assert!(graph::cycles(&graph::edges(&g), CYCLE_LIMIT).is_empty());
}

#[test]
fn builder_ignores_comments_doc_tests_and_literals() {
    let g = tree(&[
        ("src/lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "src/a.rs",
            r##"//! ```
//! use crate::b::B;
//! ```
/// Like [`crate::b::B`], see `super::b`.
// use crate::b;
/* crate::b::B /* nested */ crate::b::B */
const S: &str = "crate::b::B";
const R: &str = r#"use crate::b;"#;
const C: char = '"';
fn f<'a>(x: &'a str) -> &'a str { x }
"##,
        ),
        ("src/b.rs", "pub struct B;"),
    ]);
    assert_eq!(edge_list(&g), Vec::<String>::new());
}

#[test]
fn builder_resolves_super_self_groups_and_path_attributes() {
    let g = tree(&[
        ("src/lib.rs", "pub mod x;\npub mod y;\n"),
        (
            "src/x/mod.rs",
            "pub mod inner;\n#[cfg(test)]\n#[path = \"x_tests.rs\"]\nmod tests;\nuse self::inner::I;\n",
        ),
        (
            "src/x/inner.rs",
            "use super::super::{y::{self, Y}, x};\n\
             pub(in crate::y) fn hidden() {}\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::inner;\n}\n",
        ),
        ("src/x/x_tests.rs", "use super::inner::I;\n"),
        ("src/y.rs", "pub struct Y;\nfn f() { for _ in crate::x::inner::all() {} }\n"),
    ]);
    let tests: Vec<String> = vec!["x".into(), "tests".into()];
    assert_eq!(
        g.modules.get(&tests).map(String::as_str),
        Some("src/x/x_tests.rs")
    );
    assert_eq!(
        edge_list(&g),
        [
            // `self::inner` from mod.rs
            "x → x::inner",
            // the `{self, Y}` group and `x`; `pub(in crate::y)` is no import, nor is the
            // inline test module's `super::*` (its own file)
            "x::inner → x",
            "x::inner → y",
            "x::tests → x::inner",
            // `for _ in crate::…`
            "y → x::inner",
        ]
    );
}

#[test]
fn builder_sees_outside_crates_by_their_first_segment() {
    let found: Vec<(String, usize)> = graph::bare_paths(
        "t.rs",
        "use sled::Tree;\nuse std::{io, sync::Arc};\nfn f() -> ::sled::Result<()> { a::b::c() }\n// sled::Db\nextern crate sled;\n",
    )
    .into_iter()
    .map(|b| (b.first, b.line))
    .collect();
    let expect: Vec<(String, usize)> = [
        ("sled", 1),
        ("std", 2),
        ("std", 2),
        ("sled", 3),
        ("a", 3),
        ("sled", 5),
    ]
    .iter()
    .map(|(n, l)| (n.to_string(), *l))
    .collect();
    assert_eq!(found, expect);
}
