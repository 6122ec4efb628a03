//! The caller of an HTTP request as the handlers see it: [`Principal`] with its [`Role`],
//! [`Scope`] and how it logged in ([`Via`]). `http::auth` finds it (and re-exports these);
//! they live apart so that `http::login` can name a role without depending on the
//! extractors that call it.

/// What an authenticated caller may do on the management side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The whole server.
    Admin,
    /// These domains (lowercase, sorted) and the accounts, aliases and queue records in them.
    DomainAdmin(Vec<String>),
    /// Only its own mail: no management.
    User,
}

/// How far an API key reaches: defined beside the keys (`admin::apikey`, which this layer
/// calls to check a key), named here with the other parts of a [`Principal`].
pub use crate::admin::apikey::Scope;

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The signed, encrypted session cookie of a browser login.
    Session,
    /// `Authorization: Basic` with an account's password.
    Basic,
    /// `Authorization: Bearer` with an API key; the key's id.
    ApiKey(String),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account (lowercase); for an API key, the account that created it.
    pub address: String,
    pub role: Role,
    pub scope: Scope,
    pub via: Via,
}

impl Principal {
    /// Whether the caller administers something (the server or at least one domain).
    pub fn is_manager(&self) -> bool {
        !matches!(self.role, Role::User)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may see and manage `domain` (any case).
    pub fn may_domain(&self, domain: &str) -> bool {
        match &self.role {
            Role::Admin => true,
            Role::DomainAdmin(ds) => ds.iter().any(|d| d.eq_ignore_ascii_case(domain)),
            Role::User => false,
        }
    }

    /// Whether the caller may see and manage the account, alias or recipient `address`
    /// (by its domain part).
    pub fn may_address(&self, address: &str) -> bool {
        match address.rsplit_once('@') {
            Some((_, domain)) => self.may_domain(domain),
            None => self.is_admin(),
        }
    }

    /// Whether the caller may see and manage a fetch source of `owner`: a MultiPOP source
    /// by its account's domain, a DomainPOP source by its domain. The one rule of the API's
    /// `/sources` and the dashboard's sources page.
    pub fn may_source(&self, owner: &crate::storage::SourceOwner) -> bool {
        match owner {
            crate::storage::SourceOwner::Account(a) => self.may_address(a),
            crate::storage::SourceOwner::Domain(d) => self.may_domain(d),
        }
    }

    /// Whether the caller may change or delete an account it can see (by
    /// [`Principal::may_address`]) that is an administrator (`admin`) and administers the
    /// domains `administers`: a full admin may change any; anyone else none that is an
    /// administrator or administers a domain the caller does not (else a domain admin could
    /// set the password of a server admin, or of a wider domain admin, and log in as it).
    pub fn may_change_account(&self, admin: bool, administers: &[String]) -> bool {
        self.is_admin() || (!admin && administers.iter().all(|d| self.may_domain(d)))
    }

    /// Whether the key's scope allows a change of this kind (`Scope::ReadOnly` for reads).
    pub fn scope_allows(&self, need: Scope) -> bool {
        match (self.scope, need) {
            (_, Scope::ReadOnly) | (Scope::All, _) => true,
            (have, need) => have == need,
        }
    }
}
