//! The management API: JSON under `/api/v1/` on the admin listener, for admins and domain
//! admins (HTTP Basic, API keys, or the dashboard's session).
//!
//! It shares the console's commands: reads come straight from the storage traits, every
//! change is an [`AdminCommand`] run by `admin::socket::execute_live` (so it flushes and
//! notifies the actors exactly as the console does), or a typed queue [`Change`] sent to
//! the queue actors; the answer is the object read back. `POST /api/v1/command` runs any
//! console line (admins with scope `all`).
//!
//! Access, checked on every endpoint:
//! - the caller's key scope ([`Scope`]): reads need nothing, domain/account/alias/folder/
//!   DKIM changes need `accounts`, queue changes `queues`, server-wide changes `all`;
//! - a domain admin sees only its domains' objects: lists leave the others out, and an
//!   object of another domain answers **404**, exactly as one that does not exist, so
//!   that nothing leaks whether it exists. Server-wide things (status, settings, logs,
//!   screening, cluster, API keys of others, the console line, creating domains) answer
//!   **403** to domain admins: they exist on every server, there is nothing to hide.
//!
//! Errors are [`ApiError`] JSON. The executor answers failures as text; rather than read
//! the English, each handler checks what decides the status (exists? visible?) with reads
//! first, and a failure the checks did not foresee (a change racing with another, a value
//! the store refuses) is 422 with the executor's message. Queue changes carry typed
//! refusals ([`Refused`]).
//!
//! The OpenAPI 3 document ([`openapi`], `GET /api/v1/openapi.json`) is generated from the
//! handlers' annotations and types.

mod aliases;
pub(crate) mod collections;
mod directory;
mod dkim;
mod folders;
mod jobs;
mod queues;
mod server;

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::actors::queues::{Change, Refused};
use crate::actors::ServerContext;
use crate::admin::AdminCommand;
use crate::http::auth::{Principal, Scope};
use crate::http::error::ApiError;

pub use crate::http::auth::Manager;

/// The server context as the handlers get it.
pub(crate) type Ctx = web::Data<Arc<ServerContext>>;

/// Registers the `/api/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(
                web::JsonConfig::default().error_handler(|e, _| {
                    ApiError::unprocessable(format!("request body: {e}")).into()
                }),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::unprocessable(format!("query: {e}")).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::not_found(format!("path: {e}")).into()),
            )
            .service(
                web::resource("/openapi.json")
                    .route(web::get().to(openapi_json))
                    .default_service(not_allowed("GET")),
            )
            .configure(directory::configure)
            .configure(aliases::configure)
            .configure(dkim::configure)
            .configure(folders::configure)
            .configure(collections::configure)
            .configure(queues::configure)
            .configure(jobs::configure)
            .configure(server::configure)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::not_found("no such API endpoint"))
            })),
    );
}

/// The error body every failure has (`http::error::ApiError`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInner,
}

/// A failure: a stable `code` to match on and a `message` for people.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorInner {
    /// bad_request, unauthorized, forbidden, not_found, conflict, invalid, rate_limited,
    /// internal, unavailable, csrf.
    pub code: String,
    pub message: String,
}

/// The failures any endpoint may answer (documented once for all of them).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Failures {
    /// No or wrong credentials.
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// Authenticated, but the role or key scope does not allow it.
    #[response(status = 403)]
    Forbidden(#[to_schema] ErrorBody),
    /// No such object, or one of a domain the caller does not administer.
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
    /// It exists already, or is in use.
    #[response(status = 409)]
    Conflict(#[to_schema] ErrorBody),
    /// Well-formed but invalid input.
    #[response(status = 422)]
    Invalid(#[to_schema] ErrorBody),
    /// Too many failed logins from the client's address; `Retry-After` says when to try again.
    #[response(status = 429, headers(
        ("Retry-After" = u64, description = "Seconds until the login limit lifts")
    ))]
    RateLimited(#[to_schema] ErrorBody),
    /// A storage failure.
    #[response(status = 500)]
    Internal(#[to_schema] ErrorBody),
    /// A check that could not run now (e.g. the API key store).
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody),
}

/// Paging of a list: `offset` (default 0) and `limit` (default 50, at most 1000).
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub offset: Option<usize>,
    #[param(minimum = 0, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The largest page.
pub const MAX_LIMIT: usize = 1000;
/// The largest offset the document admits (2^53 - 1, the largest integer every JSON reader
/// keeps exactly).
pub const MAX_OFFSET: usize = 9007199254740991;
/// The page size without `limit`.
pub const DEFAULT_LIMIT: usize = 50;

