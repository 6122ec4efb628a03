//! PROPFIND and PROPPATCH on calendar and address-book homes, collections and objects
//! (RFC 4918 §9.1-9.2 with the properties of RFC 4791 §5.2, RFC 6352 §6.2, RFC 6578
//! §4 (sync-token), RFC 3744 §5.4 (current-user-privilege-set), RFC 4331 (quota) and
//! Apple's `getctag` and `calendar-color`), and the CalDAV/CardDAV properties of a
//! principal (home sets, calendar-user-address-set).
//!
//! Implementation notes:
//!
//! - Depth 1 on a collection streams its multistatus: the objects are read once from
//!   the store and each `response` is written as the body is sent, a few dozen per chunk,
//!   so the answer is never held whole beside the objects (measured on 10,000 events in
//!   `cal_tests.rs`).
//! - allprop gives the RFC 4918 properties a resource has (resourcetype, displayname,
//!   getetag, getcontenttype, getcontentlength) and what `include` names; propname lists
//!   every property the resource has.
//! - PROPPATCH sets `displayname`, `calendar-color`, `calendar-description` and
//!   `addressbook-description` on a collection. There is no dead-property store for
//!   calendars and address books: any other property fails with 403 (all or nothing, RFC
//!   4918 §9.2: the rest 424).

use std::io;
use std::sync::Arc;

use futures_util::StreamExt;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use quick_xml::escape::escape;

use super::calcommon::{find_collection, kind_ns, schedule_tag, CALSERVER, ICAL};
use super::calobjects::{content_type, last_modified, time_of};
use super::locks::{discovery, key_of};
use super::mkcalendar::{description, set_prop};
use super::props::SUPPORTED_LOCK;
use super::props::{
    href, multistatus_response, principal_href, propfind_depth, quota_facts, Facts,
};
use super::report::sync_token_uri;
use super::share::{shared_of, shared_with, Privileges};
use super::{blocking, collection_href, home_href, object_href, xml_body, Ctx, DavError, Target};
use crate::actors::ServerContext;
use crate::protocols::davreport::SUPPORTED;
use crate::protocols::webdav::acl::{ACL_RESTRICTIONS, SUPPORTED_PRIVILEGES};
use crate::protocols::webdav::headers::Depth;
use crate::protocols::webdav::multistatus::{write_response, Prop, Response};
use crate::protocols::webdav::report::{CALDAV, CARDDAV};
use crate::protocols::webdav::request::{self, PatchOp, Propfind};
use crate::protocols::webdav::xml::{Element, DAV};
use crate::protocols::webdav::PropName;
use crate::storage::davstore::{CollectionKind, DavCollection, DavObject};

/// Objects per store read of a streamed Depth 1 listing.
const PER_PAGE: usize = 512;
/// Responses per body chunk, and the room a chunk starts with (a few hundred bytes per
/// response; kept under the allocator's threshold for mapping fresh pages).
const PER_CHUNK: usize = 64;
const CHUNK_BYTES: usize = 32 * 1024;

/// A resource PROPFIND describes.
pub(crate) enum Res<'a> {
    Home {
        owner: &'a str,
        kind: CollectionKind,
    },
    Coll(&'a DavCollection),
    Obj(&'a DavCollection, &'a DavObject),
}

impl Res<'_> {
    fn href(&self) -> String {
        match self {
            Res::Home { owner, kind } => home_href(owner, *kind),
            Res::Coll(c) => collection_href(&c.owner, c.kind, &c.name),
            Res::Obj(c, o) => object_href(&c.owner, c.kind, &c.name, &o.name),
        }
    }

    fn owner(&self) -> &str {
        match self {
            Res::Home { owner, .. } => owner,
            Res::Coll(c) | Res::Obj(c, _) => &c.owner,
        }
    }
}

/// What values need besides the resource.
pub(crate) struct Env {
    pub facts: Facts,
    pub max_size: u64,
    /// The caller's privileges on the resource asked about (`cal::access`).
    pub privileges: Privileges,
    /// On the collections of a home listed to a sharee (by id), where they differ.
    pub per_collection: Vec<(u64, Privileges)>,
    /// The stored ACLs of the collections answered (by id), when `acl` is asked for.
    pub acls: Vec<(u64, Vec<(String, String)>)>,
}

