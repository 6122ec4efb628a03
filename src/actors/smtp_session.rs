//! `SmtpSessionActor`: the IO shell around [`protocols::smtp::Session`]. It reads bytes,
//! feeds them to the session, and performs the actions the session returns: write replies,
//! start TLS, check a password, enqueue a message durably (only then does the session say
//! 250), close.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use tracing::Instrument;

use super::auth::{check_password, Checked};
use super::conn::Conn;
use super::deadline::{read_before, Read, UnitDeadline};
use super::listener::ConnGuard;
use super::queues::{Enqueue, QueueError};
use super::screen::{Offence, Reporter};
use super::supervisor::session_future;
use super::ServerContext;
use crate::delivery::accept::{self, storage_to_enqueue};
use crate::mailauth;
use crate::mailauth::sender::Verdict;
use crate::protocols::smtp::{
    received_header, rfc5322_date, Action, Answer, Directory, EnqueueError, Envelope, PeerInfo,
    RecipientCheck, SenderCheck, Service, Session, SessionConfig,
};
use crate::storage::{Destination, RecipientKind, StorageError, Store};

const READ_BUFFER: usize = 16 * 1024;

pub struct SmtpSessionActor {
    ctx: Arc<ServerContext>,
    name: &'static str,
    io: Option<SessionIo>,
}

struct SessionIo {
    service: Service,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    _guard: ConnGuard,
}

impl SmtpSessionActor {
    pub fn new(
        ctx: Arc<ServerContext>,
        service: Service,
        name: &'static str,
        stream: std::net::TcpStream,
        peer: SocketAddr,
        guard: ConnGuard,
    ) -> SmtpSessionActor {
        SmtpSessionActor {
            ctx,
            name,
            io: Some(SessionIo {
                service,
                stream,
                peer,
                _guard: guard,
            }),
        }
    }
}

impl Actor for SmtpSessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.ctx.stats.session_opened(self.name);
        let Some(io) = self.io.take() else {
            ctx.stop();
            return;
        };
        let sctx = self.ctx.clone();
        let id = sctx.new_session_id();
        let span = tracing::info_span!("smtp", service = self.name, session = %id, peer = %io.peer);
        let fut = async move {
            if let Err(e) = run(sctx, io, id).await {
                tracing::debug!("session ended: {e}");
            }
        }
        .instrument(span);
        ctx.spawn(session_future(self.ctx.clone(), self.name, fut));
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.ctx.stats.session_closed(self.name);
    }
}

/// Recipient checks straight from storage (a sled read: fast enough to do inline); unknown
/// recipients and AUTH probes are reported to screening.
struct StoreDirectory<'a>(&'a Store, Reporter<'a>);

impl Directory for StoreDirectory<'_> {
    fn check_recipient(&self, address: &str) -> RecipientCheck {
        match self.0.check_recipient(address) {
            Ok(RecipientKind::Local) if self.over_quota(address) => RecipientCheck::MailboxFull,
            Ok(RecipientKind::Local) => RecipientCheck::Local,
            Ok(RecipientKind::UnknownLocal) => {
                self.1.report(Offence::FailedRcpt);
                RecipientCheck::UnknownLocal
            }
            Ok(RecipientKind::Remote) => RecipientCheck::Remote,
            // Valid SMTP syntax that no address here can have (e.g. an over-long label):
            // nobody to deliver to, a permanent 550, not a lookup failure.
            Err(StorageError::Invalid(e)) => {
                tracing::debug!("recipient refused: {e}");
                RecipientCheck::UnknownLocal
            }
            Err(e) => {
                tracing::error!("recipient lookup failed: {e}");
                RecipientCheck::TempFail
            }
        }
    }

    fn auth_not_offered(&self) {
        self.1.report(Offence::AuthProbe);
    }

    fn check_sender(&self, account: &str, address: &str) -> SenderCheck {
        match mailauth::sender::may_send_as(self.0, account, address) {
            Ok(Verdict::Allowed) => SenderCheck::Allowed,
            Ok(Verdict::Refused(reason)) => {
                tracing::info!(user = account, "MAIL FROM refused: {reason}");
                SenderCheck::Refused(reason)
            }
            Err(e) => {
                tracing::error!("sender lookup failed: {e}");
                SenderCheck::TempFail
            }
        }
    }
}

