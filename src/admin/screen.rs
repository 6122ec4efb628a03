//! The `screen` commands (dynamic screening, `actors::screen`): list, ban, unban, allow,
//! deny. The live server runs them on its screener; without a server they run on the
//! stored state, which the server reads when it starts.

use std::net::IpAddr;
use std::sync::Arc;

use crate::actors::screen::{shown, Screen};
use crate::clock::{iso8601, SystemClock};
use crate::config::{parse_duration, Network, ScreeningConfig};
use crate::storage::Store;

/// One `screen` command. Networks are kept with their host bits cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenCommand {
    List,
    /// `seconds`: `--for`; absent, the address's next escalation step (`[screening] ban`).
    Ban {
        ip: IpAddr,
        seconds: Option<u64>,
    },
    Unban(Network),
    Allow(Network),
    Deny(Network),
}

impl ScreenCommand {
    pub fn path(&self) -> &'static str {
        match self {
            ScreenCommand::List => "screen list",
            ScreenCommand::Ban { .. } => "screen ban",
            ScreenCommand::Unban(_) => "screen unban",
            ScreenCommand::Allow(_) => "screen allow",
            ScreenCommand::Deny(_) => "screen deny",
        }
    }

    /// (arguments, options) of the canonical command line.
    pub(crate) fn words(&self) -> (Vec<String>, Vec<String>) {
        match self {
            ScreenCommand::List => (vec![], vec![]),
            ScreenCommand::Ban { ip, seconds } => (
                vec![ip.to_string()],
                seconds
                    .iter()
                    .flat_map(|s| ["--for".to_string(), s.to_string()])
                    .collect(),
            ),
            ScreenCommand::Unban(n) | ScreenCommand::Allow(n) | ScreenCommand::Deny(n) => {
                (vec![shown(*n)], vec![])
            }
        }
    }
}

/// The command `path` names, from its checked arguments; an error message otherwise.
pub(crate) fn parse(
    path: &str,
    args: &[String],
    for_: Option<&str>,
) -> Result<ScreenCommand, String> {
    let arg = args.first().map(String::as_str).unwrap_or_default();
    Ok(match path {
        "screen list" => ScreenCommand::List,
        "screen ban" => ScreenCommand::Ban {
            ip: arg
                .parse()
                .map_err(|_| format!("'{arg}' is not an IP address"))?,
            seconds: match for_ {
                None => None,
                Some(d) => Some(
                    parse_duration(d)
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| {
                            format!("bad duration '{d}' (e.g. 90s, 15m, 4h, 2d, or seconds)")
                        })?
                        .as_secs(),
                ),
            },
        },
        "screen unban" => ScreenCommand::Unban(network(arg)?),
        "screen allow" => ScreenCommand::Allow(network(arg)?),
        "screen deny" => ScreenCommand::Deny(network(arg)?),
        other => return Err(format!("command '{other}' is not implemented")),
    })
}

/// `ip` or `ip/prefix`, host bits cleared (`10.1.2.3/8` is `10.0.0.0/8`).
fn network(s: &str) -> Result<Network, String> {
    let n = Network::parse(s.trim())
        .ok_or_else(|| format!("'{s}' is not an address or network (IP or IP/PREFIX)"))?;
    let addr = match n.addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(n.prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(n.prefix))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    };
    Ok(Network { addr, ..n })
}

/// Runs a command on `screen` with the screening settings in force.
pub fn execute(
    screen: &Screen,
    cfg: &ScreeningConfig,
    cmd: &ScreenCommand,
) -> Result<String, String> {
    match cmd {
        ScreenCommand::List => Ok(screen.list(cfg)),
        ScreenCommand::Ban { ip, seconds } => {
            let length = seconds.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
            let ban = screen.ban(cfg, *ip, length)?;
            Ok(format!(
                "{ip} banned from every service until {} ({}s)",
                iso8601(ban.until),
                ban.until - ban.since
            ))
        }
        ScreenCommand::Unban(n) => Ok(screen.unban(*n)),
        ScreenCommand::Allow(n) => Ok(screen.allow(*n)),
        ScreenCommand::Deny(n) => screen.deny(cfg, *n),
    }
}

/// Without a server: the command on the stored state, flushed before it is reported.
pub fn execute_offline(
    store: &Store,
    cfg: &ScreeningConfig,
    cmd: &ScreenCommand,
) -> Result<String, String> {
    let screen = Screen::load(store.clone(), Arc::new(SystemClock));
    let out = execute(&screen, cfg, cmd)?;
    store.commit().map_err(|e| format!("flush failed: {e}"))?;
    Ok(out)
}
