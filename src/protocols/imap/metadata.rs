//! GETMETADATA and SETMETADATA (RFC 5464 METADATA and METADATA-SERVER): annotations on a
//! mailbox, or on the server (mailbox name ""). Both commands run in the authenticated and
//! selected states.
//!
//! Implementation notes:
//! - `/private/…` entries belong to the user who set them; `/shared/…` entries are seen by
//!   everyone who may see the mailbox (or, for the server, by every user). Storage keeps them
//!   (`storage::traits::Folders::metadata`); they follow RENAME and go with DELETE.
//! - Rights (RFC 5464 §3.3 with ACL, RFC 4314): reading or writing a mailbox's entries needs
//!   "l" and one of "r", "s", "w", "i", "p". Writing a `/shared` entry of a mailbox also needs
//!   "w" (our choice: a shared entry is a change everyone with access sees, like a flag);
//!   writing a `/shared` server entry needs a server administrator. Private server entries are
//!   every user's own.
//! - Limits: a value holds at most [`MAX_VALUE`] octets (`NO [METADATA MAXSIZE n]`); per
//!   mailbox (or server), a user has at most [`MAX_ENTRIES`] private entries of at most
//!   [`MAX_TOTAL`] octets together, and the shared entries are bounded the same way
//!   (`NO [METADATA TOOMANY]`). The check and the write are not one transaction: two
//!   sessions setting entries at the same moment may pass the limit by one command's worth.
//! - Private entries are supported everywhere, so `[METADATA NOPRIVATE]` is never sent.
//! - GETMETADATA: a requested entry that does not exist is answered NIL when DEPTH is 0;
//!   with DEPTH 1 or infinity only existing entries are listed (as RFC 5464 §4.2.2's example
//!   does). Values longer than MAXSIZE are left out and the longest left out is reported in
//!   `OK [METADATA LONGENTRIES n]`.
//! - No unsolicited METADATA responses: they belong to NOTIFY, which is not offered.

use std::collections::BTreeMap;

use super::backend::{Backend, FolderInfo};
use super::response;
use super::session::{Done, Out, Session};
use super::types::{CommandBody, GetMetadataOptions, MailboxName, MetadataDepth};

/// Largest value SETMETADATA accepts, in octets (below the framer's 64 KiB bound on the
/// literals of commands other than APPEND, so that a client hears `[METADATA MAXSIZE]`).
pub const MAX_VALUE: usize = 32 * 1024;
/// Most private entries one user may keep on one mailbox (or the server); the same bounds the
/// shared entries.
pub const MAX_ENTRIES: usize = 128;
/// Most octets (names and values) of those entries together.
pub const MAX_TOTAL: usize = 128 * 1024;

/// Entries as GETMETADATA answers them: (name, value or NIL).
pub(super) type Answer = Vec<(String, Option<Vec<u8>>)>;

/// What GETMETADATA returns: (name, value or NIL) in order, and the longest value left out.
pub(super) fn select_entries(
    stored: &[(String, Vec<u8>)],
    wanted: &[String],
    options: &GetMetadataOptions,
) -> (Answer, Option<usize>) {
    let mut chosen: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for w in wanted {
        let mut found = false;
        for (name, value) in stored {
            let below = name
                .strip_prefix(w.as_str())
                .and_then(|rest| rest.strip_prefix('/'));
            let take = name == w
                || match (options.depth, below) {
                    (MetadataDepth::One, Some(rest)) => !rest.contains('/'),
                    (MetadataDepth::Infinity, Some(_)) => true,
                    _ => false,
                };
            if take {
                found |= name == w;
                chosen.insert(name.clone(), Some(value.clone()));
            }
        }
        if !found && options.depth == MetadataDepth::Zero {
            chosen.entry(w.clone()).or_insert(None);
        }
    }
    let mut longest = None;
    if let Some(max) = options.max_size {
        chosen.retain(|_, v| match v {
            Some(v) if v.len() as u64 > max => {
                longest = longest.max(Some(v.len()));
                false
            }
            _ => true,
        });
    }
    (chosen.into_iter().collect(), longest)
}

