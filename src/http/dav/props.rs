//! PROPFIND and PROPPATCH (RFC 4918 §9.1, §9.2): the live properties of file-store
//! nodes (§15), quota (RFC 4331), privileges (RFC 3744 §5.4) and principals (RFC 5397),
//! and dead properties from the store.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::locks;
use super::{
    blocking, encode_segment, file_href, file_store, http_date, xml_body, Ctx, DavError, Target,
};
use crate::actors::ServerContext;
use crate::protocols::webdav::headers::{self, Depth};
use crate::protocols::webdav::multistatus::{multistatus, Prop, Response};
use crate::protocols::webdav::request::{self, PatchOp, Propfind};
use crate::protocols::webdav::xml::DAV;
use crate::protocols::webdav::PropName;
use crate::storage::davfiles::DavNode;

/// The live properties of a file-store node that allprop returns (RFC 4918 §9.1: the
/// ones this specification defines).
const ALLPROP: [&str; 8] = [
    "resourcetype",
    "creationdate",
    "getcontentlength",
    "getcontenttype",
    "getetag",
    "getlastmodified",
    "supportedlock",
    "lockdiscovery",
];

/// Live properties answered only when asked for by name.
const ON_REQUEST: [&str; 5] = [
    "current-user-privilege-set",
    "current-user-principal",
    "quota-available-bytes",
    "quota-used-bytes",
    "displayname",
];

/// `Depth` for PROPFIND: 0 or 1; infinity (the default) is refused (§9.1, 403 with
/// `propfind-finite-depth`), as many servers do, so a PROPFIND is never the whole tree.
pub(crate) fn propfind_depth(req: &HttpRequest) -> Result<Depth, DavError> {
    let value = req.headers().get("Depth").and_then(|v| v.to_str().ok());
    match headers::depth(value, Depth::Infinity)? {
        Depth::Infinity => Err(DavError::condition(
            StatusCode::FORBIDDEN,
            "propfind-finite-depth",
        )),
        d => Ok(d),
    }
}

pub(crate) fn multistatus_response(responses: &[Response]) -> HttpResponse {
    HttpResponse::build(StatusCode::MULTI_STATUS)
        .content_type("application/xml; charset=utf-8")
        .body(multistatus(responses))
}

fn iso_date(secs: u64) -> String {
    let t =
        chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0).unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn href(h: &str) -> String {
    format!("<D:href>{}</D:href>", quick_xml::escape::escape(h))
}

pub(crate) fn principal_href(me: &str) -> String {
    format!("/dav/principals/{}/", encode_segment(me))
}

/// What live-property values of a node need besides the node: quota and locks.
pub(crate) struct Facts {
    pub me: String,
    pub used: u64,
    pub available: Option<u64>,
}

/// The value of live property `local` of `node` (`None`: the node has no such property).
fn live(node: &DavNode, local: &str, f: &Facts) -> Option<String> {
    let body = node.body.as_ref();
    Some(match local {
        "resourcetype" if node.is_collection() => "<D:collection/>".into(),
        "resourcetype" => String::new(),
        "creationdate" => iso_date(node.created),
        "getcontentlength" => body?.size.to_string(),
        "getcontenttype" => quick_xml::escape::escape(body?.content_type.as_str()).into_owned(),
        "getetag" => quick_xml::escape::escape(node.etag()?.as_str()).into_owned(),
        "getlastmodified" => http_date(node.modified),
        "supportedlock" => SUPPORTED_LOCK.into(),
        "lockdiscovery" => locks::discovery(&f.me, &node.path),
        "current-user-privilege-set" => PRIVILEGES.into(),
        "current-user-principal" => href(&principal_href(&f.me)),
        "quota-used-bytes" if node.is_collection() => f.used.to_string(),
        "quota-available-bytes" if node.is_collection() => f
            .available
            .map_or_else(|| "9223372036854775807".to_string(), |a| a.to_string()),
        "displayname" => node
            .path
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .map_or_else(|| f.me.clone(), str::to_string),
        _ => return None,
    })
}

pub(crate) const SUPPORTED_LOCK: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>\
<D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/>\
</D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

/// The owner holds every privilege (RFC 3744 §3: `all` aggregates the rest).
pub(crate) const PRIVILEGES: &str =
    "<D:privilege><D:all/></D:privilege><D:privilege><D:read/></D:privilege>\
<D:privilege><D:write/></D:privilege><D:privilege><D:write-properties/></D:privilege>\
<D:privilege><D:write-content/></D:privilege><D:privilege><D:bind/></D:privilege>\
<D:privilege><D:unbind/></D:privilege><D:privilege><D:unlock/></D:privilege>\
<D:privilege><D:read-current-user-privilege-set/></D:privilege>";

fn is_live(name: &PropName) -> bool {
    name.ns == DAV
        && (ALLPROP.contains(&name.local.as_str()) || ON_REQUEST.contains(&name.local.as_str()))
}

