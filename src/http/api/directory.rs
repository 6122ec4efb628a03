//! Domains, domain admins, accounts and sender rights.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    blocking, hidden, need_admin, need_scope, resource, run, Body, Ctx, Failures, Manager, Paging,
};
use crate::admin::AdminCommand;
use crate::http::auth::{Principal, Scope};
use crate::http::error::ApiError;
use crate::storage::Account;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    resource!(cfg, "/domains", GET => domains_list, POST => domain_add);
    resource!(cfg, "/domains/{name}", GET => domain_get, DELETE => domain_del);
    resource!(cfg, "/domains/{name}/admins", POST => domain_admin_add);
    resource!(cfg, "/domains/{name}/admins/{account}", DELETE => domain_admin_del);
    resource!(cfg, "/accounts", GET => accounts_list, POST => account_add);
    resource!(cfg, "/accounts/{address}", GET => account_get, PATCH => account_patch, DELETE => account_del);
    resource!(cfg, "/accounts/{address}/sendas", POST => sendas_add);
    resource!(cfg, "/accounts/{address}/sendas/{sender}", DELETE => sendas_del);
}

// ---------------------------------------------------------------- domains

/// A local domain.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DomainInfo {
    pub name: String,
    /// Accounts that administer it (`domainadmin add`).
    pub admins: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DomainList {
    pub items: Vec<DomainInfo>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    /// The domain name, e.g. `example.com`.
    #[schema(
        pattern = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){1,3}$"
    )]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomainAdmin {
    /// An existing account that is to administer the domain.
    #[schema(
        pattern = r"^[A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,20}){0,2}@[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){1,3}$"
    )]
    pub account: String,
}

/// The domain admins of every domain, from the sender rights (one read).
fn admins_by_domain(
    ctx: &crate::actors::ServerContext,
) -> Result<std::collections::HashMap<String, Vec<String>>, ApiError> {
    let mut m: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (account, rights) in ctx.store.list_sender_rights()? {
        for d in rights.domains {
            m.entry(d).or_default().push(account.clone());
        }
    }
    Ok(m)
}

/// The domain `name` as the caller may see it, or 404.
pub(super) fn visible_domain(
    ctx: &crate::actors::ServerContext,
    p: &Principal,
    name: &str,
) -> Result<String, ApiError> {
    let lower = name.to_ascii_lowercase();
    if !p.may_domain(&lower) || !ctx.store.is_local_domain(&lower)? {
        return Err(hidden(&format!("domain {name}")));
    }
    Ok(lower)
}

fn domain_info(ctx: &crate::actors::ServerContext, name: &str) -> Result<DomainInfo, ApiError> {
    let mut admins = admins_by_domain(ctx)?.remove(name).unwrap_or_default();
    admins.sort();
    Ok(DomainInfo {
        name: name.to_string(),
        admins,
    })
}

/// The local domains the caller administers.
#[utoipa::path(get, path = "/api/v1/domains", tag = "directory",
    responses((status = 200, body = DomainList), Failures))]
pub async fn domains_list(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    let p = m.0;
    let list = blocking(&ctx, move |ctx| {
        let mut admins = admins_by_domain(ctx)?;
        Ok(ctx
            .store
            .list_domains()?
            .into_iter()
            .filter(|d| p.may_domain(d))
            .map(|d| {
                let mut a = admins.remove(&d).unwrap_or_default();
                a.sort();
                DomainInfo { name: d, admins: a }
            })
            .collect())
    })
    .await?;
    Ok(HttpResponse::Ok().json(DomainList { items: list }))
}

/// Adds a local domain (admins only; scope `accounts`).
#[utoipa::path(post, path = "/api/v1/domains", tag = "directory", request_body = NewDomain,
    responses((status = 201, body = DomainInfo), Failures))]
pub async fn domain_add(
    ctx: Ctx,
    m: Manager,
    body: Body<NewDomain>,
) -> Result<HttpResponse, ApiError> {
    need_scope(&m.0, Scope::Accounts)?;
    need_admin(&m.0)?;
    let name = body.into_inner().name.trim().to_ascii_lowercase();
    if ctx.store.is_local_domain(&name)? {
        return Err(ApiError::conflict(format!("domain {name} already exists")));
    }
    run(&ctx, AdminCommand::DomainAdd(name.clone())).await?;
    Ok(HttpResponse::Created().json(domain_info(&ctx, &name)?))
}