impl StoreDirectory<'_> {
    /// Whether a local recipient's mailbox (any account it reaches) is at its quota: better
    /// a 452 now, while the sender still holds the message, than a bounce later.
    fn over_quota(&self, address: &str) -> bool {
        let Ok(dests) = self.0.resolve_recipient(address) else {
            return false;
        };
        dests.iter().any(|d| match d {
            Destination::Local(account) => self.0.quota(account).is_ok_and(|q| {
                q.storage_limit.is_some_and(|l| q.storage_used >= l)
                    || q.messages_limit.is_some_and(|l| q.messages_used >= l)
            }),
            Destination::Remote(_) => false,
        })
    }
}

async fn run(sctx: Arc<ServerContext>, io: SessionIo, id: String) -> std::io::Result<()> {
    let config = sctx.config();
    let tls = sctx.tls();
    let implicit = io.service == Service::Smtps;
    let Some(mut conn) = Conn::accept(io.stream, implicit, tls.clone()).await? else {
        return Ok(());
    };
    sctx.faults.hit("smtp.session");
    let limits = &config.smtp;
    let auth_enabled = match io.service {
        Service::Smtp => limits.auth_on_smtp_port,
        Service::Submission | Service::Smtps => true,
    };
    let session_config = SessionConfig {
        hostname: config.hostname.clone(),
        service: io.service,
        max_message_size: limits.max_message_size,
        drop_size: limits.drop_connection_size,
        max_recipients: limits.max_recipients,
        auth_enabled,
        auth_required: io.service != Service::Smtp,
        allow_plaintext_auth: limits.allow_plaintext_auth,
        starttls_available: tls.is_some(),
        max_line_length: limits.max_line_length,
    };
    let peer = PeerInfo {
        ip: io.peer.ip(),
        port: io.peer.port(),
        session_id: id.clone(),
    };
    let mut session = Session::new(session_config, peer, implicit);
    let store = sctx.store.clone();
    let reporter = Reporter::new(&sctx.screen, &config.screening, io.peer.ip());
    let dir = StoreDirectory(&store, reporter);
    let mut shutdown = sctx.shutdown_signal();
    let mut shutting_down = sctx.is_shutting_down();
    let mut actions: VecDeque<Action> = session.greeting().into();
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut buf = vec![0u8; READ_BUFFER];
    // Whole-unit deadlines (see `deadline`): the next command line must arrive whole
    // within `command_timeout` of the last reply, a DATA/BDAT transfer within
    // `data_timeout` of its start, however slowly the bytes come.
    let mut command = UnitDeadline::starting_now(limits.command_timeout);
    let mut data = UnitDeadline::default();
    loop {
        let mut replied = false;
        while let Some(action) = actions.pop_front() {
            match action {
                Action::Send(bytes) => {
                    replied = true;
                    out.extend_from_slice(&bytes);
                }
                Action::Close => return conn.close_with(&mut out, limits.command_timeout).await,
                Action::StartTls => {
                    let Some(upgraded) = conn
                        .start_tls(&mut out, tls.clone(), limits.command_timeout)
                        .await?
                    else {
                        return Ok(());
                    };
                    conn = upgraded;
                    tracing::debug!(tls = ?conn.tls_info(), "STARTTLS done");
                    actions.extend(session.tls_established(&dir));
                }
                Action::Authenticate {
                    mechanism,
                    login,
                    password,
                    ..
                } => {
                    let protocol = format!("smtp/{mechanism}");
                    let checked = check_password(&sctx, &protocol, &id, io.peer, login, password);
                    let answer = match checked.await {
                        Checked::Ok(account) => Answer::Auth(Some(account)),
                        Checked::Failed => Answer::Auth(None),
                        Checked::Unavailable => Answer::AuthTempFail,
                    };
                    actions.extend(session.resume(answer, &dir));
                }
                Action::Enqueue(envelope) => {
                    let queued = enqueue(&sctx, envelope, io.service, conn.is_tls()).await;
                    let answer = Answer::Enqueued(queued);
                    actions.extend(session.resume(answer, &dir));
                }
            }
        }
        if shutting_down && !session.in_data() && !session.is_waiting() {
            actions.extend(session.shutdown());
            if !actions.is_empty() {
                continue;
            }
        }
        if !out.is_empty() {
            conn.send(&mut out, limits.command_timeout).await?;
        }
        let in_data = session.in_data();
        data.track(in_data, limits.data_timeout);
        if in_data {
            command.stop();
        } else if replied || command.at().is_none() {
            command.restart(limits.command_timeout);
        }
        let until = if in_data { data.at() } else { command.at() };
        tokio::select! {
            read = read_before(&mut conn, &mut buf, until) => match read? {
                Read::Expired => {
                    tracing::info!(in_data, "deadline passed; closing");
                    actions.extend(session.timeout());
                }
                Read::Eof => return Ok(()),
                Read::Bytes(n) => actions.extend(session.receive(&buf[..n], &dir)),
            },
            _ = shutdown.changed(), if !shutting_down => shutting_down = true,
        }
    }
}

