//! Admin commands: one [`AdminCommand`] set shared by the console REPL, the one-shot CLI
//! (`ferrymail account add …`) and the admin web (docs/architecture.md §2).
//!
//! A command travels as a text line: [`split_words`] → [`parse`] → [`AdminCommand`]. The
//! console validates the line locally, then sends it over the control socket
//! ([`control`], newline-delimited JSON on `data_dir/control.sock`), where the server parses it
//! again and runs it. [`AdminCommand::to_words`] + [`join_words`] turn a command back into a
//! line, so the CLI and the web build requests the same way.
//!
//! Everything the parser, `help` and tab completion know comes from one table
//! (`commands::COMMANDS`).

pub mod apikey;
pub mod calendar;
#[cfg(test)]
mod calendar_tests;
pub mod cluster;
mod commands;
mod complete;
pub mod console;
pub mod control;
pub mod exec;
#[cfg(test)]
mod exec_tests;
pub mod fetch;
#[cfg(test)]
mod fetch_tests;
mod parse;
pub mod screen;
pub mod socket;
pub mod storage_cmd;
#[cfg(test)]
mod tests;
pub mod twofa;
mod words;

use std::fmt;

pub use complete::complete;
pub use parse::{help_text, parse, usage};
pub use words::{join_words, quote_word, split_words};

/// The queues of docs/architecture.md §1, as named in commands.
pub const QUEUE_NAMES: [&str; 6] = ["inbound", "local", "remote", "deferred", "toarchive", "bad"];

/// One admin command. `Debug` never shows passwords.
#[derive(Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// `help [COMMAND]`: answered locally by the console.
    Help(Option<String>),
    Status,
    Actors,
    /// `cluster`: the nodes sharing the database.
    Cluster,
    /// `cluster leases`: the queue leases they hold.
    ClusterLeases,
    DomainAdd(String),
    DomainList,
    DomainDel(String),
    AccountAdd {
        address: String,
        password: String,
        admin: bool,
    },
    AccountDel(String),
    AccountPasswd {
        address: String,
        password: String,
    },
    AccountList,
    /// `account admin ADDRESS on|off`: administrator rights.
    AccountAdmin {
        address: String,
        admin: bool,
    },
    /// `account disable ADDRESS`: refused at every login; still receives mail.
    AccountDisable(String),
    AccountEnable(String),
    /// `account quota ADDRESS [--storage BYTES|none] [--messages N|none]`: for each limit,
    /// `None` keeps it, `Some(None)` lifts it, `Some(Some(n))` sets it. Without either, shows
    /// the quota.
    AccountQuota {
        address: String,
        storage: Option<Option<u64>>,
        messages: Option<Option<u64>>,
    },
    /// `account show ADDRESS`: flags, 2FA, quota and sender rights.
    AccountShow(String),
    AliasAdd {
        alias: String,
        target: String,
    },
    AliasList,
    /// Without a target: the whole alias.
    AliasDel {
        alias: String,
        target: Option<String>,
    },
    /// `sender` is an address or `@domain` (see `mailauth::sender`).
    SendAsAdd {
        account: String,
        sender: String,
    },
    SendAsDel {
        account: String,
        sender: String,
    },
    /// One account's sender rights, or every account's that has some.
    SendAsList(Option<String>),
    DomainAdminAdd {
        account: String,
        domain: String,
    },
    DomainAdminDel {
        account: String,
        domain: String,
    },
    /// One of [`QUEUE_NAMES`], or all queues.
    QueueList(Option<String>),
    QueueShow(u64),
    QueueRetry(u64),
    /// `to` is one of [`QUEUE_NAMES`].
    QueueMove {
        id: u64,
        to: String,
    },
    QueueDelete(u64),
    /// Bounce now: a DSN to the sender for every undelivered recipient, then delete.
    QueueBounce(u64),
    /// `tls-policy show DOMAIN`: MTA-STS, DANE and TLS-RPT as delivery sees them.
    TlsPolicyShow(String),
    /// `dns mx|txt|a|tlsa NAME`: a lookup through the server's resolver. `kind` is mx, txt,
    /// a or tlsa.
    DnsLookup {
        kind: String,
        name: String,
    },
    /// The owner is an account address or [`PUBLIC`] (`public` in commands).
    FolderList(String),
    FolderCreate {
        owner: String,
        name: String,
    },
    FolderDelete {
        owner: String,
        name: String,
    },
    AclGet {
        owner: String,
        folder: String,
    },
    /// `rights` as typed: "lrs", "+w", "-w", or "none" (remove the entry).
    AclSet {
        owner: String,
        folder: String,
        identifier: String,
        rights: String,
    },
    Reload,
    Shutdown,
    /// `algorithm` is "rsa" or "ed25519" (absent: rsa); without a selector one is made from
    /// the date.
    DkimGenerate {
        domain: String,
        algorithm: Option<String>,
        selector: Option<String>,
    },
    DkimList(String),
    DkimActivate {
        domain: String,
        selector: String,
    },
    DkimDelete {
        domain: String,
        selector: String,
    },
    /// MultiPOP: an outside mailbox collected into `account`.
    SourceAdd {
        account: String,
        spec: fetch::SourceSpec,
    },
    /// MultiPOP sources, all or one account's.
    SourceList(Option<String>),
    SourceDel(u64),
    /// `source passwd ID --password P`: a new login password (MultiPOP or DomainPOP),
    /// keeping the source's id and what was fetched from it.
    SourcePasswd {
        id: u64,
        password: String,
    },
    SourceRun(u64),
    /// Every source's status (MultiPOP and DomainPOP), or one's.
    SourceStatus(Option<u64>),
    /// DomainPOP: `domain`'s provider mailbox (replaces an earlier one, keeping what was
    /// fetched already).
    DomainPopSet {
        domain: String,
        spec: fetch::SourceSpec,
        options: fetch::DomainPopSpec,
    },
    DomainPopShow(String),
    DomainPopDel(String),
    DomainPopRun(String),
    /// `screen list|ban|unban|allow|deny`: dynamic screening.
    Screen(screen::ScreenCommand),
    /// `account 2fa status|begin|confirm|reset ADDRESS [CODE]`: two-factor login.
    TwoFa {
        action: TwoFaAction,
        address: String,
    },
    /// `apikey add OWNER NAME [--scope S]`: prints the key once.
    ApiKeyAdd {
        owner: String,
        name: String,
        scope: apikey::Scope,
    },
    ApiKeyList,
    ApiKeyDel(String),
    /// `calendar list|create|delete|import|export`: calendars and address books.
    Calendar(calendar::CalendarCommand),
}