/// One domain.
#[utoipa::path(get, path = "/api/v1/domains/{name}", tag = "directory",
    params(("name" = String, Path, description = "domain name")),
    responses((status = 200, body = DomainInfo), Failures))]
pub async fn domain_get(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = visible_domain(&ctx, &m.0, &path)?;
    Ok(HttpResponse::Ok().json(domain_info(&ctx, &name)?))
}

/// Deletes a domain and its aliases (admins only). 409 while accounts remain in it.
#[utoipa::path(delete, path = "/api/v1/domains/{name}", tag = "directory",
    params(("name" = String, Path, description = "domain name")),
    responses((status = 204, description = "deleted"), Failures))]
pub async fn domain_del(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = visible_domain(&ctx, &m.0, &path)?;
    need_scope(&m.0, Scope::Accounts)?;
    need_admin(&m.0)?;
    let suffix = format!("@{name}");
    let used = blocking(&ctx, move |ctx| {
        Ok(ctx
            .store
            .list_accounts()?
            .iter()
            .any(|a| a.address.ends_with(&suffix)))
    })
    .await?;
    if used {
        return Err(ApiError::conflict(format!(
            "domain {name} still has accounts: delete them first"
        )));
    }
    run(&ctx, AdminCommand::DomainDel(name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Makes an account an administrator of the domain (admins only).
#[utoipa::path(post, path = "/api/v1/domains/{name}/admins", tag = "directory",
    params(("name" = String, Path, description = "domain name")), request_body = NewDomainAdmin,
    responses((status = 201, body = DomainInfo), Failures))]
pub async fn domain_admin_add(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    body: Body<NewDomainAdmin>,
) -> Result<HttpResponse, ApiError> {
    let name = visible_domain(&ctx, &m.0, &path)?;
    need_scope(&m.0, Scope::Accounts)?;
    need_admin(&m.0)?;
    let account = body.into_inner().account.to_ascii_lowercase();
    // The path's domain exists (404 above otherwise); an unknown account named in the body
    // makes the request unprocessable, not the domain missing.
    if ctx.store.get_account(&account)?.is_none() {
        return Err(ApiError::unprocessable(format!("no account {account}")));
    }
    if ctx.store.sender_rights(&account)?.domains.contains(&name) {
        return Err(ApiError::conflict(format!(
            "{account} already administers {name}"
        )));
    }
    run(
        &ctx,
        AdminCommand::DomainAdminAdd {
            account,
            domain: name.clone(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(domain_info(&ctx, &name)?))
}

/// Ends an account's administration of the domain (admins only).
#[utoipa::path(delete, path = "/api/v1/domains/{name}/admins/{account}", tag = "directory",
    params(("name" = String, Path, description = "domain name"),
           ("account" = String, Path, description = "account address")),
    responses((status = 204, description = "removed"), Failures))]
pub async fn domain_admin_del(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, account) = path.into_inner();
    let name = visible_domain(&ctx, &m.0, &name)?;
    need_scope(&m.0, Scope::Accounts)?;
    need_admin(&m.0)?;
    let account = account.to_ascii_lowercase();
    if !ctx.store.sender_rights(&account)?.domains.contains(&name) {
        return Err(ApiError::not_found(format!(
            "{account} does not administer {name}"
        )));
    }
    run(
        &ctx,
        AdminCommand::DomainAdminDel {
            account,
            domain: name,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- accounts

/// An account in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountInfo {
    pub address: String,
    /// Administers the whole server.
    pub admin: bool,
    /// Refused at every login; still receives mail.
    pub disabled: bool,
    /// Unix seconds.
    pub created: u64,
}

impl From<Account> for AccountInfo {
    fn from(a: Account) -> Self {
        AccountInfo {
            address: a.address,
            admin: a.admin,
            disabled: a.disabled,
            created: a.created,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountPage {
    pub items: Vec<AccountInfo>,
    /// Accounts matching the filters, over all pages.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

/// Quota limits (absent: none) and usage.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuotaInfo {
    pub storage_used: u64,
    pub storage_limit: Option<u64>,
    pub messages_used: u64,
    pub messages_limit: Option<u64>,
}

/// One account with its quota and sender rights.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountDetail {
    pub address: String,
    /// Administers the whole server.
    pub admin: bool,
    /// Refused at every login; still receives mail.
    pub disabled: bool,
    pub created: u64,
    pub quota: QuotaInfo,
    /// Addresses (`other@dom`) and domains (`@dom`) it may send as.
    pub send_as: Vec<String>,
    /// Domains it administers.
    pub administers: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// In a local domain the caller administers (else 404).
    #[schema(
        pattern = r"^[A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,20}){0,2}@[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){1,3}$"
    )]
    pub address: String,
    #[schema(min_length = 1)]
    pub password: String,
    /// Server administrator (only admins may grant it).
    #[serde(default)]
    pub admin: bool,
}

/// The changes `PATCH /accounts/{address}` makes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// A new password.
    #[schema(min_length = 1)]
    pub password: Option<String>,
    /// Server administrator; only a full admin may change it, and not on their own account.
    pub admin: Option<bool>,
    /// Refuse every login (mail is still accepted); not on the caller's own account.
    pub disabled: Option<bool>,
    /// New limits: an absent limit is kept, a null one lifted (`"quota": null` changes
    /// nothing).
    #[schema(nullable)]
    pub quota: Option<QuotaChange>,
}

/// Quota limits to change: absent keeps the limit, `null` lifts it, a number sets it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaChange {
    /// Bytes (a whole number up to 2^53 - 1).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, nullable, minimum = 0, maximum = 9007199254740991_u64)]
    pub storage: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, nullable, minimum = 0, maximum = 9007199254740991_u64)]
    pub messages: Option<Option<u64>>,
}

