//! The JWS protected header, read in one pass without building a JSON map:
//! `alg`, `kid` and `typ` are borrowed from the decoded bytes (a token's
//! header costs no allocation unless a member is escaped or unusual), the
//! other members are validated and dropped.
//!
//! The rules are those of a parsed object (RFC 7515 §4, §5.2): valid JSON,
//! an object, no member name twice at any depth, then, in this order: `enc`
//! (a JWE), `crit` / `zip` / `b64: false` (unsupported), `alg` (required,
//! a string naming an allowed algorithm, never `none`), `kid` and `typ`
//! (strings when present).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use jsonwebtoken::Algorithm;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Unique, UniqueVisitor};
use crate::error::{AuthError, AuthErrorKind};

/// The protected header members this crate reads.
pub(crate) struct Header<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) typ: Option<Cow<'a, str>>,
}

impl<'a> Header<'a> {
    /// Reads the decoded header bytes.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, AuthError> {
        let malformed = || AuthError::new(AuthErrorKind::MalformedToken);
        let fields: Fields<'a> = serde_json::from_slice(bytes).map_err(|_| malformed())?;
        // RFC 7516 §4.1.2: `enc` makes it a JWE.
        if fields.enc {
            return Err(AuthErrorKind::Encrypted.into());
        }
        // RFC 7515 §4.1.11: an extension we do not understand must be
        // rejected; we understand none, and `crit: []` is itself invalid.
        if fields.crit_or_zip {
            return Err(AuthErrorKind::UnsupportedHeader.into());
        }
        // RFC 7797: an unencoded payload changes what was signed.
        match fields.b64 {
            None | Some(Member::Bool(true)) => {}
            Some(Member::Bool(false)) => return Err(AuthErrorKind::UnsupportedHeader.into()),
            Some(_) => return Err(malformed()),
        }
        let alg = match fields.alg {
            // RFC 9864 `Ed25519` is EdDSA, and verifies with Ed25519 keys
            // only (the only EdDSA keys there are here).
            Some(Member::Str(alg)) => crate::keys::algorithm_named(&alg)
                .ok_or_else(|| AuthError::new(AuthErrorKind::DisallowedAlgorithm))?,
            _ => return Err(malformed()),
        };
        let opt_str = |member: Option<Member<'a>>| match member {
            None => Ok(None),
            Some(Member::Str(s)) => Ok(Some(s)),
            Some(_) => Err(malformed()),
        };
        Ok(Self {
            alg,
            kid: opt_str(fields.kid)?,
            typ: opt_str(fields.typ)?,
        })
    }
}

/// What one pass over the header object found.
#[derive(Default)]
struct Fields<'a> {
    alg: Option<Member<'a>>,
    kid: Option<Member<'a>>,
    typ: Option<Member<'a>>,
    b64: Option<Member<'a>>,
    enc: bool,
    crit_or_zip: bool,
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Fields::default();
        let mut seen = Seen::default();
        while let Some(Name(name)) = access.next_key()? {
            if !seen.insert(name.clone()) {
                return Err(serde::de::Error::custom("duplicate member name"));
            }
            let slot = match &*name {
                "alg" => &mut fields.alg,
                "kid" => &mut fields.kid,
                "typ" => &mut fields.typ,
                "b64" => &mut fields.b64,
                other => {
                    match other {
                        "enc" => fields.enc = true,
                        "crit" | "zip" => fields.crit_or_zip = true,
                        _ => {}
                    }
                    // Checked (valid, unique names at every depth), then
                    // dropped: not `IgnoredAny`, which would let duplicate
                    // names inside it through.
                    let Unique(_) = access.next_value()?;
                    continue;
                }
            };
            *slot = Some(access.next_value()?);
        }
        Ok(fields)
    }
}

/// The member names seen so far: a short list (a header has a handful),
/// a hash set once a header has many, so a crafted one costs no quadratic
/// time.
#[derive(Default)]
struct Seen<'a> {
    few: Vec<Cow<'a, str>>,
    many: Option<HashSet<Cow<'a, str>>>,
}

impl<'a> Seen<'a> {
    const FEW: usize = 16;

