//! DKIM keys per domain: generate, activate, delete, and the DNS record to publish.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::visible_domain;
use super::{need_scope, resource, run, Body, Ctx, Failures, Manager};
use crate::admin::AdminCommand;
use crate::http::auth::Scope;
use crate::http::error::ApiError;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    resource!(cfg, "/domains/{name}/dkim", GET => dkim_list, POST => dkim_generate);
    resource!(cfg, "/domains/{name}/dkim/{selector}/activate", POST => dkim_activate);
    resource!(cfg, "/domains/{name}/dkim/{selector}", DELETE => dkim_delete);
}

// ---------------------------------------------------------------- DKIM

/// A DKIM key and the DNS record to publish for it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DkimInfo {
    pub domain: String,
    pub selector: String,
    /// rsa-sha256 or ed25519-sha256.
    pub algorithm: String,
    /// Unix seconds.
    pub created: i64,
    /// The key that signs the domain's mail now.
    pub active: bool,
    /// Where to publish the TXT record: `SELECTOR._domainkey.DOMAIN`.
    pub dns_name: String,
    /// The TXT record's text.
    pub dns_txt: String,
    /// The record as a zone-file line.
    pub dns_record: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DkimList {
    pub items: Vec<DkimInfo>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDkim {
    /// rsa (default) or ed25519.
    pub algorithm: Option<DkimAlgorithmArg>,
    /// Absent: one made from the date.
    #[schema(pattern = r"^[a-z0-9][a-z0-9-]{0,30}$")]
    pub selector: Option<String>,
}

/// A DKIM key algorithm.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DkimAlgorithmArg {
    Rsa,
    Ed25519,
}

impl DkimAlgorithmArg {
    fn as_str(self) -> &'static str {
        match self {
            DkimAlgorithmArg::Rsa => "rsa",
            DkimAlgorithmArg::Ed25519 => "ed25519",
        }
    }
}

fn dkim_infos(ctx: &crate::actors::ServerContext, domain: &str) -> Result<Vec<DkimInfo>, ApiError> {
    Ok(ctx
        .store
        .dkim_list(domain)?
        .into_iter()
        .map(|k| DkimInfo {
            dns_name: k.dns_name(),
            dns_txt: k.dns_txt(),
            dns_record: k.dns_record(),
            algorithm: k.algorithm.signature_name().to_string(),
            domain: k.domain,
            selector: k.selector,
            created: k.created,
            active: k.active,
        })
        .collect())
}

/// The domain's DKIM keys with their DNS records.
#[utoipa::path(get, path = "/api/v1/domains/{name}/dkim", tag = "directory",
    params(("name" = String, Path, description = "domain name")),
    responses((status = 200, body = DkimList), Failures))]
pub async fn dkim_list(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = visible_domain(&ctx, &m.0, &path)?;
    Ok(HttpResponse::Ok().json(DkimList {
        items: dkim_infos(&ctx, &name)?,
    }))
}

/// Makes a new key (the domain's first becomes active); answers it with its DNS record.
#[utoipa::path(post, path = "/api/v1/domains/{name}/dkim", tag = "directory",
    params(("name" = String, Path, description = "domain name")), request_body = NewDkim,
    responses((status = 201, body = DkimInfo), Failures))]
pub async fn dkim_generate(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    body: Body<NewDkim>,
) -> Result<HttpResponse, ApiError> {
    let name = visible_domain(&ctx, &m.0, &path)?;
    need_scope(&m.0, Scope::Accounts)?;
    let NewDkim {
        algorithm,
        selector,
    } = body.into_inner();
    let algorithm = algorithm.map(|a| a.as_str().to_string());
    let before: Vec<String> = dkim_infos(&ctx, &name)?
        .into_iter()
        .map(|k| k.selector)
        .collect();
    if let Some(s) = &selector {
        if before.contains(s) {
            return Err(ApiError::conflict(format!("{name} already has a key {s}")));
        }
    }
    run(
        &ctx,
        AdminCommand::DkimGenerate {
            domain: name.clone(),
            algorithm,
            selector,
        },
    )
    .await?;
    let made = dkim_infos(&ctx, &name)?
        .into_iter()
        .find(|k| !before.contains(&k.selector))
        .ok_or_else(|| ApiError::internal("the new key is not in the store"))?;
    Ok(HttpResponse::Created().json(made))
}

/// Makes a key the one that signs the domain's mail.
#[utoipa::path(post, path = "/api/v1/domains/{name}/dkim/{selector}/activate", tag = "directory",
    params(("name" = String, Path, description = "domain name"),
           ("selector" = String, Path, description = "the key's selector")),
    responses((status = 200, body = DkimInfo), Failures))]
pub async fn dkim_activate(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, selector) = path.into_inner();
    let name = visible_domain(&ctx, &m.0, &name)?;
    dkim_key(&ctx, &name, &selector)?;
    need_scope(&m.0, Scope::Accounts)?;
    run(
        &ctx,
        AdminCommand::DkimActivate {
            domain: name.clone(),
            selector: selector.clone(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(dkim_key(&ctx, &name, &selector)?))
}

fn dkim_key(
    ctx: &crate::actors::ServerContext,
    domain: &str,
    selector: &str,
) -> Result<DkimInfo, ApiError> {
    dkim_infos(ctx, domain)?
        .into_iter()
        .find(|k| k.selector == selector)
        .ok_or_else(|| ApiError::not_found(format!("{domain} has no DKIM key {selector}")))
}

/// Deletes a key (the active one only when it is the domain's last).
#[utoipa::path(delete, path = "/api/v1/domains/{name}/dkim/{selector}", tag = "directory",
    params(("name" = String, Path, description = "domain name"),
           ("selector" = String, Path, description = "the key's selector")),
    responses((status = 204, description = "deleted"), Failures))]
pub async fn dkim_delete(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, selector) = path.into_inner();
    let name = visible_domain(&ctx, &m.0, &name)?;
    let key = dkim_key(&ctx, &name, &selector)?;
    need_scope(&m.0, Scope::Accounts)?;
    if key.active && dkim_infos(&ctx, &name)?.len() > 1 {
        return Err(ApiError::conflict(
            "the active key goes only when it is the last: activate another first",
        ));
    }
    run(
        &ctx,
        AdminCommand::DkimDelete {
            domain: name,
            selector,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