/// The largest limit: what every JSON reader holds exactly (2^53 - 1).
const MAX_LIMIT_VALUE: u64 = (1 << 53) - 1;

/// Tells a present field (`Some`, maybe `Some(None)` for `null`) from an absent one (`None`,
/// through `#[serde(default)]`). A whole number written as `5.0` is the number 5 (JSON
/// Schema's `integer` allows it); fractions, negatives and values above
/// [`MAX_LIMIT_VALUE`] are refused.
fn present<'de, D>(d: D) -> Result<Option<Option<u64>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    let v = Option::<serde_json::Number>::deserialize(d)?;
    let Some(n) = v else {
        return Ok(Some(None));
    };
    let whole = match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => Some(u),
        (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f <= MAX_LIMIT_VALUE as f64 => {
            Some(f as u64)
        }
        _ => None,
    };
    match whole {
        Some(u) if u <= MAX_LIMIT_VALUE => Ok(Some(Some(u))),
        _ => Err(D::Error::custom(format!(
            "a limit is a whole number from 0 to {MAX_LIMIT_VALUE}, or null"
        ))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountFilter {
    /// Only this domain's accounts.
    pub domain: Option<String>,
    /// Only addresses containing this text (any case).
    pub q: Option<String>,
}

/// The account as the caller may see it, or 404.
pub(super) fn visible_account(
    ctx: &crate::actors::ServerContext,
    p: &Principal,
    address: &str,
) -> Result<Account, ApiError> {
    if !p.may_address(address) {
        return Err(hidden(&format!("account {address}")));
    }
    ctx.store
        .get_account(address)?
        .ok_or_else(|| hidden(&format!("account {address}")))
}

/// The account as the caller may change or delete it: [`visible_account`], and 403 when it
/// is an administrator or administers a domain beyond the caller's
/// ([`Principal::may_change_account`]).
pub(crate) fn changeable_account(
    ctx: &crate::actors::ServerContext,
    p: &Principal,
    address: &str,
) -> Result<Account, ApiError> {
    let acc = visible_account(ctx, p, address)?;
    let rights = ctx.store.sender_rights(&acc.address)?;
    if !p.may_change_account(acc.admin, &rights.domains) {
        return Err(ApiError::forbidden(format!(
            "account {} is an administrator beyond your domains: only server administrators change it",
            acc.address
        )));
    }
    Ok(acc)
}

fn account_detail(
    ctx: &crate::actors::ServerContext,
    a: Account,
) -> Result<AccountDetail, ApiError> {
    let q = ctx.store.quota(&a.address)?;
    let rights = ctx.store.sender_rights(&a.address)?;
    Ok(AccountDetail {
        quota: QuotaInfo {
            storage_used: q.storage_used,
            storage_limit: q.storage_limit,
            messages_used: q.messages_used,
            messages_limit: q.messages_limit,
        },
        send_as: rights.send_as,
        administers: rights.domains,
        address: a.address,
        admin: a.admin,
        disabled: a.disabled,
        created: a.created,
    })
}

/// The accounts the caller administers, paged and filtered.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "directory",
    params(Paging, AccountFilter),
    responses((status = 200, body = AccountPage), Failures))]
