//! APPEND's CATENATE (RFC 4469 §5).

use super::super::types::CatPart;
use super::lexer::{PResult, P};

/// After `"CATENATE"`: `SP "(" cat-part *(SP cat-part) ")"`;
/// `cat-part = "TEXT" SP literal / "URL" SP astring` (a literal8 is accepted for TEXT, as
/// with BINARY's APPEND).
pub(super) fn parts(p: &mut P) -> PResult<Vec<CatPart>> {
    p.sp()?;
    p.open()?;
    let mut parts = Vec::new();
    loop {
        match p.keyword("TEXT or URL")?.as_str() {
            "TEXT" => {
                p.sp()?;
                if !matches!(p.peek(), Some(b'{' | b'~')) {
                    return Err("TEXT needs a literal".into());
                }
                parts.push(CatPart::Text(p.literal(true)?.to_vec()));
            }
            "URL" => {
                p.sp()?;
                parts.push(CatPart::Url(p.astring_utf8("a URL")?));
            }
            other => return Err(format!("unknown CATENATE part {other}")),
        }
        if !p.more() {
            break;
        }
    }
    p.close()?;
    Ok(parts)
}
