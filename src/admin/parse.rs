//! Words → [`AdminCommand`], plus `help` and usage texts, all from the command table.

use super::commands::{find, groups, in_group, subcommands, suggest, Arg, Spec, COMMANDS};
use super::{AdminCommand, AdminParseError, PUBLIC, QUEUE_NAMES};
use crate::storage::{ALL_RIGHTS, ANYONE};

fn did_you_mean(s: Option<&str>) -> String {
    s.map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}

fn err(spec: &Spec, message: String) -> AdminParseError {
    AdminParseError {
        message: format!("{}: {message}", spec.path),
        usage: Some(spec.usage),
    }
}

/// The group's usage summary, e.g. "account add|del|passwd|list".
fn group_usage(group: &str) -> String {
    format!("{group} {}", subcommands(group).join("|"))
}

/// Finds the command the words name; returns it and how many words its path took.
fn lookup(words: &[String]) -> Result<(&'static Spec, usize), AdminParseError> {
    let Some(first) = words.first() else {
        return Err(AdminParseError::new("empty command (try 'help')"));
    };
    let first = first.to_ascii_lowercase();
    let all = groups();
    if !all.contains(&first.as_str()) {
        return Err(AdminParseError::new(format!(
            "unknown command '{first}'{} (try 'help')",
            did_you_mean(suggest(&first, &all))
        )));
    }
    if let Some(spec) = find(&first) {
        return Ok((spec, 1));
    }
    let subs = subcommands(&first);
    let Some(second) = words.get(1) else {
        return Err(AdminParseError::new(format!(
            "{first}: missing subcommand\nusage: {}",
            group_usage(&first)
        )));
    };
    let second = second.to_ascii_lowercase();
    match find(&format!("{first} {second}")) {
        Some(spec) => Ok((spec, 2)),
        None => Err(AdminParseError::new(format!(
            "unknown command '{first} {second}'{}\nusage: {}",
            did_you_mean(
                suggest(&second, &subs)
                    .map(|s| format!("{first} {s}"))
                    .as_deref()
            ),
            group_usage(&first)
        ))),
    }
}

/// Positionals and option values of one command line.
struct Parsed {
    args: Vec<String>,
    /// (flag name, value) in order given; switches have an empty value.
    flags: Vec<(&'static str, String)>,
}

impl Parsed {
    fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_rest(spec: &'static Spec, rest: &[String]) -> Result<Parsed, AdminParseError> {
    let mut out = Parsed {
        args: Vec::new(),
        flags: Vec::new(),
    };
    let mut it = rest.iter();
    let mut options_done = false;
    while let Some(word) = it.next() {
        if options_done || !word.starts_with("--") {
            out.args.push(word.clone());
            continue;
        }
        if word == "--" {
            options_done = true;
            continue;
        }
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (word.as_str(), None),
        };
        let Some(flag) = spec.flags.iter().find(|f| f.name == name) else {
            let names: Vec<&str> = spec.flags.iter().map(|f| f.name).collect();
            return Err(err(
                spec,
                format!(
                    "unknown option '{name}'{}",
                    did_you_mean(suggest(name, &names))
                ),
            ));
        };
        if out.flag(flag.name).is_some() {
            return Err(err(spec, format!("{} given twice", flag.name)));
        }
        let value = match (flag.value, inline) {
            (None, None) => String::new(),
            (None, Some(_)) => return Err(err(spec, format!("{} takes no value", flag.name))),
            (Some(_), Some(v)) => v,
            (Some(meta), None) => match it.next() {
                Some(v) => v.clone(),
                None => return Err(err(spec, format!("{} needs a value ({meta})", flag.name))),
            },
        };
        if flag.value.is_some() && value.is_empty() {
            return Err(err(spec, format!("{} must not be empty", flag.name)));
        }
        out.flags.push((flag.name, value));
    }
    if let Some(missing) = spec
        .args
        .get(out.args.len())
        .filter(|_| out.args.len() < spec.required)
    {
        return Err(err(spec, format!("missing {}", arg_name(missing))));
    }
    if let Some(extra) = out.args.get(spec.args.len()) {
        return Err(err(spec, format!("unexpected argument '{extra}'")));
    }
    if let Some(f) = spec
        .flags
        .iter()
        .find(|f| f.required && out.flag(f.name).is_none())
    {
        return Err(err(spec, format!("missing {}", f.name)));
    }
    for (arg, value) in spec.args.iter().zip(&out.args) {
        check_arg(spec, arg, value)?;
    }
    Ok(out)
}

fn arg_name(arg: &Arg) -> &'static str {
    match arg {
        Arg::Text(name) | Arg::Choice(name, _) => name,
        Arg::Id => "ID",
        Arg::Queue => "QUEUE",
        Arg::Owner => "ACCOUNT",
        Arg::Rights => "RIGHTS",
        Arg::SourceId => "ID",
    }
}

