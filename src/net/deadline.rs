//! Whole-unit deadlines for the session shells (issue 10 §3).
//!
//! A timeout on each read does not bound anything: a client that drips one byte every few
//! seconds restarts it with every byte and holds its connection slot forever. A
//! [`UnitDeadline`] instead starts when a unit of input starts (waiting for an SMTP command
//! line, a DATA/BDAT transfer, the login after connecting, an IMAP literal) and does not
//! move however the bytes trickle in; the shell reads with [`read_before`] until the
//! earliest deadline that is running, and on expiry answers as its protocol does (SMTP
//! `421 4.4.2`, IMAP `* BYE`, POP3 `-ERR`) and closes.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

/// The deadline of one unit of input; not running until [`UnitDeadline::track`] starts it.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnitDeadline {
    at: Option<Instant>,
}

impl UnitDeadline {
    /// A deadline running from now.
    pub fn starting_now(limit: Duration) -> UnitDeadline {
        let mut d = UnitDeadline::default();
        d.restart(limit);
        d
    }

    /// Follows a unit's state: starts the deadline (`limit` from now) when the unit becomes
    /// `active` and keeps it while it stays so; stops it when it is not.
    pub fn track(&mut self, active: bool, limit: Duration) {
        match (active, self.at) {
            (true, None) => self.restart(limit),
            (false, Some(_)) => self.at = None,
            _ => {}
        }
    }

    /// A new unit starts now (e.g. the server answered a command and waits for the next).
    pub fn restart(&mut self, limit: Duration) {
        // A limit too large to add (config allows any u64 seconds) means "never".
        self.at = Instant::now().checked_add(limit);
    }

    pub fn stop(&mut self) {
        self.at = None;
    }

    pub fn at(&self) -> Option<Instant> {
        self.at
    }
}

/// When a read gives up: `idle` from now (if any), or the earliest running deadline of
/// `units`, whichever comes first. `None`: never.
pub fn earliest(idle: Option<Duration>, units: &[UnitDeadline]) -> Option<Instant> {
    let idle = idle.and_then(|d| Instant::now().checked_add(d));
    idle.into_iter()
        .chain(units.iter().filter_map(|u| u.at))
        .min()
}

/// What a read before a deadline got.
#[derive(Debug)]
pub enum Read {
    Bytes(usize),
    Eof,
    Expired,
}

/// One read into `buf` that gives up at `at` (never, for `None`).
pub async fn read_before<R: AsyncRead + Unpin>(
    conn: &mut R,
    buf: &mut [u8],
    at: Option<Instant>,
) -> io::Result<Read> {
    let read = conn.read(buf);
    let n = match at {
        Some(at) => match tokio::time::timeout_at(at, read).await {
            Ok(r) => r?,
            Err(_) => return Ok(Read::Expired),
        },
        None => read.await?,
    };
    Ok(if n == 0 { Read::Eof } else { Read::Bytes(n) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn track_starts_once_and_stops() {
        let mut d = UnitDeadline::default();
        assert!(d.at().is_none());
        d.track(true, Duration::from_secs(10));
        let first = d.at().expect("started");
        d.track(true, Duration::from_secs(1000));
        assert_eq!(d.at(), Some(first), "an active unit keeps its deadline");
        d.track(false, Duration::from_secs(10));
        assert!(d.at().is_none());
        d.restart(Duration::from_secs(u64::MAX));
        assert!(d.at().is_none(), "an unrepresentable limit never expires");
    }

    #[test]
    fn earliest_of_idle_and_units() {
        let near = UnitDeadline::starting_now(Duration::from_secs(5));
        let far = UnitDeadline::starting_now(Duration::from_secs(500));
        let at = earliest(Some(Duration::from_secs(50)), &[far, near]).unwrap();
        assert_eq!(Some(at), near.at());
        assert!(earliest(None, &[UnitDeadline::default()]).is_none());
        let idle = earliest(Some(Duration::from_secs(50)), &[far]).unwrap();
        assert!(idle < far.at().unwrap());
    }

    /// The deadline holds however the bytes trickle in: a reader that keeps getting a byte
    /// before each read's own timeout would run forever, this one stops at the deadline.
    #[tokio::test]
    async fn a_drip_does_not_move_the_deadline() {
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            for _ in 0..1000 {
                if client.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let deadline = UnitDeadline::starting_now(Duration::from_millis(500));
        let mut buf = [0u8; 16];
        let mut got = 0;
        let mut expired = false;
        for _ in 0..1000 {
            match read_before(&mut server, &mut buf, deadline.at())
                .await
                .unwrap()
            {
                Read::Bytes(n) => got += n,
                Read::Eof => break,
                Read::Expired => {
                    expired = true;
                    break;
                }
            }
        }
        assert!(expired, "read {got} bytes and never expired");
        assert!(
            got > 1,
            "the drip went on while the deadline ran: {got} bytes"
        );
    }
}
