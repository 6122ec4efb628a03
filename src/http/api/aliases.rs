//! Aliases: an address that delivers to one or more others.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{hidden, need_scope, resource, run, Body, Ctx, Failures, Manager};
use crate::admin::AdminCommand;
use crate::http::auth::Scope;
use crate::http::error::ApiError;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    resource!(cfg, "/aliases", GET => aliases_list, POST => alias_add);
    resource!(cfg, "/aliases/{alias}", DELETE => alias_del);
}

// ---------------------------------------------------------------- aliases

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AliasInfo {
    pub alias: String,
    pub targets: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AliasList {
    pub items: Vec<AliasInfo>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAlias {
    /// In a local domain the caller administers (else 404).
    #[schema(
        pattern = r"^[A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,20}){0,2}@[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){1,3}$"
    )]
    pub alias: String,
    /// A local account, another alias or a remote address.
    #[schema(
        pattern = r"^[A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,20}){0,2}@[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){1,3}$"
    )]
    pub target: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AliasTarget {
    /// Remove only this target (absent: the whole alias).
    pub target: Option<String>,
}

fn alias_info(ctx: &crate::actors::ServerContext, alias: &str) -> Result<AliasInfo, ApiError> {
    ctx.store
        .list_aliases()?
        .into_iter()
        .find(|(a, _)| a == alias)
        .map(|(alias, targets)| AliasInfo { alias, targets })
        .ok_or_else(|| hidden(&format!("alias {alias}")))
}

/// The aliases of the caller's domains.
#[utoipa::path(get, path = "/api/v1/aliases", tag = "directory",
    responses((status = 200, body = AliasList), Failures))]
pub async fn aliases_list(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    let items = ctx
        .store
        .list_aliases()?
        .into_iter()
        .filter(|(a, _)| m.0.may_address(a))
        .map(|(alias, targets)| AliasInfo { alias, targets })
        .collect();
    Ok(HttpResponse::Ok().json(AliasList { items }))
}

/// Adds a target to an alias (made on its first target).
#[utoipa::path(post, path = "/api/v1/aliases", tag = "directory", request_body = NewAlias,
    responses((status = 201, body = AliasInfo), Failures))]
pub async fn alias_add(
    ctx: Ctx,
    m: Manager,
    body: Body<NewAlias>,
) -> Result<HttpResponse, ApiError> {
    need_scope(&m.0, Scope::Accounts)?;
    let NewAlias { alias, target } = body.into_inner();
    let alias = alias.trim().to_lowercase();
    let Some((_, domain)) = alias.rsplit_once('@') else {
        return Err(ApiError::unprocessable(format!(
            "{alias:?} is not an address"
        )));
    };
    if !m.0.may_domain(domain) || !ctx.store.is_local_domain(domain)? {
        return Err(hidden(&format!("domain {domain}")));
    }
    if ctx.store.get_account(&alias)?.is_some() {
        return Err(ApiError::conflict(format!("{alias} is an account")));
    }
    if let Ok(existing) = alias_info(&ctx, &alias) {
        if existing
            .targets
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&target))
        {
            return Err(ApiError::conflict(format!(
                "alias {alias} already reaches {target}"
            )));
        }
    }
    run(
        &ctx,
        AdminCommand::AliasAdd {
            alias: alias.clone(),
            target,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(alias_info(&ctx, &alias)?))
}

/// Deletes an alias, or one of its targets.
#[utoipa::path(delete, path = "/api/v1/aliases/{alias}", tag = "directory",
    params(("alias" = String, Path, description = "the alias address"), AliasTarget),
    responses((status = 204, description = "deleted"), Failures))]
pub async fn alias_del(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    q: web::Query<AliasTarget>,
) -> Result<HttpResponse, ApiError> {
    let alias = path.into_inner().to_lowercase();
    if !m.0.may_address(&alias) {
        return Err(hidden(&format!("alias {alias}")));
    }
    let info = alias_info(&ctx, &alias)?;
    need_scope(&m.0, Scope::Accounts)?;
    let target = q.into_inner().target;
    if let Some(t) = &target {
        if !info.targets.iter().any(|x| x.eq_ignore_ascii_case(t)) {
            return Err(ApiError::not_found(format!(
                "alias {alias} has no target {t}"
            )));
        }
    }
    run(&ctx, AdminCommand::AliasDel { alias, target }).await?;
    Ok(HttpResponse::NoContent().finish())
}
