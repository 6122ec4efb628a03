//! PLACEHOLDER until `http::auth::Manager` (the shared extractor) is merged: the caller is
//! whatever `Principal` a wrapping middleware put in the request's extensions. Replaced by
//! `pub use crate::http::auth::Manager` on merge; never shipped.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{ready, Ready};

use crate::http::auth::Principal;
use crate::http::error::ApiError;

/// An authenticated manager (admin or domain admin).
pub struct Manager(pub Principal);

impl FromRequest for Manager {
    type Error = ApiError;
    type Future = Ready<Result<Manager, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.extensions().get::<Principal>() {
            None => Err(ApiError::unauthorized("authentication required")),
            Some(p) if !p.is_manager() => Err(ApiError::forbidden("not an administrator")),
            Some(p) => Ok(Manager(p.clone())),
        })
    }
}
