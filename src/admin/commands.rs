//! The command table: every admin command's words, arguments, options, usage and summary.
//! Parsing, help and completion are all driven by [`COMMANDS`], so they cannot disagree.

/// A positional argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    /// Free text (address, domain, password…), shown as its name in usage.
    Text(&'static str),
    /// A queue message id.
    Id,
    /// One of [`super::QUEUE_NAMES`].
    Queue,
    /// Whose folders: an account address, or `public` for the public folders.
    Owner,
    /// A fetch source's number, as `source list` shows it.
    SourceId,
    /// One of a fixed set of words (shown as `a|b|c` in usage, offered by completion).
    Choice(&'static str, &'static [&'static str]),
    /// ACL rights: letters of RFC 4314 ("lrs"), "+letters" / "-letters" to add or remove some,
    /// or "none" to remove the entry.
    Rights,
}

/// An option, `--name VALUE`, `--name=VALUE` or a bare `--name` switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag {
    pub name: &'static str,
    /// Takes a value (shown as this name in usage).
    pub value: Option<&'static str>,
    pub required: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// The command words, e.g. "account add".
    pub path: &'static str,
    pub usage: &'static str,
    pub summary: &'static str,
    /// Extra help shown by `help COMMAND`.
    pub details: &'static str,
    pub args: &'static [Arg],
    /// How many of `args` are required (the rest are optional).
    pub required: usize,
    pub flags: &'static [Flag],
}

const PASSWORD: Flag = Flag {
    name: "--password",
    value: Some("P"),
    required: true,
};
const ADMIN: Flag = Flag {
    name: "--admin",
    value: None,
    required: false,
};

const fn opt(name: &'static str, value: &'static str) -> Flag {
    Flag {
        name,
        value: Some(value),
        required: false,
    }
}
const fn req(name: &'static str, value: &'static str) -> Flag {
    Flag {
        name,
        value: Some(value),
        required: true,
    }
}
const fn switch(name: &'static str) -> Flag {
    Flag {
        name,
        value: None,
        required: false,
    }
}

/// `a` then `b` (`T` = N + M), for option lists that extend another.
const fn joined<const N: usize, const M: usize, const T: usize>(
    a: [Flag; N],
    b: [Flag; M],
) -> [Flag; T] {
    let mut out = [PASSWORD; T];
    let mut i = 0;
    while i < T {
        out[i] = if i < N { a[i] } else { b[i - N] };
        i += 1;
    }
    out
}

const SOURCE_FLAGS: [Flag; 9] = [
    req("--host", "HOST"),
    req("--user", "USER"),
    PASSWORD,
    opt("--protocol", "pop3|imap"),
    opt("--port", "N"),
    opt("--tls", "none|starttls|implicit"),
    switch("--no-verify"),
    switch("--delete"),
    opt("--interval", "SECS"),
];
const DOMAINPOP_FLAGS: [Flag; 13] = joined(
    SOURCE_FLAGS,
    [
        opt("--headers", "LIST"),
        opt("--unknown", "ACCOUNT|bad"),
        opt("--dedup", "SECS|off"),
        opt("--raw-copy", "FOLDER"),
    ],
);
const SOURCE_DETAIL: &str =
    "Defaults: --protocol pop3, --tls implicit, --port the protocol's (995/993 with
implicit TLS, else 110/143), --interval 300. --no-verify skips the certificate check (test
servers only). --delete removes fetched mail from the server once it is stored here;
without it mail is left there and never fetched twice. The password is stored encrypted.";
const DOMAINPOP_DETAIL: &str =
    "The source options are those of 'source add' (--protocol imap also works).
--headers: where to look for recipients, in order, comma-separated; names joined by '/'
count as one (default: X-Rcpt-To,X-Original-To,X-Delivered-To,Delivered-To,Received,To/Cc/Bcc).
The first entry naming an address in a local domain decides; its local addresses get a copy.
--unknown: where mail for unknown local addresses goes: an account (default
postmaster@DOMAIN) or 'bad' (the bad queue). --dedup: drop a second copy of one Message-ID
to one recipient within SECS seconds (default 86400), or 'off'. --raw-copy: also keep each
fetched message as a file in this folder of the data directory.";

