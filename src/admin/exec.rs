//! Executing admin commands against the store: shared by the live server (through the
//! console socket) and by one-shot CLI commands when no server runs.

use std::fmt::Write as _;

use super::{AdminCommand, PUBLIC};
use crate::actors::queues::{self, Change};
use crate::mailauth::keys;
use crate::storage::{
    DkimAlgorithm, FolderId, FolderState, QueueName, QueueRecord, Store, Writers, ANYONE,
    PUBLIC_OWNER,
};

/// Runs a store-level command. Commands that need a running server (status, actors,
/// reload, shutdown) are refused with a clear message, and so are the ones that write
/// folder state or queue records (the running server's console sends those to the actors;
/// the one-shot CLI has the write handles: [`execute_with_config`]).
pub fn execute(store: &Store, cmd: &AdminCommand) -> Result<String, String> {
    run(store, None, cmd)
}

/// [`execute`], with the store's write handles when no server runs (so no actor owns them).
pub(super) fn run(
    store: &Store,
    writers: Option<&Writers>,
    cmd: &AdminCommand,
) -> Result<String, String> {
    let s = |e: crate::storage::StorageError| e.to_string();
    let out = match cmd {
        AdminCommand::Help(topic) => super::help_text(topic.as_deref()),
        AdminCommand::DomainAdd(name) => {
            store.add_domain(name).map_err(s)?;
            commit(store)?;
            format!("domain {} added", name.to_ascii_lowercase())
        }
        AdminCommand::DomainList => lines(store.list_domains().map_err(s)?, "no domains"),
        AdminCommand::DomainDel(name) => {
            store.del_domain(name).map_err(s)?;
            commit(store)?;
            format!("domain {name} deleted")
        }
        AdminCommand::AccountAdd {
            address,
            password,
            admin,
        } => {
            let acc = store.add_account(address, password, *admin).map_err(s)?;
            commit(store)?;
            format!(
                "account {} added{}",
                acc.address,
                if acc.admin { " (admin)" } else { "" }
            )
        }
        AdminCommand::AccountDel(address) => {
            offline(writers)?.folders.del_account(address).map_err(s)?;
            commit(store)?;
            account_deleted(address)
        }
        AdminCommand::AccountPasswd { address, password } => {
            store.set_password(address, password).map_err(s)?;
            // A new password forgets the devices remembered at webmail logins.
            store.device_delete_all(address).map_err(s)?;
            commit(store)?;
            format!("password of {address} changed")
        }
        AdminCommand::AccountList => {
            let accounts = store.list_accounts().map_err(s)?;
            let line = |a: crate::storage::Account| {
                let mut marks = Vec::new();
                if a.admin {
                    marks.push("admin");
                }
                if a.disabled {
                    marks.push("disabled");
                }
                if marks.is_empty() {
                    a.address
                } else {
                    format!("{} ({})", a.address, marks.join(", "))
                }
            };
            lines(accounts.into_iter().map(line).collect(), "no accounts")
        }
        AdminCommand::AccountAdmin { address, admin } => {
            store.set_admin(address, *admin).map_err(s)?;
            commit(store)?;
            if *admin {
                format!("{address} is now an administrator")
            } else {
                format!("{address} is no longer an administrator")
            }
        }
        AdminCommand::AccountDisable(address) => {
            store.set_disabled(address, true).map_err(s)?;
            commit(store)?;
            format!(
                "account {address} disabled: its logins are refused; mail to it is still delivered"
            )
        }
        AdminCommand::AccountEnable(address) => {
            store.set_disabled(address, false).map_err(s)?;
            commit(store)?;
            format!("account {address} enabled")
        }
        AdminCommand::AccountQuota {
            address,
            storage,
            messages,
        } => account_quota(store, address, *storage, *messages)?,
        AdminCommand::AccountShow(address) => account_show(store, address)?,
        AdminCommand::AliasAdd { alias, target } => {
            store.add_alias(alias, target).map_err(s)?;
            commit(store)?;
            format!("alias {alias} -> {target} added")
        }
        AdminCommand::AliasList => lines(
            store
                .list_aliases()
                .map_err(s)?
                .into_iter()
                .map(|(a, t)| format!("{a} -> {}", t.join(", ")))
                .collect(),
            "no aliases",
        ),
        AdminCommand::AliasDel { alias, target } => {
            store.del_alias(alias, target.as_deref()).map_err(s)?;
            commit(store)?;
            format!("alias {alias} deleted")
        }
        AdminCommand::SendAsAdd { account, sender } => committed(
            store,
            store.add_send_as(account, sender),
            format!("{account} may now send as {sender}"),
        )?,
        AdminCommand::SendAsDel { account, sender } => committed(
            store,
            store.del_send_as(account, sender),
            format!("{account} may no longer send as {sender}"),
        )?,
        AdminCommand::SendAsList(account) => sendas_list(store, account.as_deref())?,
        AdminCommand::DomainAdminAdd { account, domain } => committed(
            store,
            store.add_domain_admin(account, domain),
            format!("{account} now administers {domain}"),
        )?,
        AdminCommand::DomainAdminDel { account, domain } => committed(
            store,
            store.del_domain_admin(account, domain),
            format!("{account} no longer administers {domain}"),
        )?,
        AdminCommand::QueueList(name) => queue_list(store, name.as_deref())?,
        AdminCommand::QueueShow(id) => {
            let rec = find(store, *id)?;
            show(&rec)
        }
        AdminCommand::QueueRetry(id) => queue_offline(store, writers, Change::Retry(*id))?,
        AdminCommand::QueueMove { id, to } => {
            let to = to.parse().map_err(|_| unknown_queue(to))?;
            queue_offline(store, writers, Change::MoveTo { id: *id, to })?
        }
        AdminCommand::QueueDelete(id) => queue_offline(store, writers, Change::Delete(*id))?,
        AdminCommand::FolderList(owner) => folder_list(store, owner)?,
        AdminCommand::FolderCreate { owner, name } => {
            store
                .create_folder(storage_owner(owner), name, None)
                .map_err(s)?;
            commit(store)?;
            format!("folder {name} created ({})", whose(owner))
        }
        AdminCommand::FolderDelete { owner, name } => {
            let id = folder(store, owner, name)?;
            offline(writers)?.folders.delete_folder(id).map_err(s)?;
            commit(store)?;
            folder_deleted(owner, name)
        }
        AdminCommand::AclGet {
            owner,
            folder: name,
        } => {
            let id = folder(store, owner, name)?;
            acl_lines(store, owner, id)?
        }
        AdminCommand::AclSet {
            owner,
            folder: name,
            identifier,
            rights,
        } => acl_set(store, owner, name, identifier, rights)?,
        AdminCommand::Status
        | AdminCommand::Actors
        | AdminCommand::QueueBounce(_)
        | AdminCommand::DnsLookup { .. }
        | AdminCommand::TlsPolicyShow(_)
        | AdminCommand::Reload
        | AdminCommand::Shutdown => {
            return Err("the server is not running; this command needs a running server".into())
        }
        AdminCommand::SourceAdd { account, spec } => {
            super::fetch::source_add(store, account, spec)?.0
        }
        AdminCommand::SourceList(account) => super::fetch::source_list(store, account.as_deref())?,
        AdminCommand::SourceDel(id) => super::fetch::source_del(store, *id)?,
        AdminCommand::SourcePasswd { id, password } => {
            super::fetch::source_passwd(store, *id, password)?
        }
        AdminCommand::SourceStatus(id) => super::fetch::source_status(store, *id, &|_| false)?,
        AdminCommand::DomainPopSet {
            domain,
            spec,
            options,
        } => super::fetch::domainpop_set(store, domain, spec, options)?.0,
        AdminCommand::DomainPopShow(domain) => super::fetch::domainpop_show(store, domain)?,
        AdminCommand::DomainPopDel(domain) => {
            let id = super::fetch::domainpop_source(store, domain)?.id;
            super::fetch::source_del(store, id)?
        }
        AdminCommand::Screen(_) | AdminCommand::Cluster | AdminCommand::ClusterLeases => {
            return Err(format!(
                "{} commands need the configuration: see execute_with_config",
                cmd.path()
            ))
        }
        AdminCommand::SourceRun(_) | AdminCommand::DomainPopRun(_) => {
            return Err("the server is not running; fetching needs a running server".into())
        }
        AdminCommand::DkimGenerate {
            domain,
            algorithm,
            selector,
        } => dkim_generate(store, domain, algorithm.as_deref(), selector.as_deref())?,
        AdminCommand::DkimList(domain) => dkim_list(store, domain)?,
        AdminCommand::DkimActivate { domain, selector } => {
            let key = store.dkim_activate(domain, selector).map_err(s)?;
            commit(store)?;
            format!(
                "{} now signs the mail of {} (other keys stay until deleted)",
                key.selector, key.domain
            )
        }
        AdminCommand::TwoFa { action, address } => twofa(store, action, address)?,
        AdminCommand::ApiKeyAdd { owner, name, scope } => {
            let (info, key) = super::apikey::create(store, owner, name, *scope)?;
            format!(
                "API key {} ({}) made for {} with scope {}\n{key}\n\
                 Copy it now: it is not kept and cannot be shown again.",
                info.id, info.name, info.owner, info.scope
            )
        }
        AdminCommand::ApiKeyList => apikey_list(store)?,
        AdminCommand::ApiKeyDel(id) => {
            super::apikey::revoke(store, id)?;
            format!("API key {id} revoked")
        }
        // The one-shot CLI (with the write handles) shows an import's progress on stderr.
        AdminCommand::Calendar(c) => super::calendar::execute(
            store,
            c,
            &mut super::calendar::Lines::new(|l| {
                if writers.is_some() {
                    super::calendar::show_progress(&l)
                }
            }),
        )?,
        AdminCommand::DkimDelete { domain, selector } => {
            store.dkim_delete(domain, selector).map_err(s)?;
            format!("DKIM key {selector} of {domain} deleted")
        }
    };
    Ok(out)
}

