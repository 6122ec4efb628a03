//! A whole message with every leaf's content-transfer-encoding undone, structure kept: what
//! URLFETCH's BINARY (RFC 5524 §3) returns for a part that is a message or a multipart,
//! and what its BODYPARTSTRUCTURE then describes. Header and boundary bytes are copied as
//! they are; a decoded leaf's `Content-Transfer-Encoding` field is rewritten to `binary`
//! when asked (the bytes a client receives), or kept (so that BODYPARTSTRUCTURE still
//! names the encoding while giving the decoded sizes, as Dovecot does).

use super::decode::{decode_base64, decode_qp};
use super::{BinaryError, Entity, Kind, ParsedMessage};

impl ParsedMessage<'_> {
    /// The message with every base64 or quoted-printable leaf decoded; an unknown
    /// encoding is an error (RFC 3516 §4.3).
    pub fn converted(&self, rewrite_cte: bool) -> Result<Vec<u8>, BinaryError> {
        let mut out = Vec::with_capacity(self.raw.len());
        self.convert_entity(&self.root, rewrite_cte, &mut out)?;
        Ok(out)
    }

    fn convert_entity(
        &self,
        e: &Entity,
        rewrite: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), BinaryError> {
        let decoding = matches!(e.kind, Kind::Leaf)
            && matches!(e.cte(self.raw).as_str(), "base64" | "quoted-printable");
        if decoding && rewrite {
            let mut at = e.header.start;
            for f in &e.fields {
                out.extend_from_slice(self.bytes(&(at..f.line.start)));
                let name = self.bytes(&f.name);
                if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
                    out.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
                } else {
                    out.extend_from_slice(self.bytes(&f.line));
                }
                at = f.line.end;
            }
            out.extend_from_slice(self.bytes(&(at..e.body.start)));
        } else {
            out.extend_from_slice(self.bytes(&(e.header.start..e.body.start)));
        }
        self.convert_body(e, rewrite, out)
    }

    fn convert_body(
        &self,
        e: &Entity,
        rewrite: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), BinaryError> {
        let children: Vec<&Entity> = match &e.kind {
            Kind::Leaf => {
                let body = self.bytes(&e.body);
                match e.cte(self.raw).as_str() {
                    "" | "7bit" | "8bit" | "binary" => out.extend_from_slice(body),
                    "base64" => out.extend_from_slice(&decode_base64(body)),
                    "quoted-printable" => out.extend_from_slice(&decode_qp(body)),
                    _ => return Err(BinaryError::UnknownCte),
                }
                return Ok(());
            }
            Kind::Multipart(parts) => parts.iter().collect(),
            Kind::Message(inner) => vec![inner.as_ref()],
        };
        let mut at = e.body.start;
        for child in children {
            out.extend_from_slice(self.bytes(&(at..child.header.start)));
            self.convert_entity(child, rewrite, out)?;
            at = child.body.end;
        }
        out.extend_from_slice(self.bytes(&(at..e.body.end)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, BinaryError};

    const NESTED: &[u8] = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\npre\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nX-Keep: 1\r\n\r\naGVs\r\n bG8=\r\n--i\r\nContent-Type: text/plain\r\ncontent-transfer-encoding: Quoted-Printable\r\n\r\na=3Db=\r\nc\r\n--i\r\nContent-Type: text/plain\r\n\r\nplain\r\n--i--\r\nepi\r\n--o--\r\n";

    #[test]
    fn every_encoded_leaf_is_decoded_and_the_rest_kept() {
        let out = parse(NESTED).converted(true).unwrap();
        let want: &[u8] = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\npre\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Keep: 1\r\n\r\nhello\r\n--i\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\na=bc\r\n--i\r\nContent-Type: text/plain\r\n\r\nplain\r\n--i--\r\nepi\r\n--o--\r\n";
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(want));
        // Kept field names: the sizes change, the encodings named stay.
        let kept = parse(NESTED).converted(false).unwrap();
        assert!(kept
            .windows(33)
            .any(|w| w == b"Content-Transfer-Encoding: base64"));
        // "content-transfer-encoding: Quoted-Printable" is 10 octets longer than "…: binary".
        assert_eq!(kept.len(), out.len() + 10);
    }

    #[test]
    fn unknown_encodings_fail() {
        let m =
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n";
        assert_eq!(parse(m).converted(true), Err(BinaryError::UnknownCte));
        let m = b"Subject: plain\r\n\r\nbody\r\n";
        assert_eq!(parse(m).converted(true).unwrap(), m.to_vec());
    }
}
