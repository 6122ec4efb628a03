//! The admin dashboard: server-rendered pages on the `admin` listener (docs/architecture.md
//! §2, HTTP fronts), and the static files every listener shares.
//!
//! Pages read through the store's read traits and the actors' counters; every change is an
//! [`AdminCommand`] run by the live executor (`admin::socket::execute_live`), the same path
//! the console and the API take, so the dashboard holds no second copy of a rule. Forms post
//! (with the session's CSRF token) to handlers that run the command and redirect back with a
//! one-shot flash message (post/redirect/get). Admins see everything; domain admins only
//! their domains' accounts, aliases, folders, DKIM keys, fetch sources and queue records,
//! enforced here on the server side, not by hiding links. Templates live in
//! `web/templates` and are compiled with the code (askama); no script or style is inline,
//! as the Content-Security-Policy forbids them. Work on many records (a bulk queue change, a check of the store) runs as a
//! job (`http::jobs`) with a live progress bar on the jobs page (`jobs`, `bulk`).

mod apikeys;
mod assets;
mod bulk;
mod calendars;
mod dns;
mod folders;
mod forms;
mod jobs;
mod login;
// The QR code of a TOTP secret, for webmail's two-factor settings too.
pub(crate) use login::qr_svg;
mod overview;
// The overview's live figures (the activity counter's tests read them).
#[cfg(test)]
pub(crate) use overview::snapshot as live_snapshot;
mod pages;
mod queues;
mod sources;

use std::sync::Arc;

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::actors::ServerContext;
use crate::admin::AdminCommand;
use crate::http::auth::{Principal, Role, Via};

/// The server context as the listeners' apps hold it.
pub(crate) type Ctx = web::Data<Arc<ServerContext>>;

/// The admin listener's pages, `/static/…` and the overview's event stream.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{name:.*}", web::get().to(assets::serve))
        .route("/", web::get().to(overview::page))
        .route("/events", web::get().to(overview::events))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/login/code", web::get().to(login::code_form))
        .route("/login/code", web::post().to(login::code_submit))
        .route("/logout", web::post().to(login::logout))
        .route("/twofa", web::get().to(login::twofa_page))
        .route("/twofa", web::post().to(login::twofa_post))
        .route("/domains", web::get().to(pages::domains))
        .route("/domains", web::post().to(pages::domains_post))
        .route("/accounts", web::get().to(pages::accounts))
        .route("/accounts", web::post().to(pages::accounts_post))
        .route("/aliases", web::get().to(pages::aliases))
        .route("/aliases", web::post().to(pages::aliases_post))
        .route("/folders", web::get().to(folders::page))
        .route("/folders", web::post().to(folders::post))
        .route("/calendars", web::get().to(calendars::page))
        .route("/calendars", web::post().to(calendars::post))
        .route("/calendars/import", web::post().to(calendars::import))
        .route("/calendars/export", web::get().to(calendars::export))
        .route("/queues", web::get().to(queues::list))
        .route("/queues", web::post().to(bulk::action))
        .route("/queues/record/{id}", web::get().to(queues::record))
        .route("/jobs", web::get().to(jobs::list))
        .route("/jobs", web::post().to(jobs::start))
        .route("/jobs/events", web::get().to(jobs::events))
        .route("/jobs/{id}", web::get().to(jobs::show))
        .route("/jobs/{id}/events", web::get().to(jobs::job_events))
        .route("/screening", web::get().to(pages::screening))
        .route("/screening", web::post().to(pages::screening_post))
        .route("/sources", web::get().to(sources::page))
        .route("/sources", web::post().to(sources::post))
        .route("/dkim", web::get().to(pages::dkim))
        .route("/dkim", web::post().to(pages::dkim_post))
        .route("/dns", web::get().to(dns::page))
        .route("/apikeys", web::get().to(apikeys::page))
        .route("/apikeys", web::post().to(apikeys::post))
        .route("/logs", web::get().to(pages::logs))
        .route("/settings", web::get().to(pages::settings))
        .route("/settings", web::post().to(pages::settings_post));
}

/// The `http` and `https` listeners: the shared static files (webmail's pages link them
/// too).
pub fn web_configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{name:.*}", web::get().to(assets::serve));
}

/// The URL of a static file with its version (for pages outside the dashboard: webmail).
pub fn asset_url(name: &str) -> String {
    assets::url(name)
}

/// A one-shot message shown on the page a form redirects to.
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

/// What the frame of every page shows: who is logged in, the navigation their role
/// allows, the CSRF token for forms, the flash message and the asset URLs.
pub struct Chrome {
    pub who: String,
    pub admin: bool,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// The navigation entry to mark current.
    pub page: &'static str,
    pub css: String,
    pub app_js: String,
}

impl Chrome {
    /// The frame for `principal` on `page`; takes the flash message from the request.
    pub fn new(req: &HttpRequest, principal: &Principal, page: &'static str) -> Chrome {
        Chrome {
            who: principal.address.clone(),
            admin: principal.is_admin(),
            csrf: crate::http::csrf::token(req).unwrap_or_default(),
            flash: read_flash(req),
            page,
            css: assets::url("app.css"),
            app_js: assets::url("app.js"),
        }
    }

    /// The frame of the pages shown before login.
    pub fn anonymous(req: &HttpRequest, page: &'static str) -> Chrome {
        Chrome {
            who: String::new(),
            admin: false,
            csrf: crate::http::csrf::token(req).unwrap_or_default(),
            flash: read_flash(req),
            page,
            css: assets::url("app.css"),
            app_js: assets::url("app.js"),
        }
    }

    /// Whether `path` is the navigation entry of this page.
    pub fn current(&self, path: &str) -> bool {
        self.page == path
    }