/// Whether `entries` (name, value) stay within [`MAX_ENTRIES`] and [`MAX_TOTAL`].
fn within_limits<'a>(entries: impl Iterator<Item = (&'a String, &'a Vec<u8>)>) -> bool {
    let (mut count, mut total) = (0usize, 0usize);
    for (name, value) in entries {
        count += 1;
        total += name.len() + value.len();
    }
    count <= MAX_ENTRIES && total <= MAX_TOTAL
}

impl Session {
    pub(super) fn metadata_command(
        &mut self,
        body: CommandBody,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Done {
        let result = match body {
            CommandBody::GetMetadata {
                mailbox,
                options,
                entries,
            } => self.get_metadata(&mailbox, &options, &entries, backend, out),
            CommandBody::SetMetadata { mailbox, entries } => {
                self.set_metadata(&mailbox, &entries, backend)
            }
            _ => Err(Done::Bad("not a METADATA command".into())),
        };
        result.unwrap_or_else(|d| d)
    }

    /// The mailbox named (`None` for the server, ""), if the user may use its entries:
    /// "l" and one of "rswip" (RFC 5464 §3.3); `shared_write` also needs "w".
    fn metadata_target(
        &self,
        backend: &dyn Backend,
        mailbox: &MailboxName,
        shared_write: bool,
    ) -> Result<Option<FolderInfo>, Done> {
        if mailbox.0.is_empty() {
            if shared_write && !backend.is_admin(&self.me()) {
                return Err(Done::No(
                    "[NOPERM] Only administrators set shared server entries".into(),
                ));
            }
            return Ok(None);
        }
        let (folder, rights) = self.open_folder(backend, &mailbox.0)?;
        let usable = rights.contains('l') && rights.chars().any(|c| "rswip".contains(c));
        if !usable || (shared_write && !rights.contains('w')) {
            return Err(Done::No(format!(
                "[NOPERM] No right to {} the entries of {}",
                if shared_write { "change" } else { "use" },
                mailbox.0
            )));
        }
        Ok(Some(folder))
    }

    fn get_metadata(
        &mut self,
        mailbox: &MailboxName,
        options: &GetMetadataOptions,
        entries: &[String],
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let folder = self.metadata_target(backend, mailbox, false)?;
        let stored = backend
            .metadata(folder.map(|f| f.id), &self.me())
            .map_err(Done::from)?;
        let (chosen, longest) = select_entries(&stored, entries, options);
        if !chosen.is_empty() {
            let mut l = b"* METADATA ".to_vec();
            response::mailbox(&mut l, &mailbox.0, self.utf8);
            l.extend_from_slice(b" (");
            for (i, (name, value)) in chosen.iter().enumerate() {
                if i > 0 {
                    l.push(b' ');
                }
                response::astring(&mut l, name.as_bytes());
                l.push(b' ');
                match value {
                    Some(v) if v.contains(&0) => response::literal8(&mut l, v),
                    v => response::nstring(&mut l, v.as_deref()),
                }
            }
            l.extend_from_slice(b")\r\n");
            out.extend_from_slice(&l);
        }
        Ok(match longest {
            Some(n) => Done::Ok(format!("[METADATA LONGENTRIES {n}] GETMETADATA completed")),
            None => Done::Ok("GETMETADATA completed".into()),
        })
    }

    fn set_metadata(
        &mut self,
        mailbox: &MailboxName,
        changes: &[(String, Option<Vec<u8>>)],
        backend: &dyn Backend,
    ) -> Result<Done, Done> {
        let shared_write = changes.iter().any(|(n, _)| n.starts_with("/shared"));
        let folder = self.metadata_target(backend, mailbox, shared_write)?;
        if changes
            .iter()
            .any(|(_, v)| v.as_ref().is_some_and(|v| v.len() > MAX_VALUE))
        {
            return Err(Done::No(format!(
                "[METADATA MAXSIZE {MAX_VALUE}] Value too large"
            )));
        }
        let me = self.me();
        let id = folder.map(|f| f.id);
        let mut after: BTreeMap<String, Vec<u8>> = backend
            .metadata(id, &me)
            .map_err(Done::from)?
            .into_iter()
            .collect();
        for (name, value) in changes {
            match value {
                Some(v) => after.insert(name.clone(), v.clone()),
                None => after.remove(name),
            };
        }
        let private = |n: &String| n.starts_with("/private");
        if !within_limits(after.iter().filter(|(n, _)| private(n)))
            || !within_limits(after.iter().filter(|(n, _)| !private(n)))
        {
            return Err(Done::No(
                "[METADATA TOOMANY] Too many entries, or too much data, here".into(),
            ));
        }
        backend.set_metadata(id, &me, changes).map_err(Done::from)?;
        Ok(Done::Ok("SETMETADATA completed".into()))
    }
}

#[cfg(test)]
pub(super) mod session_tests {
    //! The commands through a whole session over the in-memory backend: alice owns INBOX,
    //! holds "lrsw" on bob's Team and "lr" on the public Announcements; bob is an admin.