pub async fn accounts_list(
    ctx: Ctx,
    m: Manager,
    paging: web::Query<Paging>,
    filter: web::Query<AccountFilter>,
) -> Result<HttpResponse, ApiError> {
    let (p, paging, filter) = (m.0, paging.into_inner(), filter.into_inner());
    paging.resolve()?;
    let page = blocking(&ctx, move |ctx| {
        let domain = filter
            .domain
            .map(|d| format!("@{}", d.to_ascii_lowercase()));
        let q = filter.q.map(|q| q.to_lowercase());
        let all: Vec<AccountInfo> = ctx
            .store
            .list_accounts()?
            .into_iter()
            .filter(|a| p.may_address(&a.address))
            .filter(|a| domain.as_ref().is_none_or(|d| a.address.ends_with(d)))
            .filter(|a| q.as_ref().is_none_or(|q| a.address.contains(q)))
            .map(AccountInfo::from)
            .collect();
        let (items, total, offset, limit) = paging.page(all)?;
        Ok(AccountPage {
            items,
            total,
            offset,
            limit,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Creates an account (with its default folders) in a domain the caller administers.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "directory", request_body = NewAccount,
    responses((status = 201, body = AccountDetail), Failures))]
pub async fn account_add(
    ctx: Ctx,
    m: Manager,
    body: Body<NewAccount>,
) -> Result<HttpResponse, ApiError> {
    let p = m.0;
    need_scope(&p, Scope::Accounts)?;
    let NewAccount {
        address,
        password,
        admin,
    } = body.into_inner();
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(ApiError::unprocessable(format!(
            "{address:?} is not an address (local@domain)"
        )));
    };
    if local.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "{address:?} is not an address (local@domain)"
        )));
    }
    if !p.may_domain(domain) || !ctx.store.is_local_domain(domain)? {
        return Err(hidden(&format!("domain {domain}")));
    }
    if admin {
        need_admin(&p)?;
    }
    if password.is_empty() {
        return Err(ApiError::unprocessable("the password is empty"));
    }
    if ctx.store.get_account(&address)?.is_some() {
        return Err(ApiError::conflict(format!(
            "account {address} already exists"
        )));
    }
    run(
        &ctx,
        AdminCommand::AccountAdd {
            address: address.clone(),
            password,
            admin,
        },
    )
    .await?;
    let acc = visible_account(&ctx, &p, &address)?;
    Ok(HttpResponse::Created().json(account_detail(&ctx, acc)?))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/accounts/{address}", tag = "directory",
    params(("address" = String, Path, description = "account address")),
    responses((status = 200, body = AccountDetail), Failures))]
pub async fn account_get(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let acc = visible_account(&ctx, &m.0, &path)?;
    Ok(HttpResponse::Ok().json(account_detail(&ctx, acc)?))
}

/// Changes an account: its password, admin flag (full admins only), disabled flag and quota
/// limits. Each change goes through the admin executor, in that order.
#[utoipa::path(patch, path = "/api/v1/accounts/{address}", tag = "directory",
    params(("address" = String, Path, description = "account address")),
    request_body = AccountChange,
    responses((status = 200, body = AccountDetail), Failures))]
