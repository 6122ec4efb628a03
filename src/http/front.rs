//! Which web listener an application serves and what its middleware needs to know about
//! it (`web::Data<Front>` in every application, see `http::server`).

/// Which web listener an application serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Management: HTTPS.
    Admin,
    /// The public web front in clear.
    Http,
    /// The public web front over TLS.
    Https,
}

impl Listener {
    /// The listener of a `[listeners]` service name, if it is a web one.
    pub fn for_service(service: &str) -> Option<Listener> {
        match service {
            "admin" => Some(Listener::Admin),
            "http" => Some(Listener::Http),
            "https" => Some(Listener::Https),
            _ => None,
        }
    }

    /// The listener's `[listeners]` service name.
    pub fn name(self) -> &'static str {
        match self {
            Listener::Admin => "admin",
            Listener::Http => "http",
            Listener::Https => "https",
        }
    }
}

/// What the middleware and handlers of one application know about their listener
/// (`web::Data<Front>` in every app).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Front {
    pub listener: Listener,
    /// The port of the `https` listener, where the plain-HTTP rule sends clients.
    pub https_port: Option<u16>,
}

impl Front {
    /// Whether answers go over TLS (Secure cookies, HSTS).
    pub fn tls(&self) -> bool {
        self.listener != Listener::Http
    }
}
