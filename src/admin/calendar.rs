//! The `calendar` commands: an account's calendars, task lists and address books
//! (`storage::davstore`) listed, created, deleted, imported from one `.ics`/`.vcf` file and
//! exported to one. The console, the one-shot CLI, the API and the dashboard all run them
//! through here.
//!
//! Import: the file is split with `protocols::caldav::bundle` (one object per UID, with its
//! overrides and the VTIMEZONEs it uses) or `protocols::carddav::bundle` (one per card),
//! each piece checked as a PUT of it would be (`validate_calendar` / `validate_card`), and
//! stored; a piece that fails is counted and reported with its reason, the others are
//! stored. An object whose UID the collection holds already replaces it (under its
//! existing name). Progress goes to a `migrate::Progress` (a console line, a job's bar).
//!
//! Export: every object of the collection in one file (`bundle::merge`).
//!
//! Implementation notes: new objects are named `<uid>.ics`/`<uid>.vcf` when the UID is a
//! plain token, else by a digest of the UID (a name is a path segment: no `/`, at most 255
//! bytes). Each object is its own atomic put; the store is flushed at the end (and every
//! [`COMMIT_EVERY`] objects), before the answer.

use std::collections::HashMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::protocols::caldav::bundle as ics;
use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};
use crate::protocols::carddav::bundle as vcf;
use crate::protocols::carddav::validate::validate_card;
use crate::storage::davstore::{CollectionKind, CollectionProps};
use crate::storage::davstore::{Condition, DavCollection, NewCollection, NewObject, PutOutcome};
use crate::storage::migrate::Progress;
use crate::storage::{StorageError, Store};

/// The largest import file read (bytes).
pub const MAX_IMPORT: u64 = 256 * 1024 * 1024;
/// The largest single object an import stores (bytes), as a DAV PUT's default limit.
pub const MAX_OBJECT: usize = 10 * 1024 * 1024;
/// Objects stored between two flushes of an import.
pub const COMMIT_EVERY: usize = 1000;
/// Refused items an import report lists one by one; more are counted.
pub const REASONS_SHOWN: usize = 20;

/// What `calendar create` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewKind {
    /// A calendar of events (VEVENT).
    Events,
    /// A task list (VTODO).
    Tasks,
    AddressBook,
}

impl NewKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NewKind::Events => "calendar",
            NewKind::Tasks => "tasks",
            NewKind::AddressBook => "addressbook",
        }
    }

    pub fn parse(s: &str) -> Option<NewKind> {
        match s {
            "calendar" | "events" => Some(NewKind::Events),
            "tasks" => Some(NewKind::Tasks),
            "addressbook" => Some(NewKind::AddressBook),
            _ => None,
        }
    }
}

/// One `calendar` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarCommand {
    List(String),
    Create {
        account: String,
        name: String,
        kind: NewKind,
        display: Option<String>,
    },
    Delete {
        account: String,
        name: String,
    },
    /// `file`: a path on the server's machine (the console makes it absolute).
    Import {
        account: String,
        name: String,
        file: String,
    },
    Export {
        account: String,
        name: String,
        file: String,
    },
    /// `calendar acl ACCOUNT|public NAME`: who may do what with a collection.
    Acl {
        account: String,
        name: String,
    },
    /// `calendar share ACCOUNT|public NAME IDENTIFIER RIGHTS`: sets one ACL entry.
    Share {
        account: String,
        name: String,
        identifier: String,
        rights: String,
    },
}