/// The `response` for one node.
fn node_response(owner: &str, node: &DavNode, ask: &Propfind, f: &Facts) -> Response {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let dead = |name: &PropName| {
        node.props
            .iter()
            .find(|p| p.ns == name.ns && p.local == name.local)
            .map(|p| p.value.clone())
    };
    match ask {
        Propfind::PropName => {
            for l in ALLPROP.iter().chain(ON_REQUEST.iter()) {
                if live(node, l, f).is_some() {
                    found.push(Prop {
                        name: PropName::dav(l),
                        value: None,
                    });
                }
            }
            for p in &node.props {
                found.push(Prop {
                    name: PropName {
                        ns: p.ns.clone(),
                        local: p.local.clone(),
                    },
                    value: None,
                });
            }
        }
        Propfind::AllProp { include } => {
            for l in ALLPROP {
                if let Some(v) = live(node, l, f) {
                    found.push(Prop {
                        name: PropName::dav(l),
                        value: Some(v),
                    });
                }
            }
            for p in &node.props {
                found.push(Prop {
                    name: PropName {
                        ns: p.ns.clone(),
                        local: p.local.clone(),
                    },
                    value: Some(p.value.clone()),
                });
            }
            for name in include {
                if name.ns == DAV && !ALLPROP.contains(&name.local.as_str()) {
                    if let Some(v) = live(node, &name.local, f) {
                        found.push(Prop {
                            name: name.clone(),
                            value: Some(v),
                        });
                    }
                }
            }
        }
        Propfind::Prop(names) => {
            for name in names {
                let value = if name.ns == DAV {
                    live(node, &name.local, f)
                } else {
                    None
                }
                .or_else(|| dead(name));
                match value {
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
        href: file_href(owner, &node.path, node.is_collection()),
        propstats: vec![(200, found), (404, missing)],
    }
}

pub(crate) fn quota_facts(ctx: &Arc<ServerContext>, me: &str) -> Result<Facts, DavError> {
    let q = ctx.store.quota(me)?;
    Ok(Facts {
        me: me.to_string(),
        used: q.storage_used,
        available: q.storage_limit.map(|l| l.saturating_sub(q.storage_used)),
    })
}

/// PROPFIND on the file store.
pub(crate) async fn propfind(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    path: &str,
) -> Result<HttpResponse, DavError> {
    let depth = propfind_depth(req)?;
    let ask = request::parse_propfind(&xml_body(payload).await?)?;
    let (c, me, path) = (ctx.get_ref().clone(), me.to_string(), path.to_string());
    let responses = blocking(move || {
        let files = file_store(&c)?;
        let node = files.dav_get(&me, &path)?.ok_or_else(DavError::not_found)?;
        let facts = quota_facts(&c, &me)?;
        let mut out = vec![node_response(&me, &node, &ask, &facts)];
        if depth == Depth::One && node.is_collection() {
            for child in files.dav_children(&me, &path)? {
                out.push(node_response(&me, &child, &ask, &facts));
            }
        }
        Ok(out)
    })
    .await?;
    Ok(multistatus_response(&responses))
}

/// PROPPATCH on the file store: all or nothing (§9.2). Live properties are protected:
/// one in the request fails it (403 `cannot-modify-protected-property` for that one,
/// 424 for the rest).
pub(crate) async fn proppatch(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    path: &str,
) -> Result<HttpResponse, DavError> {
    let ops = request::parse_proppatch(&xml_body(payload).await?)?;
    locks::check(req, me, me, path, None, &[locks::Need::Node(path)])?;
    let names: Vec<PropName> = ops
        .iter()
        .map(|op| match op {
            PatchOp::Set(n, _) | PatchOp::Remove(n) => n.clone(),
        })
        .collect();
    let href_path = path.to_string();
    let (c, me2, p) = (ctx.get_ref().clone(), me.to_string(), path.to_string());
    let protected: Vec<&PropName> = names.iter().filter(|n| is_live(n)).collect();
    let (propstats, collection) = if protected.is_empty() {
        let changes: Vec<(String, String, Option<String>)> = ops
            .iter()
            .map(|op| match op {
                PatchOp::Set(n, el) => (n.ns.clone(), n.local.clone(), Some(request::value_of(el))),
                PatchOp::Remove(n) => (n.ns.clone(), n.local.clone(), None),
            })
            .collect();
        let collection = blocking(move || {
            let files = file_store(&c)?;
            let node = files.dav_get(&me2, &p)?.ok_or_else(DavError::not_found)?;
            files.dav_patch(&me2, &p, &changes)?;
            c.store.commit()?;
            Ok(node.is_collection())
        })
        .await?;
        let ok: Vec<Prop> = names
            .iter()
            .map(|n| Prop {
                name: n.clone(),
                value: None,
            })
            .collect();
        (vec![(200, ok)], collection)
    } else {
        let collection = blocking(move || {
            let node = file_store(&c)?
                .dav_get(&me2, &p)?
                .ok_or_else(DavError::not_found)?;
            Ok(node.is_collection())
        })
        .await?;
        let (bad, rest): (Vec<PropName>, Vec<PropName>) = names.into_iter().partition(is_live);
        let to_props = |v: Vec<PropName>| -> Vec<Prop> {
            v.into_iter()
                .map(|name| Prop { name, value: None })
                .collect()
        };
        (
            vec![(403, to_props(bad)), (424, to_props(rest))],
            collection,
        )
    };
    Ok(multistatus_response(&[Response::Props {
        href: file_href(me, &href_path, collection),
        propstats,
    }]))
}

/// PROPFIND (and OPTIONS) on `/dav/` and a principal; anything else there is 405.
pub(crate) async fn principal(
    _ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    target: &Target,
    payload: web::Payload,
) -> Result<HttpResponse, DavError> {
    if let Target::Principal(who) = target {
        if who != me {
            return Err(DavError::not_found());
        }
    }
    match req.method().as_str() {
        "OPTIONS" => return Ok(super::calcommon::options()),
        "PROPFIND" => {}
        "REPORT" => return principal_search(me, payload).await,
        _ => {
            return Err(DavError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "PROPFIND and REPORT only here",
            ))
        }
    }
    let depth = propfind_depth(req)?;
    let ask = request::parse_propfind(&xml_body(payload).await?)?;
    let mine = principal_href(me);
    let is_principal = matches!(target, Target::Principal(_));
    let here = if is_principal {
        mine.clone()
    } else {
        "/dav/".to_string()
    };
    let mut out = vec![principal_response(&here, me, &mine, is_principal, &ask)];
    if depth == Depth::One && !is_principal {
        out.push(principal_response(&mine, me, &mine, true, &ask));
    }
    Ok(multistatus_response(&out))
}

/// REPORT on `/dav/` or a principal: `principal-property-search` (RFC 3744 §9.4), what
/// clients use to find principals by name or address. An account sees one principal, its
/// own (another's answers 404), so that is the only candidate: searching for oneself and
/// listing all both find it, and nothing tells which other accounts exist. Any other
/// report here is 403 `supported-report`.
async fn principal_search(me: &str, payload: web::Payload) -> Result<HttpResponse, DavError> {
    use crate::protocols::webdav::principal_search;
    use crate::protocols::webdav::report::CALDAV;
    let body = xml_body(payload).await?;
    let root = crate::protocols::webdav::xml::parse(&body)?
        .ok_or_else(|| DavError::new(StatusCode::BAD_REQUEST, "the REPORT needs a body"))?;
    if !principal_search::is_principal_search(&root) {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            "supported-report",
        ));
    }
    let q = principal_search::from_element(&root)?;
    let text_of = |n: &PropName| match (n.ns.as_str(), n.local.as_str()) {
        (DAV, "displayname") => Some(me.to_string()),
        (CALDAV, "calendar-user-address-set") => Some(format!("mailto:{me}")),
        ("http://calendarserver.org/ns/", "email-address-set") => Some(me.to_string()),
        _ => None,
    };
    let mine = principal_href(me);
    let mut out = Vec::new();
    if q.matches(text_of) {
        let names = if q.answer.is_empty() {
            vec![PropName::dav("displayname")]
        } else {
            q.answer
        };
        out.push(principal_response(
            &mine,
            me,
            &mine,
            true,
            &Propfind::Prop(names),
        ));
    }
    Ok(multistatus_response(&out))
}