    use super::super::fuzz::{MemBackend, OTHER, USER};
    use super::super::session::{Action, Session, SessionConfig};
    use super::*;

    fn login(user: &str, backend: &MemBackend) -> Session {
        login_with_limit(user, backend, 1 << 20)
    }

    /// A session logged in as `user`, with APPENDLIMIT `append_limit`.
    pub(in crate::protocols::imap) fn login_with_limit(
        user: &str,
        backend: &MemBackend,
        append_limit: u64,
    ) -> Session {
        let mut s = Session::new(
            SessionConfig {
                hostname: "mx.test".into(),
                starttls_available: false,
                allow_plaintext: true,
                append_limit,
                max_line: 8192,
                unauthenticate: true,
            },
            true,
        );
        s.greeting();
        s.receive(b"a LOGIN x y\r\n", backend);
        s.resume_auth(Some(user.into()), backend);
        s
    }

    /// Everything the session writes for `input`.
    pub(in crate::protocols::imap) fn run(
        s: &mut Session,
        backend: &MemBackend,
        input: &str,
    ) -> String {
        let mut text = String::new();
        for a in s.receive(input.as_bytes(), backend) {
            if let Action::Send(b) = a {
                text.push_str(&String::from_utf8_lossy(&b));
            }
        }
        text
    }

    #[test]
    fn private_and_shared_entries_and_who_sees_them() {
        let b = MemBackend::new();
        let mut alice = login(USER, &b);
        let r = run(
            &mut alice,
            &b,
            "s1 SETMETADATA INBOX (/private/comment \"mine\" /shared/Comment {4+}\r\nours)\r\n",
        );
        assert!(r.ends_with("s1 OK SETMETADATA completed\r\n"), "{r}");
        let r = run(
            &mut alice,
            &b,
            "g1 GETMETADATA INBOX (/shared/comment /private/comment /private/none)\r\n",
        );
        assert_eq!(
            r,
            "* METADATA INBOX (/private/comment \"mine\" /private/none NIL \
             /shared/comment \"ours\")\r\ng1 OK GETMETADATA completed\r\n"
        );
        // Binary values go out as literal8; NIL removes.
        run(
            &mut alice,
            &b,
            "s2 SETMETADATA INBOX (/private/bin ~{3}\r\na\0b)\r\n",
        );
        let r = run(&mut alice, &b, "g2 GETMETADATA INBOX /private/bin\r\n");
        assert!(
            r.starts_with("* METADATA INBOX (/private/bin ~{3}\r\na\0b)\r\n"),
            "{r:?}"
        );
        run(
            &mut alice,
            &b,
            "s3 SETMETADATA INBOX (/private/bin NIL)\r\n",
        );
        let r = run(
            &mut alice,
            &b,
            "g3 GETMETADATA (DEPTH infinity) INBOX /private\r\n",
        );
        assert!(
            r.starts_with("* METADATA INBOX (/private/comment \"mine\")\r\n"),
            "{r}"
        );
        // Bob sees alice's shared entry on Team but not her private one.
        let mut alice_team = "Other Users/bob@fuzz.test/Team".to_string();
        alice_team = format!("\"{alice_team}\"");
        let r = run(
            &mut alice,
            &b,
            &format!("s4 SETMETADATA {alice_team} (/private/x \"p\" /shared/x \"s\")\r\n"),
        );
        assert!(r.contains("s4 OK"), "{r}");
        let mut bob = login(OTHER, &b);
        let r = run(
            &mut bob,
            &b,
            "g4 GETMETADATA (DEPTH 1) Team (/private /shared)\r\n",
        );
        assert!(
            r.starts_with("* METADATA Team (/shared/x \"s\")\r\n"),
            "{r}"
        );
    }