/// What `account 2fa` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TwoFaAction {
    Status,
    /// Makes a pending secret and prints it (base32 and `otpauth://` URI).
    Begin,
    /// Switches it on with a current code; prints the recovery codes once.
    Confirm(String),
    /// Turns it off (a lost device).
    Reset,
}

impl TwoFaAction {
    /// The action words, in `help` order.
    pub const WORDS: [&'static str; 4] = ["status", "begin", "confirm", "reset"];

    pub fn word(&self) -> &'static str {
        match self {
            TwoFaAction::Status => "status",
            TwoFaAction::Begin => "begin",
            TwoFaAction::Confirm(_) => "confirm",
            TwoFaAction::Reset => "reset",
        }
    }
}

/// The owner word for the public folders (`folder list public`).
pub const PUBLIC: &str = "public";

impl AdminCommand {
    /// The command words, e.g. `"account add"` (as in `help`).
    pub fn path(&self) -> &'static str {
        use AdminCommand::*;
        match self {
            Help(_) => "help",
            Status => "status",
            Actors => "actors",
            Cluster | ClusterLeases => "cluster",
            DomainAdd(_) => "domain add",
            DomainList => "domain list",
            DomainDel(_) => "domain del",
            AccountAdd { .. } => "account add",
            AccountDel(_) => "account del",
            AccountPasswd { .. } => "account passwd",
            AccountList => "account list",
            AccountAdmin { .. } => "account admin",
            AccountDisable(_) => "account disable",
            AccountEnable(_) => "account enable",
            AccountQuota { .. } => "account quota",
            AccountShow(_) => "account show",
            AliasAdd { .. } => "alias add",
            AliasList => "alias list",
            AliasDel { .. } => "alias del",
            SendAsAdd { .. } => "sendas add",
            SendAsDel { .. } => "sendas del",
            SendAsList(_) => "sendas list",
            DomainAdminAdd { .. } => "domainadmin add",
            DomainAdminDel { .. } => "domainadmin del",
            QueueList(_) => "queue list",
            QueueShow(_) => "queue show",
            QueueRetry(_) => "queue retry",
            QueueMove { .. } => "queue move",
            QueueDelete(_) => "queue delete",
            QueueBounce(_) => "queue bounce",
            DnsLookup { kind, .. } => match kind.as_str() {
                "mx" => "dns mx",
                "txt" => "dns txt",
                "tlsa" => "dns tlsa",
                _ => "dns a",
            },
            TlsPolicyShow(_) => "tls-policy show",
            FolderList(_) => "folder list",
            FolderCreate { .. } => "folder create",
            FolderDelete { .. } => "folder delete",
            AclGet { .. } => "acl get",
            AclSet { .. } => "acl set",
            Reload => "reload",
            Shutdown => "shutdown",
            DkimGenerate { .. } => "dkim generate",
            DkimList(_) => "dkim list",
            DkimActivate { .. } => "dkim activate",
            DkimDelete { .. } => "dkim delete",
            SourceAdd { .. } => "source add",
            SourceList(_) => "source list",
            SourceDel(_) => "source del",
            SourcePasswd { .. } => "source passwd",
            SourceRun(_) => "source run",
            SourceStatus(_) => "source status",
            DomainPopSet { .. } => "domainpop set",
            DomainPopShow(_) => "domainpop show",
            DomainPopDel(_) => "domainpop del",
            DomainPopRun(_) => "domainpop run",
            Screen(c) => c.path(),
            TwoFa { .. } => "account 2fa",
            ApiKeyAdd { .. } => "apikey add",
            ApiKeyList => "apikey list",
            ApiKeyDel(_) => "apikey del",
            Calendar(c) => c.path(),
        }
    }

    /// Whether the command carries a secret (keep it out of history and logs).
    pub fn has_secret(&self) -> bool {
        matches!(
            self,
            AdminCommand::AccountAdd { .. }
                | AdminCommand::AccountPasswd { .. }
                | AdminCommand::SourceAdd { .. }
                | AdminCommand::SourcePasswd { .. }
                | AdminCommand::DomainPopSet { .. }
                | AdminCommand::TwoFa {
                    action: TwoFaAction::Confirm(_),
                    ..
                }
        )
    }

    /// The canonical words; `parse(&cmd.to_words()) == Ok(cmd)`.
    pub fn to_words(&self) -> Vec<String> {
        self.words(false)
    }

    fn words(&self, redact: bool) -> Vec<String> {
        use AdminCommand::*;
        let secret = |p: &String| {
            if redact {
                "<redacted>".to_string()
            } else {
                p.clone()
            }
        };
        let password = |p: &String| vec!["--password".to_string(), secret(p)];
        let (args, flags): (Vec<String>, Vec<String>) = match self {
            Help(topic) => (
                topic
                    .iter()
                    .flat_map(|t| t.split_whitespace().map(String::from))
                    .collect(),
                vec![],
            ),
            Status | Actors | Cluster | DomainList | AccountList | AliasList | Reload
            | Shutdown | ApiKeyList => (vec![], vec![]),
            TwoFa { action, address } => {
                let mut args = vec![action.word().to_string(), address.clone()];
                if let TwoFaAction::Confirm(code) = action {
                    args.push(secret(code));
                }
                (args, vec![])
            }
            ApiKeyAdd { owner, name, scope } => (
                vec![owner.clone(), name.clone()],
                vec!["--scope".to_string(), scope.as_str().to_string()],
            ),
            ApiKeyDel(id) => (vec![id.clone()], vec![]),
            ClusterLeases => (vec!["leases".to_string()], vec![]),
            AccountAdmin { address, admin } => (
                vec![
                    address.clone(),
                    if *admin { "on" } else { "off" }.to_string(),
                ],
                vec![],
            ),
            AccountQuota {
                address,
                storage,
                messages,
            } => {
                let limit = |name: &str, l: &Option<Option<u64>>| match l {
                    None => vec![],
                    Some(None) => vec![name.to_string(), "none".to_string()],
                    Some(Some(n)) => vec![name.to_string(), n.to_string()],
                };
                let mut flags = limit("--storage", storage);
                flags.extend(limit("--messages", messages));
                (vec![address.clone()], flags)
            }
            AccountDisable(x) | AccountEnable(x) | AccountShow(x) => (vec![x.clone()], vec![]),
            DomainAdd(x) | DomainDel(x) | AccountDel(x) | DkimList(x) | DomainPopShow(x)
            | DomainPopDel(x) | DomainPopRun(x) => (vec![x.clone()], vec![]),
            SourceAdd { account, spec } => (vec![account.clone()], spec.words(redact)),
            DomainPopSet {
                domain,
                spec,
                options,
            } => {
                let mut flags = spec.words(redact);
                flags.extend(options.words());
                (vec![domain.clone()], flags)
            }
            DkimGenerate {
                domain,
                algorithm,
                selector,
            } => {
                let mut flags = Vec::new();
                if let Some(a) = algorithm {
                    flags.extend(["--algorithm".to_string(), a.clone()]);
                }
                if let Some(sel) = selector {
                    flags.extend(["--selector".to_string(), sel.clone()]);
                }
                (vec![domain.clone()], flags)
            }
            DkimActivate { domain, selector } | DkimDelete { domain, selector } => {
                (vec![domain.clone(), selector.clone()], vec![])
            }
            SourceList(a) => (a.iter().cloned().collect(), vec![]),
            Screen(c) => c.words(),
            Calendar(c) => c.words(),
            SourceDel(id) | SourceRun(id) => (vec![id.to_string()], vec![]),
            SourcePasswd { id, password: p } => (vec![id.to_string()], password(p)),
            SourceStatus(id) => (id.iter().map(u64::to_string).collect(), vec![]),
            AccountAdd {
                address,
                password: p,
                admin,
            } => {
                let mut flags = password(p);
                if *admin {
                    flags.push("--admin".into());
                }
                (vec![address.clone()], flags)
            }
            AccountPasswd {
                address,
                password: p,
            } => (vec![address.clone()], password(p)),
            AliasAdd { alias, target } => (vec![alias.clone(), target.clone()], vec![]),
            AliasDel { alias, target } => (
                std::iter::once(alias.clone())
                    .chain(target.clone())
                    .collect(),
                vec![],
            ),
            SendAsAdd {
                account,
                sender: other,
            }
            | SendAsDel {
                account,
                sender: other,
            }
            | DomainAdminAdd {
                account,
                domain: other,
            }
            | DomainAdminDel {
                account,
                domain: other,
            } => (vec![account.clone(), other.clone()], vec![]),
            QueueList(q) | SendAsList(q) => (q.iter().cloned().collect(), vec![]),
            QueueShow(id) | QueueRetry(id) | QueueDelete(id) | QueueBounce(id) => {
                (vec![format!("{id:016X}")], vec![])
            }
            QueueMove { id, to } => (vec![format!("{id:016X}"), to.clone()], vec![]),
            DnsLookup { name, .. } | TlsPolicyShow(name) => (vec![name.clone()], vec![]),
            FolderList(owner) => (vec![owner.clone()], vec![]),
            FolderCreate { owner, name }
            | FolderDelete { owner, name }
            | AclGet {
                owner,
                folder: name,
            } => (vec![owner.clone(), name.clone()], vec![]),
            AclSet {
                owner,
                folder,
                identifier,
                rights,
            } => (
                vec![
                    owner.clone(),
                    folder.clone(),
                    identifier.clone(),
                    rights.clone(),
                ],
                vec![],
            ),
        };
        let mut w: Vec<String> = self.path().split(' ').map(String::from).collect();
        if args.iter().any(|a| a.starts_with("--")) {
            // Options first, then `--` so that the arguments are not read as options.
            w.extend(flags);
            w.push("--".into());
            w.extend(args);
        } else {
            w.extend(args);
            w.extend(flags);
        }
        w
    }
}

impl fmt::Debug for AdminCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AdminCommand")
            .field(&join_words(&self.words(true)))
            .finish()
    }
}

/// A line that is not a valid command; `Display` is what the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminParseError {
    pub message: String,
    /// The usage line of the command concerned, shown under the message.
    pub usage: Option<&'static str>,
}

impl AdminParseError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        AdminParseError {
            message: message.into(),
            usage: None,
        }
    }
}

impl fmt::Display for AdminParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(u) = self.usage {
            write!(f, "\nusage: {u}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AdminParseError {}

/// [`split_words`] then [`parse`].
pub fn parse_line(line: &str) -> Result<AdminCommand, AdminParseError> {
    parse(&split_words(line)?)
}