impl Paging {
    /// (offset, limit) with the defaults; a limit above [`MAX_LIMIT`] is 422.
    pub fn resolve(&self) -> Result<(usize, usize), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        let offset = self.offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            return Err(ApiError::unprocessable(format!(
                "offset {offset} is above {MAX_OFFSET}"
            )));
        }
        if limit > MAX_LIMIT {
            return Err(ApiError::unprocessable(format!(
                "limit {limit} is above {MAX_LIMIT}"
            )));
        }
        Ok((offset, limit))
    }

    /// One page of `items`: (the page, total).
    pub fn page<T>(&self, items: Vec<T>) -> Result<(Vec<T>, usize, usize, usize), ApiError> {
        let (offset, limit) = self.resolve()?;
        let total = items.len();
        let page = items.into_iter().skip(offset).take(limit).collect();
        Ok((page, total, offset, limit))
    }
}

/// Refuses a change the key's scope does not cover (403).
pub(crate) fn need_scope(p: &Principal, need: Scope) -> Result<(), ApiError> {
    if p.scope_allows(need) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "the API key's scope ({}) does not allow this (needs {})",
            p.scope.as_str(),
            need.as_str()
        )))
    }
}

/// Refuses a server-wide operation to anyone but an admin (403).
pub(crate) fn need_admin(p: &Principal) -> Result<(), ApiError> {
    if p.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only server administrators may do this",
        ))
    }
}

/// 404 for an object of a domain the caller does not administer (as if it did not exist).
pub(crate) fn hidden(what: &str) -> ApiError {
    ApiError::not_found(format!("{what} not found"))
}

/// Runs an admin command on the live server, as the console would. A failure the handler's
/// checks did not foresee is 422 with the executor's message.
pub(crate) async fn run(ctx: &Ctx, cmd: AdminCommand) -> Result<String, ApiError> {
    crate::admin::socket::execute_live(ctx.get_ref(), cmd)
        .await
        .map_err(ApiError::unprocessable)
}

/// Sends a queue change to the queue actors; typed refusals get their status.
pub(crate) async fn queue_change(
    ctx: &Ctx,
    change: Change,
) -> Result<crate::actors::queues::Changed, ApiError> {
    crate::actors::queues::change(ctx.get_ref(), change)
        .await
        .map_err(|e| match e {
            Refused::NoSuchRecord(_) => ApiError::not_found(e.to_string()),
            Refused::Busy(..) | Refused::AlreadyThere(..) | Refused::Moved(_) => {
                ApiError::conflict(e.to_string())
            }
            Refused::Failed(m) => {
                tracing::error!(error = %m, "queue change failed");
                ApiError::internal(m)
            }
        })
}

/// Runs a blocking store read off the HTTP worker (the PostgreSQL backend blocks).
pub(crate) async fn blocking<T, F>(ctx: &Ctx, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&ServerContext) -> Result<T, ApiError> + Send + 'static,
{
    let c = ctx.get_ref().clone();
    web::block(move || f(&c))
        .await
        .map_err(|e| ApiError::internal(format!("worker: {e}")))?
}

/// The default service of a resource: 405 with the methods it has in `Allow`.
pub(crate) fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::route().to(move || async move {
        let mut r = actix_web::ResponseError::error_response(&ApiError::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this endpoint answers {allow}"),
        ));
        r.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        r
    })
}

/// Registers `path` with its routes; other methods get 405 (see [`not_allowed`]).
macro_rules! resource {
    ($cfg:expr, $path:expr, $($method:ident => $handler:expr),+ $(,)?) => {{
        let allow = concat!($(stringify!($method), ", "),+);
        let allow: &'static str = allow.trim_end_matches(", ");
        $cfg.service(
            actix_web::web::resource($path)
                $(.route(actix_web::web::method(actix_web::http::Method::$method).to($handler)))+
                .default_service($crate::http::api::not_allowed(allow)),
        );
    }};
}
pub(crate) use resource;

