//! Dynamic screening (bans on addresses and accounts, allow/deny rules): the values every
//! backend stores.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A ban of one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub since: i64,
    /// Unix seconds; the ban ends then.
    pub until: i64,
    /// Why, for `screen list` and the log ("5 failed logins in 600s", "by the administrator").
    pub reason: String,
}

/// What screening remembers of one client address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenRecord {
    /// Times (unix seconds) of failed logins within the window.
    pub auth_failures: Vec<i64>,
    /// Times of recipients refused as unknown.
    pub failed_rcpts: Vec<i64>,
    /// Times of AUTH tried where it is not offered.
    pub auth_probes: Vec<i64>,
    pub ban: Option<Ban>,
    /// Bans so far (the next one lasts longer); reset after `forget_after` without one.
    pub offences: u32,
    /// When the last ban ended or ends.
    pub last_ban_end: i64,
}

/// The two rule lists of `screen allow` and `screen deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScreenRule {
    Allow,
    Deny,
}

impl ScreenRule {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            ScreenRule::Allow => "allow/",
            ScreenRule::Deny => "deny/",
        }
    }
}

/// Everything stored, as [`Store::screen_load`] reads it at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScreenSnapshot {
    pub addresses: Vec<(IpAddr, ScreenRecord)>,
    pub accounts: Vec<(String, Vec<i64>)>,
    /// Networks as written (`ip/prefix`); the caller parses them.
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}