    #[test]
    fn rights_decide() {
        let b = MemBackend::new();
        let mut alice = login(USER, &b);
        let public = "\"Public Folders/Announcements\"";
        // "lr": private entries and reading, but no shared writes without "w".
        let r = run(
            &mut alice,
            &b,
            &format!("a SETMETADATA {public} (/private/x \"1\")\r\n"),
        );
        assert!(r.contains("a OK"), "{r}");
        let r = run(
            &mut alice,
            &b,
            &format!("b SETMETADATA {public} (/shared/x \"1\")\r\n"),
        );
        assert!(r.starts_with("b NO [NOPERM]"), "{r}");
        // A folder with no rights at all does not exist.
        let r = run(
            &mut alice,
            &b,
            "c GETMETADATA \"Other Users/bob@fuzz.test/INBOX\" /shared/x\r\n",
        );
        assert!(r.starts_with("c NO [NONEXISTENT]"), "{r}");
        // Server entries: private ones for everyone, shared ones for administrators.
        let r = run(
            &mut alice,
            &b,
            "d SETMETADATA \"\" (/private/vendor/x/y \"1\")\r\n",
        );
        assert!(r.contains("d OK"), "{r}");
        let r = run(
            &mut alice,
            &b,
            "e SETMETADATA \"\" (/shared/admin \"mailto:x@y\")\r\n",
        );
        assert!(r.starts_with("e NO [NOPERM]"), "{r}");
        let mut bob = login(OTHER, &b);
        let r = run(
            &mut bob,
            &b,
            "f SETMETADATA \"\" (/shared/admin \"mailto:x@y\")\r\n",
        );
        assert!(r.contains("f OK"), "{r}");
        let r = run(
            &mut alice,
            &b,
            "g GETMETADATA \"\" (/shared/admin /private/vendor/x/y)\r\n",
        );
        assert_eq!(
            r,
            "* METADATA \"\" (/private/vendor/x/y \"1\" /shared/admin \"mailto:x@y\")\r\n\
             g OK GETMETADATA completed\r\n"
        );
    }

