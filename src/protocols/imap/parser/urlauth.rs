//! RESETKEY, GENURLAUTH and URLFETCH (RFC 4467 §9), with URLFETCH's parameters from RFC
//! 5524 §3 (URLAUTH=BINARY).

use super::super::types::{CommandBody, UrlContent, UrlFetchRequest};
use super::lexer::{PResult, P};

/// `mechanism = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")`, upper-cased.
fn mechanism(p: &mut P) -> PResult<String> {
    p.word("a URLAUTH mechanism")
}

/// `resetkey = "RESETKEY" [SP mailbox *(SP mechanism)]`.
pub(super) fn resetkey(p: &mut P) -> PResult<CommandBody> {
    if p.at_end() {
        return Ok(CommandBody::ResetKey {
            mailbox: None,
            mechanisms: Vec::new(),
        });
    }
    p.sp()?;
    let mailbox = Some(p.mailbox()?);
    let mut mechanisms = Vec::new();
    while p.more() {
        mechanisms.push(mechanism(p)?);
    }
    Ok(CommandBody::ResetKey {
        mailbox,
        mechanisms,
    })
}

/// `genurlauth = "GENURLAUTH" 1*(SP url-rump SP mechanism)`; `url-rump = astring`.
pub(super) fn genurlauth(p: &mut P) -> PResult<CommandBody> {
    let mut pairs = Vec::new();
    loop {
        p.sp()?;
        let rump = p.astring_utf8("a URL")?;
        p.sp()?;
        pairs.push((rump, mechanism(p)?));
        if p.at_end() {
            break;
        }
    }
    Ok(CommandBody::GenUrlAuth(pairs))
}

/// `urlfetch = "URLFETCH" 1*(SP url-fetch-req)` with RFC 5524's
/// `url-fetch-req = url-full / "(" url-full *(SP url-fetch-param) ")"`,
/// `url-fetch-param = "BODYPARTSTRUCTURE" / "BINARY" / "BODY"` (BINARY and BODY exclusive,
/// none twice).
pub(super) fn urlfetch(p: &mut P) -> PResult<CommandBody> {
    let mut reqs = Vec::new();
    loop {
        p.sp()?;
        reqs.push(request(p)?);
        if p.at_end() {
            break;
        }
    }
    Ok(CommandBody::UrlFetch(reqs))
}

fn request(p: &mut P) -> PResult<UrlFetchRequest> {
    if !p.eat(b'(') {
        return Ok(UrlFetchRequest {
            url: p.astring_utf8("a URL")?,
            body_part_structure: false,
            content: None,
        });
    }
    let url = p.astring_utf8("a URL")?;
    let mut body_part_structure = false;
    let mut content = None;
    while p.more() {
        match p.keyword("a URLFETCH parameter")?.as_str() {
            "BODYPARTSTRUCTURE" if !body_part_structure => body_part_structure = true,
            "BODY" if content.is_none() => content = Some(UrlContent::Body),
            "BINARY" if content.is_none() => content = Some(UrlContent::Binary),
            other => return Err(format!("unexpected URLFETCH parameter {other}")),
        }
    }
    p.close()?;
    Ok(UrlFetchRequest {
        url,
        body_part_structure,
        content: Some(content),
    })
}
