//! The fetch sources page: MultiPOP (an outside mailbox collected into one account) and
//! DomainPOP (a provider mailbox holding a whole domain's mail, sorted by its headers), with
//! each source's last run, counts and last error; forms add a source, change its password,
//! run it now or delete it. Admins see every source; a domain admin sees and changes only
//! the sources of its domains (a MultiPOP source by its account's domain, a DomainPOP
//! source by its domain: `Principal::may_source`, the API's rule), and may not point a
//! DomainPOP source's unknown recipients at another domain's account nor set a raw copy
//! folder (a path in the server's data directory).
//!
//! Implementation notes: the add form is turned into the console's `source add` or
//! `domainpop set` words and read by the console's own parser, so defaults (the port from
//! the protocol and TLS mode, the interval, DomainPOP's header list) and every check are
//! the console's. Passwords go in and are never shown back; the list shows the login user.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::forms::Form;
use super::{gate, redirect_with, render, run, Chrome, Ctx, Need};
use crate::admin::AdminCommand;
use crate::http::auth::Principal;
use crate::storage::SourceOwner;

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    chrome: Chrome,
    sources: Vec<SourceRow>,
    /// Offered in the owner field: accounts (MultiPOP) and local domains (DomainPOP).
    accounts: Vec<String>,
    domains: Vec<String>,
}

struct SourceRow {
    id: u64,
    owner: String,
    server: String,
    user: String,
    last_run: String,
    last_success: String,
    fetched: String,
    error: String,
}

fn when(t: Option<i64>) -> String {
    t.map(crate::clock::iso8601)
        .unwrap_or_else(|| "never".into())
}

/// `GET /sources`.
pub async fn page(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let sources = ctx
        .store
        .fetch_sources()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| who.may_source(&s.owner))
        .map(|s| {
            let st = ctx.store.fetch_status(s.id).unwrap_or_default();
            SourceRow {
                id: s.id,
                owner: match &s.owner {
                    SourceOwner::Account(a) => format!("MultiPOP → {a}"),
                    SourceOwner::Domain(d) => format!("DomainPOP for {d}"),
                },
                server: format!(
                    "{} {}:{} ({} TLS{})",
                    s.protocol.as_str(),
                    s.host,
                    s.port,
                    s.tls.as_str(),
                    if s.verify_cert { "" } else { ", not verified" }
                ),
                user: s.user.clone(),
                last_run: when(st.last_run),
                last_success: when(st.last_success),
                fetched: format!("{} last run, {} in all", st.last_fetched, st.total_fetched),
                error: st.last_error.unwrap_or_default(),
            }
        })
        .collect();
    let mut accounts: Vec<String> = ctx
        .store
        .list_accounts()
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.address)
        .filter(|a| who.may_address(a))
        .collect();
    accounts.sort();
    let t = SourcesPage {
        chrome: Chrome::new(&req, &who, "/sources"),
        sources,
        accounts,
        domains: super::visible_domains(&ctx, &who).unwrap_or_default(),
    };
    render(&req, &t.chrome, &t)
}

/// `POST /sources`: add, passwd, run, delete.
pub async fn post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let f = Form::parse(&body);
    let result = async {
        if f.get("action") == "add" {
            let words = add_words(&f)?;
            allowed_to_add(&who, &f)?;
            let cmd = crate::admin::parse(&words).map_err(|e| e.message)?;
            return run(&ctx, cmd).await;
        }
        let id: u64 = f
            .need("id", "Source")?
            .parse()
            .map_err(|_| "bad source id".to_string())?;
        // Another domain's source is answered like a missing one.
        match ctx.store.fetch_source(id) {
            Ok(Some(s)) if who.may_source(&s.owner) => {}
            Ok(_) => return Err(format!("no source {id}")),
            Err(e) => return Err(e.to_string()),
        }
        match f.get("action") {
            "run" => run(&ctx, AdminCommand::SourceRun(id)).await,
            "delete" => run(&ctx, AdminCommand::SourceDel(id)).await,
            "passwd" => {
                let password = f.raw("password");
                if password.is_empty() {
                    return Err("Password is required".into());
                }
                let words = [
                    "source".to_string(),
                    "passwd".into(),
                    id.to_string(),
                    "--password".into(),
                    password.to_string(),
                ];
                let cmd = crate::admin::parse(&words).map_err(|e| e.message)?;
                run(&ctx, cmd).await
            }
            other => Err(format!("unknown action {other:?}")),
        }
    }
    .await;
    redirect_with(&req, "/sources", result)
}

/// Whether `who` may add the source of the add form `f` (already checked by [`add_words`]):
/// its owner in `who`'s domains, DomainPOP's unknown recipients to `bad` or an account of
/// those domains, and a raw copy folder only for admins.
fn allowed_to_add(who: &Principal, f: &Form) -> Result<(), String> {
    let owner = f.get("owner").trim().to_lowercase();
    let owner = if f.get("kind") == "multipop" {
        SourceOwner::Account(owner)
    } else {
        SourceOwner::Domain(owner)
    };
    if !who.may_source(&owner) {
        return Err(format!("{}: not in a domain you administer", owner.name()));
    }
    let unknown = f.get("unknown").trim();
    if !unknown.is_empty() && !unknown.eq_ignore_ascii_case("bad") && !who.may_address(unknown) {
        return Err(format!("{unknown}: not in a domain you administer"));
    }
    if !f.get("raw_copy").is_empty() && !who.is_admin() {
        return Err("A raw copy folder is for administrators of the server".into());
    }
    Ok(())
}

