//! The directory and configuration pages: domains, accounts, aliases, screening, DKIM
//! keys, logs and settings (fetch sources are `sources`, folders and ACLs `folders`). Each
//! GET reads; each POST runs one admin command (after checking the caller may touch that
//! domain) and redirects back with its output.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::forms::Form;
use super::{
    assets, gate, may, redirect_with, render, run, visible_domains, Chrome, Ctx, Need, Pager,
};
use crate::admin::screen::ScreenCommand;
use crate::admin::AdminCommand;
use crate::http::auth::Principal;

/// `?page=N&q=TEXT` of a list page.
#[derive(serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    q: Option<String>,
}

macro_rules! gate_or_return {
    ($ctx:expr, $req:expr, $need:expr) => {
        match gate(&$ctx, &$req, $need).await {
            Ok(w) => w,
            Err(r) => return r,
        }
    };
}

/// The domain part of an address, lowercase.
fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

// ---- Domains ----

#[derive(Template)]
#[template(path = "domains.html")]
struct DomainsPage {
    chrome: Chrome,
    domains: Vec<DomainRow>,
}

struct DomainRow {
    name: String,
    accounts: usize,
}

pub async fn domains(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Manager);
    let accounts = ctx.store.list_accounts().unwrap_or_default();
    let domains = visible_domains(&ctx, &who)
        .unwrap_or_default()
        .into_iter()
        .map(|d| DomainRow {
            accounts: accounts
                .iter()
                .filter(|a| domain_of(&a.address) == d)
                .count(),
            name: d,
        })
        .collect();
    let t = DomainsPage {
        chrome: Chrome::new(&req, &who, "/domains"),
        domains,
    };
    render(&req, &t.chrome, &t)
}

pub async fn domains_post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Manager);
    let f = Form::parse(&body);
    let result = async {
        // Adding and deleting domains changes the server, not one domain.
        if !who.is_admin() {
            return Err("only administrators add or delete domains".to_string());
        }
        let name = f.need("name", "Domain name")?.to_ascii_lowercase();
        match f.get("action") {
            "add" => run(&ctx, AdminCommand::DomainAdd(name)).await,
            "delete" => run(&ctx, AdminCommand::DomainDel(name)).await,
            other => Err(format!("unknown action {other:?}")),
        }
    }
    .await;
    redirect_with(&req, "/domains", result)
}

// ---- Accounts ----

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    domains: Vec<String>,
    accounts: Vec<AccountRow>,
    pager: Pager,
    q: String,
    /// The query the pager's links keep.
    pager_extra: String,
}

struct AccountRow {
    address: String,
    admin: bool,
    disabled: bool,
    quota: String,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub async fn accounts(ctx: Ctx, req: HttpRequest, q: web::Query<ListQuery>) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Manager);
    let filter = q.q.clone().unwrap_or_default().trim().to_lowercase();
    let mut all: Vec<_> = ctx
        .store
        .list_accounts()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| who.may_address(&a.address))
        .filter(|a| filter.is_empty() || a.address.contains(&filter))
        .collect();
    all.sort_by(|a, b| a.address.cmp(&b.address));
    let (shown, pager) = Pager::cut(all, q.page.unwrap_or(1));
    // Quotas are read for the shown page only.
    let accounts = shown
        .into_iter()
        .map(|a| {
            let quota = match ctx.store.quota(&a.address) {
                Ok(q) => match q.storage_limit {
                    Some(l) => format!("{} of {}", mib(q.storage_used), mib(l)),
                    None => format!("{} (no limit)", mib(q.storage_used)),
                },
                Err(_) => "?".into(),
            };
            AccountRow {
                address: a.address,
                admin: a.admin,
                disabled: a.disabled,
                quota,
            }
        })
        .collect();
    let t = AccountsPage {
        chrome: Chrome::new(&req, &who, "/accounts"),
        domains: visible_domains(&ctx, &who).unwrap_or_default(),
        accounts,
        pager,
        pager_extra: super::query_tail(&[("q", &filter)]),
        q: filter,
    };
    render(&req, &t.chrome, &t)
}

pub async fn accounts_post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Manager);
    let f = Form::parse(&body);
    let result = account_action(&ctx, &who, &f).await;
    redirect_with(&req, "/accounts", result)
}

/// Refuses a change of an account that is an administrator, or administers a domain beyond
/// the caller's, unless the caller is a full admin (the API's rule,
/// [`Principal::may_change_account`]).
fn may_change(ctx: &Ctx, who: &Principal, address: &str) -> Result<(), String> {
    if who.is_admin() {
        return Ok(());
    }
    let store = &ctx.store;
    let admin = match store.get_account(address).map_err(|e| e.to_string())? {
        Some(a) => a.admin,
        None => return Ok(()), // the command itself answers "no such account"
    };
    let rights = store.sender_rights(address).map_err(|e| e.to_string())?;
    if who.may_change_account(admin, &rights.domains) {
        Ok(())
    } else {
        Err(format!(
            "{address} is an administrator beyond your domains: only server administrators change it"
        ))
    }
}