impl CalendarCommand {
    pub fn path(&self) -> &'static str {
        match self {
            CalendarCommand::List(_) => "calendar list",
            CalendarCommand::Create { .. } => "calendar create",
            CalendarCommand::Delete { .. } => "calendar delete",
            CalendarCommand::Import { .. } => "calendar import",
            CalendarCommand::Export { .. } => "calendar export",
            CalendarCommand::Acl { .. } => "calendar acl",
            CalendarCommand::Share { .. } => "calendar share",
        }
    }

    /// (arguments, options) of the canonical command line.
    pub(crate) fn words(&self) -> (Vec<String>, Vec<String>) {
        match self {
            CalendarCommand::List(a) => (vec![a.clone()], vec![]),
            CalendarCommand::Create {
                account,
                name,
                kind,
                display,
            } => {
                let mut flags = match kind {
                    NewKind::Events => vec![],
                    NewKind::Tasks => vec!["--tasks".to_string()],
                    NewKind::AddressBook => vec!["--addressbook".to_string()],
                };
                if let Some(d) = display {
                    flags.extend(["--display".to_string(), d.clone()]);
                }
                (vec![account.clone(), name.clone()], flags)
            }
            CalendarCommand::Delete { account, name } | CalendarCommand::Acl { account, name } => {
                (vec![account.clone(), name.clone()], vec![])
            }
            CalendarCommand::Share {
                account,
                name,
                identifier,
                rights,
            } => (
                vec![
                    account.clone(),
                    name.clone(),
                    identifier.clone(),
                    rights.clone(),
                ],
                vec![],
            ),
            CalendarCommand::Import {
                account,
                name,
                file,
            }
            | CalendarCommand::Export {
                account,
                name,
                file,
            } => (vec![account.clone(), name.clone(), file.clone()], vec![]),
        }
    }

    /// The same command with a relative file made absolute against `cwd` (the console's
    /// directory: the server that reads the file runs elsewhere).
    pub fn with_absolute_file(self, cwd: &std::path::Path) -> CalendarCommand {
        let fix = |f: String| {
            let p = std::path::Path::new(&f);
            if p.is_absolute() {
                f
            } else {
                cwd.join(p).to_string_lossy().into_owned()
            }
        };
        match self {
            CalendarCommand::Import {
                account,
                name,
                file,
            } => CalendarCommand::Import {
                account,
                name,
                file: fix(file),
            },
            CalendarCommand::Export {
                account,
                name,
                file,
            } => CalendarCommand::Export {
                account,
                name,
                file: fix(file),
            },
            other => other,
        }
    }
}

/// The command `path` names, from its checked arguments and options.
pub(crate) fn parse(
    path: &str,
    args: &[String],
    flag: &dyn Fn(&str) -> Option<String>,
) -> Result<CalendarCommand, String> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let account = arg(0).to_lowercase();
    Ok(match path {
        "calendar list" => CalendarCommand::List(account),
        "calendar create" => {
            let kind = match (flag("--tasks").is_some(), flag("--addressbook").is_some()) {
                (true, true) => return Err("--tasks and --addressbook exclude each other".into()),
                (true, false) => NewKind::Tasks,
                (false, true) => NewKind::AddressBook,
                (false, false) => NewKind::Events,
            };
            let name = arg(1);
            check_name(&name)?;
            CalendarCommand::Create {
                account,
                name,
                kind,
                display: flag("--display"),
            }
        }
        "calendar delete" => CalendarCommand::Delete {
            account,
            name: arg(1),
        },
        "calendar import" => CalendarCommand::Import {
            account,
            name: arg(1),
            file: arg(2),
        },
        "calendar export" => CalendarCommand::Export {
            account,
            name: arg(1),
            file: arg(2),
        },
        "calendar acl" => CalendarCommand::Acl {
            account,
            name: arg(1),
        },
        "calendar share" => CalendarCommand::Share {
            account,
            name: arg(1),
            identifier: arg(2).to_lowercase(),
            rights: arg(3),
        },
        other => return Err(format!("unknown command {other}")),
    })
}

fn check_name(name: &str) -> Result<(), String> {
    crate::storage::davstore::check_name(name).map_err(|_| {
        format!("'{name}' is not a collection name (a path segment: no '/', no control characters)")
    })
}

/// A collection with its object count, as listed.
#[derive(Debug, Clone)]
pub struct CollectionRow {
    pub collection: DavCollection,
    pub objects: usize,
}

impl CollectionRow {
    /// `calendar`, `tasks` (a calendar of VTODO only) or `addressbook`.
    pub fn kind_word(&self) -> &'static str {
        kind_word(&self.collection)
    }
}

/// `calendar`, `tasks` (a calendar of VTODO only) or `addressbook`.
pub fn kind_word(c: &DavCollection) -> &'static str {
    match c.kind {
        CollectionKind::AddressBook => "addressbook",
        CollectionKind::Calendar if c.components == ["VTODO"] => "tasks",
        CollectionKind::Calendar => "calendar",
    }
}

