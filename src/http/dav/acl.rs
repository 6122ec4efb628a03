//! RFC 3744 access control on calendars and address books (issue 15): the `acl`
//! property read from the collection's ACL (the IMAP-style rights of `storage::davstore`'s
//! sharing, mapped by `protocols::webdav::acl`), and the ACL method (§8.1), with which the
//! owner replaces the grants of everyone else.
//!
//! Implementation notes:
//!
//! - The owner's ACE (`all`, protected) comes first; public collections have none. Every
//!   other entry is an ACE for `/dav/principals/<address>/`, `anyone` one for
//!   `authenticated` (DAV always asks for credentials, so `all` means the same and is read
//!   as `anyone` too).
//! - Who reads `acl`: the owner and sharees with the "a" right (read-only for them: the
//!   ACL method is the owner's, `cal::handle` answers 403 need-privileges to anyone
//!   else). Others get the property with 403 in its propstat (`calprops`).
//! - The ACL method checks every ACE before anything is written (deny: `grant-only`,
//!   invert: `no-invert`, an unknown privilege: `not-supported-privilege`, a principal
//!   that is no account: `recognized-principal`, the owner's ACE changed:
//!   `no-protected-ace-conflict`), then reads and replaces the ACL in one store step
//!   (`DavStore::dav_edit_acl`, so two concurrent ACL requests cannot lose one's kept
//!   rights): the DAV-mapped rights of entries not named go. Rights
//!   letters without a DAV privilege ("s", "k", "x", "e", "p",
//!   `protocols::webdav::acl::KEPT_RIGHTS`) stay on every entry as they were: the ACL
//!   method governs DAV's privileges only. A sharee's "a" shows as `read-acl` alone
//!   (the method is the owner's: `write-acl` is never granted).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use quick_xml::escape::escape;

use super::calcommon::{find_collection, precondition};
use super::props::principal_href;
use super::{blocking, target_of, xml_body, Ctx, DavError, Target};
use crate::protocols::webdav::acl::{
    ace_xml, parse_acl, privileges_of_rights, rights_of_privileges, AcePrincipal, AclRefusal,
    KEPT_RIGHTS,
};
use crate::protocols::webdav::headers;
use crate::protocols::webdav::xml::DAV;
use crate::storage::davstore::DavCollection;
use crate::storage::{normalize_rights, ANYONE};
use crate::storage::{Store, PUBLIC_OWNER};

/// The rights of the owner's protected `all`.
const OWNER_RIGHTS: &str = "lrwita";

fn href(h: &str) -> String {
    format!("<D:href>{}</D:href>", escape(h))
}

/// The `acl` property's value of `col`, whose stored ACL is `entries`.
pub(crate) fn acl_value(col: &DavCollection, entries: &[(String, String)]) -> String {
    let mut out = String::new();
    if col.owner != PUBLIC_OWNER {
        out.push_str(&ace_xml(&href(&principal_href(&col.owner)), &["all"], true));
    }
    for (id, rights) in entries {
        let privileges = privileges_of_rights(rights);
        if privileges.is_empty() {
            continue;
        }
        let principal = if id == ANYONE {
            "<D:authenticated/>".to_string()
        } else {
            href(&principal_href(id))
        };
        out.push_str(&ace_xml(&principal, &privileges, false));
    }
    out
}

fn refused(r: AclRefusal) -> DavError {
    precondition(StatusCode::FORBIDDEN, DAV, r.element(), "", r.message())
}

/// The account a principal href names (`/dav/principals/<address>/`, or the same as an
/// absolute URL), if it is one of this server's accounts.
fn principal_account(store: &Store, h: &str) -> Result<Option<String>, DavError> {
    let Ok((_, path)) = headers::destination(h) else {
        return Ok(None);
    };
    let Ok(Some(Target::Principal(address))) = target_of(&path) else {
        return Ok(None);
    };
    Ok(store
        .get_account(&address)?
        .map(|a| a.address.to_ascii_lowercase()))
}

/// The ACL `aces` asks for on `col`, as (identifier, rights) entries, or the refusal.
fn wanted(
    store: &Store,
    col: &DavCollection,
    aces: &[crate::protocols::webdav::acl::Ace],
) -> Result<Vec<(String, String)>, DavError> {
    let mut out = Vec::new();
    for ace in aces {
        if !ace.grant {
            return Err(refused(AclRefusal::GrantOnly));
        }
        if ace.invert {
            return Err(refused(AclRefusal::NoInvert));
        }
        let rights = rights_of_privileges(&ace.privileges).map_err(refused)?;
        let id = match &ace.principal {
            AcePrincipal::All | AcePrincipal::Authenticated => ANYONE.to_string(),
            AcePrincipal::Href(h) => principal_account(store, h)?
                .ok_or_else(|| refused(AclRefusal::RecognizedPrincipal(h.clone())))?,
            AcePrincipal::Unauthenticated => {
                return Err(refused(AclRefusal::RecognizedPrincipal(
                    "DAV:unauthenticated".into(),
                )))
            }
            AcePrincipal::Other(p) => {
                return Err(refused(AclRefusal::RecognizedPrincipal(p.clone())))
            }
        };
        if id == col.owner {
            // The protected ACE, sent back as it was read: nothing to change.
            if normalize_rights(&rights)? == OWNER_RIGHTS {
                continue;
            }
            return Err(refused(AclRefusal::NoProtectedAceConflict));
        }
        if ace.protected {
            return Err(refused(AclRefusal::NoProtectedAceConflict));
        }
        out.push((id, rights));
    }
    Ok(out)
}

/// The letters of `old` entries without a DAV privilege, which an ACL method keeps
/// (module comment); the store joins them to the new grants of the same identifier.
fn kept(old: &[(String, String)]) -> Vec<(String, String)> {
    old.iter()
        .map(|(id, rights)| {
            let keep: String = rights
                .chars()
                .filter(|c| KEPT_RIGHTS.contains(*c))
                .collect();
            (id.clone(), keep)
        })
        .filter(|(_, keep)| !keep.is_empty())
        .collect()
}

/// The ACL method on a calendar or address book (the owner's; `cal::handle` checked).
pub(crate) async fn set(
    ctx: &Ctx,
    payload: web::Payload,
    target: &Target,
) -> Result<HttpResponse, DavError> {
    let Target::Collection { owner, kind, name } = target.clone() else {
        return Err(DavError::new(
            StatusCode::FORBIDDEN,
            "ACLs are set on calendars and address books",
        ));
    };
    let aces = parse_acl(&xml_body(payload).await?)?;
    let c = ctx.get_ref().clone();
    blocking(move || {
        let col =
            find_collection(&c.store, &owner, kind, &name)?.ok_or_else(DavError::not_found)?;
        let grants = wanted(&c.store, &col, &aces)?;
        // Read, kept and replaced in the store's one atomic step: a concurrent ACL request
        // is either wholly before this one (its kept rights seen here) or wholly after.
        let edit = |old: &[(String, String)]| {
            let mut acl = grants.clone();
            acl.extend(kept(old));
            acl
        };
        c.store.dav_edit_acl(col.id, &edit)?;
        c.store.commit()?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().finish())
}