impl Env {
    fn privileges_on(&self, res: &Res) -> Privileges {
        let id = match res {
            Res::Coll(c) | Res::Obj(c, _) => Some(c.id),
            Res::Home { .. } => None,
        };
        id.and_then(|id| self.per_collection.iter().find(|(c, _)| *c == id))
            .map_or(self.privileges, |(_, p)| *p)
    }

    /// The `acl` of a collection, for the owner and sharees with "a" (`super::acl`).
    fn acl_of(&self, res: &Res) -> Option<String> {
        let Res::Coll(c) = res else { return None };
        let p = self.privileges_on(res);
        if !(p.owner || p.admin) {
            return None;
        }
        self.acls
            .iter()
            .find(|(id, _)| *id == c.id)
            .map(|(_, entries)| super::acl::acl_value(c, entries))
    }

    /// Whether `name` is refused to the caller on `res` (403 in its propstat).
    fn denied(&self, res: &Res, name: &PropName) -> bool {
        let p = self.privileges_on(res);
        matches!(res, Res::Coll(_)) && *name == PropName::dav("acl") && !(p.owner || p.admin)
    }
}

/// Whether a PROPFIND asks for `acl` (its value needs the stored ACL).
fn asks_acl(ask: &Propfind) -> bool {
    match ask {
        Propfind::Prop(names) => names.contains(&PropName::dav("acl")),
        Propfind::AllProp { include } => include.contains(&PropName::dav("acl")),
        Propfind::PropName => false,
    }
}

/// The lock table's key of `res` (`None` for a home: not lockable).
fn lock_key(res: &Res) -> Option<(String, String)> {
    let target = match res {
        Res::Home { .. } => return None,
        Res::Coll(c) => Target::Collection {
            owner: c.owner.clone(),
            kind: c.kind,
            name: c.name.clone(),
        },
        Res::Obj(c, o) => Target::Object {
            owner: c.owner.clone(),
            kind: c.kind,
            collection: c.name.clone(),
            name: o.name.clone(),
        },
    };
    key_of(&target)
}

/// `<X:local xmlns:X="ns" attrs/>` for a value holding an element of another namespace.
fn empty_el(ns: &str, local: &str, attrs: &str) -> String {
    if ns == DAV {
        format!("<D:{local}{attrs}/>")
    } else {
        format!("<X:{local} xmlns:X=\"{ns}\"{attrs}/>")
    }
}

/// Every property name a resource may have, for propname (those without a value are
/// left out per resource).
fn known() -> Vec<PropName> {
    let mut v: Vec<PropName> = [
        "resourcetype",
        "displayname",
        "getetag",
        "getcontenttype",
        "getcontentlength",
        "getlastmodified",
        "supportedlock",
        "lockdiscovery",
        "sync-token",
        "supported-report-set",
        "current-user-principal",
        "current-user-privilege-set",
        "owner",
        "acl",
        "acl-restrictions",
        "supported-privilege-set",
        "inherited-acl-set",
        "quota-used-bytes",
        "quota-available-bytes",
    ]
    .iter()
    .map(|l| PropName::dav(l))
    .collect();
    let n = |ns: &str, l: &str| PropName {
        ns: ns.to_string(),
        local: l.to_string(),
    };
    v.extend([
        n(CALSERVER, "getctag"),
        n(CALDAV, "supported-calendar-component-set"),
        n(CALDAV, "supported-calendar-data"),
        n(CALDAV, "max-resource-size"),
        n(CALDAV, "calendar-description"),
        n(CALDAV, "calendar-home-set"),
        n(CALDAV, "schedule-tag"),
        n(ICAL, "calendar-color"),
        n(CARDDAV, "addressbook-description"),
        n(CARDDAV, "supported-address-data"),
        n(CARDDAV, "max-resource-size"),
        n(CARDDAV, "addressbook-home-set"),
    ]);
    v
}

/// The RFC 4918 properties allprop answers.
const ALLPROP: [&str; 8] = [
    "resourcetype",
    "displayname",
    "getetag",
    "getcontenttype",
    "getcontentlength",
    "getlastmodified",
    "supportedlock",
    "lockdiscovery",
];