fn s(e: StorageError) -> String {
    e.to_string()
}

/// The owner word of the public collections (stored under `PUBLIC_OWNER`).
pub const PUBLIC: &str = "public";

/// The stored owner of `account`: an existing account's address, or the public owner for
/// [`PUBLIC`].
fn account_exists(store: &Store, account: &str) -> Result<String, String> {
    if account == PUBLIC {
        return Ok(crate::storage::PUBLIC_OWNER.to_string());
    }
    store
        .get_account(account)
        .map_err(s)?
        .map(|a| a.address)
        .ok_or_else(|| format!("not found: account {account}"))
}

/// `account`'s collection `name`, or a message naming what is missing.
pub fn collection(store: &Store, account: &str, name: &str) -> Result<DavCollection, String> {
    let account = account_exists(store, account)?;
    store
        .dav_collection(&account, name)
        .map_err(s)?
        .ok_or_else(|| format!("no calendar or address book {name} of {account}"))
}

/// The account's collections with their object counts.
pub fn rows(store: &Store, account: &str) -> Result<Vec<CollectionRow>, String> {
    let account = account_exists(store, account)?;
    let mut out = Vec::new();
    for c in store.dav_collections(&account).map_err(s)? {
        let objects = store.dav_objects(c.id).map_err(s)?.len();
        out.push(CollectionRow {
            collection: c,
            objects,
        });
    }
    Ok(out)
}

fn list(store: &Store, account: &str) -> Result<String, String> {
    let rows = rows(store, account)?;
    if rows.is_empty() {
        return Ok(format!("no calendars or address books ({account})"));
    }
    let width = rows
        .iter()
        .map(|r| r.collection.name.chars().count())
        .chain([4])
        .max()
        .unwrap_or(4);
    let mut out = format!(
        "{:width$}  {:<11}  {:<16}  {:>7}  {:>6}  DISPLAY NAME\n",
        "NAME", "KIND", "COMPONENTS", "OBJECTS", "SYNC"
    );
    for r in &rows {
        let c = &r.collection;
        let comps = if c.components.is_empty() {
            "VCARD".to_string()
        } else {
            c.components.join(",")
        };
        let _ = writeln!(
            out,
            "{:width$}  {:<11}  {:<16}  {:>7}  {:>6}  {}",
            c.name,
            r.kind_word(),
            comps,
            r.objects,
            c.sync,
            c.props.display_name
        );
    }
    Ok(out.trim_end().to_string())
}

/// Creates a collection; its row.
pub fn create(
    store: &Store,
    account: &str,
    name: &str,
    kind: NewKind,
    display: Option<&str>,
) -> Result<DavCollection, String> {
    let account = account_exists(store, account)?;
    check_name(name)?;
    if crate::scheduling::reserved(name) {
        return Err(format!(
            "{name:?} is kept for the scheduling inbox and outbox; choose another name"
        ));
    }
    // The defaults are given on first listing: make sure they exist first, so that a
    // collection made now does not stand in for them later.
    store.dav_collections(&account).map_err(s)?;
    let (kind_, components) = match kind {
        NewKind::Events => (CollectionKind::Calendar, vec!["VEVENT".to_string()]),
        NewKind::Tasks => (CollectionKind::Calendar, vec!["VTODO".to_string()]),
        NewKind::AddressBook => (CollectionKind::AddressBook, vec![]),
    };
    let c = store
        .dav_create_collection(&NewCollection {
            owner: account,
            name: name.to_string(),
            kind: kind_,
            props: CollectionProps {
                display_name: display.unwrap_or(name).to_string(),
                ..CollectionProps::default()
            },
            components,
        })
        .map_err(|e| match e {
            StorageError::Exists(_) => format!("a calendar or address book {name} exists already"),
            other => other.to_string(),
        })?;
    store.commit().map_err(|e| format!("flush failed: {e}"))?;
    Ok(c)
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Objects stored that were new.
    pub created: usize,
    /// Objects stored in place of one with the same UID.
    pub replaced: usize,
    /// (UID or "-", why) of each item left out.
    pub refused: Vec<(String, String)>,
}

impl ImportReport {
    pub fn stored(&self) -> usize {
        self.created + self.replaced
    }