/// A quota limit as shown: a number, or "none".
fn limit_text(limit: Option<u64>) -> String {
    limit.map_or_else(|| "none".to_string(), |n| n.to_string())
}

/// `account quota`: changes the limits given (the others kept), then shows the quota.
fn account_quota(
    store: &Store,
    address: &str,
    storage: Option<Option<u64>>,
    messages: Option<Option<u64>>,
) -> Result<String, String> {
    let s = |e: crate::storage::StorageError| e.to_string();
    let account = store
        .get_account(address)
        .map_err(s)?
        .ok_or_else(|| format!("not found: account {address}"))?;
    let before = store.quota(&account.address).map_err(s)?;
    if storage.is_some() || messages.is_some() {
        store
            .set_quota(
                &account.address,
                storage.unwrap_or(before.storage_limit),
                messages.unwrap_or(before.messages_limit),
            )
            .map_err(s)?;
        commit(store)?;
    }
    let q = store.quota(&account.address).map_err(s)?;
    Ok(format!(
        "quota of {}: storage {} of {} bytes, messages {} of {}",
        account.address,
        q.storage_used,
        limit_text(q.storage_limit),
        q.messages_used,
        limit_text(q.messages_limit)
    ))
}

/// `account show`: one "name: value" line each.
fn account_show(store: &Store, address: &str) -> Result<String, String> {
    let s = |e: crate::storage::StorageError| e.to_string();
    let a = store
        .get_account(address)
        .map_err(s)?
        .ok_or_else(|| format!("not found: account {address}"))?;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let q = store.quota(&a.address).map_err(s)?;
    let rights = store.sender_rights(&a.address).map_err(s)?;
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    Ok(format!(
        "account:    {}\nadmin:      {}\ndisabled:   {}\n2fa:        {}\ncreated:    {}\n\
         storage:    {} of {} bytes\nmessages:   {} of {}\nsend as:    {}\nadministers: {}",
        a.address,
        yes_no(a.admin),
        yes_no(a.disabled),
        super::twofa::status(store, &a.address)?,
        a.created,
        q.storage_used,
        limit_text(q.storage_limit),
        q.messages_used,
        limit_text(q.messages_limit),
        list(&rights.send_as),
        list(&rights.domains),
    ))
}

