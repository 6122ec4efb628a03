//! Reading `v1/messages` values of both layouts: with the save date (IMAP SAVEDATE, RFC
//! 8514) and without it, as every value written before save dates were kept. bincode
//! writes a struct as its fields one after another with no end marker, so a value of the
//! old layout simply ends where the save date would start; that read fails and the value
//! gets `None` (its internal date then stands in, see [`MessageValue::record`]).

use serde::Deserialize;

use super::folder_record::MessageValue;

impl<'de> Deserialize<'de> for MessageValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = MessageValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<MessageValue, A::Error> {
                use serde::de::Error;
                let flags = s
                    .next_element()?
                    .ok_or_else(|| A::Error::missing_field("flags"))?;
                let size = s
                    .next_element()?
                    .ok_or_else(|| A::Error::missing_field("size"))?;
                let internal_date = s
                    .next_element()?
                    .ok_or_else(|| A::Error::missing_field("internal_date"))?;
                let blob = s
                    .next_element()?
                    .ok_or_else(|| A::Error::missing_field("blob"))?;
                let modseq = s
                    .next_element()?
                    .ok_or_else(|| A::Error::missing_field("modseq"))?;
                // bincode has no end-of-struct marker: a five-field value ends in the
                // middle of this read, which then fails; that is the old layout.
                let save_date = s.next_element::<Option<i64>>().ok().flatten().flatten();
                Ok(MessageValue {
                    flags,
                    size,
                    internal_date,
                    blob,
                    modseq,
                    save_date,
                })
            }
        }
        d.deserialize_struct(
            "MessageValue",
            &[
                "flags",
                "size",
                "internal_date",
                "blob",
                "modseq",
                "save_date",
            ],
            V,
        )
    }
}
