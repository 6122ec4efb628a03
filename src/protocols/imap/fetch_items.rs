//! One FETCH data item of one message (RFC 9051 §7.5.2, RFC 3516 BINARY, RFC 8970 PREVIEW,
//! RFC 7162 MODSEQ, RFC 8474 EMAILID/THREADID), from what `Session::fetch_message` has
//! gathered for that message. Kept apart from the command's flow in messages.rs so that each
//! reads in one screen.

use super::backend::MessageMeta;
use super::message::{self, ParsedMessage};
use super::objectid;
use super::response;
use super::session::Done;
use super::types::{FetchAttr, Section, SectionText};

/// A message's system flag bits, keywords and modseq as the response shows them.
pub(super) type FlagState = (u8, Vec<String>, u64);

/// What one message's items are made of.
pub(super) struct ItemSource<'a> {
    pub uid: u32,
    pub flags: &'a FlagState,
    /// `\Recent` is shown (IMAP4rev1 only).
    pub recent: bool,
    /// The index entry, when an item needs it (dates, size).
    pub meta: Option<&'a MessageMeta>,
    /// The content, when an item needs it.
    pub parsed: Option<&'a ParsedMessage<'a>>,
    pub email_id: Option<&'a str>,
}

impl ItemSource<'_> {
    /// The item for `a`; `None` for a BINARY item of a message whose content was not read.
    pub fn item(&self, a: &FetchAttr) -> Result<Option<Vec<u8>>, Done> {
        let mut item = Vec::new();
        match a {
            FetchAttr::Uid => item.extend_from_slice(format!("UID {}", self.uid).as_bytes()),
            FetchAttr::Flags => self.flags_item(&mut item),
            FetchAttr::ModSeq => self.modseq_item(&mut item),
            FetchAttr::InternalDate => {
                let date = self.meta.map_or(0, |x| x.internal_date);
                let text = format!("INTERNALDATE \"{}\"", response::date_time(date, 0));
                item.extend_from_slice(text.as_bytes());
            }
            FetchAttr::SaveDate => {
                // RFC 8514 §4: NIL only where a mailbox keeps no save dates.
                let date = self.meta.map_or(0, |x| x.save_date);
                let text = format!("SAVEDATE \"{}\"", response::date_time(date, 0));
                item.extend_from_slice(text.as_bytes());
            }
            FetchAttr::Rfc822Size => {
                let size = self.meta.map_or(0, |x| x.size);
                item.extend_from_slice(format!("RFC822.SIZE {size}").as_bytes());
            }
            FetchAttr::Envelope => {
                item.extend_from_slice(b"ENVELOPE ");
                if let Some(p) = self.parsed {
                    p.envelope(&mut item);
                }
            }
            FetchAttr::Body | FetchAttr::BodyStructure => {
                let extended = *a == FetchAttr::BodyStructure;
                item.extend_from_slice(if extended {
                    b"BODYSTRUCTURE "
                } else {
                    b"BODY "
                });
                if let Some(p) = self.parsed {
                    p.body_structure(&mut item, extended);
                }
            }
            FetchAttr::Rfc822 | FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
                self.rfc822_item(&mut item, a)
            }
            FetchAttr::BodySection {
                section, partial, ..
            } => self.section_item(&mut item, section, *partial),
            FetchAttr::Binary { part, partial, .. } => {
                let Some(p) = self.parsed else {
                    return Ok(None);
                };
                binary_item(&mut item, p, part, *partial)?
            }
            FetchAttr::BinarySize(part) => {
                let Some(p) = self.parsed else {
                    return Ok(None);
                };
                let size = p.binary(part).map_err(|_| cannot_decode())?.len();
                let name = binary_name("BINARY.SIZE", part, None);
                item.extend_from_slice(format!("{name} {size}").as_bytes());
            }
            FetchAttr::EmailId | FetchAttr::ThreadId => {
                objectid::fetch_item(&mut item, a, self.email_id, self.parsed)
            }
            FetchAttr::Preview => {
                item.extend_from_slice(b"PREVIEW ");
                let text = self.parsed.map(|p| p.preview()).unwrap_or_default();
                response::string(&mut item, text.as_bytes());
            }
        }
        Ok(Some(item))
    }

    /// `FLAGS (...)`.
    pub fn flags_item(&self, item: &mut Vec<u8>) {
        item.extend_from_slice(b"FLAGS ");
        response::flags(item, self.flags.0, &self.flags.1, self.recent);
    }

    /// `MODSEQ (n)`.
    pub fn modseq_item(&self, item: &mut Vec<u8>) {
        item.extend_from_slice(format!("MODSEQ ({})", self.flags.2).as_bytes());
    }

    /// RFC822, RFC822.HEADER, RFC822.TEXT: the RFC 1730 names of BODY[], BODY[HEADER] and
    /// BODY[TEXT].
    fn rfc822_item(&self, item: &mut Vec<u8>, a: &FetchAttr) {
        let (name, text) = match a {
            FetchAttr::Rfc822 => ("RFC822", None),
            FetchAttr::Rfc822Header => ("RFC822.HEADER", Some(SectionText::Header)),
            _ => ("RFC822.TEXT", Some(SectionText::Text)),
        };
        item.extend_from_slice(name.as_bytes());
        item.push(b' ');
        let data = self
            .parsed
            .and_then(|p| p.section(&[], text.as_ref()))
            .map(message::without_nul);
        response::nstring(item, data.as_deref());
    }

    /// `BODY[section]<origin>`, as a literal, or NIL for a part the message does not have.
    fn section_item(&self, item: &mut Vec<u8>, section: &Section, partial: Option<(u32, u32)>) {
        item.extend_from_slice(message::section_name(section, partial).as_bytes());
        item.push(b' ');
        let data = self
            .parsed
            .and_then(|p| p.section(&section.part, section.text.as_ref()));
        match data {
            Some(d) => {
                let d = match partial {
                    Some((o, l)) => message::partial(&d, o, l).to_vec(),
                    None => d,
                };
                response::literal(item, &message::without_nul(d));
            }
            None => item.extend_from_slice(b"NIL"),
        }
    }
}

/// RFC 3516 `BINARY[part]<origin>`: the decoded part, as a literal8 when it holds NUL.
fn binary_item(
    item: &mut Vec<u8>,
    p: &ParsedMessage<'_>,
    part: &[u32],
    partial: Option<(u32, u32)>,
) -> Result<(), Done> {
    let d = p.binary(part).map_err(|_| cannot_decode())?;
    let name = binary_name("BINARY", part, partial.map(|x| x.0));
    item.extend_from_slice(name.as_bytes());
    item.push(b' ');
    let d = match partial {
        Some((o, l)) => message::partial(&d, o, l).to_vec(),
        None => d,
    };
    if d.contains(&0) {
        response::literal8(item, &d);
    } else {
        response::literal(item, &d);
    }
    Ok(())
}

/// RFC 3516 §4.3: a part whose transfer encoding cannot be decoded.
fn cannot_decode() -> Done {
    Done::No("[UNKNOWN-CTE] Cannot decode this part".into())
}

fn binary_name(prefix: &str, part: &[u32], origin: Option<u32>) -> String {
    let p: Vec<String> = part.iter().map(|n| n.to_string()).collect();
    match origin {
        Some(o) => format!("{prefix}[{}]<{o}>", p.join(".")),
        None => format!("{prefix}[{}]", p.join(".")),
    }
}
