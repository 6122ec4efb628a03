//! Long jobs (`http::jobs`): the list and one job, with their progress and results. Jobs
//! are started from the dashboard (the API's own bulk queue change answers when it is
//! done). Admins see every job; a domain admin the jobs it started, and another's job
//! answers 404 as one that does not exist.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{hidden, resource, Failures, Manager};
use crate::http::error::ApiError;
use crate::http::jobs::{self, Job};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    resource!(cfg, "/jobs", GET => jobs_list);
    resource!(cfg, "/jobs/{id}", GET => job_get);
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// Newest first: the running jobs and the last 50 finished ones.
    pub items: Vec<Job>,
}

fn registry(req: &HttpRequest) -> Result<std::sync::Arc<jobs::Jobs>, ApiError> {
    jobs::of(req).ok_or_else(|| ApiError::not_found("there are no jobs on this listener"))
}

/// The jobs the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    responses((status = 200, body = JobList), Failures))]
pub async fn jobs_list(req: HttpRequest, m: Manager) -> Result<HttpResponse, ApiError> {
    let items = registry(&req)?.list(&m.0);
    Ok(HttpResponse::Ok().json(JobList { items }))
}

/// One job: its phase, progress (`done` of `total`) and, once finished, its result.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = u64, Path, description = "the job's number")),
    responses((status = 200, body = Job), Failures))]
pub async fn job_get(
    req: HttpRequest,
    m: Manager,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match registry(&req)?.get(id) {
        Some(job) if job.visible_to(&m.0) => Ok(HttpResponse::Ok().json(job)),
        _ => Err(hidden(&format!("job {id}"))),
    }
}
