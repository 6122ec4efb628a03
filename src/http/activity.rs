//! Active HTTP requests per web listener, counted with the mail sessions
//! (`actors::stats::Stats`) under the listener's name (`http`, `https`, `admin`), so that
//! `/metrics` (`ferrymail_sessions_open{service=…}`), the console's `status`, `/health`
//! and the dashboard's sessions chart show the web front beside SMTP, IMAP and POP3.
//!
//! A request counts from the moment the middleware sees it until its answer's body has
//! been sent (or dropped): a server-sent event stream (the dashboard's overview, a log
//! tail, webmail's live folder) counts for as long as it is open, so an open dashboard or
//! webmail tab is an open session. No figure is computed per request beyond one counter up
//! and one down.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, Error};

use super::front::Front;
use crate::actors::ServerContext;

/// One active request: counted when made, uncounted when dropped.
struct Active {
    ctx: Arc<ServerContext>,
    listener: &'static str,
}

impl Active {
    fn new(ctx: Arc<ServerContext>, listener: &'static str) -> Active {
        ctx.stats.request_started(listener);
        Active { ctx, listener }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.ctx.stats.session_closed(self.listener);
    }
}

/// An answer's body that holds its request's [`Active`] until the last byte is out.
pub struct Counted {
    body: BoxBody,
    active: Option<Active>,
}

impl MessageBody for Counted {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.body).poll_next(cx);
        if let Poll::Ready(None) = next {
            // Sent whole: the request is over even if the connection keeps the body.
            this.active = None;
        }
        next
    }
}

/// Middleware: counts the request on its listener while it is being answered.
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<Counted>, Error> {
    let ctx = req
        .app_data::<web::Data<Arc<ServerContext>>>()
        .map(|d| d.get_ref().clone());
    let front = req.app_data::<web::Data<Front>>().map(|d| *d.get_ref());
    let active = match (ctx, front) {
        (Some(ctx), Some(front)) => Some(Active::new(ctx, front.listener.name())),
        _ => None,
    };
    let res = next.call(req).await?;
    Ok(res.map_body(|_, body| Counted {
        body: body.boxed(),
        active,
    }))
}