const fn spec(
    path: &'static str,
    usage: &'static str,
    summary: &'static str,
    args: &'static [Arg],
    required: usize,
    flags: &'static [Flag],
) -> Spec {
    Spec {
        path,
        usage,
        summary,
        details: "",
        args,
        required,
        flags,
    }
}

const ALGORITHM: Flag = Flag {
    name: "--algorithm",
    value: Some("rsa|ed25519"),
    required: false,
};
const SELECTOR: Flag = Flag {
    name: "--selector",
    value: Some("S"),
    required: false,
};
const DKIM_GENERATE_DETAIL: &str =
    "rsa (2048-bit rsa-sha256, the default) is verified everywhere; \
ed25519 (RFC 8463) is smaller but not yet checked by every receiver.
Without --selector one is made from the algorithm and the date (rsa-20261121).
The domain's first key signs at once; a later one waits for 'dkim activate', so that its
DNS record can be published before mail signed with it goes out.";

const SENDAS_DETAIL: &str =
    "An authenticated user may send (MAIL FROM, From:, Sender:) as their own address and its
+tag forms, as aliases that deliver to them, and as any address of a domain they administer;
server admins (--admin) as anyone. Anything else is refused with 550 5.7.1 unless it is on
the account's \"may send as\" list: SENDER is an address, or @DOMAIN for all of a domain.
DKIM signs only with the keys of domains the user may send as.";
const QUEUES_DETAIL: &str = "Queues: inbound, local, remote, deferred, toarchive, bad.";
const OWNER_DETAIL: &str =
    "ACCOUNT is an account address, or 'public' for the public folders (\"Public Folders/…\" in IMAP).";
const RIGHTS_DETAIL: &str = "ACCOUNT is an account address, or 'public' for the public folders.
IDENTIFIER is an account address or 'anyone'.
RIGHTS (RFC 4314): l lookup, r read, s keep seen, w write flags, i insert, p post,
k create folders, x delete folder, t delete messages, e expunge, a administer.
\"lrs\" sets exactly these, \"+w\" adds, \"-w\" removes, \"none\" removes the entry.";

const CALENDAR_DETAIL: &str =
    "NAME is the collection's path segment (/dav/calendars/ACCOUNT/NAME/ for CalDAV,
/dav/addressbooks/ACCOUNT/NAME/ for CardDAV). Every account starts with calendar, tasks
and contacts.";
const CALENDAR_SHARE_DETAIL: &str =
    "ACCOUNT is the owner's address, or 'public' for public collections (made with
'calendar create public NAME', at /dav/calendars/public/NAME/). IDENTIFIER is an account
address or 'anyone'. RIGHTS (RFC 4314 letters): \"lr\" reads (l lists it, r reads it),
\"lrwit\" reads and writes (w and i put objects, t deletes them); \"+w\" adds, \"-w\"
removes, \"none\" removes the entry. Collection changes stay the owner's.";
const CALENDAR_IMPORT_DETAIL: &str =
    "FILE is read by the server (a relative path is taken from the console's directory).
An .ics file is split into one object per UID (a recurring event keeps its overridden
instances, each object the VTIMEZONEs it uses; METHOD is dropped); a .vcf file into one
object per card. Each is checked as a CalDAV/CardDAV PUT would be: invalid ones are
counted and listed with the reason, the others stored. An object whose UID the collection
holds already replaces it.";
const SCREEN_DETAIL: &str =
    "Dynamic screening ([screening]) counts failed logins (SMTP, IMAP, POP3), unknown
recipients, AUTH on the smtp port and connection bursts per address, and bans an address
over a threshold from every service. Trusted networks and allowed ones are never banned.";
const SCREEN_BAN_DETAIL: &str =
    "DURATION: 90s, 15m, 4h, 2d or seconds. Without --for, the address's next ban length
([screening] ban, growing by ban_factor with each ban).";

const DISABLE_DETAIL: &str =
    "A disabled account cannot log in (IMAP, POP3, SMTP AUTH, the web and the API): it is
