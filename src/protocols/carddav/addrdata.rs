//! CARDDAV:address-data output (RFC 6352 §10.4): a stored vCard cut down to the properties
//! asked for and written by calcard in the version asked for (3.0 or 4.0; calcard writes
//! either form from one parsed card). Nothing here writes vCard text by hand.
//!
//! Property names match without case and without their group; BEGIN, END and VERSION are
//! always written (the writer puts them). `novalue="yes"` keeps the property with an empty
//! value.

use calcard::vcard::{VCard, VCardVersion};

use super::report::AddressData;

/// The vCard version `sel` asks for: `Ok(None)` for the stored one, `Err(())` for what
/// this server cannot write (RFC 6352 §8.6 `CARDDAV:supported-address-data`).
#[allow(clippy::result_unit_err)]
pub fn version_of(sel: &AddressData) -> Result<Option<VCardVersion>, ()> {
    if let Some(ct) = &sel.content_type {
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("text/vcard") {
            return Err(());
        }
    }
    match sel.version.as_deref().map(str::trim) {
        None => Ok(None),
        Some("3.0") => Ok(Some(VCardVersion::V3_0)),
        Some("4.0") => Ok(Some(VCardVersion::V4_0)),
        Some(_) => Err(()),
    }
}

/// The address-data of `card` under `sel` (whose version [`version_of`] accepted).
pub fn shape(card: &VCard, sel: &AddressData) -> String {
    let version = version_of(sel)
        .ok()
        .flatten()
        .or_else(|| card.version())
        .unwrap_or_default();
    let mut out = String::new();
    match &sel.props {
        None => {
            let _ = card.write_to(&mut out, version);
        }
        Some(list) => {
            let mut cut = card.clone();
            cut.entries.retain_mut(|e| {
                let Some(p) = list
                    .iter()
                    .find(|p| p.name.eq_ignore_ascii_case(e.name.as_str()))
                else {
                    return false;
                };
                if p.novalue {
                    e.values.clear();
                }
                true
            });
            let _ = cut.write_to(&mut out, version);
        }
    }
    out
}
