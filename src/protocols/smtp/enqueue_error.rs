//! Why a message could not be queued: the shell's answer to `Action::Enqueue`, in a module
//! of its own so that `reply.rs`, which maps it to the wire, sits below `smtp` (mod.rs)
//! instead of importing it back.

/// Why a message could not be queued; mapped to the wire in `reply.rs`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// 451 4.3.0.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// 452 4.3.1.
    #[error("insufficient system storage")]
    InsufficientStorage,
    /// 554 5.7.1.
    #[error("rejected: {0}")]
    Rejected(String),
    /// 550 5.7.1: the sender's domain asks for this (a DMARC reject policy, RFC 7489 §6.6.4).
    #[error("refused by policy: {0}")]
    PolicyRejected(String),
    /// 550 5.7.1: the authenticated user may not use the message's From:/Sender: address.
    #[error("sender refused: {0}")]
    SenderRefused(String),
}