answered like a wrong password and the server's log says it is disabled. Sessions already
open stay open. Mail to the account is still accepted and delivered; 'account enable' lets
it log in again with its unchanged password.";
const QUOTA_DETAIL: &str =
    "BYTES may end in K, M or G (powers of 1024); 'none' lifts the limit. A limit left out
stays as it is. Usage may already be above a new limit: then only further growth is refused.";
const TWOFA_DETAIL: &str =
    "begin: makes a new secret and prints it, as base32 and as an otpauth:// URI to enter
or scan into an authenticator app; nothing changes at login yet. confirm ADDRESS CODE:
switches two-factor login on with a current 6-digit code from the app, and prints ten
recovery codes, each usable once instead of a code: they are shown only now. reset: turns
it off (a lost device); the account logs in with its password alone until enrolled again.";
const APIKEY_DETAIL: &str =
    "The key (fm_<id>_<secret>) is printed once and only its digest is kept: copy it now.
It is sent as 'Authorization: Bearer KEY' and acts as OWNER, within --scope: read-only (GET
only), accounts (also change domains, accounts, aliases, folders), queues (also change queue
records), all (default: anything OWNER may).";

pub(crate) const COMMANDS: &[Spec] = &[
    Spec {
        details: "COMMAND may be a group (\"account\") or a full command (\"account add\").",
        ..spec(
            "help",
            "help [COMMAND]",
            "list the commands, or show one command's usage",
            &[],
            0,
            &[],
        )
    },
    spec(
        "status",
        "status",
        "show uptime, listeners and queue sizes",
        &[],
        0,
        &[],
    ),
    spec(
        "actors",
        "actors",
        "list the running actors and their state",
        &[],
        0,
        &[],
    ),
    spec(
        "cluster",
        "cluster [leases]",
        "list the nodes sharing the database (leases: the queue records each works on)",
        &[Arg::Text("leases")],
        0,
        &[],
    ),
    spec(
        "domain add",
        "domain add NAME",
        "add a local domain",
        &[Arg::Text("NAME")],
        1,
        &[],
    ),
    spec(
        "domain list",
        "domain list",
        "list the local domains",
        &[],
        0,
        &[],
    ),
    spec(
        "domain del",
        "domain del NAME",
        "delete a local domain",
        &[Arg::Text("NAME")],
        1,
        &[],
    ),
    spec(
        "account add",
        "account add ADDRESS --password P [--admin]",
        "create an account (--admin: may use the admin dashboard)",
        &[Arg::Text("ADDRESS")],
        1,
        &[PASSWORD, ADMIN],
    ),
    spec(
        "account del",
        "account del ADDRESS",
        "delete an account and its mail",
        &[Arg::Text("ADDRESS")],
        1,
        &[],
    ),
    spec(
        "account passwd",
        "account passwd ADDRESS --password P",
        "set an account's password",
        &[Arg::Text("ADDRESS")],
        1,
        &[PASSWORD],
    ),
    spec(
        "account list",
        "account list",
        "list the accounts",
        &[],
        0,
        &[],
    ),
    spec(
        "account admin",
        "account admin ADDRESS on|off",
        "grant or withdraw administrator rights (the admin dashboard and API)",
        &[Arg::Text("ADDRESS"), Arg::Choice("on|off", &["on", "off"])],
        2,
        &[],
    ),
    Spec {
        details: DISABLE_DETAIL,
        ..spec(
            "account disable",
            "account disable ADDRESS",
            "refuse the account's logins (mail to it is still delivered)",
            &[Arg::Text("ADDRESS")],
            1,
            &[],
        )
    },
    spec(
        "account enable",
        "account enable ADDRESS",
        "let a disabled account log in again",
        &[Arg::Text("ADDRESS")],
        1,
        &[],
    ),
    Spec {
        details: QUOTA_DETAIL,
        ..spec(
            "account quota",
            "account quota ADDRESS [--storage BYTES|none] [--messages N|none]",
            "set or lift an account's storage and message limits (none given: show them)",
            &[Arg::Text("ADDRESS")],
            1,
            &[opt("--storage", "BYTES|none"), opt("--messages", "N|none")],
        )
    },
    spec(
        "account show",
        "account show ADDRESS",
        "show an account: admin, disabled, two-factor login, quota, sender rights",
        &[Arg::Text("ADDRESS")],
        1,
        &[],
    ),
    Spec {
        details: TWOFA_DETAIL,
        ..spec(
            "account 2fa",
            "account 2fa status|begin|confirm|reset ADDRESS [CODE]",
            "two-factor login (TOTP) of an account: show, enrol, confirm with a code, reset",
            &[
                Arg::Choice("ACTION", &super::TwoFaAction::WORDS),
                Arg::Text("ADDRESS"),
                Arg::Text("CODE"),
            ],
            2,
            &[],
        )
    },
    spec(
        "alias add",
        "alias add ALIAS TARGET",
        "deliver mail for ALIAS to TARGET (an address)",
        &[Arg::Text("ALIAS"), Arg::Text("TARGET")],
        2,
        &[],
    ),
    spec(
        "alias list",
        "alias list",
        "list the aliases and their targets",
        &[],
        0,
        &[],
    ),
    spec(
        "alias del",
        "alias del ALIAS [TARGET]",
        "delete an alias, or only one of its targets",
        &[Arg::Text("ALIAS"), Arg::Text("TARGET")],
        1,
        &[],
    ),
    Spec {
        details: SENDAS_DETAIL,
        ..spec(
            "sendas add",
            "sendas add ACCOUNT SENDER",
            "let an account send as another address (SENDER), or as any of @DOMAIN",
            &[Arg::Text("ACCOUNT"), Arg::Text("SENDER")],
            2,
            &[],
        )
    },
    spec(
        "sendas del",
        "sendas del ACCOUNT SENDER",
        "take an address or @DOMAIN off an account's \"may send as\" list",
        &[Arg::Text("ACCOUNT"), Arg::Text("SENDER")],
        2,
        &[],
    ),
    spec(
        "sendas list",
        "sendas list [ACCOUNT]",
        "show what accounts may send as beyond their own addresses",
        &[Arg::Text("ACCOUNT")],
        0,
        &[],
    ),
    Spec {
        details: SENDAS_DETAIL,
        ..spec(
            "domainadmin add",
            "domainadmin add ACCOUNT DOMAIN",
            "make an account an administrator of a local domain (it may send as any address there)",
            &[Arg::Text("ACCOUNT"), Arg::Text("DOMAIN")],
            2,
            &[],
        )
    },
    spec(
        "domainadmin del",
        "domainadmin del ACCOUNT DOMAIN",
        "end an account's administration of a domain",
        &[Arg::Text("ACCOUNT"), Arg::Text("DOMAIN")],
        2,
        &[],
    ),
    Spec {
        details: QUEUES_DETAIL,
        ..spec(
            "queue list",
            "queue list [QUEUE]",
            "list the messages in all queues, or in one",
            &[Arg::Queue],
            0,
            &[],
        )
    },
    spec(
        "queue show",
        "queue show ID",
        "show a queued message's envelope and state",
        &[Arg::Id],
        1,
        &[],
    ),
    spec(
        "queue retry",
        "queue retry ID",
        "retry a deferred message now",
        &[Arg::Id],
        1,
        &[],
    ),
    Spec {
        details: QUEUES_DETAIL,
        ..spec(
            "queue move",
            "queue move ID QUEUE",
            "move a message to another queue",
            &[Arg::Id, Arg::Queue],
            2,
            &[],
        )
    },
    spec(
        "queue delete",
        "queue delete ID",
        "delete a queued message",
        &[Arg::Id],
        1,
        &[],
    ),
    Spec {
        details: "Each undelivered recipient fails with 5.0.0; the sender gets a DSN (unless \
                  NOTIFY says never, or the sender is the null sender).",
        ..spec(
            "queue bounce",
            "queue bounce ID",
            "bounce a queued message to its sender now",
            &[Arg::Id],
            1,
            &[],
        )
    },
    spec(
        "dns mx",
        "dns mx DOMAIN",
        "look up MX records as the server sees them",
        &[Arg::Text("DOMAIN")],
        1,
        &[],
    ),
    spec(
        "dns txt",
        "dns txt NAME",
        "look up TXT records as the server sees them",
        &[Arg::Text("NAME")],
        1,
        &[],
    ),
    spec(
        "dns a",
        "dns a HOST",
        "look up the addresses (A/AAAA) of a host as the server sees them",
        &[Arg::Text("HOST")],
        1,
        &[],
    ),
    Spec {
        details: "NAME is the TLSA owner, e.g. _25._tcp.mx.example.com. Says whether the \
                  answer carried the AD bit (DNSSEC-validated by a trusted resolver).",
        ..spec(
            "dns tlsa",
            "dns tlsa NAME",
            "look up TLSA records (DANE) as the server sees them",
            &[Arg::Text("NAME")],
            1,
            &[],
        )
    },
    Spec {
        details: "Shows the MTA-STS policy (from the cache, fetched when the TXT id changed or \
                  it expired), each MX host with its TLSA records and whether the policy lets \
                  mail go there, the TLS-RPT report addresses, and the TLS results counted so far.",
        ..spec(
            "tls-policy show",
            "tls-policy show DOMAIN",
            "show the outbound TLS policy of a domain: MTA-STS, DANE, TLS reports",
            &[Arg::Text("DOMAIN")],
            1,
            &[],
        )
    },
    Spec {
        details: OWNER_DETAIL,
        ..spec(
            "folder list",
            "folder list ACCOUNT|public",
            "list an account's folders, or the public ones, with their counts",
            &[Arg::Owner],
            1,
            &[],
        )
    },
    Spec {
        details: OWNER_DETAIL,
        ..spec(
            "folder create",
            "folder create ACCOUNT|public FOLDER",
            "create a folder (and its missing parents, \"a/b\")",
            &[Arg::Owner, Arg::Text("FOLDER")],
            2,
            &[],
        )
    },
    Spec {
        details: OWNER_DETAIL,
        ..spec(
            "folder delete",
            "folder delete ACCOUNT|public FOLDER",
            "delete a folder and its messages",
            &[Arg::Owner, Arg::Text("FOLDER")],
            2,
            &[],
        )
    },
    Spec {
        details: OWNER_DETAIL,
        ..spec(
            "acl get",
            "acl get ACCOUNT|public FOLDER",
            "show who may do what in a folder",
            &[Arg::Owner, Arg::Text("FOLDER")],
            2,
            &[],
        )
    },
    Spec {
        details: RIGHTS_DETAIL,
        ..spec(
            "acl set",
            "acl set ACCOUNT|public FOLDER IDENTIFIER RIGHTS",
            "give, change or remove someone's rights on a folder",
            &[
                Arg::Owner,
                Arg::Text("FOLDER"),
                Arg::Text("IDENTIFIER"),
                Arg::Rights,
            ],
            4,
            &[],
        )
    },
    spec(
        "reload",
        "reload",
        "re-read the configuration file",
        &[],
        0,
        &[],
    ),
    spec(
        "shutdown",
        "shutdown",
        "stop the server gracefully",
        &[],
        0,
        &[],
    ),
    Spec {
        details: DKIM_GENERATE_DETAIL,
        ..spec(
            "dkim generate",
            "dkim generate DOMAIN [--algorithm rsa|ed25519] [--selector S]",
            "make a DKIM signing key for DOMAIN and print its DNS record",
            &[Arg::Text("DOMAIN")],
            1,
            &[ALGORITHM, SELECTOR],
        )
    },
    spec(
        "dkim list",
        "dkim list DOMAIN",
        "show DOMAIN's DKIM keys and their DNS records",
        &[Arg::Text("DOMAIN")],
        1,
        &[],
    ),
    Spec {
        details: "Publish the key's DNS record first (dkim list shows it): mail signed with it \
is only verifiable once the record can be looked up.",
        ..spec(
            "dkim activate",
            "dkim activate DOMAIN SELECTOR",
            "sign DOMAIN's mail with this key from now on",
            &[Arg::Text("DOMAIN"), Arg::Text("SELECTOR")],
            2,
            &[],
        )
    },
    Spec {
        details: "Keep an old key until no mail signed with it can still be in transit \
(a few days); the active key can only be deleted when it is the domain's last.",
        ..spec(
            "dkim delete",
            "dkim delete DOMAIN SELECTOR",
            "delete one of DOMAIN's DKIM keys (its private key file too)",
            &[Arg::Text("DOMAIN"), Arg::Text("SELECTOR")],
            2,
            &[],
        )
    },
    Spec {
        details: SOURCE_DETAIL,
        ..spec(
            "source add",
            "source add ADDRESS --host HOST --user USER --password P [--protocol pop3|imap] [--port N] [--tls none|starttls|implicit] [--no-verify] [--delete] [--interval SECS]",
            "collect an outside mailbox into an account (MultiPOP)",
            &[Arg::Text("ADDRESS")],
            1,
            &SOURCE_FLAGS,
        )
    },
    spec(
        "source list",
        "source list [ADDRESS]",
        "list the MultiPOP sources, all or one account's",
        &[Arg::Text("ADDRESS")],
        0,
        &[],
    ),
    spec(
        "source del",
        "source del ID",
        "delete a source (MultiPOP or DomainPOP) and what it remembers",
        &[Arg::SourceId],
        1,
        &[],
    ),
    spec(
        "source passwd",
        "source passwd ID --password P",
        "change the password Ferrymail logs in to a source with (MultiPOP or DomainPOP)",
        &[Arg::SourceId],
        1,
        &[PASSWORD],
    ),
    spec(
        "source run",
        "source run ID",
        "fetch from a source now and show what came",
        &[Arg::SourceId],
        1,
        &[],
    ),
    spec(
        "source status",
        "source status [ID]",
        "show each source's last run, counts, last error and next run",
        &[Arg::SourceId],
        0,
        &[],
    ),
    Spec {
        details: DOMAINPOP_DETAIL,
        ..spec(
            "domainpop set",
            "domainpop set DOMAIN --host HOST --user USER --password P [source options] [--headers LIST] [--unknown ACCOUNT|bad] [--dedup SECS|off] [--raw-copy FOLDER]",
            "collect a domain's mail from one provider mailbox (DomainPOP)",
            &[Arg::Text("DOMAIN")],
            1,
            &DOMAINPOP_FLAGS,
        )
    },
    spec(
        "domainpop show",
        "domainpop show DOMAIN",
        "show a domain's DomainPOP settings and status",
        &[Arg::Text("DOMAIN")],
        1,
        &[],
    ),
    spec(
        "domainpop del",
        "domainpop del DOMAIN",
        "stop collecting a domain's mail (DomainPOP)",
        &[Arg::Text("DOMAIN")],
        1,
        &[],
    ),
    spec(
        "domainpop run",
        "domainpop run DOMAIN",
        "fetch a domain's mail now and show what came",
        &[Arg::Text("DOMAIN")],
        1,
        &[],
    ),
    Spec {
        details: APIKEY_DETAIL,
        ..spec(
            "apikey add",
            "apikey add OWNER LABEL [--scope read-only|accounts|queues|all]",
            "make a management API key acting as account OWNER (printed once)",
            &[Arg::Text("OWNER"), Arg::Text("LABEL")],
            2,
            &[opt("--scope", "read-only|accounts|queues|all")],
        )
    },
    spec(
        "apikey list",
        "apikey list",
        "list the API keys (never their secrets)",
        &[],
        0,
        &[],
    ),
    spec(
        "apikey del",
        "apikey del ID",
        "revoke an API key: it stops working at once",
        &[Arg::Text("KEYID")],
        1,
        &[],
    ),
    Spec {
        details: CALENDAR_DETAIL,
        ..spec(
            "calendar list",
            "calendar list ACCOUNT|public",
            "list an account's calendars, task lists and address books",
            &[Arg::Owner],
            1,
            &[],
        )
    },
    Spec {
        details: CALENDAR_DETAIL,
        ..spec(
            "calendar create",
            "calendar create ACCOUNT|public NAME [--tasks | --addressbook] [--display TEXT]",
            "make a calendar (events), a task list (--tasks) or an address book (--addressbook)",
            &[Arg::Owner, Arg::Text("NAME")],
            2,
            &[
                switch("--tasks"),
                switch("--addressbook"),
                opt("--display", "TEXT"),
            ],
        )
    },
    spec(
        "calendar delete",
        "calendar delete ACCOUNT NAME",
        "delete a calendar or address book with everything in it",
        &[Arg::Owner, Arg::Text("NAME")],
        2,
        &[],
    ),
    Spec {
        details: CALENDAR_IMPORT_DETAIL,
        ..spec(
            "calendar import",
            "calendar import ACCOUNT NAME FILE",
            "store the events/tasks of an .ics file or the cards of a .vcf file in a collection",
            &[Arg::Owner, Arg::Text("NAME"), Arg::Text("FILE")],
            3,
            &[],
        )
    },
    spec(
        "calendar export",
        "calendar export ACCOUNT NAME FILE",
        "write a collection to one .ics (calendars) or .vcf (address books) file",
        &[Arg::Owner, Arg::Text("NAME"), Arg::Text("FILE")],
        3,
        &[],
    ),
    Spec {
        details: CALENDAR_SHARE_DETAIL,
        ..spec(
            "calendar acl",
            "calendar acl ACCOUNT|public NAME",
            "show who may read or write a calendar or address book",
            &[Arg::Owner, Arg::Text("NAME")],
            2,
            &[],
        )
    },
    Spec {
        details: CALENDAR_SHARE_DETAIL,
        ..spec(
            "calendar share",
            "calendar share ACCOUNT|public NAME IDENTIFIER RIGHTS",
            "share a calendar or address book: give, change or remove someone's rights",
            &[
                Arg::Owner,
                Arg::Text("NAME"),
                Arg::Text("IDENTIFIER"),
                Arg::Rights,
            ],
            4,
            &[],
        )
    },
    Spec {
        details: SCREEN_DETAIL,
        ..spec(
            "screen list",
            "screen list",
            "show banned addresses, counts, and the allow and deny rules",
            &[],
            0,
            &[],
        )
    },
    Spec {
        details: SCREEN_BAN_DETAIL,
        ..spec(
            "screen ban",
            "screen ban IP [--for DURATION]",
            "refuse an address on every service for a while",
            &[Arg::Text("IP")],
            1,
            &[opt("--for", "DURATION")],
        )
    },
    spec(
        "screen unban",
        "screen unban IP|IP/PREFIX",
        "lift the bans in an address or network (and its deny rule)",
        &[Arg::Text("NETWORK")],
        1,
        &[],
    ),
    spec(
        "screen allow",
        "screen allow IP|IP/PREFIX",
        "never count nor ban an address or network",
        &[Arg::Text("NETWORK")],
        1,
        &[],
    ),
    spec(
        "screen deny",
        "screen deny IP|IP/PREFIX",
        "refuse an address or network on every service until unbanned",
        &[Arg::Text("NETWORK")],
        1,
        &[],
    ),
];

/// The first words of all commands, in table order, without repeats.
pub(crate) fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in COMMANDS {
        let first = s.path.split(' ').next().unwrap_or(s.path);
        if !out.contains(&first) {
            out.push(first);
        }
    }
    out
}

/// The commands whose first word is `group`.
pub(crate) fn in_group(group: &str) -> Vec<&'static Spec> {
    COMMANDS
        .iter()
        .filter(|s| s.path.split(' ').next() == Some(group))
        .collect()
}

/// The second words of a group's commands (empty for one-word commands).
pub(crate) fn subcommands(group: &str) -> Vec<&'static str> {
    in_group(group)
        .iter()
        .filter_map(|s| s.path.split_once(' ').map(|(_, sub)| sub))
        .collect()
}

pub(crate) fn find(path: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|s| s.path == path)
}

/// Edit distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo or it is the
/// only candidate `word` is a prefix of.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let prefixed: Vec<&&str> = candidates
        .iter()
        .filter(|c| !word.is_empty() && c.starts_with(&word))
        .collect();
    if let [only] = prefixed.as_slice() {
        return Some(only);
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (distance(&word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