fn principal_response(
    here: &str,
    me: &str,
    mine: &str,
    is_principal: bool,
    ask: &Propfind,
) -> Response {
    let value = |name: &PropName| -> Option<String> {
        if name.ns != DAV {
            return super::calcommon::principal_value(name, me);
        }
        Some(match name.local.as_str() {
            "current-user-principal" | "principal-URL" => href(mine),
            "displayname" => quick_xml::escape::escape(me).into_owned(),
            "resourcetype" if is_principal => "<D:collection/><D:principal/>".into(),
            "resourcetype" => "<D:collection/>".into(),
            _ => return None,
        })
    };
    let mut all: Vec<PropName> = [
        "resourcetype",
        "displayname",
        "current-user-principal",
        "principal-URL",
    ]
    .iter()
    .map(|l| PropName::dav(l))
    .collect();
    all.extend(super::calcommon::principal_names());
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    match ask {
        Propfind::PropName => {
            found = all
                .into_iter()
                .map(|name| Prop { name, value: None })
                .collect();
        }
        Propfind::AllProp { .. } => {
            found = all
                .into_iter()
                .map(|name| {
                    let value = value(&name);
                    Prop { name, value }
                })
                .collect();
        }
        Propfind::Prop(names) => {
            for n in names {
                match value(n) {
                    Some(v) => found.push(Prop {
                        name: n.clone(),
                        value: Some(v),
                    }),
                    None => missing.push(Prop {
                        name: n.clone(),
                        value: None,
                    }),
                }
            }
        }
    }
    Response::Props {
        href: here.to_string(),
        propstats: vec![(200, found), (404, missing)],
    }
}
