//! Folders of an account or the public folders, and their ACLs (RFC 4314).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::directory::{changeable_account, visible_account};
use super::{need_admin, need_scope, resource, run, Body, Ctx, Failures, Manager};
use crate::admin::{AdminCommand, PUBLIC};
use crate::http::auth::{Principal, Scope};
use crate::http::error::ApiError;
use crate::storage::PUBLIC_OWNER;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    resource!(cfg, "/folders/{owner}", GET => folders_list, POST => folder_create, DELETE => folder_delete);
    resource!(cfg, "/folders/{owner}/acl", GET => acl_get, PUT => acl_set);
}

// ---------------------------------------------------------------- folders and ACLs

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FolderInfo {
    pub name: String,
    pub messages: u32,
    pub unseen: u32,
    /// Bytes.
    pub size: u64,
    pub special_use: Option<String>,
    /// A placeholder kept for its children.
    pub noselect: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FolderList {
    pub owner: String,
    pub items: Vec<FolderInfo>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFolder {
    /// Hierarchy separator `/`; missing parents are made too. No control characters, no
    /// empty level, at most 255 bytes of UTF-8.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f/]+(/[^\x00-\x1f\x7f-\x9f/]+)*/?$",
        min_length = 1,
        max_length = 63
    )]
    pub name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FolderName {
    /// The folder's name (no control characters, no empty level).
    #[param(
        pattern = r"^[^\x00-\x1f\x7f-\x9f/]+(/[^\x00-\x1f\x7f-\x9f/]+)*/?$",
        min_length = 1,
        max_length = 63
    )]
    pub name: String,
}

/// One ACL entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AclEntry {
    /// An account address or `anyone`.
    pub identifier: String,
    /// RFC 4314 rights letters.
    pub rights: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AclInfo {
    pub owner: String,
    pub folder: String,
    /// The owner's implicit rights are not listed.
    pub entries: Vec<AclEntry>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AclChange {
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f/]+(/[^\x00-\x1f\x7f-\x9f/]+)*/?$",
        min_length = 1,
        max_length = 63
    )]
    pub name: String,
    /// An account address or `anyone`.
    #[schema(
        pattern = r"^(anyone|[A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,20}){0,2}@[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){1,3})$"
    )]
    pub identifier: String,
    /// RFC 4314 rights letters (`lrswipkxtea`, and the obsolete `c` and `d`): "lrs"
    /// (exactly), "+w", "-w", or "none" (remove the entry).
    #[schema(pattern = "^(none|[+-]?[lrswipkxteacd]+)$")]
    pub rights: String,
}

/// The owner word for commands (`public` or a visible, existing account), or 403/404:
/// the public folders are server-wide (admins only).
fn visible_owner(
    ctx: &crate::actors::ServerContext,
    p: &Principal,
    owner: &str,
) -> Result<String, ApiError> {
    if owner.eq_ignore_ascii_case(PUBLIC) {
        need_admin(p)?;
        return Ok(PUBLIC.to_string());
    }
    Ok(visible_account(ctx, p, owner)?.address)
}

/// [`visible_owner`] for a change of the owner's folders or their ACLs: 403 when the owner
/// is an account the caller may not change ([`changeable_account`], the rule of account
/// changes), so a domain admin cannot give itself rights on a server admin's folders.
fn changeable_owner(
    ctx: &crate::actors::ServerContext,
    p: &Principal,
    owner: &str,
) -> Result<String, ApiError> {
    if owner.eq_ignore_ascii_case(PUBLIC) {
        return visible_owner(ctx, p, owner);
    }
    Ok(changeable_account(ctx, p, owner)?.address)
}

fn folder_list(ctx: &crate::actors::ServerContext, owner: &str) -> Result<FolderList, ApiError> {
    let storage_owner = if owner == PUBLIC { PUBLIC_OWNER } else { owner };
    let items = ctx
        .store
        .list_folders(storage_owner)?
        .into_iter()
        .map(|f| FolderInfo {
            name: f.name,
            messages: f.exists,
            unseen: f.unseen,
            size: f.size,
            special_use: f.special_use,
            noselect: f.noselect,
        })
        .collect();
    Ok(FolderList {
        owner: owner.to_string(),
        items,
    })
}

fn folder_exists(
    ctx: &crate::actors::ServerContext,
    owner: &str,
    name: &str,
) -> Result<crate::storage::FolderId, ApiError> {
    let storage_owner = if owner == PUBLIC { PUBLIC_OWNER } else { owner };
    ctx.store
        .folder_id(storage_owner, name)?
        .ok_or_else(|| ApiError::not_found(format!("no folder {name} of {owner}")))
}