pub async fn account_patch(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    body: Body<AccountChange>,
) -> Result<HttpResponse, ApiError> {
    let p = m.0;
    let acc = changeable_account(&ctx, &p, &path)?;
    need_scope(&p, Scope::Accounts)?;
    let AccountChange {
        password,
        admin,
        disabled,
        quota,
    } = body.into_inner();
    // Check everything before changing anything.
    if password.as_deref() == Some("") {
        return Err(ApiError::unprocessable("the password is empty"));
    }
    if admin.is_some() {
        need_admin(&p)?;
    }
    let own = acc.address == p.address;
    if own && admin == Some(false) && acc.admin {
        return Err(ApiError::conflict("you cannot demote your own account"));
    }
    if own && disabled == Some(true) {
        return Err(ApiError::conflict("you cannot disable your own account"));
    }
    let address = acc.address.clone();
    if let Some(password) = password {
        run(
            &ctx,
            AdminCommand::AccountPasswd {
                address: address.clone(),
                password,
            },
        )
        .await?;
    }
    if let Some(admin) = admin.filter(|&a| a != acc.admin) {
        run(
            &ctx,
            AdminCommand::AccountAdmin {
                address: address.clone(),
                admin,
            },
        )
        .await?;
    }
    if let Some(disabled) = disabled.filter(|&d| d != acc.disabled) {
        let cmd = if disabled {
            AdminCommand::AccountDisable(address.clone())
        } else {
            AdminCommand::AccountEnable(address.clone())
        };
        run(&ctx, cmd).await?;
    }
    if let Some(q) = quota.filter(|q| q.storage.is_some() || q.messages.is_some()) {
        run(
            &ctx,
            AdminCommand::AccountQuota {
                address: address.clone(),
                storage: q.storage,
                messages: q.messages,
            },
        )
        .await?;
    }
    let acc = visible_account(&ctx, &p, &address)?;
    Ok(HttpResponse::Ok().json(account_detail(&ctx, acc)?))
}

/// Deletes an account with its folders and messages.
#[utoipa::path(delete, path = "/api/v1/accounts/{address}", tag = "directory",
    params(("address" = String, Path, description = "account address")),
    responses((status = 204, description = "deleted"), Failures))]
pub async fn account_del(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let acc = changeable_account(&ctx, &m.0, &path)?;
    need_scope(&m.0, Scope::Accounts)?;
    if acc.address == m.0.address {
        return Err(ApiError::conflict("you cannot delete your own account"));
    }
    run(&ctx, AdminCommand::AccountDel(acc.address)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSendAs {
    /// `other@domain` or `@domain`.
    #[schema(
        pattern = r"^([A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,20}){0,2})?@[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){1,3}$"
    )]
    pub sender: String,
}

/// Lets the account send as another address or a whole domain (`@domain`).
#[utoipa::path(post, path = "/api/v1/accounts/{address}/sendas", tag = "directory",
    params(("address" = String, Path, description = "account address")),
    request_body = NewSendAs,
    responses((status = 201, body = AccountDetail), Failures))]
pub async fn sendas_add(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    body: Body<NewSendAs>,
) -> Result<HttpResponse, ApiError> {
    let acc = visible_account(&ctx, &m.0, &path)?;
    need_scope(&m.0, Scope::Accounts)?;
    let sender = body.into_inner().sender.to_lowercase();
    // A domain admin may hand out only addresses of its own domains.
    if !m.0.may_address(&sender) {
        return Err(hidden(&format!("domain of {sender}")));
    }
    if ctx
        .store
        .sender_rights(&acc.address)?
        .send_as
        .contains(&sender)
    {
        return Err(ApiError::conflict(format!(
            "{} may already send as {sender}",
            acc.address
        )));
    }
    run(
        &ctx,
        AdminCommand::SendAsAdd {
            account: acc.address.clone(),
            sender,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(account_detail(&ctx, acc)?))
}

/// Takes an entry off the account's "may send as" list.
#[utoipa::path(delete, path = "/api/v1/accounts/{address}/sendas/{sender}", tag = "directory",
    params(("address" = String, Path, description = "account address"),
           ("sender" = String, Path, description = "`other@domain` or `@domain`")),
    responses((status = 204, description = "removed"), Failures))]
pub async fn sendas_del(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (address, sender) = path.into_inner();
    let acc = visible_account(&ctx, &m.0, &address)?;
    need_scope(&m.0, Scope::Accounts)?;
    let sender = sender.to_lowercase();
    if !ctx
        .store
        .sender_rights(&acc.address)?
        .send_as
        .contains(&sender)
    {
        return Err(ApiError::not_found(format!(
            "{} has no right to send as {sender}",
            acc.address
        )));
    }
    run(
        &ctx,
        AdminCommand::SendAsDel {
            account: acc.address,
            sender,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
