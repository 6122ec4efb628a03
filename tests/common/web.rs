//! A logged-in dashboard session over HTTPS without a browser (the dashboard tests that
//! post forms and read the flash message a post redirects with).

/// A logged-in dashboard session over HTTPS, without a browser: its cookie and CSRF token.
pub struct WebSession {
    pub addr: std::net::SocketAddr,
    pub cookie: String,
    pub csrf: String,
}

impl WebSession {
    pub fn login(addr: std::net::SocketAddr, address: &str, password: &str) -> WebSession {
        let body: String = form_urlencoded_pairs(&[("address", address), ("password", password)]);
        let r = super::http::request(
            addr,
            true,
            "POST",
            "/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        );
        assert_eq!(r.status, 303, "{}", r.text());
        let cookie = r.cookie("fm_admin").expect("a session cookie");
        let line = r.set_cookie("fm_admin").unwrap().to_ascii_lowercase();
        assert!(
            line.contains("httponly")
                && line.contains("samesite=strict")
                && line.contains("secure"),
            "{line}"
        );
        let mut s = WebSession {
            addr,
            cookie,
            csrf: String::new(),
        };
        let page = s.get("/twofa");
        assert_eq!(page.status, 200, "{}", page.text());
        let text = page.text();
        s.csrf = text
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .expect("a CSRF field")
            .to_string();
        s
    }

    pub fn get(&self, path: &str) -> super::http::Response {
        let cookie = format!("fm_admin={}", self.cookie);
        super::http::request(self.addr, true, "GET", path, &[("Cookie", &cookie)], b"")
    }

    /// Posts a form (with the CSRF token); the flash message it redirects with.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let body = form_urlencoded_pairs(&all);
        let cookie = format!("fm_admin={}", self.cookie);
        let r = super::http::request(
            self.addr,
            true,
            "POST",
            path,
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        );
        let flash = r.cookie("fm_flash").unwrap_or_default();
        let flash = form_urlencoded::parse(format!("f={flash}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        (r.status, flash)
    }
}

pub fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

impl WebSession {
    /// Posts a form with the session cookie but without the CSRF token: the status.
    pub fn post_without_csrf(&self, path: &str, fields: &[(&str, &str)]) -> u16 {
        let cookie = format!("fm_admin={}", self.cookie);
        super::http::request(
            self.addr,
            true,
            "POST",
            path,
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form_urlencoded_pairs(fields).as_bytes(),
        )
        .status
    }
}
