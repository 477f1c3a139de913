//! The JSON Web Signature ground floor (RFC 7515), shared by access tokens
//! and DPoP proofs: the compact serialization's split, base64url segments,
//! a JSON reader that refuses duplicate member names at any depth, the
//! protected header read in one pass ([`header`]), and the signature check
//! with the crate's crypto backend. Nothing else in the crate splits a
//! compact JWS or parses its JSON.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::crypto;
use crate::error::{AuthError, AuthErrorKind};

pub(crate) mod header;

pub(crate) use header::Header;

/// A compact JWS split into its three segments (still encoded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compact<'t> {
    /// The whole token.
    token: &'t str,
    pub(crate) header: &'t str,
    pub(crate) payload: &'t str,
    pub(crate) signature: &'t str,
}

impl<'t> Compact<'t> {
    /// Splits `token` into exactly three segments.
    ///
    /// # Errors
    /// [`AuthErrorKind::Encrypted`] for five segments (a JWE compact
    /// serialization, RFC 7516 §7.1), else [`AuthErrorKind::MalformedToken`].
    pub(crate) fn split(token: &'t str) -> Result<Self, AuthError> {
        let mut parts = token.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(header), Some(payload), Some(signature), None) => Ok(Self {
                token,
                header,
                payload,
                signature,
            }),
            _ if token.split('.').count() == 5 => Err(AuthErrorKind::Encrypted.into()),
            _ => Err(AuthErrorKind::MalformedToken.into()),
        }
    }

    /// The signing input: `header.payload`.
    pub(crate) fn signing_input(&self) -> &'t [u8] {
        &self.token.as_bytes()[..self.header.len() + 1 + self.payload.len()]
    }

    /// Whether the signature verifies with `key` for `alg`.
    pub(crate) fn signature_verifies(&self, key: &DecodingKey, alg: Algorithm) -> bool {
        match URL_SAFE_NO_PAD.decode(self.signature) {
            Ok(signature) => crypto::verify(self.signing_input(), signature, key, alg),
            Err(_) => false,
        }
    }
}

/// Compares two byte strings in constant time (for equal lengths): the one
/// compare of secrets and digests in the crate.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time_eq::constant_time_eq(a, b)
}

/// base64url (no padding, canonical) → a JSON object with unique member
/// names at every depth.
pub(crate) fn decode_object(segment: &str) -> Result<Map<String, Value>, AuthError> {
    parse_object(&decode_segment(segment)?)
}

pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| AuthErrorKind::MalformedToken.into())
}

/// JSON bytes → an object with unique member names at every depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, AuthError> {
    match serde_json::from_slice::<Unique>(bytes) {
        Ok(Unique(Value::Object(map))) => Ok(map),
        _ => Err(AuthErrorKind::MalformedToken.into()),
    }
}

/// A JSON value whose objects have unique member names, at every depth:
/// RFC 7515 §5.2 and RFC 7519 §4 allow "reject" or "last one wins"; two
/// parsers that pick differently (`{"roles":["user"],"roles":["admin"]}`)
/// are an attack, so we reject. serde_json's recursion limit still applies.
pub(crate) struct Unique(pub(crate) Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

pub(crate) struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Unique, E> {
        Ok(Unique(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Unique, E> {
        Ok(Unique(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Unique, E> {
        Ok(Unique(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Unique(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Unique, A::Error> {
        let mut map = Map::new();
        while let Some(k) = access.next_key::<String>()? {
            if map.contains_key(&k) {
                return Err(serde::de::Error::custom("duplicate member name"));
            }
            let Unique(v) = access.next_value()?;
            map.insert(k, v);
        }
        Ok(Unique(Value::Object(map)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn duplicate_member_names_are_malformed() {
        assert!(decode_object(&b64(r#"{"a":1,"b":2}"#)).is_ok());
        assert_eq!(
            decode_object(&b64(r#"{"a":1,"a":2}"#)).unwrap_err().kind(),
            AuthErrorKind::MalformedToken
        );
    }

    #[test]
    fn nested_duplicate_member_names_are_malformed() {
        let dup = r#"{"exp":1,"realm_access":{"roles":["user"],"roles":["admin"]}}"#;
        assert_eq!(
            decode_object(&b64(dup)).unwrap_err().kind(),
            AuthErrorKind::MalformedToken
        );
        let deep = r#"{"a":[{"b":{"c":1,"c":2}}]}"#;
        assert!(decode_object(&b64(deep)).is_err());
        let ok = r#"{"a":[{"b":{"c":1,"d":[1,-2,2.5,"x",null,true]}}],"e":{}}"#;
        assert_eq!(
            Value::Object(decode_object(&b64(ok)).unwrap()),
            serde_json::from_str::<Value>(ok).unwrap()
        );
    }

    #[test]
    fn non_objects_and_padding_are_malformed() {
        for seg in [
            b64("[1]"),
            b64("\"s\""),
            b64("{"),
            format!("{}=", b64("{}1")),
            "*".into(),
        ] {
            assert_eq!(
                decode_object(&seg).unwrap_err().kind(),
                AuthErrorKind::MalformedToken,
                "{seg}"
            );
        }
    }
}