    /// The navigation: (path, label) pairs the role may open.
    pub fn nav(&self) -> Vec<(&'static str, &'static str)> {
        let mut v = vec![
            ("/", "Overview"),
            ("/domains", "Domains"),
            ("/accounts", "Accounts"),
            ("/aliases", "Aliases"),
            ("/folders", "Folders"),
            ("/calendars", "Calendars"),
            ("/queues", "Queues"),
            ("/jobs", "Jobs"),
            ("/dkim", "DKIM"),
            ("/dns", "DNS"),
            ("/sources", "Sources"),
            ("/apikeys", "API keys"),
        ];
        if self.admin {
            v.extend([
                ("/screening", "Screening"),
                ("/logs", "Logs"),
                ("/settings", "Settings"),
            ]);
        }
        v.push(("/twofa", "Two-factor"));
        v
    }
}

const FLASH: &str = "fm_flash";

fn read_flash(req: &HttpRequest) -> Option<Flash> {
    let c = req.cookie(FLASH)?;
    let raw = percent_decode(c.value());
    let (kind, text) = raw.split_once(':')?;
    Some(Flash {
        ok: kind == "ok",
        text: text.to_string(),
    })
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn flash_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(FLASH, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// A `303 See Other` to `to` carrying a flash message: the result of a form post.
pub fn redirect_with(req: &HttpRequest, to: &str, result: Result<String, String>) -> HttpResponse {
    let (kind, text) = match result {
        Ok(t) => ("ok", t),
        Err(t) => ("err", t),
    };
    // Cookies are small: a long command output is cut (the console shows it whole).
    let mut text: String = text.trim().chars().take(1500).collect();
    if text.is_empty() {
        text = "done".into();
    }
    let value: String =
        form_urlencoded::byte_serialize(format!("{kind}:{text}").as_bytes()).collect();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .cookie(flash_cookie(value, is_https(req)))
        .finish()
}

/// A `303 See Other` to `to`.
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// Renders a page; clears the flash cookie when the page showed one. Pages are never
/// cached: they show live state and carry the CSRF token.
pub fn render<T: Template>(req: &HttpRequest, chrome: &Chrome, t: &T) -> HttpResponse {
    match t.render() {
        Ok(html) => {
            let mut resp = HttpResponse::Ok();
            resp.content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"));
            if chrome.flash.is_some() {
                let mut gone = flash_cookie(String::new(), is_https(req));
                gone.set_max_age(CookieAge::ZERO);
                resp.cookie(gone);
            }
            resp.body(html)
        }
        Err(e) => {
            tracing::error!("dashboard: template: {e}");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("the page could not be drawn; see the server log\n")
        }
    }
}

/// What a page needs of the caller.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// An admin or a domain admin.
    Manager,
    /// An admin of the whole server.
    Admin,
}

/// The logged-in caller, or the answer to give instead: a redirect to the login page
/// without a session (Basic and API keys are for the API), 403 for a user or a domain
/// admin on an admin page.
pub async fn gate(ctx: &Ctx, req: &HttpRequest, need: Need) -> Result<Principal, HttpResponse> {
    let who = match crate::http::auth::principal(ctx, req).await {
        // Only a session: a browser resends HTTP Basic credentials on its own, even on a
        // post from another site, and the CSRF check exempts them (they are for the API).
        Ok(Some(p)) if p.via == Via::Session => p,
        Ok(_) => return Err(redirect("/login")),
        Err(e) => return Err(actix_web::ResponseError::error_response(&e)),
    };
    let allowed = match need {
        Need::Manager => who.is_manager(),
        Need::Admin => who.is_admin(),
    };
    if allowed {
        Ok(who)
    } else {
        Err(HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("This page is for administrators.\n"))
    }
}

/// Runs one admin command on the live server, as the console would.
pub async fn run(ctx: &Ctx, cmd: AdminCommand) -> Result<String, String> {
    crate::admin::socket::execute_live(ctx.get_ref(), cmd).await
}

/// The domains `who` may see, sorted: all local domains for an admin.
pub fn visible_domains(ctx: &ServerContext, who: &Principal) -> Result<Vec<String>, String> {
    let mut all = ctx.store.list_domains().map_err(|e| e.to_string())?;
    all.retain(|d| who.may_domain(d));
    all.sort();
    Ok(all)
}

/// Whether `who` may act on `address` (by its domain), with the refusal to show otherwise.
pub fn may(who: &Principal, address: &str) -> Result<(), String> {
    if who.may_address(address) {
        Ok(())
    } else {
        Err(format!("{address}: not in a domain you administer"))
    }
}

/// A role's name as the pages show it.
pub fn role_name(role: &Role) -> String {
    match role {
        Role::Admin => "administrator".into(),
        Role::DomainAdmin(ds) => format!("administrator of {}", ds.join(", ")),
        Role::User => "user".into(),
    }
}

/// Pages of a long list: `page` is 1-based.
pub struct Pager {
    pub page: usize,
    pub pages: usize,
    pub total: usize,
}

pub const PAGE_SIZE: usize = 50;

impl Pager {
    /// Cuts `items` to page `page` (clamped to the pages there are).
    pub fn cut<T>(items: Vec<T>, page: usize) -> (Vec<T>, Pager) {
        let total = items.len();
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = page.clamp(1, pages);
        let shown = items
            .into_iter()
            .skip((page - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .collect();
        (shown, Pager { page, pages, total })
    }
}

/// `&k=v…` for the non-empty pairs, encoded: what a pager's links append to `?page=N`.
pub fn query_tail(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.push('&');
        out.push_str(k);
        out.push('=');
        out.extend(form_urlencoded::byte_serialize(v.as_bytes()));
    }
    out
}