/// Makes the message durable in the inbound queue: the body file (with the Received header
/// and the DKIM-Signature or Authentication-Results header, see [`accept::stored_content`])
/// written, its queue record committed after the commit round's sync. Only then is the 250
/// sent. What is accepted, and as which record, is [`accept`]'s decision; this does the IO.
async fn enqueue(
    sctx: &Arc<ServerContext>,
    mut env: Envelope,
    service: Service,
    tls: bool,
) -> Result<String, EnqueueError> {
    accept::check_header_senders(&sctx.store, &env)?;
    let checked = verify(sctx, &mut env, service).await?;
    let store = sctx.store.clone();
    let id = store.next_queue_id().map_err(storage_to_enqueue)?;
    let queue_id = format!("{id:016X}");
    let now = sctx.clock.now();
    let received = received_header(&env, &sctx.config().hostname, &queue_id, &rfc5322_date(now));
    let body = std::mem::take(&mut env.body);
    let sign_as = env.auth_as.clone();
    let sctx2 = sctx.clone();
    // Written, not yet durable: the inbound queue writes the record after its commit
    // round's sync (`Store::write_after_sync`), so one round makes both durable. The pin
    // keeps the body file until that transaction has referenced it (see
    // `BlobStore::put_pinned`): it lives to the end of this function.
    let (blob, size, _pin) = tokio::task::spawn_blocking(move || {
        let (store, signer) = (&sctx2.store, &sctx2.mail_auth.signer);
        let header = &checked.header;
        let sign_as = sign_as.as_deref();
        let content = accept::stored_content(store, signer, header, &received, sign_as, &body);
        let size = content.len() as u64;
        let (blob, pin) = sctx2.store.blobs().write_pinned(&content)?;
        Ok((blob, size, pin))
    })
    .await
    .map_err(|e| EnqueueError::Temporary(e.to_string()))?
    .map_err(storage_to_enqueue)?;
    let stored = accept::StoredBody { id, blob, size };
    let record = accept::queue_record(&env, stored, checked.folder, tls, now);
    match sctx.queues().inbound.send(Enqueue(record)).await {
        Ok(Ok(_)) => {
            super::stats::Stats::add(&sctx.stats.messages_in, 1);
            tracing::info!(
                id = %queue_id,
                from = %env.mail_from,
                rcpts = env.recipients.len(),
                size,
                "accepted"
            );
            Ok(queue_id)
        }
        Ok(Err(QueueError::Storage(e))) => Err(storage_to_enqueue(e)),
        Ok(Err(e)) => Err(EnqueueError::Temporary(e.to_string())),
        Err(e) => Err(EnqueueError::Temporary(format!("inbound queue: {e}"))),
    }
}

/// Mail from another server is checked when [`accept::wants_verification`] says so: SPF,
/// DKIM, ARC and DMARC over DNS give one Authentication-Results header (forged ones with our
/// name are removed from the message first), and [`accept::judge`] decides what the DMARC
/// policy makes of it. Other mail passes unchanged.
async fn verify(
    sctx: &Arc<ServerContext>,
    env: &mut Envelope,
    service: Service,
) -> Result<accept::Checks, EnqueueError> {
    let config = sctx.config();
    if !accept::wants_verification(&config.auth, service, env) {
        return Ok(accept::Checks::default());
    }
    let hostname = &config.hostname;
    accept::strip_forged_results(env, hostname);
    let verifier = match sctx.mail_auth.verifier(&config) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("mail authentication unavailable: {e}");
            return Ok(accept::Checks::default());
        }
    };
    let inbound = mailauth::Inbound {
        ip: env.peer.ip,
        helo: &env.helo,
        mail_from: &env.mail_from,
        message: &env.body,
    };
    let summary = verifier.check(hostname, inbound).await;
    let enforcement = config.auth.dmarc_policy;
    accept::judge(&summary, hostname, enforcement, &env.mail_from)
}
