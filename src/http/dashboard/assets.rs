//! The dashboard's static files (web/static), compiled into the binary: no file is read at
//! run time, so a deployment is the one executable. Each is served under `/static/NAME`
//! with its content hash as ETag; pages link `/static/NAME?v=HASH`, and a request carrying
//! the current hash may be cached for a year (a new build changes the hash, hence the URL).

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// One embedded file.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $mime:expr) => {
        Asset {
            name: $name,
            mime: $mime,
            body: include_bytes!(concat!("../../../web/static/", $name)),
        }
    };
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.css", CSS),
    asset!("app.js", JS),
    asset!("mail.css", CSS),
    asset!("mail-live.js", JS),
    asset!("compose.js", JS),
    asset!("compose-rich.js", JS),
    asset!("suggest.js", JS),
    asset!("calendar.css", CSS),
    asset!("overview.js", JS),
    asset!("logs.js", JS),
    asset!("jobs.js", JS),
    asset!("vendor/uplot/uPlot.iife.min.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
    asset!("vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
];

/// The first 16 hex digits of each asset's SHA-256, in `ASSETS` order, computed once.
fn hashes() -> &'static [String] {
    static HASHES: OnceLock<Vec<String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| hex::encode(&Sha256::digest(a.body)[..8]))
            .collect()
    })
}

fn find(name: &str) -> Option<(&'static Asset, &'static str)> {
    ASSETS
        .iter()
        .zip(hashes())
        .find(|(a, _)| a.name == name)
        .map(|(a, h)| (a, h.as_str()))
}

/// The URL a page links for `name`: `/static/NAME?v=HASH`. An unknown name is a bug in a
/// template's Rust side, caught by the tests that render every page.
pub fn url(name: &str) -> String {
    match find(name) {
        Some((a, h)) => format!("/static/{}?v={h}", a.name),
        None => format!("/static/{name}"),
    }
}

/// `GET /static/{name}`: the file, `304` when the ETag matches, 404 for anything else.
pub async fn serve(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some((asset, hash)) = find(&name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file\n");
    };
    let etag = format!("\"{hash}\"");
    // Cached for long only under the URL that names this exact content.
    let versioned = req
        .query_string()
        .split('&')
        .any(|p| p.strip_prefix("v=") == Some(hash));
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if matches {
        resp.finish()
    } else {
        resp.content_type(asset.mime).body(asset.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_versioned_url() {
        for a in ASSETS {
            let u = url(a.name);
            assert!(u.starts_with(&format!("/static/{}?v=", a.name)), "{u}");
            assert_eq!(u.len(), format!("/static/{}?v=", a.name).len() + 16);
        }
    }
}