    /// What the console prints.
    pub fn render(&self, account: &str, name: &str) -> String {
        let mut out = format!(
            "imported into {name} of {account}: {} stored ({} new, {} replaced an object with the same UID), {} invalid",
            self.stored(),
            self.created,
            self.replaced,
            self.refused.len()
        );
        for (uid, why) in self.refused.iter().take(REASONS_SHOWN) {
            let _ = write!(out, "\n  invalid {uid}: {why}");
        }
        if self.refused.len() > REASONS_SHOWN {
            let _ = write!(
                out,
                "\n  … and {} more invalid",
                self.refused.len() - REASONS_SHOWN
            );
        }
        out
    }
}

/// A resource name for a new object of `uid`.
fn object_name(uid: &str, ext: &str) -> String {
    let plain = !uid.is_empty()
        && uid.len() <= 200
        && uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._-+=".contains(c))
        && !uid.starts_with('.');
    if plain {
        format!("{uid}.{ext}")
    } else {
        let d = Sha256::digest(uid.as_bytes());
        format!("{}.{ext}", hex::encode(&d[..16]))
    }
}

/// Imports `text` into `account`'s collection `name` (module notes).
pub fn import(
    store: &Store,
    account: &str,
    name: &str,
    text: &str,
    progress: &mut dyn Progress,
) -> Result<ImportReport, String> {
    let coll = collection(store, account, name)?;
    progress.phase("reading", 0);
    let calendar = coll.kind == CollectionKind::Calendar;
    let items = if calendar {
        ics::split(text)
    } else {
        vcf::split(text)
    };
    progress.end_phase();
    let supported: Vec<ComponentKind> = coll
        .components
        .iter()
        .filter_map(|c| ComponentKind::parse(c))
        .collect();
    // UID → existing name.
    let mut names: HashMap<String, String> = store
        .dav_objects(coll.id)
        .map_err(s)?
        .into_iter()
        .map(|o| (o.uid, o.name))
        .collect();
    let mut report = ImportReport::default();
    progress.phase("import", items.len() as u64);
    for (n, item) in items.into_iter().enumerate() {
        let uid_shown = item.uid.clone().unwrap_or_else(|| "-".into());
        let outcome = item.data.and_then(|data| {
            let new = if calendar {
                let o =
                    validate_calendar(&data, &supported, MAX_OBJECT).map_err(|e| e.to_string())?;
                NewObject {
                    name: String::new(),
                    uid: o.uid,
                    component: o.kind.as_str().to_string(),
                    first: o.first,
                    last: o.last,
                    data,
                }
            } else {
                let o = validate_card(&data, MAX_OBJECT).map_err(|e| e.to_string())?;
                NewObject {
                    name: String::new(),
                    uid: o.uid,
                    component: "VCARD".to_string(),
                    first: None,
                    last: None,
                    data,
                }
            };
            put(store, &coll, &mut names, new, calendar)
        });
        match outcome {
            Ok(true) => report.replaced += 1,
            Ok(false) => report.created += 1,
            Err(why) => report.refused.push((uid_shown, why)),
        }
        progress.advance(1);
        if (n + 1) % COMMIT_EVERY == 0 {
            store.commit().map_err(|e| format!("flush failed: {e}"))?;
        }
    }
    progress.end_phase();
    store.commit().map_err(|e| format!("flush failed: {e}"))?;
    Ok(report)
}

/// Stores one object: under its UID's existing name (replacing; `true`) or a new one.
fn put(
    store: &Store,
    coll: &DavCollection,
    names: &mut HashMap<String, String>,
    mut new: NewObject,
    calendar: bool,
) -> Result<bool, String> {
    let ext = if calendar { "ics" } else { "vcf" };
    let (name, cond, replacing) = match names.get(&new.uid) {
        Some(existing) => (existing.clone(), Condition::Any, true),
        None => (object_name(&new.uid, ext), Condition::Absent, false),
    };
    new.name = name;
    let mut outcome = store.dav_put(coll.id, &new, &cond).map_err(s)?;
    if outcome == PutOutcome::PreconditionFailed && !replacing {
        // The name is taken by an object of another UID: name this one by its digest.
        let d = Sha256::digest(new.uid.as_bytes());
        new.name = format!("{}.{ext}", hex::encode(&d[..16]));
        outcome = store
            .dav_put(coll.id, &new, &Condition::Absent)
            .map_err(s)?;
    }
    match outcome {
        PutOutcome::Stored { .. } => {
            names.insert(new.uid.clone(), new.name);
            Ok(replacing)
        }
        PutOutcome::PreconditionFailed => Err("its resource name is taken".into()),
        PutOutcome::UidConflict(other) => Err(format!("the UID is used by {other}")),
    }
}