/// `account 2fa …`.
fn twofa(store: &Store, action: &super::TwoFaAction, address: &str) -> Result<String, String> {
    use super::twofa;
    use super::TwoFaAction;
    Ok(match action {
        TwoFaAction::Status => format!(
            "two-factor login of {address}: {}",
            twofa::status(store, address)?
        ),
        TwoFaAction::Begin => {
            let e = twofa::begin(store, address)?;
            format!(
                "secret: {}\nuri:    {}\nEnter it into an authenticator app, then run \
                 `account 2fa confirm {address} CODE` with the code it shows.",
                e.secret_base32, e.otpauth_uri
            )
        }
        TwoFaAction::Confirm(code) => {
            let codes = twofa::confirm(store, address, code)?;
            format!(
                "two-factor login is on for {address}. Recovery codes (each works once; \
                 they are shown only now):\n{}",
                codes.join("\n")
            )
        }
        TwoFaAction::Reset => {
            twofa::reset(store, address)?;
            format!("two-factor login is off for {address}")
        }
    })
}

/// `apikey list`: one key a line, never a secret.
fn apikey_list(store: &Store) -> Result<String, String> {
    let keys = super::apikey::list(store)?;
    Ok(lines(
        keys.into_iter()
            .map(|k| {
                format!(
                    "{}  {:<9}  {}  {}  created {}  last used {}",
                    k.id,
                    k.scope.as_str(),
                    k.owner,
                    k.name,
                    crate::clock::iso8601(i64::try_from(k.created).unwrap_or(i64::MAX)),
                    k.last_used.map_or("never".to_string(), |t| {
                        crate::clock::iso8601(i64::try_from(t).unwrap_or(i64::MAX))
                    })
                )
            })
            .collect(),
        "no API keys",
    ))
}

