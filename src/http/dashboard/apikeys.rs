//! The API keys page: the management API's keys (issue 13) listed, made and revoked from the
//! dashboard, as `apikey add|list|del` does on the console and `/api/v1/apikeys` over HTTP.
//!
//! An administrator sees and revokes every key and makes keys for itself; a domain admin
//! sees, makes and revokes only the keys it owns (the API's rule, `keys_of`), checked here
//! on every request rather than by hiding rows.
//!
//! Implementation notes: a new key is shown once, in the answer to the creating post itself
//! (rendered directly, not post/redirect/get): a flash cookie or a redirect URL would carry
//! the secret through the browser's cookie store, proxies and logs. The answer is
//! `no-store`, like every page. The key is made by `admin::apikey::create` directly rather
//! than through the console command, whose text output (with the key) is not something to
//! parse. Revocation is the console's `apikey del`, run by the live executor.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::forms::Form;
use super::{gate, redirect_with, render, run, Chrome, Ctx, Need};
use crate::admin::apikey::{self, ApiKeyInfo, Scope};
use crate::admin::AdminCommand;
use crate::http::auth::Principal;

#[derive(Template)]
#[template(path = "apikeys.html")]
struct ApiKeysPage {
    chrome: Chrome,
    keys: Vec<KeyRow>,
    /// The scopes offered in the creation form.
    scopes: Vec<&'static str>,
    /// A key just made: shown on this answer only.
    created: Option<Created>,
    /// Why the creation failed, shown on the page (the form's answer is not a redirect).
    problem: String,
}

struct Created {
    id: String,
    key: String,
}

struct KeyRow {
    id: String,
    name: String,
    owner: String,
    scope: String,
    created: String,
    last_used: String,
}

fn when(t: Option<u64>) -> String {
    t.and_then(|t| i64::try_from(t).ok())
        .map(crate::clock::iso8601)
        .unwrap_or_else(|| "never".into())
}

/// The keys `who` may see and revoke: all for an admin, its own for a domain admin.
fn keys_of(ctx: &Ctx, who: &Principal) -> Result<Vec<ApiKeyInfo>, String> {
    let mut keys: Vec<ApiKeyInfo> = apikey::list(&ctx.store)?
        .into_iter()
        .filter(|k| who.is_admin() || k.owner.eq_ignore_ascii_case(&who.address))
        .collect();
    keys.sort_by(|a, b| (&a.owner, &a.name, &a.id).cmp(&(&b.owner, &b.name, &b.id)));
    Ok(keys)
}

fn rows(keys: Vec<ApiKeyInfo>) -> Vec<KeyRow> {
    keys.into_iter()
        .map(|k| KeyRow {
            created: when(Some(k.created)),
            last_used: when(k.last_used),
            scope: k.scope.as_str().to_string(),
            id: k.id,
            name: k.name,
            owner: k.owner,
        })
        .collect()
}

fn draw(
    ctx: &Ctx,
    req: &HttpRequest,
    who: &Principal,
    created: Option<Created>,
    problem: String,
) -> HttpResponse {
    let (keys, problem) = match keys_of(ctx, who) {
        Ok(k) => (rows(k), problem),
        Err(e) => (Vec::new(), e),
    };
    let t = ApiKeysPage {
        chrome: Chrome::new(req, who, "/apikeys"),
        keys,
        scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
        created,
        problem,
    };
    render(req, &t.chrome, &t)
}

/// `GET /apikeys`.
pub async fn page(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    match gate(&ctx, &req, Need::Manager).await {
        Ok(who) => draw(&ctx, &req, &who, None, String::new()),
        Err(r) => r,
    }
}

/// `POST /apikeys`: `create` answers with the page showing the new key once; `revoke`
/// redirects back with a flash message.
pub async fn post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let f = Form::parse(&body);
    match f.get("action") {
        "create" => match create(&ctx, &who, &f).await {
            Ok(c) => draw(&ctx, &req, &who, Some(c), String::new()),
            Err(e) => draw(&ctx, &req, &who, None, e),
        },
        "revoke" => {
            let result = revoke(&ctx, &who, f.get("id")).await;
            redirect_with(&req, "/apikeys", result)
        }
        other => redirect_with(&req, "/apikeys", Err(format!("unknown action {other:?}"))),
    }
}

/// Makes a key owned by the caller.
async fn create(ctx: &Ctx, who: &Principal, f: &Form) -> Result<Created, String> {
    let name = f.need("name", "Name")?.to_string();
    let scope: Scope = f.need("scope", "Scope")?.parse()?;
    let (store, owner) = (ctx.store.clone(), who.address.to_lowercase());
    let (info, key) = web::block(move || apikey::create(&store, &owner, &name, scope))
        .await
        .map_err(|e| format!("worker: {e}"))??;
    Ok(Created { id: info.id, key })
}

/// Revokes a key the caller may see; others read as unknown (as the API answers).
async fn revoke(ctx: &Ctx, who: &Principal, id: &str) -> Result<String, String> {
    if !keys_of(ctx, who)?.iter().any(|k| k.id == id) {
        return Err(format!("no API key {id}"));
    }
    run(ctx, AdminCommand::ApiKeyDel(id.to_string())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_iso8601_or_never() {
        assert_eq!(when(None), "never");
        assert_eq!(when(Some(0)), "1970-01-01T00:00:00Z");
    }
}
