//! `SmtpSessionActor`: the SMTP adapter of the session shell (`session::shell`) around
//! [`crate::protocols::smtp::Session`]. The shell reads bytes and performs the common actions
//! (write, STARTTLS, password check, close); here is what is SMTP's own: enqueue a message
//! durably (only then does the session say 250), the recipient and sender checks, and the
//! command and DATA/BDAT deadlines.

use std::borrow::Cow;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::Context;
use tokio::time::Instant;

use super::auth::Checked;
use super::queues::{Enqueue, QueueError};
use super::screen::{Offence, Reporter};
use super::session::shell::{no_event, Opening, ProtocolSession, SessionActor, ShellAction};
use super::ServerContext;
use crate::config::Config;
use crate::delivery::accept::{self, storage_to_enqueue};
use crate::mailauth;
use crate::mailauth::sender::Verdict;
use crate::net::conn::Conn;
use crate::net::deadline::UnitDeadline;
use crate::protocols::smtp::{
    received_header, rfc5322_date, Action, Answer, Directory, EnqueueError, Envelope, PeerInfo,
    RecipientCheck, SenderCheck, Service, Session, SessionConfig,
};
use crate::storage::{Destination, RecipientKind, StorageError, Store};

pub type SmtpSessionActor = SessionActor<SmtpSession>;

/// The SMTP session with what its checks and actions need, and its deadlines.
pub struct SmtpSession {
    session: Session,
    env: SmtpEnv,
    /// The next command line must arrive whole within `command_timeout` of the last reply
    /// (a whole-unit deadline, see `deadline`)...
    command: UnitDeadline,
    /// ... a DATA/BDAT transfer within `data_timeout` of its start, however slowly the
    /// bytes come.
    data: UnitDeadline,
}

/// What the SMTP session's checks and actions use besides the session.
struct SmtpEnv {
    sctx: Arc<ServerContext>,
    config: Arc<Config>,
    store: Store,
    service: Service,
    peer: SocketAddr,
}

impl SmtpEnv {
    fn directory(&self) -> StoreDirectory<'_> {
        let reporter = Reporter::new(&self.sctx.screen, &self.config.screening, self.peer.ip());
        StoreDirectory(&self.store, reporter)
    }
}

impl ProtocolSession for SmtpSession {
    type Params = Service;
    type Action = Action;
    /// `Enqueue`'s envelope.
    type Own = Envelope;
    type Links = ();
    type Wiring = ();
    type Event = Infallible;
    const READ_BUFFER: usize = 16 * 1024;

    fn implicit_tls(service: &Service) -> bool {
        *service == Service::Smtps
    }

    fn span(service: &'static str, id: &str, peer: SocketAddr) -> tracing::Span {
        tracing::info_span!("smtp", service, session = %id, peer = %peer)
    }

    fn wire(_ctx: &mut Context<SessionActor<Self>>, _links: &mut ()) {}

    fn new(opening: &Opening<'_>, service: Service, _wiring: ()) -> SmtpSession {
        let config = opening.config;
        let limits = &config.smtp;
        let auth_enabled = match service {
            Service::Smtp => limits.auth_on_smtp_port,
            Service::Submission | Service::Smtps => true,
        };
        let session_config = SessionConfig {
            hostname: config.hostname.clone(),
            service,
            max_message_size: limits.max_message_size,
            drop_size: limits.drop_connection_size,
            max_recipients: limits.max_recipients,
            auth_enabled,
            auth_required: service != Service::Smtp,
            allow_plaintext_auth: limits.allow_plaintext_auth,
            starttls_available: opening.tls_available,
            max_line_length: limits.max_line_length,
        };
        let peer = PeerInfo {
            ip: opening.peer.ip(),
            port: opening.peer.port(),
            session_id: opening.id.to_string(),
        };
        SmtpSession {
            session: Session::new(session_config, peer, opening.implicit_tls),
            env: SmtpEnv {
                sctx: opening.sctx.clone(),
                config: config.clone(),
                store: opening.sctx.store.clone(),
                service,
                peer: opening.peer,
            },
            command: UnitDeadline::default(),
            data: UnitDeadline::default(),
        }
    }

    fn connected(&mut self) {
        self.env.sctx.faults.hit("smtp.session");
        self.command = UnitDeadline::starting_now(self.env.config.smtp.command_timeout);
    }