/// An account's folders, or the public ones (`public`, admins only).
#[utoipa::path(get, path = "/api/v1/folders/{owner}", tag = "directory",
    params(("owner" = String, Path, description = "account address or `public`")),
    responses((status = 200, body = FolderList), Failures))]
pub async fn folders_list(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let owner = visible_owner(&ctx, &m.0, &path)?;
    Ok(HttpResponse::Ok().json(folder_list(&ctx, &owner)?))
}

/// Creates a folder (and its missing parents).
#[utoipa::path(post, path = "/api/v1/folders/{owner}", tag = "directory",
    params(("owner" = String, Path, description = "account address or `public`")),
    request_body = NewFolder,
    responses((status = 201, body = FolderList), Failures))]
pub async fn folder_create(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    body: Body<NewFolder>,
) -> Result<HttpResponse, ApiError> {
    let owner = changeable_owner(&ctx, &m.0, &path)?;
    need_scope(&m.0, Scope::Accounts)?;
    let name = body.into_inner().name;
    if folder_exists(&ctx, &owner, &name).is_ok() {
        return Err(ApiError::conflict(format!("folder {name} exists already")));
    }
    run(
        &ctx,
        AdminCommand::FolderCreate {
            owner: owner.clone(),
            name,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(folder_list(&ctx, &owner)?))
}

/// Deletes a folder with its messages.
#[utoipa::path(delete, path = "/api/v1/folders/{owner}", tag = "directory",
    params(("owner" = String, Path, description = "account address or `public`"), FolderName),
    responses((status = 204, description = "deleted"), Failures))]
pub async fn folder_delete(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    q: web::Query<FolderName>,
) -> Result<HttpResponse, ApiError> {
    let owner = changeable_owner(&ctx, &m.0, &path)?;
    let name = q.into_inner().name;
    folder_exists(&ctx, &owner, &name)?;
    need_scope(&m.0, Scope::Accounts)?;
    // The request is well formed; what refuses it is the folder's state (INBOX, or a
    // folder that only holds children and is already \Noselect): a conflict, as IMAP
    // answers [CANNOT].
    if name.eq_ignore_ascii_case("INBOX") {
        return Err(ApiError::conflict("INBOX cannot be deleted"));
    }
    run(&ctx, AdminCommand::FolderDelete { owner, name })
        .await
        .map_err(|e| {
            if e.status == actix_web::http::StatusCode::UNPROCESSABLE_ENTITY {
                ApiError::conflict(e.message)
            } else {
                e
            }
        })?;
    Ok(HttpResponse::NoContent().finish())
}

fn acl_info(
    ctx: &crate::actors::ServerContext,
    owner: &str,
    name: &str,
) -> Result<AclInfo, ApiError> {
    let id = folder_exists(ctx, owner, name)?;
    Ok(AclInfo {
        owner: owner.to_string(),
        folder: name.to_string(),
        entries: ctx
            .store
            .get_acl(id)?
            .into_iter()
            .map(|(identifier, rights)| AclEntry { identifier, rights })
            .collect(),
    })
}

/// A folder's ACL.
#[utoipa::path(get, path = "/api/v1/folders/{owner}/acl", tag = "directory",
    params(("owner" = String, Path, description = "account address or `public`"), FolderName),
    responses((status = 200, body = AclInfo), Failures))]
pub async fn acl_get(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    q: web::Query<FolderName>,
) -> Result<HttpResponse, ApiError> {
    let owner = visible_owner(&ctx, &m.0, &path)?;
    Ok(HttpResponse::Ok().json(acl_info(&ctx, &owner, &q.name)?))
}

/// Sets, changes or removes (`none`) one ACL entry.
#[utoipa::path(put, path = "/api/v1/folders/{owner}/acl", tag = "directory",
    params(("owner" = String, Path, description = "account address or `public`")),
    request_body = AclChange,
    responses((status = 200, body = AclInfo), Failures))]
pub async fn acl_set(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    body: Body<AclChange>,
) -> Result<HttpResponse, ApiError> {
    let owner = changeable_owner(&ctx, &m.0, &path)?;
    let AclChange {
        name,
        identifier,
        rights,
    } = body.into_inner();
    folder_exists(&ctx, &owner, &name)?;
    if identifier != crate::storage::ANYONE && ctx.store.get_account(&identifier)?.is_none() {
        return Err(ApiError::not_found(format!("no account {identifier}")));
    }
    need_scope(&m.0, Scope::Accounts)?;
    run(
        &ctx,
        AdminCommand::AclSet {
            owner: owner.clone(),
            folder: name.clone(),
            identifier,
            rights,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(acl_info(&ctx, &owner, &name)?))
}