/// The value of property `name` of `res` (already XML), `None` when it has none.
pub(crate) fn value(res: &Res, name: &PropName, env: &Env) -> Option<String> {
    let coll = match res {
        Res::Coll(c) => Some(*c),
        _ => None,
    };
    let kind = match res {
        Res::Home { kind, .. } => *kind,
        Res::Coll(c) | Res::Obj(c, _) => c.kind,
    };
    let is_cal = kind == CollectionKind::Calendar;
    let text = |s: &str| (!s.is_empty()).then(|| escape(s).into_owned());
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "resourcetype") => Some(match res {
            Res::Home { .. } => "<D:collection/>".into(),
            Res::Coll(c) if c.kind == CollectionKind::Calendar => {
                super::schedule::resourcetype(&c.name).unwrap_or_else(|| {
                    format!("<D:collection/>{}", empty_el(CALDAV, "calendar", ""))
                })
            }
            Res::Coll(_) => format!("<D:collection/>{}", empty_el(CARDDAV, "addressbook", "")),
            Res::Obj(..) => String::new(),
        }),
        (DAV, "displayname") => match res {
            Res::Home { owner, .. } => text(owner),
            Res::Coll(c) if c.props.display_name.is_empty() => text(&c.name),
            Res::Coll(c) => text(&c.props.display_name),
            Res::Obj(..) => None,
        },
        (DAV, "getetag") => match res {
            Res::Obj(_, o) => text(&o.etag),
            _ => None,
        },
        (DAV, "getcontenttype") => match res {
            Res::Obj(c, o) => text(&content_type(c.kind, &o.component)),
            _ => None,
        },
        (DAV, "getcontentlength") => match res {
            Res::Obj(_, o) => Some(o.data.len().to_string()),
            _ => None,
        },
        // A collection's: its last member write or property change (the store's time).
        (DAV, "getlastmodified") => match res {
            Res::Obj(_, o) => last_modified(o),
            Res::Coll(c) => time_of(c.modified),
            _ => None,
        },
        // Locks (class 2, `super::callocks`): on collections and objects, not homes.
        (DAV, "supportedlock") => lock_key(res).map(|_| SUPPORTED_LOCK.to_string()),
        (DAV, "lockdiscovery") => lock_key(res).map(|(space, path)| discovery(&space, &path)),
        (DAV, "sync-token") => coll.map(|c| escape(sync_token_uri(c.sync).as_str()).into_owned()),
        (CALSERVER, "getctag") => coll.map(|c| format!("\"{}\"", c.sync).replace('"', "&quot;")),
        (DAV, "supported-report-set") => coll.map(|c| {
            let ns = kind_ns(c.kind);
            SUPPORTED
                .iter()
                .filter(|(n, _)| *n == ns || *n == DAV)
                .map(|(n, l)| {
                    format!(
                        "<D:supported-report><D:report>{}</D:report></D:supported-report>",
                        empty_el(n, l, "")
                    )
                })
                .collect()
        }),
        (DAV, "current-user-principal") => Some(href(&principal_href(&env.facts.me))),
        (DAV, "current-user-privilege-set") => Some(env.privileges_on(res).xml()),
        // Public collections have no owner: an empty `owner` (RFC 3744 §5.1).
        (DAV, "owner") if res.owner() == crate::storage::PUBLIC_OWNER => Some(String::new()),
        (DAV, "owner") => Some(href(&principal_href(res.owner()))),
        (DAV, "acl") => env.acl_of(res),
        (DAV, "acl-restrictions") => coll.map(|_| ACL_RESTRICTIONS.to_string()),
        (DAV, "supported-privilege-set") => coll.map(|_| SUPPORTED_PRIVILEGES.to_string()),
        (DAV, "inherited-acl-set") => coll.map(|_| String::new()),
        (CALDAV, "schedule-tag") => match res {
            Res::Obj(c, o) => schedule_tag(c.kind, o).map(|t| escape(t.as_str()).into_owned()),
            _ => None,
        },
        (DAV, "quota-used-bytes") if !matches!(res, Res::Obj(..)) => {
            Some(env.facts.used.to_string())
        }
        (DAV, "quota-available-bytes") if !matches!(res, Res::Obj(..)) => Some(
            env.facts
                .available
                .map_or_else(|| "9223372036854775807".to_string(), |a| a.to_string()),
        ),
        (CALDAV, "supported-calendar-component-set") if is_cal => coll.map(|c| {
            c.components
                .iter()
                .map(|k| empty_el(CALDAV, "comp", &format!(" name=\"{}\"", escape(k.as_str()))))
                .collect()
        }),
        (CALDAV, "supported-calendar-data") if is_cal => coll.map(|_| {
            empty_el(
                CALDAV,
                "calendar-data",
                " content-type=\"text/calendar\" version=\"2.0\"",
            )
        }),
        (CALDAV, "max-resource-size") if is_cal => coll.map(|_| env.max_size.to_string()),
        (CARDDAV, "max-resource-size") if !is_cal => coll.map(|_| env.max_size.to_string()),
        (CALDAV, "calendar-description") | (CARDDAV, "addressbook-description")
            if name.ns == kind_ns(kind) && name.local == description(kind) =>
        {
            coll.and_then(|c| text(&c.props.description))
        }
        (ICAL, "calendar-color") if is_cal => coll.and_then(|c| text(&c.props.color)),
        (CARDDAV, "supported-address-data") if !is_cal => coll.map(|_| {
            ["3.0", "4.0"]
                .iter()
                .map(|v| {
                    empty_el(
                        CARDDAV,
                        "address-data-type",
                        &format!(" content-type=\"text/vcard\" version=\"{v}\""),
                    )
                })
                .collect()
        }),
        (CALDAV, "calendar-home-set") if is_cal => Some(href(&home_href(res.owner(), kind))),
        (CARDDAV, "addressbook-home-set") if !is_cal => Some(href(&home_href(res.owner(), kind))),
        _ => None,
    }
}

