//! A posted HTML form (`application/x-www-form-urlencoded`), kept as the list of pairs it
//! is: checkbox lists repeat a field (`id=1&id=2`).

use actix_web::web::Bytes;

pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &Bytes) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed; "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// The first value of `name` as typed (passwords keep their spaces).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// A non-empty value of `name`, or the error naming the missing field.
    pub fn need(&self, name: &str, label: &str) -> Result<&str, String> {
        match self.get(name) {
            "" => Err(format!("{label} is required")),
            v => Ok(v),
        }
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_encoding() {
        let f = Form::parse(&Bytes::from_static(
            b"id=1&id=22&action=retry&password=+a%20b+&name=x%40y.z",
        ));
        assert_eq!(f.all("id"), vec!["1", "22"]);
        assert_eq!(f.get("action"), "retry");
        assert_eq!(f.raw("password"), " a b ");
        assert_eq!(f.get("name"), "x@y.z");
        assert_eq!(f.get("missing"), "");
        assert!(f.need("missing", "Name").is_err());
        assert!(!f.checked("admin"));
    }
}