/// The collection as one file: (text, objects in it).
pub fn export(store: &Store, account: &str, name: &str) -> Result<(String, usize), String> {
    let coll = collection(store, account, name)?;
    let objects = store.dav_objects(coll.id).map_err(s)?;
    let texts = objects.iter().map(|o| o.data.as_str());
    let (text, bad) = if coll.kind == CollectionKind::Calendar {
        ics::merge(texts)
    } else {
        vcf::merge(texts)
    };
    if let Some(n) = bad.first() {
        // Stored objects were checked on the way in; one that no longer parses is a bug.
        tracing::warn!(object = %objects[*n].name, "an object that does not parse left out of an export");
    }
    Ok((text, objects.len() - bad.len()))
}

/// The file extension of a collection's export.
pub fn extension(c: &DavCollection) -> &'static str {
    match c.kind {
        CollectionKind::Calendar => "ics",
        CollectionKind::AddressBook => "vcf",
    }
}

/// The MIME type of a collection's export.
pub fn media_type(c: &DavCollection) -> &'static str {
    match c.kind {
        CollectionKind::Calendar => "text/calendar; charset=utf-8",
        CollectionKind::AddressBook => "text/vcard; charset=utf-8",
    }
}

/// Reads an import file, bounded by [`MAX_IMPORT`].
fn read_file(file: &str) -> Result<String, String> {
    use std::io::Read as _;
    let f = std::fs::File::open(file).map_err(|e| format!("cannot open {file}: {e}"))?;
    let mut bytes = Vec::new();
    f.take(MAX_IMPORT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {file}: {e}"))?;
    if bytes.len() as u64 > MAX_IMPORT {
        return Err(format!("{file} is larger than {MAX_IMPORT} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| format!("{file} is not UTF-8 text"))
}

/// Runs a `calendar` command against the store.
/// "public" or the address, for messages.
fn whose(owner: &str) -> &str {
    if owner == crate::storage::PUBLIC_OWNER {
        PUBLIC
    } else {
        owner
    }
}

/// The ACL of a collection, one "IDENTIFIER RIGHTS" line per entry; an account's
/// collection starts with its owner's implicit full rights.
pub fn acl_lines(store: &Store, account: &str, name: &str) -> Result<String, String> {
    let c = collection(store, account, name)?;
    let mut rows: Vec<(String, String)> = Vec::new();
    if c.owner != crate::storage::PUBLIC_OWNER {
        rows.push((
            c.owner.clone(),
            format!("{} (owner)", crate::storage::ALL_RIGHTS),
        ));
    }
    rows.extend(store.dav_get_acl(c.id).map_err(s)?);
    if rows.is_empty() {
        return Ok("no ACL entries: nobody has access".into());
    }
    let width = rows.iter().map(|(i, _)| i.len()).max().unwrap_or(0);
    Ok(rows
        .iter()
        .map(|(i, r)| format!("{i:width$}  {r}"))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `calendar share`: "none" removes the entry; otherwise RFC 4314 SETACL semantics ("+x",
/// "-x" or exactly these). The identifier must be `anyone` or an existing account other
/// than the owner.
pub fn share(
    store: &Store,
    account: &str,
    name: &str,
    identifier: &str,
    rights: &str,
) -> Result<String, String> {
    let c = collection(store, account, name)?;
    let identifier = identifier.to_ascii_lowercase();
    if identifier != crate::storage::ANYONE && store.get_account(&identifier).map_err(s)?.is_none()
    {
        return Err(format!(
            "no account {identifier} (identifiers are account addresses or 'anyone')"
        ));
    }
    if identifier == c.owner {
        return Err(format!(
            "{identifier} owns {name} and always has every right"
        ));
    }
    let change = if rights == "none" { "" } else { rights };
    store.dav_set_acl(c.id, &identifier, change).map_err(s)?;
    store.commit().map_err(|e| format!("flush failed: {e}"))?;
    let now = store
        .dav_get_acl(c.id)
        .map_err(s)?
        .into_iter()
        .find(|(i, _)| *i == identifier)
        .map(|(_, r)| r);
    let whose = whose(&c.owner);
    Ok(match now {
        Some(r) => format!("{identifier} now has rights {r} on {name} ({whose})"),
        None => format!("{identifier} has no rights on {name} ({whose})"),
    })
}

pub fn execute(
    store: &Store,
    cmd: &CalendarCommand,
    progress: &mut dyn Progress,
) -> Result<String, String> {
    match cmd {
        CalendarCommand::Acl { account, name } => acl_lines(store, account, name),
        CalendarCommand::Share {
            account,
            name,
            identifier,
            rights,
        } => share(store, account, name, identifier, rights),
        CalendarCommand::List(account) => list(store, account),
        CalendarCommand::Create {
            account,
            name,
            kind,
            display,
        } => {
            let c = create(store, account, name, *kind, display.as_deref())?;
            Ok(format!(
                "{} {} created for {} ({})",
                kind_word(&c),
                c.name,
                whose(&c.owner),
                c.props.display_name
            ))
        }
        CalendarCommand::Delete { account, name } => {
            let c = collection(store, account, name)?;
            store.dav_delete_collection(&c.owner, &c.name).map_err(s)?;
            store.commit().map_err(|e| format!("flush failed: {e}"))?;
            Ok(format!(
                "{} {} of {} deleted with its objects",
                kind_word(&c),
                c.name,
                c.owner
            ))
        }
        CalendarCommand::Import {
            account,
            name,
            file,
        } => {
            collection(store, account, name)?;
            let text = read_file(file)?;
            let report = import(store, account, name, &text, progress)?;
            Ok(report.render(account, name))
        }
        CalendarCommand::Export {
            account,
            name,
            file,
        } => {
            let (text, n) = export(store, account, name)?;
            std::fs::write(file, text.as_bytes())
                .map_err(|e| format!("cannot write {file}: {e}"))?;
            Ok(format!(
                "{n} objects of {name} ({account}) written to {file}"
            ))
        }
    }
}

/// A progress that reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn phase(&mut self, _: &str, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn end_phase(&mut self) {}
}

/// A progress that sends a line now and then (each percent of the phase): the console's
/// progress line over the control socket.
pub struct Lines<F: FnMut(String)> {
    send: F,
    phase: String,
    total: u64,
    done: u64,
    shown: u64,
}

impl<F: FnMut(String)> Lines<F> {
    pub fn new(send: F) -> Self {
        Lines {
            send,
            phase: String::new(),
            total: 0,
            done: 0,
            shown: 0,
        }
    }
}

impl<F: FnMut(String)> Progress for Lines<F> {
    fn phase(&mut self, name: &str, total: u64) {
        self.phase = name.to_string();
        self.total = total;
        self.done = 0;
        self.shown = 0;
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        let step = (self.total / 100).max(1);
        if self.total > 0 && (self.done - self.shown >= step || self.done == self.total) {
            self.shown = self.done;
            (self.send)(format!("{}: {}/{}", self.phase, self.done, self.total));
        }
    }

    fn end_phase(&mut self) {}
}

/// `cmd` as the console sends it to the server: an import or export file relative to the
/// console's directory made absolute (the server runs elsewhere); other commands as given.
pub fn for_server(cmd: super::AdminCommand) -> super::AdminCommand {
    match cmd {
        super::AdminCommand::Calendar(c) => match std::env::current_dir() {
            Ok(cwd) => super::AdminCommand::Calendar(c.with_absolute_file(&cwd)),
            Err(_) => super::AdminCommand::Calendar(c),
        },
        other => other,
    }
}

/// Shows a progress line on stderr: redrawn in place on a terminal, one line each otherwise.
pub fn show_progress(line: &str) {
    use std::io::{IsTerminal, Write};
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r{line:<40}");
    } else {
        let _ = writeln!(err, "{line}");
    }
    let _ = err.flush();
}