fn is_address(value: &str) -> bool {
    matches!(value.split_once('@'), Some((local, domain))
        if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

/// `example.com` in `@example.com`: not empty, no second `@`, no spaces.
fn is_domain_word(value: &str) -> bool {
    !value.is_empty() && !value.contains('@') && !value.contains(char::is_whitespace)
}

fn not_address(spec: &Spec, value: &str) -> AdminParseError {
    err(
        spec,
        format!("'{value}' is not an address (expected local@domain)"),
    )
}

/// RFC 4314 rights: letters of [`ALL_RIGHTS`] (and the obsolete "c" and "d"), optionally
/// after "+" or "-"; or "none".
fn check_rights(spec: &Spec, value: &str) -> Result<(), AdminParseError> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(());
    }
    let letters = value.strip_prefix(['+', '-']).unwrap_or(value);
    if letters.is_empty() {
        return Err(err(
            spec,
            format!("'{value}' names no rights (use \"none\" to remove the entry)"),
        ));
    }
    match letters
        .chars()
        .find(|c| !ALL_RIGHTS.contains(*c) && !"cd".contains(*c))
    {
        Some(c) => Err(err(
            spec,
            format!("unknown right '{c}' in '{value}' (rights: {ALL_RIGHTS}, or none)"),
        )),
        None => Ok(()),
    }
}

fn check_arg(spec: &Spec, arg: &Arg, value: &str) -> Result<(), AdminParseError> {
    match arg {
        Arg::Text(name) if value.trim().is_empty() => {
            Err(err(spec, format!("{name} must not be empty")))
        }
        Arg::Text("ADDRESS" | "ALIAS" | "TARGET" | "ACCOUNT") if !is_address(value) => {
            Err(not_address(spec, value))
        }
        Arg::Text("SENDER")
            if !is_address(value) && !value.strip_prefix('@').is_some_and(is_domain_word) =>
        {
            Err(err(spec, format!("'{value}' is not an address or @domain")))
        }
        Arg::Text("IDENTIFIER") if !value.eq_ignore_ascii_case(ANYONE) && !is_address(value) => {
            Err(err(
                spec,
                format!("'{value}' is not an identifier (expected an address or 'anyone')"),
            ))
        }
        Arg::Text("NAME" | "DOMAIN")
            if value.contains('@') || value.contains(char::is_whitespace) =>
        {
            Err(err(spec, format!("'{value}' is not a domain name")))
        }
        Arg::Text("OWNER") if !is_address(value) => Err(not_address(spec, value)),
        Arg::Text("KEYID") if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Err(err(
                spec,
                format!("bad key id '{value}' (8 hex digits, as `apikey list` shows)"),
            ))
        }
        Arg::Text(_) => Ok(()),
        Arg::Owner if value.eq_ignore_ascii_case(PUBLIC) || is_address(value) => Ok(()),
        Arg::Owner => Err(err(
            spec,
            format!("'{value}' is not an account address or 'public'"),
        )),
        Arg::Rights => check_rights(spec, value),
        Arg::Choice(name, words) => {
            let lower = value.to_ascii_lowercase();
            if words.contains(&lower.as_str()) {
                Ok(())
            } else {
                Err(err(
                    spec,
                    format!(
                        "unknown {} '{value}'{} (one of: {})",
                        name.to_ascii_lowercase(),
                        did_you_mean(suggest(&lower, words)),
                        words.join(", ")
                    ),
                ))
            }
        }
        Arg::SourceId => value.parse::<u64>().map(|_| ()).map_err(|_| {
            err(
                spec,
                format!("bad ID '{value}' (expected a source number, as `source list` shows)"),
            )
        }),
        Arg::Id => parse_id(value).map(|_| ()).ok_or_else(|| {
            err(
                spec,
                format!(
                    "bad ID '{value}' (expected a hexadecimal queue id, as `queue list` shows)"
                ),
            )
        }),
        Arg::Queue => {
            let lower = value.to_ascii_lowercase();
            if QUEUE_NAMES.contains(&lower.as_str()) {
                Ok(())
            } else {
                Err(err(
                    spec,
                    format!(
                        "unknown queue '{value}'{} (queues: {})",
                        did_you_mean(suggest(&lower, &QUEUE_NAMES)),
                        QUEUE_NAMES.join(", ")
                    ),
                ))
            }
        }
    }
}

