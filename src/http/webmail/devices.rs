//! `/settings/devices`: the logged-in account's remembered devices ([`super::remember`]):
//! each one's label, when it was remembered and last used, with "Forget" per device and
//! "Forget all". Forms post with the CSRF token and an `action`; the answer is a redirect
//! back with a flash message (post/redirect/get). Forgetting the device the request comes
//! from also removes its cookie.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::login::field;
use super::prefs::{self, Prefs};
use super::remember;
use super::{call, to_login, user, MailError};
use crate::http::dashboard::{redirect_with, render, Chrome, Ctx};
use crate::storage::DeviceRecord;

/// One device as the page shows it.
struct Row {
    id: String,
    label: String,
    created: String,
    last_used: String,
    expires: String,
    /// The request comes from this device.
    this: bool,
}

#[derive(Template)]
#[template(path = "mail/devices.html")]
struct DevicesPage {
    chrome: Chrome,
    css: String,
    rows: Vec<Row>,
    /// `[http] remember_device_days` (0: the feature is off).
    days: u32,
}

/// `GET /settings/devices`.
pub async fn page(ctx: Ctx, req: HttpRequest) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let who = me.clone();
    let now = ctx.clock.now();
    let (prefs, devices) = call(&ctx, move |b| {
        let devices = b.ctx.store.device_list(Some(&who)).map_err(|e| {
            tracing::warn!("webmail: devices of {who}: {e}");
            MailError::Unavailable
        })?;
        Ok((prefs::load(b, &who)?, devices))
    })
    .await?;
    let this = remember::presented_id(&req);
    let rows = devices
        .into_iter()
        // An expired record opens nothing; it is deleted when next presented.
        .filter(|d| i64::try_from(d.expires).is_ok_and(|e| e > now))
        .map(|d| row(&prefs, d, this.as_deref()))
        .collect();
    let mut chrome = Chrome::anonymous(&req, "/settings");
    chrome.who = me;
    let t = DevicesPage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        rows,
        days: remember::days(&ctx),
    };
    Ok(render(&req, &t.chrome, &t))
}

fn row(prefs: &Prefs, d: DeviceRecord, this: Option<&str>) -> Row {
    let at = |t: u64| prefs::format_for(prefs, i64::try_from(t).unwrap_or(i64::MAX));
    Row {
        this: this == Some(d.id.as_str()),
        created: at(d.created),
        last_used: at(d.last_used),
        expires: at(d.expires),
        label: d.label,
        id: d.id,
    }
}

/// `POST /settings/devices`: `action=forget` (id) or `action=forget-all`.
pub async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let action = field(&body, "action");
    let id = field(&body, "id");
    let all = match action.as_str() {
        "forget" => false,
        "forget-all" => true,
        other => return Err(MailError::Invalid(format!("unknown action {other:?}"))),
    };
    let (sctx, who, gone) = (ctx.get_ref().clone(), me, id.clone());
    let done = web::block(move || {
        let n = if all {
            sctx.store.device_delete_all(&who)?
        } else {
            u64::from(sctx.store.device_delete(&who, &gone)?)
        };
        sctx.store.commit()?;
        Ok::<_, crate::storage::StorageError>(n)
    })
    .await;
    let result = match done {
        Ok(Ok(0)) if !all => Err("No such device.".to_string()),
        Ok(Ok(n)) if all => Ok(format!("Forgot {n} device(s).")),
        Ok(Ok(_)) => Ok("Device forgotten.".to_string()),
        Ok(Err(e)) => {
            tracing::warn!("webmail: forgetting devices: {e}");
            Err("The devices could not be changed; try again later.".to_string())
        }
        Err(e) => {
            tracing::error!("webmail: blocking call failed: {e}");
            Err("The devices could not be changed; try again later.".to_string())
        }
    };
    let mine = remember::presented_id(&req).is_some_and(|this| all || this == id);
    let mut resp = redirect_with(&req, "/settings/devices", result);
    if mine {
        if let Err(e) = resp.add_cookie(&remember::removal()) {
            tracing::warn!("webmail: cannot remove the device cookie: {e}");
        }
    }
    Ok(resp)
}