    fn greeting(&mut self) -> Vec<Action> {
        self.session.greeting()
    }

    fn classify(action: Action) -> ShellAction<Envelope> {
        match action {
            Action::Send(bytes) => ShellAction::Send(bytes),
            Action::StartTls => ShellAction::StartTls,
            Action::Authenticate {
                mechanism,
                login,
                password,
                ..
            } => ShellAction::Authenticate {
                protocol: format!("smtp/{mechanism}"),
                login,
                password,
            },
            Action::Enqueue(envelope) => ShellAction::Own(envelope),
            Action::Close => ShellAction::Close,
        }
    }

    fn stall(&self) -> Duration {
        self.env.config.smtp.command_timeout
    }

    async fn receive(mut self, input: Cow<'_, [u8]>) -> io::Result<(Self, Vec<Action>)> {
        let acts = self.session.receive(&input, &self.env.directory());
        Ok((self, acts))
    }

    async fn authenticated(mut self, checked: Checked) -> io::Result<(Self, Vec<Action>)> {
        let answer = match checked {
            Checked::Ok(account) => Answer::Auth(Some(account)),
            Checked::Failed => Answer::Auth(None),
            Checked::Unavailable => Answer::AuthTempFail,
        };
        let acts = self.session.resume(answer, &self.env.directory());
        Ok((self, acts))
    }

    fn tls_established(&mut self) -> Vec<Action> {
        self.session.tls_established(&self.env.directory())
    }

    async fn perform(&mut self, envelope: Envelope, conn: &Conn) -> Vec<Action> {
        let env = &self.env;
        let queued = enqueue(&env.sctx, envelope, env.service, conn.is_tls()).await;
        self.session
            .resume(Answer::Enqueued(queued), &self.env.directory())
    }

    fn deadline(&mut self, replied: bool) -> Option<Instant> {
        let limits = &self.env.config.smtp;
        let in_data = self.session.in_data();
        self.data.track(in_data, limits.data_timeout);
        if in_data {
            self.command.stop();
        } else if replied || self.command.at().is_none() {
            self.command.restart(limits.command_timeout);
        }
        if in_data {
            self.data.at()
        } else {
            self.command.at()
        }
    }

    fn log_expiry(&self) {
        tracing::info!(in_data = self.session.in_data(), "deadline passed; closing");
    }

    fn timeout(&mut self) -> Vec<Action> {
        self.session.timeout()
    }

    /// Not while a message is being read or an answer is pending: the shell asks again.
    fn shutdown(&mut self) -> Vec<Action> {
        if self.session.in_data() || self.session.is_waiting() {
            return Vec::new();
        }
        self.session.shutdown()
    }

    async fn next_event(&mut self) -> Infallible {
        no_event().await
    }

    fn on_event(&mut self, event: Infallible) -> Vec<Action> {
        match event {}
    }
}

/// Recipient checks straight from storage (an index read: fast enough to do inline); unknown
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

/// Makes the message durable in the inbound queue: the body file (with the Received header
/// and the DKIM-Signature or Authentication-Results header, see [`accept::stored_content`])
/// written, its queue record committed after the commit round's sync. Only then is the 250
/// sent. What is accepted, and as which record, is [`accept`]'s decision; this does the IO.
/// Webmail's send (`http::webmail::compose_send`) comes through here too.
pub(crate) async fn enqueue(
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
/// DKIM, ARC and DMARC over DNS give one Authentication-Results header, and
/// [`accept::judge`] decides what the DMARC policy makes of it. Forged fields with our name
/// are removed from every message while `[auth] verify` is on, checked or not.
async fn verify(
    sctx: &Arc<ServerContext>,
    env: &mut Envelope,
    service: Service,
) -> Result<accept::Checks, EnqueueError> {
    let config = sctx.config();
    let hostname = &config.hostname;
    // Whenever we verify, a field with our name is ours alone: one a client, a trusted
    // network or a logged-in user wrote would otherwise pass as our verdict (scheduling
    // trusts our dmarc=pass), so it goes even from mail that is not checked.
    if config.auth.verify {
        accept::strip_forged_results(env, hostname);
    }
    if !accept::wants_verification(&config.auth, service, env) {
        return Ok(accept::Checks::default());
    }
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