fn id(s: &str) -> u64 {
    // Checked by `check_arg`.
    parse_id(s).unwrap_or_default()
}

/// Queue ids are shown and typed in hexadecimal (`queue list` prints 16 digits).
pub fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Parses a command given as words, e.g. `["account", "add", "bob@x", "--password", "pw"]`.
/// Command words are case-insensitive; options are `--name VALUE` or `--name=VALUE`, and `--`
/// ends them.
pub fn parse(words: &[String]) -> Result<AdminCommand, AdminParseError> {
    use AdminCommand::*;
    let (spec, taken) = lookup(words)?;
    let rest = &words[taken..];
    if spec.path == "help" {
        return parse_help(rest);
    }
    let p = parse_rest(spec, rest)?;
    let arg = |i: usize| p.args.get(i).cloned().unwrap_or_default();
    let password = || p.flag("--password").unwrap_or_default().to_string();
    let queue = |i: usize| p.args.get(i).map(|q| q.to_ascii_lowercase());
    let owner = || owner_word(&arg(0));
    Ok(match spec.path {
        "status" => Status,
        "actors" => Actors,
        "cluster" => match arg(0).to_ascii_lowercase().as_str() {
            "" => Cluster,
            "leases" => ClusterLeases,
            other => {
                return Err(err(
                    spec,
                    format!("unknown word '{other}' (expected 'leases')"),
                ))
            }
        },
        "domain add" => DomainAdd(arg(0).to_ascii_lowercase()),
        "domain list" => DomainList,
        "domain del" => DomainDel(arg(0).to_ascii_lowercase()),
        "account add" => AccountAdd {
            address: arg(0),
            password: password(),
            admin: p.flag("--admin").is_some(),
        },
        "account del" => AccountDel(arg(0)),
        "account passwd" => AccountPasswd {
            address: arg(0),
            password: password(),
        },
        "account list" => AccountList,
        "account admin" => AccountAdmin {
            address: arg(0),
            admin: arg(1).eq_ignore_ascii_case("on"),
        },
        "account disable" => AccountDisable(arg(0)),
        "account enable" => AccountEnable(arg(0)),
        "account quota" => AccountQuota {
            address: arg(0),
            storage: limit(spec, "--storage", p.flag("--storage"), true)?,
            messages: limit(spec, "--messages", p.flag("--messages"), false)?,
        },
        "account show" => AccountShow(arg(0)),
        "alias add" => AliasAdd {
            alias: arg(0),
            target: arg(1),
        },
        "alias list" => AliasList,
        "alias del" => AliasDel {
            alias: arg(0),
            target: p.args.get(1).cloned(),
        },
        "sendas add" => SendAsAdd {
            account: arg(0),
            sender: arg(1),
        },
        "sendas del" => SendAsDel {
            account: arg(0),
            sender: arg(1),
        },
        "sendas list" => SendAsList(p.args.first().cloned()),
        "domainadmin add" => DomainAdminAdd {
            account: arg(0),
            domain: arg(1).to_ascii_lowercase(),
        },
        "domainadmin del" => DomainAdminDel {
            account: arg(0),
            domain: arg(1).to_ascii_lowercase(),
        },
        "queue list" => QueueList(queue(0)),
        "queue show" => QueueShow(id(&arg(0))),
        "queue retry" => QueueRetry(id(&arg(0))),
        "queue move" => QueueMove {
            id: id(&arg(0)),
            to: queue(1).unwrap_or_default(),
        },
        "queue delete" => QueueDelete(id(&arg(0))),
        "queue bounce" => QueueBounce(id(&arg(0))),
        "tls-policy show" => TlsPolicyShow(arg(0).trim_end_matches('.').to_ascii_lowercase()),
        "dns mx" | "dns txt" | "dns a" | "dns tlsa" => DnsLookup {
            kind: spec.path.trim_start_matches("dns ").to_string(),
            name: arg(0).trim_end_matches('.').to_ascii_lowercase(),
        },
        "folder list" => FolderList(owner()),
        "folder create" => FolderCreate {
            owner: owner(),
            name: arg(1),
        },
        "folder delete" => FolderDelete {
            owner: owner(),
            name: arg(1),
        },
        "acl get" => AclGet {
            owner: owner(),
            folder: arg(1),
        },
        "acl set" => AclSet {
            owner: owner(),
            folder: arg(1),
            identifier: identifier(&arg(2)),
            rights: rights_word(&arg(3)),
        },
        "reload" => Reload,
        "shutdown" => Shutdown,
        "dkim generate" => DkimGenerate {
            domain: arg(0).to_ascii_lowercase(),
            algorithm: dkim_algorithm(spec, p.flag("--algorithm"))?,
            selector: p.flag("--selector").map(str::to_ascii_lowercase),
        },
        "dkim list" => DkimList(arg(0).to_ascii_lowercase()),
        "dkim activate" => DkimActivate {
            domain: arg(0).to_ascii_lowercase(),
            selector: arg(1).to_ascii_lowercase(),
        },
        "dkim delete" => DkimDelete {
            domain: arg(0).to_ascii_lowercase(),
            selector: arg(1).to_ascii_lowercase(),
        },
        "source add" => SourceAdd {
            account: arg(0).to_ascii_lowercase(),
            spec: source_spec(spec, &p)?,
        },
        "source list" => SourceList(p.args.first().map(|a| a.to_ascii_lowercase())),
        "source del" => SourceDel(number(&arg(0))),
        "source passwd" => SourcePasswd {
            id: number(&arg(0)),
            password: password(),
        },
        "source run" => SourceRun(number(&arg(0))),
        "source status" => SourceStatus(p.args.first().map(|a| number(a))),
        "domainpop set" => {
            let domain = arg(0).to_ascii_lowercase();
            let options =
                super::fetch::domainpop_spec(&domain, |n| p.flag(n)).map_err(|m| err(spec, m))?;
            DomainPopSet {
                spec: source_spec(spec, &p)?,
                domain,
                options,
            }
        }
        "domainpop show" => DomainPopShow(arg(0).to_ascii_lowercase()),
        "domainpop del" => DomainPopDel(arg(0).to_ascii_lowercase()),
        "domainpop run" => DomainPopRun(arg(0).to_ascii_lowercase()),
        "calendar list" | "calendar create" | "calendar delete" | "calendar import"
        | "calendar export" | "calendar acl" | "calendar share" => Calendar(
            super::calendar::parse(spec.path, &p.args, &|n| p.flag(n).map(str::to_string))
                .map_err(|m| err(spec, m))?,
        ),
        "screen list" | "screen ban" | "screen unban" | "screen allow" | "screen deny" => Screen(
            super::screen::parse(spec.path, &p.args, p.flag("--for")).map_err(|m| err(spec, m))?,
        ),
        "account 2fa" => {
            let action = match (arg(0).to_ascii_lowercase().as_str(), p.args.get(2)) {
                ("confirm", Some(code)) => super::TwoFaAction::Confirm(code.clone()),
                ("confirm", None) => return Err(err(spec, "confirm needs the CODE".into())),
                (_, Some(code)) => return Err(err(spec, format!("unexpected argument '{code}'"))),
                ("status", None) => super::TwoFaAction::Status,
                ("begin", None) => super::TwoFaAction::Begin,
                _ => super::TwoFaAction::Reset,
            };
            TwoFa {
                action,
                address: arg(1),
            }
        }
        "apikey add" => ApiKeyAdd {
            owner: arg(0),
            name: arg(1),
            scope: match p.flag("--scope") {
                None => super::apikey::Scope::All,
                Some(s) => s.parse().map_err(|m| err(spec, m))?,
            },
        },
        "apikey list" => ApiKeyList,
        "apikey del" => ApiKeyDel(arg(0).to_ascii_lowercase()),
        other => {
            return Err(AdminParseError::new(format!(
                "command '{other}' is not implemented"
            )))
        }
    })
}