/// The `response` of `res` to `ask`.
pub(crate) fn response(res: &Res, ask: &Propfind, env: &Env) -> Response {
    let (mut found, mut missing, mut denied) = (Vec::new(), Vec::new(), Vec::new());
    match ask {
        Propfind::PropName => {
            for name in known() {
                if value(res, &name, env).is_some() {
                    found.push(Prop { name, value: None });
                }
            }
        }
        Propfind::AllProp { include } => {
            let names = ALLPROP
                .iter()
                .map(|l| PropName::dav(l))
                .chain(include.iter().cloned());
            for name in names {
                if found.iter().any(|p: &Prop| p.name == name) {
                    continue;
                }
                // An included property the caller may not read is refused as under `prop`.
                if env.denied(res, &name) {
                    if !denied.iter().any(|p: &Prop| p.name == name) {
                        denied.push(Prop { name, value: None });
                    }
                    continue;
                }
                if let Some(v) = value(res, &name, env) {
                    found.push(Prop {
                        name,
                        value: Some(v),
                    });
                }
            }
        }
        Propfind::Prop(names) => {
            for name in names {
                if env.denied(res, name) {
                    denied.push(Prop {
                        name: name.clone(),
                        value: None,
                    });
                    continue;
                }
                match value(res, name, env) {
                    Some(v) => found.push(Prop {
                        name: name.clone(),
                        value: Some(v),
                    }),
                    None => missing.push(Prop {
                        name: name.clone(),
                        value: None,
                    }),
                }
            }
        }
    }
    Response::Props {
        href: res.href(),
        propstats: vec![(200, found), (403, denied), (404, missing)],
    }
}

/// The collection `name` of `owner` if it is of `kind`, else 404.
fn find(
    ctx: &std::sync::Arc<crate::actors::ServerContext>,
    owner: &str,
    kind: CollectionKind,
    name: &str,
) -> Result<DavCollection, DavError> {
    find_collection(&ctx.store, owner, kind, name)?.ok_or_else(DavError::not_found)
}

const MS_OPEN: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">";
const MS_CLOSE: &str = "</D:multistatus>";

/// A collection's Depth 1 listing in progress: the store is read one page of
/// [`PER_PAGE`] objects at a time as the body is sent, and each page goes out in chunks of
/// [`PER_CHUNK`] responses, so the memory a PROPFIND holds is one page whatever the
/// collection's size.
struct Listing {
    ctx: Arc<ServerContext>,
    col: DavCollection,
    ask: Propfind,
    env: Env,
    /// Read from the store, not yet sent.
    page: std::vec::IntoIter<DavObject>,
    /// The last name read; the next page starts after it.
    after: Option<String>,
    /// Whether objects are listed at all (Depth 1) and the last page has not been read.
    more: bool,
}