/// A JSON request body, which must be an object (serde would also read a struct from an
/// array, by position) and must match `T`'s schema in the published OpenAPI document
/// (patterns, lengths, bounds: see [`body_schema_error`]); anything else is 422.
pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Body<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Validators of request bodies, one per schema name, compiled on first use from the
/// OpenAPI document with every component schema reachable (`$ref`s resolve inside it).
fn body_validator(name: &str) -> Result<std::sync::Arc<jsonschema::Validator>, String> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
        return Ok(v.clone());
    }
    // The document's components, serialised once for every schema (not once per type).
    static COMPONENTS: OnceLock<Result<serde_json::Value, String>> = OnceLock::new();
    let components = COMPONENTS
        .get_or_init(|| {
            let doc = serde_json::to_value(openapi()).map_err(|e| e.to_string())?;
            Ok(doc
                .pointer("/components")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({})))
        })
        .as_ref()
        .map_err(Clone::clone)?;
    if components.pointer(&format!("/schemas/{name}")).is_none() {
        return Err(format!("no schema {name} in the OpenAPI document"));
    }
    let root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": components,
    });
    let v = Arc::new(jsonschema::validator_for(&root).map_err(|e| e.to_string())?);
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.to_string(), v.clone());
    Ok(v)
}

/// Why `value` does not match the published schema `name`, if it does not. The OpenAPI
/// document is what clients (and schemathesis) generate requests from; checking bodies
/// against it keeps the two from disagreeing about what is valid.
pub(crate) fn body_schema_error(name: &str, value: &serde_json::Value) -> Option<String> {
    let validator = match body_validator(name) {
        Ok(v) => v,
        // A type without a published schema is a bug of ours, not of the request: log it
        // and let serde's own checks decide.
        Err(e) => {
            tracing::error!(schema = name, "request body schema unavailable: {e}");
            return None;
        }
    };
    let first = validator.iter_errors(value).next().map(|e| {
        let at = e.instance_path().to_string();
        if at.is_empty() {
            format!("request body: {e}")
        } else {
            format!("request body at {at}: {e}")
        }
    });
    first
}

impl<T: serde::de::DeserializeOwned + utoipa::ToSchema + 'static> actix_web::FromRequest
    for Body<T>
{
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let v = json.await?.into_inner();
            if !v.is_object() {
                return Err(
                    ApiError::unprocessable("the request body must be a JSON object").into(),
                );
            }
            if let Some(why) = body_schema_error(&T::name(), &v) {
                return Err(ApiError::unprocessable(why).into());
            }
            serde_json::from_value(v)
                .map(Body)
                .map_err(|e| ApiError::unprocessable(format!("request body: {e}")).into())
        })
    }
}

/// A short answer for changes with nothing else to show.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Done {
    /// What the console would have printed.
    pub output: String,
}

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("fm_<id>_<secret>")
                    .description(Some("An API key (see `apikey create`)"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ferrymail management API",
        description = "Domains, accounts, queues and the rest of the console's commands as JSON."
    ),
    paths(
        directory::domains_list,
        directory::domain_add,
        directory::domain_get,
        directory::domain_del,
        directory::domain_admin_add,
        directory::domain_admin_del,
        directory::accounts_list,
        directory::account_add,
        directory::account_get,
        directory::account_patch,
        directory::account_del,
        directory::sendas_add,
        directory::sendas_del,
        aliases::aliases_list,
        aliases::alias_add,
        aliases::alias_del,
        dkim::dkim_list,
        dkim::dkim_generate,
        dkim::dkim_activate,
        dkim::dkim_delete,
        folders::folders_list,
        folders::folder_create,
        folders::folder_delete,
        folders::acl_get,
        folders::acl_set,
        collections::collections_list,
        collections::collection_create,
        collections::collection_get,
        collections::collection_delete,
        collections::collection_import,
        collections::collection_export,
        queues::queues_counts,
        queues::queue_list,
        queues::queue_show,
        queues::queue_retry,
        queues::queue_bounce,
        queues::queue_move,
        queues::queue_delete,
        queues::queue_bulk,
        jobs::jobs_list,
        jobs::job_get,
        server::status,
        server::cluster,
        server::settings,
        server::reload,
        server::command,
        server::logs,
        server::logs_stream,
        server::screening,
        server::screening_change,
        server::sources,
        server::source_run,
        server::source_del,
        server::apikeys,
        server::apikey_create,
        server::apikey_revoke,
    ),
    components(schemas(ErrorBody, ErrorInner, Done)),
    modifiers(&SecuritySchemes),
    security(("basic" = []), ("bearer" = [])),
    tags(
        (name = "directory", description = "Domains, accounts, aliases, sender rights, DKIM, folders, calendars and address books"),
        (name = "queues", description = "The six queues and their records"),
        (name = "jobs", description = "Long jobs started from the dashboard, with their progress"),
        (name = "server", description = "Status, settings, logs, screening, fetch sources, the console")
    )
)]
struct ApiDoc;

/// The OpenAPI 3 document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi())
}