async fn account_action(ctx: &Ctx, who: &Principal, f: &Form) -> Result<String, String> {
    let address = f.need("address", "Address")?.to_lowercase();
    may(who, &address)?;
    if f.get("action") != "add" {
        may_change(ctx, who, &address)?;
    }
    match f.get("action") {
        "add" => {
            let admin = f.checked("admin");
            if admin && !who.is_admin() {
                return Err("only administrators make administrators".into());
            }
            let password = f.raw("password");
            if password.is_empty() {
                return Err("Password is required".into());
            }
            run(
                ctx,
                AdminCommand::AccountAdd {
                    address,
                    password: password.to_string(),
                    admin,
                },
            )
            .await
        }
        "password" => {
            let password = f.raw("password");
            if password.is_empty() {
                return Err("Password is required".into());
            }
            run(
                ctx,
                AdminCommand::AccountPasswd {
                    address,
                    password: password.to_string(),
                },
            )
            .await
        }
        "delete" => run(ctx, AdminCommand::AccountDel(address)).await,
        // Locking oneself out from the page one is using is refused, as in the API.
        "disable" | "admin-off" if address == who.address => {
            Err("you cannot disable or demote your own account".into())
        }
        "disable" => run(ctx, AdminCommand::AccountDisable(address)).await,
        "enable" => run(ctx, AdminCommand::AccountEnable(address)).await,
        // Administrator rights are server-wide: only administrators change them.
        "admin-on" | "admin-off" if !who.is_admin() => {
            Err("only administrators change administrator rights".into())
        }
        "admin-on" | "admin-off" => {
            let admin = f.get("action") == "admin-on";
            run(ctx, AdminCommand::AccountAdmin { address, admin }).await
        }
        "quota" => {
            // The console's own parser reads the limits (K/M/G sizes, `none` lifts, an
            // empty field keeps the limit), so the page and the console agree.
            let mut words = vec!["account".to_string(), "quota".into(), address];
            for (field, flag) in [("storage", "--storage"), ("messages", "--messages")] {
                let v = f.get(field).trim();
                if !v.is_empty() {
                    words.extend([flag.to_string(), v.to_string()]);
                }
            }
            let cmd = crate::admin::parse(&words).map_err(|e| e.message)?;
            run(ctx, cmd).await
        }
        // Granting a domain's administration is a server-wide right.
        "domainadmin-add" | "domainadmin-del" if !who.is_admin() => {
            Err("only administrators grant domain administration".into())
        }
        "domainadmin-add" => {
            let domain = f.need("domain", "Domain")?.to_ascii_lowercase();
            run(
                ctx,
                AdminCommand::DomainAdminAdd {
                    account: address,
                    domain,
                },
            )
            .await
        }
        "domainadmin-del" => {
            let domain = f.need("domain", "Domain")?.to_ascii_lowercase();
            run(
                ctx,
                AdminCommand::DomainAdminDel {
                    account: address,
                    domain,
                },
            )
            .await
        }
        "twofa-reset" => {
            let (sctx, a) = (ctx.get_ref().clone(), address.clone());
            web::block(move || crate::admin::twofa::reset(&sctx.store, &a))
                .await
                .map_err(|e| e.to_string())??;
            Ok(format!("two-factor login of {address} is off"))
        }
        other => Err(format!("unknown action {other:?}")),
    }
}

// ---- Aliases ----

#[derive(Template)]
#[template(path = "aliases.html")]
struct AliasesPage {
    chrome: Chrome,
    aliases: Vec<(String, Vec<String>)>,
    pager: Pager,
    pager_extra: String,
}

pub async fn aliases(ctx: Ctx, req: HttpRequest, q: web::Query<ListQuery>) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Manager);
    let mut all: Vec<_> = ctx
        .store
        .list_aliases()
        .unwrap_or_default()
        .into_iter()
        .filter(|(a, _)| who.may_address(a))
        .collect();
    all.sort();
    let (aliases, pager) = Pager::cut(all, q.page.unwrap_or(1));
    let t = AliasesPage {
        chrome: Chrome::new(&req, &who, "/aliases"),
        aliases,
        pager,
        pager_extra: String::new(),
    };
    render(&req, &t.chrome, &t)
}

pub async fn aliases_post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Manager);
    let f = Form::parse(&body);
    let result = async {
        let alias = f.need("alias", "Alias")?.to_lowercase();
        may(&who, &alias)?;
        let target = f.get("target").to_string();
        match f.get("action") {
            "add" => {
                if target.is_empty() {
                    return Err("Target is required".to_string());
                }
                run(&ctx, AdminCommand::AliasAdd { alias, target }).await
            }
            "delete" => {
                let target = (!target.is_empty()).then_some(target);
                run(&ctx, AdminCommand::AliasDel { alias, target }).await
            }
            other => Err(format!("unknown action {other:?}")),
        }
    }
    .await;
    redirect_with(&req, "/aliases", result)
}