/// The next chunk of a [`Listing`]: responses, then the closing tag. A store error once
/// the 207 is on its way can only end the body early: the stream fails, so the client sees
/// a broken transfer, never a short listing that looks whole.
async fn next_chunk(
    state: Option<Listing>,
) -> Option<(Result<web::Bytes, io::Error>, Option<Listing>)> {
    let mut s = state?;
    if s.page.len() == 0 && s.more {
        let (ctx, id, after) = (s.ctx.clone(), s.col.id, s.after.take());
        let page =
            blocking(move || Ok(ctx.store.dav_objects_page(id, after.as_deref(), PER_PAGE)?)).await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(collection = id, error = %e.message, "PROPFIND listing failed");
                return Some((Err(io::Error::other(e.message)), None));
            }
        };
        s.more = page.len() == PER_PAGE;
        s.after = page.last().map(|o| o.name.clone());
        s.page = page.into_iter();
    }
    if s.page.len() == 0 {
        return Some((Ok(web::Bytes::from_static(MS_CLOSE.as_bytes())), None));
    }
    // Sized once: a chunk that grew by doubling would copy itself over and over.
    let mut chunk = String::with_capacity(CHUNK_BYTES);
    for o in s.page.by_ref().take(PER_CHUNK) {
        write_response(&mut chunk, &response(&Res::Obj(&s.col, &o), &s.ask, &s.env));
    }
    Some((Ok(web::Bytes::from(chunk)), Some(s)))
}

/// PROPFIND on a home, collection or object (depth 0 or 1).
pub(crate) async fn propfind(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    target: &Target,
    privileges: Privileges,
) -> Result<HttpResponse, DavError> {
    let depth = propfind_depth(req)?;
    let ask = request::parse_propfind(&xml_body(payload).await?)?;
    let c = ctx.get_ref().clone();
    let env = Env {
        facts: {
            let (c, me) = (c.clone(), me.to_string());
            blocking(move || quota_facts(&c, &me)).await?
        },
        max_size: ctx.config().http.dav_max_resource_size,
        privileges,
        per_collection: Vec::new(),
        acls: Vec::new(),
    };
    let want_acl = asks_acl(&ask);
    let mut env = env;
    match target.clone() {
        Target::Home { owner, kind } => {
            let me = me.to_string();
            let shared = blocking(move || {
                if privileges.owner {
                    let mut all: Vec<(DavCollection, Privileges)> = c
                        .store
                        .dav_collections(&owner)?
                        .into_iter()
                        .map(|col| (col, Privileges::OWNER))
                        .collect();
                    // What others (or the public folders) share with the owner is listed
                    // in its own home, under the sharer's URL: clients find calendars by
                    // listing the one home their principal names.
                    if owner == me {
                        all.extend(shared_with(&c.store, &me, kind)?);
                    }
                    Ok(all)
                } else {
                    // A sharee sees what it may read, nothing else.
                    shared_of(&c.store, &me, &owner, kind)
                }
            })
            .await?;
            env.per_collection = shared.iter().map(|(c, p)| (c.id, *p)).collect();
            if want_acl && depth == Depth::One {
                let (c, ids) = (ctx.get_ref().clone(), shared.iter().map(|(c, _)| c.id));
                let ids: Vec<u64> = ids.collect();
                env.acls = blocking(move || {
                    ids.into_iter()
                        .map(|id| Ok((id, c.store.dav_get_acl(id)?)))
                        .collect::<Result<Vec<_>, DavError>>()
                })
                .await?;
            }
            let cols: Vec<DavCollection> = shared.into_iter().map(|(c, _)| c).collect();
            let env = env;
            let owner = match target {
                Target::Home { owner, .. } => owner.as_str(),
                _ => unreachable!("matched above"),
            };
            let mut out = vec![response(&Res::Home { owner, kind }, &ask, &env)];
            if depth == Depth::One {
                for col in cols.iter().filter(|c| c.kind == kind) {
                    out.push(response(&Res::Coll(col), &ask, &env));
                }
            }
            Ok(multistatus_response(&out))
        }
        Target::Collection { owner, kind, name } => {
            let (col, acl) = {
                let c = c.clone();
                blocking(move || {
                    let col = find(&c, &owner, kind, &name)?;
                    let acl = if want_acl {
                        vec![(col.id, c.store.dav_get_acl(col.id)?)]
                    } else {
                        Vec::new()
                    };
                    Ok((col, acl))
                })
                .await?
            };
            env.acls = acl;
            let mut head = String::from(MS_OPEN);
            write_response(&mut head, &response(&Res::Coll(&col), &ask, &env));
            let listing = Listing {
                ctx: c,
                col,
                ask,
                env,
                page: Vec::new().into_iter(),
                after: None,
                more: depth == Depth::One,
            };
            let body = futures_util::stream::unfold(Some(listing), next_chunk);
            let all = futures_util::stream::iter([Ok(web::Bytes::from(head))]).chain(body);
            Ok(HttpResponse::build(StatusCode::MULTI_STATUS)
                .content_type("application/xml; charset=utf-8")
                .streaming(all))
        }
        Target::Object {
            owner,
            kind,
            collection,
            name,
        } => {
            let (col, obj) = blocking(move || {
                let col = find(&c, &owner, kind, &collection)?;
                let obj = c
                    .store
                    .dav_get(col.id, &name)?
                    .ok_or_else(DavError::not_found)?;
                Ok((col, obj))
            })
            .await?;
            Ok(multistatus_response(&[response(
                &Res::Obj(&col, &obj),
                &ask,
                &env,
            )]))
        }
        _ => Err(DavError::not_found()),
    }
}