fn source_spec(
    spec: &'static Spec,
    p: &Parsed,
) -> Result<super::fetch::SourceSpec, AdminParseError> {
    super::fetch::source_spec(|n| p.flag(n)).map_err(|m| err(spec, m))
}

/// A quota limit option: absent (keep), `none` (lift) or a number; with `sizes`, the number
/// may end in K, M or G (powers of 1024).
fn limit(
    spec: &Spec,
    name: &str,
    value: Option<&str>,
    sizes: bool,
) -> Result<Option<Option<u64>>, AdminParseError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.eq_ignore_ascii_case("none") {
        return Ok(Some(None));
    }
    let bad = || {
        let what = if sizes {
            "bytes (K, M, G allowed)"
        } else {
            "a count"
        };
        err(spec, format!("{name}: '{value}' is not {what} or 'none'"))
    };
    let (digits, unit) = match value.char_indices().last() {
        Some((i, c)) if sizes && c.is_ascii_alphabetic() => {
            let unit: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(bad()),
            };
            (&value[..i], unit)
        }
        _ => (value, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(unit).map(|n| Some(Some(n))).ok_or_else(bad)
}

fn number(s: &str) -> u64 {
    // Checked by `check_arg`.
    s.parse().unwrap_or_default()
}

/// `--algorithm`: "rsa" or "ed25519", lowercased.
fn dkim_algorithm(spec: &Spec, value: Option<&str>) -> Result<Option<String>, AdminParseError> {
    match value.map(str::to_ascii_lowercase) {
        None => Ok(None),
        Some(a) if a == "rsa" || a == "ed25519" => Ok(Some(a)),
        Some(a) => Err(err(
            spec,
            format!("unknown algorithm '{a}' (rsa or ed25519)"),
        )),
    }
}