    #[test]
    fn limits_answer_with_their_codes() {
        let b = MemBackend::new();
        let mut alice = login(USER, &b);
        for (tag, size) in [("a", MAX_VALUE + 1), ("b", MAX_VALUE)] {
            let cmd = format!("{tag} SETMETADATA INBOX (/private/big {{{size}}}\r\n");
            assert_eq!(run(&mut alice, &b, &cmd), "+ Ready for literal data\r\n");
            let r = run(&mut alice, &b, &format!("{})\r\n", "x".repeat(size)));
            if size > MAX_VALUE {
                assert_eq!(
                    r,
                    format!("a NO [METADATA MAXSIZE {MAX_VALUE}] Value too large\r\n")
                );
            } else {
                assert_eq!(r, "b OK SETMETADATA completed\r\n");
            }
        }
        let r = run(
            &mut alice,
            &b,
            "c GETMETADATA (MAXSIZE 100) INBOX /private/big\r\n",
        );
        assert_eq!(
            r,
            format!("c OK [METADATA LONGENTRIES {MAX_VALUE}] GETMETADATA completed\r\n")
        );
        let entries: String = (0..MAX_ENTRIES)
            .map(|i| format!(" /private/n{i} \"v\""))
            .collect();
        let r = run(
            &mut alice,
            &b,
            &format!("d SETMETADATA INBOX ({})\r\n", entries.trim()),
        );
        assert!(r.starts_with("d NO [METADATA TOOMANY]"), "{r}");
        // All or nothing: none of them was stored.
        let r = run(&mut alice, &b, "e GETMETADATA (DEPTH 1) INBOX /private\r\n");
        assert!(!r.contains("/private/n0"), "{r}");
        // Shared entries are counted apart from private ones.
        let entries: String = (0..MAX_ENTRIES - 1)
            .map(|i| format!(" /shared/n{i} \"v\""))
            .collect();
        let r = run(
            &mut alice,
            &b,
            &format!("f SETMETADATA INBOX ({})\r\n", entries.trim()),
        );
        assert!(r.contains("f OK"), "{r}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Vec<(String, Vec<u8>)> {
        [
            "/private/comment",
            "/private/vendor/x/a",
            "/private/vendor/x/a/deep",
            "/private/vendor/x/b",
            "/shared/comment",
        ]
        .iter()
        .map(|n| (n.to_string(), n.len().to_string().into_bytes()))
        .collect()
    }

    fn names(
        depth: MetadataDepth,
        wanted: &[&str],
        max: Option<u64>,
    ) -> (Vec<String>, Option<usize>) {
        let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
        let (chosen, longest) = select_entries(
            &stored(),
            &wanted,
            &GetMetadataOptions {
                max_size: max,
                depth,
            },
        );
        let shown = chosen
            .into_iter()
            .map(|(n, v)| if v.is_some() { n } else { format!("{n}=NIL") })
            .collect();
        (shown, longest)
    }

    #[test]
    fn depth_zero_names_exactly_and_nil_for_missing() {
        assert_eq!(
            names(
                MetadataDepth::Zero,
                &["/shared/comment", "/shared/nope"],
                None
            )
            .0,
            vec!["/shared/comment", "/shared/nope=NIL"]
        );
        // A prefix of a name is not its parent: "/private/vendor/x/b" is not below "/private/v".
        assert_eq!(
            names(MetadataDepth::Infinity, &["/private/v"], None).0,
            Vec::<String>::new()
        );
    }

    #[test]
    fn depth_one_and_infinity() {
        assert_eq!(
            names(MetadataDepth::One, &["/private/vendor/x"], None).0,
            vec!["/private/vendor/x/a", "/private/vendor/x/b"]
        );
        assert_eq!(
            names(MetadataDepth::Infinity, &["/private"], None).0,
            vec![
                "/private/comment",
                "/private/vendor/x/a",
                "/private/vendor/x/a/deep",
                "/private/vendor/x/b"
            ]
        );
        // Overlapping requests list each entry once.
        assert_eq!(
            names(
                MetadataDepth::One,
                &["/private/vendor/x", "/private/vendor/x/a"],
                None
            )
            .0
            .len(),
            3
        );
    }

    #[test]
    fn maxsize_leaves_out_long_values_and_reports_the_longest() {
        // Values are the names' lengths as text: 2 octets each.
        let (shown, longest) = names(MetadataDepth::Infinity, &["/private"], Some(1));
        assert!(shown.is_empty());
        assert_eq!(longest, Some(2));
        let (shown, longest) = names(MetadataDepth::Zero, &["/shared/comment"], Some(2));
        assert_eq!(shown.len(), 1);
        assert_eq!(longest, None);
    }

    #[test]
    fn limits_count_entries_and_octets() {
        let v = vec![0u8; 10];
        let many: Vec<(String, Vec<u8>)> = (0..=MAX_ENTRIES)
            .map(|i| (format!("/private/{i}"), v.clone()))
            .collect();
        assert!(!within_limits(many.iter().map(|(a, b)| (a, b))));
        assert!(within_limits(many[1..].iter().map(|(a, b)| (a, b))));
        let big = [("/private/a".to_string(), vec![0u8; MAX_TOTAL])];
        assert!(!within_limits(big.iter().map(|(a, b)| (a, b))));
    }
}