/// [`execute`] for the CLI without a server, with the configuration that the `screen`
/// commands need (trusted networks, ban lengths).
pub fn execute_with_config(
    store: &Store,
    writers: &Writers,
    config: &crate::config::Config,
    cmd: &AdminCommand,
) -> Result<String, String> {
    match cmd {
        AdminCommand::Screen(c) => super::screen::execute_offline(store, &config.screening, c),
        AdminCommand::Cluster | AdminCommand::ClusterLeases => super::cluster::execute(
            store,
            &config.storage,
            *cmd == AdminCommand::ClusterLeases,
            crate::clock::Clock::now(&crate::clock::SystemClock),
        ),
        other => run(store, Some(writers), other),
    }
}

/// The write handles of the one-shot CLI; absent on the live path, where these commands
/// go to the folder and queue actors instead (see `socket::execute_live`).
/// What `account del` answers.
pub(super) fn account_deleted(address: &str) -> String {
    format!("account {address} deleted")
}

fn offline(writers: Option<&Writers>) -> Result<&Writers, String> {
    writers.ok_or_else(|| {
        "this command writes folder state or queue records: the running server's actors do it \
         (use the console), or run it with no server"
            .to_string()
    })
}

/// `dkim generate`: makes and stores the key, then shows the DNS record to publish.
fn dkim_generate(
    store: &Store,
    domain: &str,
    algorithm: Option<&str>,
    selector: Option<&str>,
) -> Result<String, String> {
    let algorithm = match algorithm {
        None => DkimAlgorithm::Rsa,
        Some(a) => DkimAlgorithm::parse(a)
            .ok_or_else(|| format!("unknown algorithm '{a}' (rsa or ed25519)"))?,
    };
    let now = crate::clock::unix_now();
    let key = keys::generate(store, domain, algorithm, selector, now).map_err(|e| e.to_string())?;
    commit(store)?;
    let state = if key.active {
        "active: mail from this domain is signed with it from now on".to_string()
    } else {
        format!(
            "not active yet: publish the record, then 'dkim activate {} {}'",
            key.domain, key.selector
        )
    };
    Ok(format!(
        "DKIM key {} ({}) made for {}; {state}\nPublish this DNS record:\n{}",
        key.selector,
        key.algorithm.signature_name(),
        key.domain,
        key.dns_record()
    ))
}

/// `dkim list`: each key with its state and DNS record.
fn dkim_list(store: &Store, domain: &str) -> Result<String, String> {
    let keys = store.dkim_list(domain).map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Ok(format!(
            "no DKIM keys for {domain} (make one with 'dkim generate {domain}')"
        ));
    }
    let mut out = String::new();
    for k in keys {
        let _ = writeln!(
            out,
            "{}  {}  created {}{}\n  {}",
            k.selector,
            k.algorithm.signature_name(),
            crate::clock::iso8601(k.created),
            if k.active { "  ACTIVE" } else { "" },
            k.dns_record()
        );
    }
    Ok(out.trim_end().to_string())
}

/// A queue command without a running server: applied by the queue module directly (no
/// worker can have the record then). The running server sends it to the queue actors.
fn queue_offline(
    store: &Store,
    writers: Option<&Writers>,
    change: Change,
) -> Result<String, String> {
    queues::apply_offline(store, &offline(writers)?.queues, &change)
        .map(|done| done.text())
        .map_err(|e| e.to_string())
}