/// The DomainPOP-only fields and the option each becomes.
const DOMAINPOP_FIELDS: [(&str, &str); 4] = [
    ("headers", "--headers"),
    ("unknown", "--unknown"),
    ("dedup", "--dedup"),
    ("raw_copy", "--raw-copy"),
];

/// The add form as console words: `source add ACCOUNT …` (MultiPOP) or `domainpop set
/// DOMAIN …` (DomainPOP). Empty optional fields are left out, so the console's defaults
/// apply.
fn add_words(f: &Form) -> Result<Vec<String>, String> {
    let kind = f.get("kind");
    let mut words: Vec<String> = match kind {
        "multipop" => vec!["source".into(), "add".into()],
        "domainpop" => vec!["domainpop".into(), "set".into()],
        other => return Err(format!("unknown kind of source {other:?}")),
    };
    let owner = f.need("owner", "Account or domain")?.to_lowercase();
    match (kind, owner.contains('@')) {
        ("multipop", false) => {
            return Err(format!(
                "'{owner}' is not an account address (MultiPOP collects into an account)"
            ))
        }
        ("domainpop", true) => {
            return Err(format!(
                "'{owner}' is an address: DomainPOP collects for a domain"
            ))
        }
        _ => {}
    }
    words.push(owner);
    words.extend([
        "--host".to_string(),
        f.need("host", "Host")?.to_string(),
        "--user".into(),
        f.need("user", "User")?.to_string(),
    ]);
    let password = f.raw("password");
    if password.is_empty() {
        return Err("Password is required".into());
    }
    words.extend(["--password".to_string(), password.to_string()]);
    for (field, flag) in [
        ("protocol", "--protocol"),
        ("port", "--port"),
        ("tls", "--tls"),
        ("interval", "--interval"),
    ] {
        if !f.get(field).is_empty() {
            words.extend([flag.to_string(), f.get(field).to_string()]);
        }
    }
    if f.checked("no_verify") {
        words.push("--no-verify".into());
    }
    if f.checked("delete") {
        words.push("--delete".into());
    }
    for (field, flag) in DOMAINPOP_FIELDS {
        if f.get(field).is_empty() {
            continue;
        }
        if kind != "domainpop" {
            return Err(format!("{flag} is for DomainPOP sources only"));
        }
        words.extend([flag.to_string(), f.get(field).to_string()]);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::web::Bytes;

    fn form(s: &'static str) -> Form {
        Form::parse(&Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn add_form_becomes_the_console_words() {
        let f = form(
            "kind=multipop&owner=Ann%40A.test&host=pop.x&user=u&password=+p+w&protocol=imap\
             &port=&tls=starttls&interval=60&delete=1&no_verify=",
        );
        let words = add_words(&f).unwrap();
        assert_eq!(
            words.join(" "),
            "source add ann@a.test --host pop.x --user u --password  p w --protocol imap \
             --tls starttls --interval 60 --delete"
        );
        let cmd = crate::admin::parse(&words).unwrap();
        let AdminCommand::SourceAdd { account, spec } = cmd else {
            panic!("not a source add");
        };
        assert_eq!(account, "ann@a.test");
        assert_eq!((spec.port, spec.password.as_str()), (143, " p w"));
        assert!(spec.delete && spec.verify_cert);

        let f = form(
            "kind=domainpop&owner=a.test&host=h&user=u&password=p&unknown=bad&dedup=off\
             &headers=To%2FCc",
        );
        let cmd = crate::admin::parse(&add_words(&f).unwrap()).unwrap();
        let AdminCommand::DomainPopSet {
            domain, options, ..
        } = cmd
        else {
            panic!("not a domainpop set");
        };
        assert_eq!(domain, "a.test");
        assert_eq!(options.unknown, "bad");
        assert_eq!(options.dedup, None);
        assert_eq!(options.headers, vec!["To/Cc".to_string()]);
    }

    #[test]
    fn add_form_refusals() {
        for (body, says) in [
            (
                "kind=multipop&owner=a.test&host=h&user=u&password=p",
                "not an account",
            ),
            (
                "kind=domainpop&owner=x%40a.test&host=h&user=u&password=p",
                "is an address",
            ),
            (
                "kind=multipop&owner=x%40a.test&host=h&user=u",
                "Password is required",
            ),
            (
                "kind=multipop&owner=x%40a.test&user=u&password=p",
                "Host is required",
            ),
            (
                "kind=pop&owner=x%40a.test&host=h&user=u&password=p",
                "unknown kind",
            ),
            (
                "kind=multipop&owner=x%40a.test&host=h&user=u&password=p&dedup=60",
                "DomainPOP sources only",
            ),
        ] {
            let e = add_words(&form(body)).unwrap_err();
            assert!(e.contains(says), "{body}: {e}");
        }
    }
}