// ---- Screening ----

#[derive(Template)]
#[template(path = "screening.html")]
struct ScreeningPage {
    chrome: Chrome,
    listing: String,
}

pub async fn screening(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Admin);
    let listing = run(&ctx, AdminCommand::Screen(ScreenCommand::List))
        .await
        .unwrap_or_else(|e| e);
    let t = ScreeningPage {
        chrome: Chrome::new(&req, &who, "/screening"),
        listing,
    };
    render(&req, &t.chrome, &t)
}

pub async fn screening_post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let _who = gate_or_return!(ctx, req, Need::Admin);
    let f = Form::parse(&body);
    let result = async {
        // The console's own parser reads the address or network and the options.
        let mut words = vec!["screen".to_string(), f.get("action").to_string()];
        words.push(f.need("network", "Address or network")?.to_string());
        if f.get("action") == "ban" && !f.get("seconds").is_empty() {
            words.extend(["--for".to_string(), f.get("seconds").to_string()]);
        }
        let cmd = crate::admin::parse(&words).map_err(|e| e.to_string())?;
        if !matches!(cmd, AdminCommand::Screen(_)) {
            return Err("not a screening command".into());
        }
        run(&ctx, cmd).await
    }
    .await;
    redirect_with(&req, "/screening", result)
}

// ---- DKIM ----

#[derive(Template)]
#[template(path = "dkim.html")]
struct DkimPage {
    chrome: Chrome,
    domains: Vec<String>,
    keys: Vec<DkimRow>,
}

struct DkimRow {
    domain: String,
    selector: String,
    algorithm: String,
    active: bool,
    created: String,
    dns_name: String,
    dns_value: String,
}

pub async fn dkim(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Manager);
    let domains = visible_domains(&ctx, &who).unwrap_or_default();
    let mut keys = Vec::new();
    for d in &domains {
        for k in ctx.store.dkim_list(d).unwrap_or_default() {
            keys.push(DkimRow {
                dns_name: k.dns_name(),
                dns_value: k.dns_record(),
                domain: k.domain.clone(),
                selector: k.selector.clone(),
                algorithm: k.algorithm.as_str().to_string(),
                active: k.active,
                created: crate::clock::iso8601(k.created),
            });
        }
    }
    let t = DkimPage {
        chrome: Chrome::new(&req, &who, "/dkim"),
        domains,
        keys,
    };
    render(&req, &t.chrome, &t)
}

pub async fn dkim_post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Manager);
    let f = Form::parse(&body);
    let result = async {
        let domain = f.need("domain", "Domain")?.to_ascii_lowercase();
        if !who.may_domain(&domain) {
            return Err(format!("{domain}: not a domain you administer"));
        }
        let selector = f.get("selector").to_string();
        match f.get("action") {
            "generate" => {
                let algorithm = Some(f.get("algorithm").to_string()).filter(|a| !a.is_empty());
                let selector = Some(selector).filter(|s| !s.is_empty());
                run(
                    &ctx,
                    AdminCommand::DkimGenerate {
                        domain,
                        algorithm,
                        selector,
                    },
                )
                .await
            }
            "activate" => run(&ctx, AdminCommand::DkimActivate { domain, selector }).await,
            "delete" => run(&ctx, AdminCommand::DkimDelete { domain, selector }).await,
            other => Err(format!("unknown action {other:?}")),
        }
    }
    .await;
    redirect_with(&req, "/dkim", result)
}

// ---- Logs ----

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    chrome: Chrome,
    logs_js: String,
}

/// `GET /logs`: the live tail; the page's script reads the API's log stream.
pub async fn logs(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Admin);
    let t = LogsPage {
        chrome: Chrome::new(&req, &who, "/logs"),
        logs_js: assets::url("logs.js"),
    };
    render(&req, &t.chrome, &t)
}

// ---- Settings ----

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    /// The running server's summary (the console's `status`).
    status: String,
    /// Where the configuration came from: the file, or the built-in default.
    source: String,
    /// The configuration in force, secrets masked, as `GET /api/v1/settings` shows it.
    effective: String,
}

pub async fn settings(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = gate_or_return!(ctx, req, Need::Admin);
    let config = ctx.config();
    let t = SettingsPage {
        chrome: Chrome::new(&req, &who, "/settings"),
        status: run(&ctx, AdminCommand::Status).await.unwrap_or_else(|e| e),
        source: config.source.as_ref().map_or_else(
            || "the built-in default".into(),
            |p| p.display().to_string(),
        ),
        effective: serde_json::to_string_pretty(&crate::config::effective::effective(&config))
            .unwrap_or_default(),
    };
    render(&req, &t.chrome, &t)
}

pub async fn settings_post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let _who = gate_or_return!(ctx, req, Need::Admin);
    let f = Form::parse(&body);
    let result = match f.get("action") {
        "reload" => run(&ctx, AdminCommand::Reload).await,
        other => Err(format!("unknown action {other:?}")),
    };
    redirect_with(&req, "/settings", result)
}