/// "public" in any case becomes [`PUBLIC`]; an address stays as typed (storage normalises).
fn owner_word(w: &str) -> String {
    if w.eq_ignore_ascii_case(PUBLIC) {
        PUBLIC.to_string()
    } else {
        w.to_string()
    }
}

fn identifier(w: &str) -> String {
    if w.eq_ignore_ascii_case(ANYONE) {
        ANYONE.to_string()
    } else {
        w.to_string()
    }
}

fn rights_word(w: &str) -> String {
    if w.eq_ignore_ascii_case("none") {
        "none".to_string()
    } else {
        w.to_string()
    }
}

/// `help [GROUP | GROUP SUB]`: the topic must name a group or a command.
fn parse_help(rest: &[String]) -> Result<AdminCommand, AdminParseError> {
    if rest.is_empty() {
        return Ok(AdminCommand::Help(None));
    }
    let topic: Vec<String> = rest.iter().map(|w| w.to_ascii_lowercase()).collect();
    let help_err = |e: AdminParseError| AdminParseError {
        message: format!("help: {}", e.message.lines().next().unwrap_or_default()),
        usage: find("help").map(|s| s.usage),
    };
    if topic.len() == 1 && groups().contains(&topic[0].as_str()) {
        return Ok(AdminCommand::Help(Some(topic[0].clone())));
    }
    let (spec, taken) = lookup(&topic).map_err(help_err)?;
    if let Some(extra) = topic.get(taken) {
        return Err(help_err(AdminParseError::new(format!(
            "unexpected argument '{extra}'"
        ))));
    }
    Ok(AdminCommand::Help(Some(spec.path.to_string())))
}

/// The usage line of a command path such as `"account add"`.
pub fn usage(cmd_path: &str) -> Option<&'static str> {
    let path = cmd_path.split_whitespace().collect::<Vec<_>>().join(" ");
    find(&path.to_ascii_lowercase()).map(|s| s.usage)
}

fn table(specs: &[&Spec]) -> String {
    let width = specs.iter().map(|s| s.usage.len()).max().unwrap_or(0);
    specs
        .iter()
        .map(|s| format!("  {:width$}  {}\n", s.usage, s.summary))
        .collect()
}

/// `help` output: the table of all commands, or the help for one group or command.
pub fn help_text(topic: Option<&str>) -> String {
    let Some(topic) = topic else {
        let all: Vec<&Spec> = COMMANDS.iter().collect();
        return format!(
            "Commands:\n{}\nQuote arguments with spaces: \"...\" or '...'. 'help COMMAND' shows one command.\nIn the console, 'exit', 'quit' or Ctrl-D leaves; Tab completes.\n",
            table(&all)
        );
    };
    let topic = topic
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    if let Some(spec) = find(&topic) {
        let mut out = format!("usage: {}\n{}\n", spec.usage, spec.summary);
        if !spec.details.is_empty() {
            out.push_str(spec.details);
            out.push('\n');
        }
        return out;
    }
    let members = in_group(&topic);
    if !members.is_empty() {
        return format!("Commands:\n{}", table(&members));
    }
    format!(
        "no command '{topic}'{}; 'help' lists them all\n",
        did_you_mean(suggest(&topic, &groups()))
    )
}
