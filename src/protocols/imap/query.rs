//! SEARCH and the SORT/THREAD inputs for callers outside an IMAP connection (the webmail's
//! message list): the same evaluation as the SEARCH, SORT and THREAD commands
//! (`messages.rs`), so a search in the browser finds what the same search over IMAP finds.
//!
//! Implementation notes:
//! - The commands evaluate against a selected mailbox; here a session is built already in
//!   the selected state, read-only, from the folder's index as the caller read it. Nothing
//!   is claimed (no \Recent change) and no folder is watched: the session lives for one
//!   query and is dropped.
//! - Index keys (dates, sizes, flags) are answered from the index; content keys read only
//!   the header (through the header cache) unless BODY or TEXT is asked for.

use super::backend::{Backend, BackendError, FolderInfo, MessageMeta};
use super::session::{Selected, Session, SessionConfig, State};
use super::sort::SortInput;
use super::types::SearchKey;

/// One folder, selected read-only for one query.
pub struct FolderQuery {
    session: Session,
}

impl FolderQuery {
    /// The folder `folder` of `user`, with its messages `metas` (the backend's index order,
    /// ascending UID).
    pub fn new(user: &str, folder: FolderInfo, mut metas: Vec<MessageMeta>) -> FolderQuery {
        metas.sort_by_key(|m| m.uid);
        let highest = metas
            .iter()
            .map(|m| m.modseq)
            .max()
            .unwrap_or(0)
            .max(folder.highest_modseq);
        let messages = metas
            .into_iter()
            .map(|m| super::session::MsgView {
                uid: m.uid,
                flags: m.flags,
                keywords: m.keywords.into(),
                modseq: m.modseq,
                recent: false,
            })
            .collect();
        let config = SessionConfig {
            hostname: String::new(),
            starttls_available: false,
            allow_plaintext: false,
            append_limit: 0,
            unauthenticate: false,
            max_line: 0,
        };
        let mut session = Session::new(config, true);
        session.user = Some(user.to_string());
        session.state = State::Selected(Box::new(Selected {
            folder,
            read_only: true,
            messages,
            highest_modseq: highest,
            pending_expunged: Default::default(),
            pending_flags: Default::default(),
            pending_added: false,
            saved: Vec::new(),
            keywords: Vec::new(),
            permanent: None,
            contexts: Default::default(),
        }));
        FolderQuery { session }
    }

    fn selected(&self) -> Result<&Selected, BackendError> {
        match &self.session.state {
            State::Selected(s) => Ok(s),
            // `new` always selects; kept as an error rather than a panic all the same.
            _ => Err(BackendError::Unavailable("no folder selected".into())),
        }
    }

    /// The UIDs (ascending) of the messages matching all `keys` (SEARCH).
    pub fn search(
        &self,
        keys: &[SearchKey],
        backend: &dyn Backend,
    ) -> Result<Vec<u32>, BackendError> {
        let sel = self.selected()?;
        let hits = self
            .session
            .evaluate_at(keys, backend, 0..sel.messages.len())
            .map_err(|d| BackendError::Unavailable(format!("search failed: {d:?}")))?;
        Ok(hits.into_iter().map(|i| sel.messages[i].uid).collect())
    }

    /// What SORT and THREAD look at for the messages `uids` (unknown UIDs are skipped),
    /// numbered by UID.
    pub fn sort_inputs(
        &self,
        uids: &[u32],
        backend: &dyn Backend,
    ) -> Result<Vec<SortInput>, BackendError> {
        let sel = self.selected()?;
        let hits: Vec<usize> = uids
            .iter()
            .filter_map(|u| sel.seq_of(*u).map(|s| s - 1))
            .collect();
        self.session
            .sort_inputs(&hits, true, backend)
            .map_err(|d| BackendError::Unavailable(format!("sort failed: {d:?}")))
    }
}