/// The element a PROPPATCH remove stands for: the name with no value.
fn bare(name: &PropName) -> Element {
    Element {
        ns: name.ns.clone(),
        local: name.local.clone(),
        ..Element::default()
    }
}

/// PROPPATCH: on a collection, the settable properties (module comment), all or nothing;
/// on a home or an object, nothing is settable.
pub(crate) async fn proppatch(
    ctx: &Ctx,
    payload: web::Payload,
    target: &Target,
) -> Result<HttpResponse, DavError> {
    let ops = request::parse_proppatch(&xml_body(payload).await?)?;
    let c = ctx.get_ref().clone();
    let (here, col) = match target.clone() {
        Target::Collection { owner, kind, name } => {
            let col = blocking(move || find(&c, &owner, kind, &name)).await?;
            (collection_href(&col.owner, col.kind, &col.name), Some(col))
        }
        Target::Home { owner, kind } => (home_href(&owner, kind), None),
        Target::Object {
            owner,
            kind,
            collection,
            name,
        } => {
            let (o, cn, n) = (owner.clone(), collection.clone(), name.clone());
            blocking(move || {
                let col = find(&c, &o, kind, &cn)?;
                c.store
                    .dav_get(col.id, &n)?
                    .ok_or_else(DavError::not_found)?;
                Ok(())
            })
            .await?;
            (object_href(&owner, kind, &collection, &name), None)
        }
        _ => return Err(DavError::not_found()),
    };
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    let mut props = col.as_ref().map(|c| c.props.clone()).unwrap_or_default();
    for op in &ops {
        let (name, el) = match op {
            PatchOp::Set(n, el) => (n.clone(), el.clone()),
            PatchOp::Remove(n) => (n.clone(), bare(n)),
        };
        let done = match &col {
            Some(col) => set_prop(&mut props, col.kind, &el),
            None => false,
        };
        if done {
            ok.push(Prop { name, value: None });
        } else {
            bad.push(Prop { name, value: None });
        }
    }
    let propstats = if bad.is_empty() {
        if let Some(col) = col {
            let c = ctx.get_ref().clone();
            blocking(move || {
                c.store.dav_set_props(&col.owner, &col.name, &props)?;
                c.store.commit()?;
                Ok(())
            })
            .await?;
        }
        vec![(200, ok)]
    } else {
        vec![(403, bad), (424, ok)]
    };
    Ok(multistatus_response(&[Response::Props {
        href: here,
        propstats,
    }]))
}