/// The storage owner for a command's owner word (`public` → [`PUBLIC_OWNER`]).
pub fn storage_owner(owner: &str) -> &str {
    if owner == PUBLIC {
        PUBLIC_OWNER
    } else {
        owner
    }
}

/// "public folders" or "account bob@x", for messages.
fn whose(owner: &str) -> String {
    if owner == PUBLIC {
        "public folders".into()
    } else {
        format!("account {owner}")
    }
}

/// The answer to `folder delete`.
pub(super) fn folder_deleted(owner: &str, name: &str) -> String {
    format!("folder {name} deleted ({})", whose(owner))
}

/// The id of `owner`'s folder `name`, or a message naming what is missing.
pub(super) fn folder(store: &Store, owner: &str, name: &str) -> Result<FolderId, String> {
    store
        .folder_id(storage_owner(owner), name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no folder {name} ({})", whose(owner)))
}

/// One line per folder: name, messages, unseen, size, special-use (`\Noselect` for a
/// placeholder kept for its children).
fn folder_list(store: &Store, owner: &str) -> Result<String, String> {
    let folders = store
        .list_folders(storage_owner(owner))
        .map_err(|e| e.to_string())?;
    if folders.is_empty() {
        return Ok(format!("no folders ({})", whose(owner)));
    }
    let width = folders
        .iter()
        .map(|f| f.name.chars().count())
        .chain([6])
        .max()
        .unwrap_or(6);
    let mut out = format!(
        "{:width$}  {:>8}  {:>6}  {:>10}  SPECIAL-USE\n",
        "FOLDER", "MESSAGES", "UNSEEN", "SIZE"
    );
    for f in &folders {
        let _ = writeln!(
            out,
            "{:width$}  {:>8}  {:>6}  {:>10}  {}",
            f.name,
            f.exists,
            f.unseen,
            f.size,
            special_use(f)
        );
    }
    Ok(out.trim_end().to_string())
}

fn special_use(f: &FolderState) -> &str {
    match (&f.special_use, f.noselect) {
        (Some(u), _) => u,
        (None, true) => "\\Noselect",
        (None, false) => "-",
    }
}

/// The ACL, one "IDENTIFIER RIGHTS" line per entry; an account's folder starts with its
/// owner's implicit full rights.
fn acl_lines(store: &Store, owner: &str, id: FolderId) -> Result<String, String> {
    let mut rows: Vec<(String, String)> = Vec::new();
    if owner != PUBLIC {
        let all = store.rights(id, owner).map_err(|e| e.to_string())?;
        rows.push((owner.to_ascii_lowercase(), format!("{all} (owner)")));
    }
    rows.extend(store.get_acl(id).map_err(|e| e.to_string())?);
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

/// `acl set`: "none" removes the entry; otherwise RFC 4314 SETACL semantics ("+x", "-x" or
/// exactly these). The identifier must be `anyone` or an existing account.
fn acl_set(
    store: &Store,
    owner: &str,
    name: &str,
    identifier: &str,
    rights: &str,
) -> Result<String, String> {
    let s = |e: crate::storage::StorageError| e.to_string();
    let id = folder(store, owner, name)?;
    if identifier != ANYONE && store.get_account(identifier).map_err(s)?.is_none() {
        return Err(format!(
            "no account {identifier} (identifiers are account addresses or 'anyone')"
        ));
    }
    if owner != PUBLIC && identifier.eq_ignore_ascii_case(owner) {
        return Err(format!(
            "{identifier} owns {name} and always has every right"
        ));
    }
    if rights == "none" {
        store.delete_acl(id, identifier).map_err(s)?;
    } else {
        store.set_acl(id, identifier, rights).map_err(s)?;
    }
    commit(store)?;
    let now = store
        .get_acl(id)
        .map_err(s)?
        .into_iter()
        .find(|(i, _)| i.eq_ignore_ascii_case(identifier))
        .map(|(_, r)| r);
    Ok(match now {
        Some(r) => format!(
            "{identifier} now has rights {r} on {name} ({})",
            whose(owner)
        ),
        None => format!("{identifier} has no rights on {name} ({})", whose(owner)),
    })
}

fn commit(store: &Store) -> Result<(), String> {
    store.commit().map_err(|e| format!("flush failed: {e}"))
}

pub fn find(store: &Store, id: u64) -> Result<QueueRecord, String> {
    store
        .queue_find(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("no queued message {id:016X} (ids are hexadecimal, as `queue list` shows them)")
        })
}

pub fn unknown_queue(name: &str) -> String {
    format!("unknown queue '{name}': use inbound, local, remote, deferred, toarchive or bad")
}

/// One line per record (id, size, sender, attempts, next attempt, the record's note), then
/// one line per recipient still to deliver, with its last error.
fn queue_list(store: &Store, name: Option<&str>) -> Result<String, String> {
    let queues = match name {
        Some(n) => vec![n.parse::<QueueName>().map_err(|_| unknown_queue(n))?],
        None => QueueName::ALL.to_vec(),
    };
    let mut out = String::new();
    for q in queues {
        let recs = store.queue_list(q).map_err(|e| e.to_string())?;
        let _ = writeln!(out, "{} ({}):", q.as_str(), recs.len());
        for r in recs {
            let mut line = format!("  {:016X}  {:>8}  <{}>", r.id, r.size, r.mail_from);
            if r.attempts > 0 {
                let _ = write!(line, "  attempts {}", r.attempts);
            }
            if let Some(due) = r.due {
                let _ = write!(line, "  next attempt {}", crate::clock::iso8601(due));
            }
            if let Some(e) = &r.last_error {
                let _ = write!(line, "  [{e}]");
            }
            let _ = writeln!(out, "{line}");
            for x in r.recipients.iter().filter(|x| !x.delivered) {
                let _ = writeln!(
                    out,
                    "      -> {}{}",
                    x.address,
                    x.last_error
                        .as_ref()
                        .map(|e| format!("  {e}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(out.trim_end().to_string())
}

fn show(r: &QueueRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "id: {:016X}", r.id);
    let _ = writeln!(out, "queue: {}", r.queue.as_str());
    let _ = writeln!(out, "from: <{}>", r.mail_from);
    for x in &r.recipients {
        let _ = writeln!(
            out,
            "to: <{}> (original <{}>){}{}",
            x.address,
            x.original,
            if x.delivered { " delivered" } else { "" },
            x.last_error
                .as_ref()
                .map(|e| format!(" [{e}]"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(out, "size: {}", r.size);
    let _ = writeln!(out, "blob: {}", r.blob);
    let _ = writeln!(out, "received: {}", crate::clock::iso8601(r.received_at));
    if let Some(d) = r.due {
        let _ = writeln!(out, "due: {}", crate::clock::iso8601(d));
    }
    let _ = writeln!(out, "attempts: {}", r.attempts);
    let _ = writeln!(out, "origin: {}", r.origin);
    if let Some(a) = &r.auth_as {
        let _ = writeln!(out, "authenticated: {a}");
    }
    let _ = writeln!(out, "params: {:?}", r.params);
    if let Some(e) = &r.last_error {
        let _ = writeln!(out, "last error: {e}");
    }
    out.trim_end().to_string()
}

fn lines(items: Vec<String>, empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items.join("\n")
    }
}

/// A change's outcome: its error, or `done` once it is durable.
fn committed(
    store: &Store,
    change: Result<(), crate::storage::StorageError>,
    done: String,
) -> Result<String, String> {
    change.map_err(|e| e.to_string())?;
    commit(store)?;
    Ok(done)
}

/// `sendas list [ACCOUNT]`: one line per account with rights beyond its own addresses.
fn sendas_list(store: &Store, account: Option<&str>) -> Result<String, String> {
    let s = |e: crate::storage::StorageError| e.to_string();
    let all = match account {
        Some(a) => {
            let acc = store
                .get_account(a)
                .map_err(s)?
                .ok_or_else(|| format!("not found: account {a}"))?;
            vec![(
                acc.address.clone(),
                store.sender_rights(&acc.address).map_err(s)?,
            )]
        }
        None => store.list_sender_rights().map_err(s)?,
    };
    let describe = |(account, rights): (String, crate::storage::SenderRights)| {
        let mut parts = Vec::new();
        if !rights.send_as.is_empty() {
            parts.push(format!("may send as {}", rights.send_as.join(", ")));
        }
        if !rights.domains.is_empty() {
            parts.push(format!("administers {}", rights.domains.join(", ")));
        }
        if parts.is_empty() {
            parts.push("its own addresses only".to_string());
        }
        format!("{account}: {}", parts.join("; "))
    };
    Ok(lines(
        all.into_iter().map(describe).collect(),
        "no account has sender rights beyond its own addresses",
    ))
}