    /// `false` when `name` was seen before.
    fn insert(&mut self, name: Cow<'a, str>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(name);
        }
        if self.few.contains(&name) {
            return false;
        }
        self.few.push(name);
        if self.few.len() > Self::FEW {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// A member name, borrowed from the bytes unless it has escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(Name)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The value of a member this crate reads: a string (borrowed unless it
/// has escapes), a boolean, or anything else (checked, then dropped).
enum Member<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Other,
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Member::Bool(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Member::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        UniqueVisitor.visit_seq(seq).map(|_| Member::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        UniqueVisitor.visit_map(map).map(|_| Member::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::decode_object;

    fn header(json: &str) -> Result<Algorithm, AuthErrorKind> {
        Header::parse(json.as_bytes())
            .map(|h| h.alg)
            .map_err(|e| e.kind())
    }

    #[test]
    fn none_crit_b64_enc_zip_and_wrong_types() {
        assert_eq!(header(r#"{"alg":"HS256"}"#), Ok(Algorithm::HS256));
        for none in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(
                header(&format!(r#"{{"alg":"{none}"}}"#)),
                Err(AuthErrorKind::DisallowedAlgorithm)
            );
        }
        let cases = [
            (
                r#"{"alg":"hs256"}"#,
                Err(AuthErrorKind::DisallowedAlgorithm),
            ),
            (r#"{}"#, Err(AuthErrorKind::MalformedToken)),
            (r#"{"alg":1}"#, Err(AuthErrorKind::MalformedToken)),
            (r#"{"alg":null}"#, Err(AuthErrorKind::MalformedToken)),
            (
                r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
                Err(AuthErrorKind::UnsupportedHeader),
            ),
            (
                r#"{"alg":"HS256","crit":[]}"#,
                Err(AuthErrorKind::UnsupportedHeader),
            ),
            (
                r#"{"alg":"HS256","b64":false}"#,
                Err(AuthErrorKind::UnsupportedHeader),
            ),
            (r#"{"alg":"HS256","b64":true}"#, Ok(Algorithm::HS256)),
            (
                r#"{"alg":"HS256","b64":"no"}"#,
                Err(AuthErrorKind::MalformedToken),
            ),
            (
                r#"{"alg":"HS256","enc":"A128GCM"}"#,
                Err(AuthErrorKind::Encrypted),
            ),
            (
                r#"{"alg":"HS256","zip":"DEF"}"#,
                Err(AuthErrorKind::UnsupportedHeader),
            ),
            (
                r#"{"alg":"HS256","kid":7}"#,
                Err(AuthErrorKind::MalformedToken),
            ),
            (
                r#"{"alg":"HS256","typ":{}}"#,
                Err(AuthErrorKind::MalformedToken),
            ),
            // Precedence as documented: a JWE before anything else.
            (
                r#"{"alg":{"x":1},"enc":"A128GCM"}"#,
                Err(AuthErrorKind::Encrypted),
            ),
            (
                r#"{"alg":"none","kid":7}"#,
                Err(AuthErrorKind::DisallowedAlgorithm),
            ),
            (r#"[1]"#, Err(AuthErrorKind::MalformedToken)),
            (r#"{"alg":"HS256"} x"#, Err(AuthErrorKind::MalformedToken)),
        ];
        for (json, expected) in cases {
            assert_eq!(header(json), expected, "{json}");
        }
    }

    #[test]
    fn duplicate_names_at_any_depth_are_malformed() {
        for json in [
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
            r#"{"alg":"HS256","x":1,"x":2}"#,
            r#"{"alg":"HS256","jwk":{"kty":"EC","kty":"RSA"}}"#,
            r#"{"alg":"HS256","x":[{"a":1,"a":1}]}"#,
            // An escaped name is the same name.
            r#"{"alg":"HS256","\u0061lg":"none"}"#,
        ] {
            assert_eq!(header(json), Err(AuthErrorKind::MalformedToken), "{json}");
        }
    }

    #[test]
    fn many_members_are_checked_for_duplicates_too() {
        let members: Vec<String> = (0..100).map(|i| format!(r#""m{i}":{i}"#)).collect();
        let ok = format!(r#"{{"alg":"HS256",{}}}"#, members.join(","));
        assert_eq!(header(&ok), Ok(Algorithm::HS256));
        let dup = format!(r#"{{"alg":"HS256",{},"m3":0}}"#, members.join(","));
        assert_eq!(header(&dup), Err(AuthErrorKind::MalformedToken));
    }

    #[test]
    fn kid_and_typ_are_borrowed_unless_escaped() {
        let bytes = br#"{"alg":"ES256","kid":"k-1","typ":"at+jwt"}"#;
        let h = Header::parse(bytes).unwrap();
        assert!(matches!(h.kid, Some(Cow::Borrowed("k-1"))));
        assert!(matches!(h.typ, Some(Cow::Borrowed("at+jwt"))));
        let h = Header::parse(br#"{"alg":"ES256","kid":"k\u002d1"}"#).unwrap();
        assert_eq!(h.kid.as_deref(), Some("k-1"));
    }

    /// The rules as they read on a parsed object (the reader this one
    /// replaced): the reference for the property test below.
    fn reference(
        bytes: &[u8],
    ) -> Result<(Algorithm, Option<String>, Option<String>), AuthErrorKind> {
        use serde_json::Value;
        let h = crate::jws::parse_object(bytes).map_err(|e| e.kind())?;
        if h.contains_key("enc") {
            return Err(AuthErrorKind::Encrypted);
        }
        if h.contains_key("crit") || h.contains_key("zip") {
            return Err(AuthErrorKind::UnsupportedHeader);
        }
        match h.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(AuthErrorKind::UnsupportedHeader),
            Some(_) => return Err(AuthErrorKind::MalformedToken),
        }
        let alg = match h.get("alg") {
            Some(Value::String(a)) => {
                crate::keys::algorithm_named(a).ok_or(AuthErrorKind::DisallowedAlgorithm)?
            }
            _ => return Err(AuthErrorKind::MalformedToken),
        };
        let opt = |name: &str| match h.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(AuthErrorKind::MalformedToken),
        };
        Ok((alg, opt("kid")?, opt("typ")?))
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_parsed_object_rules_on_generated_headers(
            members in proptest::collection::vec((0usize..10, 0usize..12), 0..7),
            escape in proptest::bool::ANY,
        ) {
            const NAMES: [&str; 10] =
                ["alg", "kid", "typ", "b64", "enc", "crit", "zip", "jwk", "x", "\\u0061lg"];
            const VALUES: [&str; 12] = [
                r#""HS256""#, r#""ES256""#, r#""none""#, r#""hs256""#, r#""k\u002d1""#,
                "true", "false", "null", "7", r#"["a"]"#, r#"{"a":1,"b":{"c":2}}"#,
                r#"{"a":1,"a":2}"#,
            ];
            let body: Vec<String> = members
                .iter()
                .map(|&(n, v)| {
                    let name = if escape || n != 9 { NAMES[n] } else { "alg" };
                    format!(r#""{name}":{}"#, VALUES[v])
                })
                .collect();
            let json = format!("{{{}}}", body.join(","));
            let ours = Header::parse(json.as_bytes()).map(|h| {
                (h.alg, h.kid.map(Cow::into_owned), h.typ.map(Cow::into_owned))
            });
            proptest::prop_assert_eq!(
                ours.map_err(|e| e.kind()),
                reference(json.as_bytes()),
                "{}",
                json
            );
        }
    }

    #[test]
    fn agrees_with_the_object_parser_on_what_is_well_formed() {
        // Whatever the generic parser (duplicate-checking, every depth)
        // rejects as malformed, the header reader rejects too.
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        for json in [
            r#"{"alg":"HS256","a":{"b":{"c":1,"c":2}}}"#,
            r#"{"alg":"HS256","a":[1,2,{"x":null,"x":null}]}"#,
            r#"{"alg":"HS256","a":"\ud800"}"#,
            r#"{"alg":"HS256""#,
            r#"{"alg":"HS256",}"#,
        ] {
            let generic = decode_object(&URL_SAFE_NO_PAD.encode(json)).is_err();
            assert!(generic, "{json}");
            assert_eq!(header(json), Err(AuthErrorKind::MalformedToken), "{json}");
        }
    }
}
