//! The folders page: one owner's folders (an account's, or the public folders shared over
//! IMAP as "Public Folders/…") with their counts, and each folder's access control list
//! (RFC 4314 rights letters, `lrswipkxtea`).
//!
//! Reads go through the store; every change is the console's `folder create`,
//! `folder delete` or `acl set`, built as words and read by the console's own parser (so
//! owner words, rights letters and "none" are checked by the one rule the console and the
//! API share), then run by the live executor, which hands a deletion to the folder's actor.
//!
//! Implementation notes: a domain admin sees and changes only the accounts of its domains
//! (checked here on every request, as the accounts page does); the public folders are
//! server-wide, so administrators only. An owner must be an existing account: `folder
//! create` of the store would otherwise make folders for an address nobody logs in as.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::forms::Form;
use super::{gate, may, redirect_with, render, run, Chrome, Ctx, Need};
use crate::admin::PUBLIC;
use crate::http::auth::Principal;
use crate::storage::PUBLIC_OWNER;

/// `?owner=…` of the page.
#[derive(serde::Deserialize)]
pub struct OwnerQuery {
    #[serde(default)]
    owner: Option<String>,
}

#[derive(Template)]
#[template(path = "folders.html")]
struct FoldersPage {
    chrome: Chrome,
    /// The owner word shown ("" before one is picked; `public` for the public folders).
    owner: String,
    /// The heading over the owner's folders.
    owner_label: String,
    /// Why the owner's folders are not shown, if they are not.
    problem: String,
    /// Accounts the caller may pick (offered in the owner field's list).
    accounts: Vec<String>,
    folders: Vec<FolderRow>,
}

struct FolderRow {
    name: String,
    messages: u32,
    unseen: u32,
    size: String,
    special_use: String,
    /// A placeholder kept for its children: no messages, no ACL of its own to speak of.
    noselect: bool,
    acl: Vec<(String, String)>,
}

/// The owner word for `raw` as typed (`public` in any case, or a lowercased address), or
/// the refusal to show: unknown accounts, other domains, public folders for non-admins.
fn owner_word(ctx: &Ctx, who: &Principal, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case(PUBLIC) {
        return if who.is_admin() {
            Ok(PUBLIC.to_string())
        } else {
            Err("the public folders are for administrators".into())
        };
    }
    let address = raw.to_lowercase();
    if !address.contains('@') {
        return Err(format!("'{raw}' is not an account address or 'public'"));
    }
    may(who, &address)?;
    match ctx.store.get_account(&address) {
        Ok(Some(_)) => Ok(address),
        Ok(None) => Err(format!("no account {address}")),
        Err(e) => Err(e.to_string()),
    }
}

fn owner_label(owner: &str) -> String {
    if owner == PUBLIC {
        "Public folders".into()
    } else {
        format!("Folders of account {owner}")
    }
}

fn size(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// The owner's folders with their ACL entries (the owner's implicit rights not listed).
fn folder_rows(ctx: &Ctx, owner: &str) -> Result<Vec<FolderRow>, String> {
    let storage_owner = if owner == PUBLIC { PUBLIC_OWNER } else { owner };
    let folders = ctx
        .store
        .list_folders(storage_owner)
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::with_capacity(folders.len());
    for f in folders {
        let acl = ctx.store.get_acl(f.id).map_err(|e| e.to_string())?;
        rows.push(FolderRow {
            messages: f.exists,
            unseen: f.unseen,
            size: size(f.size),
            special_use: f.special_use.clone().unwrap_or_default(),
            noselect: f.noselect,
            name: f.name,
            acl,
        });
    }
    Ok(rows)
}

/// `GET /folders[?owner=…]`.
pub async fn page(ctx: Ctx, req: HttpRequest, q: web::Query<OwnerQuery>) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let mut accounts: Vec<String> = ctx
        .store
        .list_accounts()
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.address)
        .filter(|a| who.may_address(a))
        .collect();
    accounts.sort();
    let asked = q.owner.clone().unwrap_or_default();
    let (owner, problem, folders) = if asked.trim().is_empty() {
        (String::new(), String::new(), Vec::new())
    } else {
        match owner_word(&ctx, &who, &asked).and_then(|o| Ok((folder_rows(&ctx, &o)?, o))) {
            Ok((rows, o)) => (o, String::new(), rows),
            Err(e) => (asked.trim().to_string(), e, Vec::new()),
        }
    };
    let t = FoldersPage {
        chrome: Chrome::new(&req, &who, "/folders"),
        owner_label: owner_label(&owner),
        owner,
        problem,
        accounts,
        folders,
    };
    render(&req, &t.chrome, &t)
}

/// `POST /folders`: create, delete, grant (set rights) or revoke.
pub async fn post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let f = Form::parse(&body);
    let owner = owner_word(&ctx, &who, f.get("owner"));
    let back = match &owner {
        Ok(o) => format!(
            "/folders?owner={}",
            form_urlencoded::byte_serialize(o.as_bytes()).collect::<String>()
        ),
        Err(_) => "/folders".to_string(),
    };
    let result = match owner {
        // Changing an account's folders or their ACLs is changing the account: a domain
        // admin may not give itself rights on a server admin's folders.
        Ok(owner) if owner != PUBLIC => match super::pages::may_change(&ctx, &who, &owner) {
            Ok(()) => folder_action(&ctx, &owner, &f).await,
            Err(e) => Err(e),
        },
        Ok(owner) => folder_action(&ctx, &owner, &f).await,
        Err(e) => Err(e),
    };
    redirect_with(&req, &back, result)
}

async fn folder_action(ctx: &Ctx, owner: &str, f: &Form) -> Result<String, String> {
    let folder = f.need("folder", "Folder name")?.to_string();
    let mut words: Vec<String> = match f.get("action") {
        "create" => vec!["folder".into(), "create".into()],
        "delete" => vec!["folder".into(), "delete".into()],
        "grant" | "revoke" => vec!["acl".into(), "set".into()],
        other => return Err(format!("unknown action {other:?}")),
    };
    words.extend([owner.to_string(), folder]);
    match f.get("action") {
        "grant" => {
            words.push(identifier(f)?);
            words.push(f.need("rights", "Rights")?.to_string());
        }
        "revoke" => {
            words.push(identifier(f)?);
            words.push("none".into());
        }
        _ => {}
    }
    let cmd = crate::admin::parse(&words).map_err(|e| e.message)?;
    run(ctx, cmd).await
}

/// The ACL identifier: `anyone` or an account address (the command checks it exists).
fn identifier(f: &Form) -> Result<String, String> {
    let id = f.need("identifier", "Identifier")?;
    Ok(if id.eq_ignore_ascii_case("anyone") {
        "anyone".into()
    } else {
        id.to_lowercase()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(2048), "2.0 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn labels() {
        assert_eq!(owner_label("public"), "Public folders");
        assert_eq!(owner_label("a@b.test"), "Folders of account a@b.test");
    }
}
