//! The JSON error every HTTP API answer uses: `{"error": {"code": "...", "message": "..."}}`
//! with the HTTP status that means it (400, 401, 403, 404, 409, 422, 429, 500, 503). The
//! `code` strings are stable: clients match on them, the message is for people. A 429
//! carries `Retry-After` with the seconds until the limit lifts (RFC 6585 §4, RFC 9110
//! §10.2.3), so a client can wait instead of parsing the message.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::storage::StorageError;

/// An API failure: status, stable code, human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds until a rate limit lifts: the `Retry-After` of a 429.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// No or wrong credentials (the answer carries `WWW-Authenticate: Basic`).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// Authenticated, but not allowed to do this (role, scope or domain).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// Well-formed but invalid (a bad address, an unknown queue name, a weak password).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
    /// A limit that lifts in `retry_after_secs` seconds (sent as `Retry-After`).
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((
                header::WWW_AUTHENTICATE,
                "Basic realm=\"ferrymail\", charset=\"UTF-8\"",
            ));
        }
        if let Some(secs) = self.retry_after {
            r.insert_header((header::RETRY_AFTER, secs));
        }
        r.insert_header((header::CACHE_CONTROL, "no-store"));
        r.json(Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Exists(_) | StorageError::Conflict(_) => Self::conflict(e.to_string()),
            StorageError::NotFound(_) | StorageError::Gone(_) => Self::not_found(e.to_string()),
            StorageError::Invalid(_) | StorageError::OverQuota { .. } => {
                Self::unprocessable(e.to_string())
            }
            StorageError::Backend(_)
            | StorageError::Io(_)
            | StorageError::Encoding(_)
            | StorageError::Schema { .. } => {
                tracing::error!(error = %e, "storage failure answering an HTTP request");
                Self::internal("storage failure; the server log has the details")
            }
        }
    }
}
