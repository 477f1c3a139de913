//! External conformance vectors, run through the public API (`tests/vectors/`,
//! sources and licences in `tests/vectors/README.md`):
//!
//! - Wycheproof (C2SP) `json_web_signature_test.json`: each group's
//!   verification key through `KeySet::from_jwks_json`, each test's `jws`
//!   through `Verifier::verify_jws` (header rules, key, signature: no claims,
//!   since no Wycheproof payload is a JWT claims set). Then a real claims set
//!   signed with the group's private key must pass `Verifier::verify`, so the
//!   claims path is shown to work with every usable group key.
//! - Wycheproof `json_web_key_test.json`: the group's key set (its `public`
//!   set, else `private` for secret-only sets) as the verification set; a set
//!   the crate refuses at import is a "reject" verdict. The reason of every
//!   verdict is checked too, so a case cannot pass for the wrong reason.
//! - RFC 7515 appendix A.1 (HS256): signature verdict and claims verdict
//!   (valid before its 2011 `exp`, expired with the real clock).
//! - RFC 7520 section 4 (4.1 to 4.8).
//!
//! The verdict must equal the vector's for every case, except the on-purpose
//! disagreements listed below with a reason each. A listed case that agrees,
//! or disagrees the other way, fails as well: the lists stay exact.
//! Wycheproof's "acceptable" (either verdict is fine) counts as agreement
//! whatever the crate does; neither file has such a case today.
//!
//! Run with `-- --nocapture` to see the one-line summary of each file.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower_jwt_auth::{clock::FixedClock, keys::KeySet, AuthErrorKind, Authenticator};

/// The fixed clock of every authenticator here (2027-01-15).
const NOW: u64 = 1_800_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accept,
    Reject,
}
use Verdict::{Accept, Reject};

/// (case id, the crate's verdict, why it differs from the vector's).
type OnPurpose = &'static [(&'static str, Verdict, &'static str)];

const WYCHEPROOF_JWS_ON_PURPOSE: OnPurpose = &[
    (
        "346",
        Reject,
        "RFC 7520 figure 20 is PS384, but the group's key says `alg: PS256`: a JWK's \
         `alg` binds the key to that one algorithm (RFC 7517 section 4.4, RFC 8725 \
         section 3.1), so the key may not verify PS384",
    ),
    (
        "347",
        Reject,
        "ES512 (P-521) is not supported (jsonwebtoken 11 has no ES512): the P-521 key \
         is skipped, the set is empty and its import is refused",
    ),
    (
        "350",
        Reject,
        "as 346: key `alg: PS256` (with `key_ops: [verify]`), token PS384",
    ),
    ("351", Reject, "as 347: ES512 on P-521 is not supported"),
    (
        "367",
        Accept,
        "`invalidBase64Padding`: the jws is byte-identical to tcId 357, which is \
         valid; one string cannot get two verdicts (upstream carries the same strings)",
    ),
    (
        "370",
        Accept,
        "`invalidBase64PaddingInPayload`: byte-identical to tcId 357 (valid), as 367",
    ),
    (
        "372",
        Reject,
        "a `?` inside the header segment: not base64url (RFC 7515 section 2 allows no \
         other characters), so the header is malformed; Wycheproof says valid because \
         its MAC covers the string without the `?`, i.e. it expects a decoder that \
         skips foreign characters, which we never do",
    ),
    (
        "373",
        Reject,
        "a `?` inside the payload segment: the signing input is the segments as sent \
         (RFC 7515 section 5.2), which the MAC does not cover; as 372",
    ),
];

/// Every case of `json_web_key_test.json` agrees with Wycheproof.
const WYCHEPROOF_JWK_ON_PURPOSE: OnPurpose = &[];

/// Why each `json_web_key_test.json` case gets its verdict: `accept`, or the
/// start of the refusal (`import: <KeyError>`, `verify: <AuthErrorKind>`).
const WYCHEPROOF_JWK_REASONS: &[(u64, &str)] = &[
    (1, "import: MixedKeySet"),
    (2, "accept"),
    (3, "verify: InvalidSignature"),
    // The second key's `k` ends in a character with non-zero unused bits
    // (not canonical base64url), which is refused before the duplicate `kid`
    // is seen; duplicate kids alone are refused (unit test in src/keys/set.rs).
    (4, "import: InvalidJwk { index: 1"),
    (5, "accept"),
    (6, "import: Empty"),
    (7, "import: RsaRocaVulnerable"),
    (8, "import: RsaTooSmall { bits: 1024 }"),
    (9, "import: RsaBadExponent"),
    (10, "import: HmacTooShort { len: 31 }"),
    (11, "import: HmacTooShort { len: 47 }"),
    (12, "import: HmacTooShort { len: 63 }"),
    (13, "accept"),
    (14, "accept"),
    (15, "accept"),
    (16, "import: HmacTooShort { len: 0 }"),
    (17, "import: HmacTooShort { len: 0 }"),
    (18, "import: HmacTooShort { len: 0 }"),
    // `alg` values this crate does not verify with (ES521, ES224, A256GCM,
    // A256KW) and `use: enc` make a key skipped; a set left empty is refused.
    (19, "import: Empty"),
    (20, "import: Empty"),
    (21, "import: Empty"),
    (22, "import: InvalidEcKey"),
    (23, "import: InvalidEcKey"),
    (24, "import: InvalidJwk { index: 0"),
    (25, "import: Empty"),
    (26, "import: Empty"),
];

const RFC7515_ON_PURPOSE: OnPurpose = &[];

const RFC7520_ON_PURPOSE: OnPurpose = &[
    (
        "4.3",
        Reject,
        "ES512 (P-521) is not supported (jsonwebtoken 11 has no ES512): the key is \
         skipped and the empty set refused",
    ),
    (
        "4.5/compact-detached",
        Reject,
        "detached content (RFC 7515 appendix F): a bearer token carries its payload; \
         with the payload segment empty the signature does not verify. Re-attached, \
         it is 4.4 and accepted (checked below)",
    ),
    (
        "4.6/general-json",
        Reject,
        "JWS JSON Serialization: a JWT is always compact (RFC 7519 section 1), only \
         compact tokens are parsed (malformed)",
    ),
    (
        "4.6/flattened-json",
        Reject,
        "JSON serialization, as 4.6/general-json",
    ),
    (
        "4.7/general-json",
        Reject,
        "JSON serialization, and `alg` only in the unprotected header, which the \
         compact form cannot carry",
    ),
    ("4.7/flattened-json", Reject, "as 4.7/general-json"),
    (
        "4.8/general-json",
        Reject,
        "JSON serialization with three signatures; no compact form exists",
    ),
];

fn load(path: &str) -> Value {
    let path = format!("{}/tests/vectors/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap()
}

/// A JWK Set document for a JWK or a JWK Set.
fn as_set(jwk_or_set: &Value) -> Value {
    if jwk_or_set.get("keys").is_some() {
        jwk_or_set.clone()
    } else {
        json!({ "keys": [jwk_or_set] })
    }
}

/// Imports `jwk_or_set` and builds an authenticator on the fixed clock.
fn authenticator(jwk_or_set: &Value) -> Result<Authenticator, String> {
    let set = KeySet::from_jwks_json(&as_set(jwk_or_set).to_string())
        .map_err(|e| format!("import: {e:?}"))?;
    Authenticator::builder()
        .key_set(set)
        .clock(FixedClock::new(NOW))
        .build()
        .map_err(|e| format!("build: {e:?}"))
}

/// The JWS verdict: the payload, or why it was refused.
fn verify_jws(auth: &Result<Authenticator, String>, jws: &str) -> Result<Vec<u8>, String> {
    let auth = auth.as_ref().map_err(Clone::clone)?;
    let payload = auth
        .verifier()
        .verify_jws(jws)
        .map_err(|e| format!("verify: {:?}", e.kind()))?;
    // An accepted compact JWS returns exactly its decoded payload segment.
    let segment = jws.split('.').nth(1).unwrap();
    assert_eq!(payload, URL_SAFE_NO_PAD.decode(segment).unwrap(), "{jws}");
    Ok(payload)
}

struct Tally {
    file: &'static str,
    on_purpose: OnPurpose,
    cases: usize,
    agreed: usize,
    disagreed: usize,
    seen: Vec<&'static str>,
    unexpected: Vec<String>,
    /// Appended to the summary line.
    note: String,
}

impl Tally {
    fn new(file: &'static str, on_purpose: OnPurpose) -> Self {
        Self {
            file,
            on_purpose,
            cases: 0,
            agreed: 0,
            disagreed: 0,
            seen: Vec::new(),
            unexpected: Vec::new(),
            note: String::new(),
        }
    }

    /// `vector`: the vector's verdict, `None` for "acceptable".
    fn check(&mut self, id: &str, vector: Option<Verdict>, ours: &Result<Vec<u8>, String>) {
        self.cases += 1;
        let got = if ours.is_ok() { Accept } else { Reject };
        let listed = self.on_purpose.iter().find(|(i, _, _)| *i == id);
        if let Some((i, _, _)) = listed {
            self.seen.push(i);
        }
        match (vector, listed) {
            (None, None) => self.agreed += 1,
            (Some(v), None) if v == got => self.agreed += 1,
            (Some(v), Some((_, want, _))) if v != got && *want == got => self.disagreed += 1,
            _ => self.unexpected.push(format!(
                "{id}: vector {vector:?}, crate {got:?} ({}), on-purpose list {:?}",
                ours.as_ref().err().map_or("accepted", String::as_str),
                listed.map(|(_, v, _)| v),
            )),
        }
    }

    fn finish(mut self) {
        println!(
            "{}: {} cases, {} agreed, {} disagreed on purpose{}",
            self.file, self.cases, self.agreed, self.disagreed, self.note
        );
        for (id, _, _) in self.on_purpose {
            if !self.seen.contains(id) {
                self.unexpected
                    .push(format!("{id}: listed as on purpose, but no such case"));
            }
        }
        assert!(
            self.unexpected.is_empty(),
            "{}: unexpected verdicts:\n{}",
            self.file,
            self.unexpected.join("\n")
        );
        assert_eq!(self.cases, self.agreed + self.disagreed);
    }
}

fn wycheproof_verdict(test: &Value) -> Option<Verdict> {
    match test["result"].as_str().unwrap() {
        "valid" => Some(Accept),
        "invalid" => Some(Reject),
        "acceptable" => None,
        other => panic!("unknown result {other}"),
    }
}

// --- signing keys from private JWKs (jsonwebtoken has no EncodingKey::from_jwk)

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn der_uint(big_endian: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = big_endian.iter().copied().skip_while(|b| *b == 0).collect();
    if !matches!(v.first(), Some(b) if b & 0x80 == 0) {
        v.insert(0, 0);
    }
    der(0x02, &v)
}

fn left_pad(v: Vec<u8>, len: usize) -> Vec<u8> {
    assert!(v.len() <= len);
    [vec![0; len - v.len()], v].concat()
}

/// The signing key of a private JWK (`oct`, RSA with CRT members, EC P-256/384).
fn encoding_key(jwk: &Value) -> EncodingKey {
    match jwk["kty"].as_str().unwrap() {
        "oct" => EncodingKey::from_secret(&b64(&jwk["k"])),
        "RSA" => {
            // PKCS#1 RSAPrivateKey (RFC 8017 appendix A.1.2).
            let mut body = der_uint(&[0]);
            for member in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
                body.extend(der_uint(&b64(&jwk[member])));
            }
            EncodingKey::from_rsa_der(&der(0x30, &body))
        }
        "EC" => {
            // PKCS#8 (RFC 5208) around an ECPrivateKey (RFC 5915).
            let (curve_oid, len): (&[u8], usize) = match jwk["crv"].as_str().unwrap() {
                "P-256" => (&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7], 32),
                "P-384" => (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22], 48),
                other => panic!("curve {other}"),
            };
            let ec_public_key_oid = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 2, 1];
            let d = left_pad(b64(&jwk["d"]), len);
            let point = [
                vec![0, 4],
                left_pad(b64(&jwk["x"]), len),
                left_pad(b64(&jwk["y"]), len),
            ]
            .concat();
            let ec_private = der(
                0x30,
                &[der_uint(&[1]), der(0x04, &d), der(0xa1, &der(0x03, &point))].concat(),
            );
            let algorithm = der(0x30, &[&ec_public_key_oid[..], curve_oid].concat());
            let pkcs8 = der(
                0x30,
                &[der_uint(&[0]), algorithm, der(0x04, &ec_private)].concat(),
            );
            EncodingKey::from_ec_der(&pkcs8)
        }
        other => panic!("kty {other}"),
    }
}

/// Signs a real claims set with `private` for `alg` and checks that the full
/// JWT path (`Verifier::verify`: signature, then claims) accepts it.
fn claims_path_accepts(auth: &Authenticator, private: &Value, alg: Algorithm) {
    let mut header = Header::new(alg);
    header.kid = private["kid"].as_str().map(str::to_owned);
    let claims = json!({ "sub": "vectors", "iat": NOW, "exp": NOW + 300 });
    let token = jsonwebtoken::encode(&header, &claims, &encoding_key(private)).unwrap();
    let verified = auth
        .verifier()
        .verify(&token)
        .unwrap_or_else(|e| panic!("claims path, {alg:?}, kid {:?}: {e}", header.kid));
    assert_eq!(verified["sub"], "vectors");
}

fn jwk_alg(jwk: &Value) -> Option<Algorithm> {
    jwk["alg"].as_str().and_then(|a| a.parse().ok())
}

#[test]
fn wycheproof_json_web_signature() {
    let doc = load("wycheproof/json_web_signature_test.json");
    let mut tally = Tally::new("json_web_signature_test.json", WYCHEPROOF_JWS_ON_PURPOSE);
    let (mut groups, mut claims_groups) = (0, 0);
    let mut jws_of = std::collections::HashMap::new();
    for group in doc["testGroups"].as_array().unwrap() {
        groups += 1;
        let private = &group["private"];
        let verification = match group.get("public") {
            Some(public) => {
                // A verifier is given the public half; the private JWK is
                // never a verification key.
                let refused = authenticator(private);
                assert!(
                    refused.is_err(),
                    "group {}: private JWK imported as a verification key",
                    group["comment"]
                );
                public
            }
            // Secret-key groups: for verification the `oct` key is the secret.
            None => {
                assert_eq!(private["kty"], "oct", "group {}", group["comment"]);
                private
            }
        };
        let auth = authenticator(verification);
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap().to_string();
            let jws = test["jws"].as_str().unwrap();
            jws_of.insert(id.clone(), jws.to_owned());
            let ours = verify_jws(&auth, jws);
            // Flagged cases must be refused by the step they are about: a
            // mangled signature by the signature check, not earlier.
            let reason = ours.as_ref().err().map_or("accept", String::as_str);
            for flag in test["flags"].as_array().unwrap() {
                let want: &[&str] = match flag.as_str().unwrap() {
                    "ModifiedPadding" | "ModifiedSignature" => &["verify: InvalidSignature"],
                    "WrongPrimitive" => {
                        &["verify: InvalidSignature", "verify: DisallowedAlgorithm"]
                    }
                    "AlgIsNone" => &["verify: DisallowedAlgorithm"],
                    "JsonSerialization" => &["verify: MalformedToken"],
                    other => panic!("tcId {id}: unknown flag {other}"),
                };
                assert!(want.contains(&reason), "tcId {id} ({flag}): {reason}");
            }
            tally.check(&id, wycheproof_verdict(test), &ours);
        }
        if let (Ok(auth), Some(alg)) = (&auth, jwk_alg(private)) {
            claims_path_accepts(auth, private, alg);
            claims_groups += 1;
        }
    }
    assert_eq!(tally.cases as u64, doc["numberOfTests"].as_u64().unwrap());
    // The reasons given for 367 and 370 above.
    assert_eq!(jws_of["367"], jws_of["357"]);
    assert_eq!(jws_of["370"], jws_of["357"]);
    // Usable: every group but the two P-521 ones and the four encryption keys.
    assert_eq!((groups, claims_groups), (23, 17));
    tally.note = format!(
        "; a claims set signed with each usable group key ({claims_groups} of {groups}) passes verify()"
    );
    tally.finish();
}

#[test]
fn wycheproof_json_web_key() {
    let doc = load("wycheproof/json_web_key_test.json");
    let mut tally = Tally::new("json_web_key_test.json", WYCHEPROOF_JWK_ON_PURPOSE);
    for group in doc["testGroups"].as_array().unwrap() {
        let private = &group["private"];
        let verification = match group.get("public") {
            Some(public) => {
                assert!(
                    authenticator(private).is_err(),
                    "group {}: a set with private key material imported",
                    group["comment"]
                );
                public
            }
            None => private,
        };
        let auth = authenticator(verification);
        for test in group["tests"].as_array().unwrap() {
            let tc_id = test["tcId"].as_u64().unwrap();
            let ours = verify_jws(&auth, test["jws"].as_str().unwrap());
            let reason = ours.as_ref().err().map_or("accept", String::as_str);
            let (_, want) = WYCHEPROOF_JWK_REASONS
                .iter()
                .find(|(id, _)| *id == tc_id)
                .unwrap_or_else(|| panic!("tcId {tc_id}: no expected reason listed"));
            assert!(
                reason.starts_with(want),
                "tcId {tc_id}: {reason}, want {want}"
            );
            tally.check(&tc_id.to_string(), wycheproof_verdict(test), &ours);
        }
        // The claims path under each accepted set, with each of its keys.
        if let Ok(auth) = &auth {
            for key in as_set(private)["keys"].as_array().unwrap() {
                claims_path_accepts(auth, key, jwk_alg(key).unwrap());
            }
        }
    }
    assert_eq!(tally.cases as u64, doc["numberOfTests"].as_u64().unwrap());
    assert_eq!(tally.cases, WYCHEPROOF_JWK_REASONS.len());
    tally.finish();
}

#[test]
fn rfc7515_a1_hs256() {
    let doc = load("rfc7515/a1-hs256.json");
    let token = doc["token"].as_str().unwrap();
    let exp = doc["claims"]["exp"].as_u64().unwrap();
    let mut tally = Tally::new("rfc7515/a1-hs256.json", RFC7515_ON_PURPOSE);
    let set = || KeySet::from_jwks_json(&as_set(&doc["jwk"]).to_string()).unwrap();
    let at = |now: u64| {
        Authenticator::builder()
            .key_set(set())
            .clock(FixedClock::new(now))
            .build()
            .unwrap()
    };

    // Signature verdict (no claims): valid, whatever the clock.
    let sig = verify_jws(&Ok(at(NOW)), token);
    tally.check("signature", Some(Accept), &sig);
    let claims: Value = serde_json::from_slice(&sig.unwrap()).unwrap();
    assert_eq!(claims, doc["claims"]);

    // Claims verdict before `exp` (and within the 60 s leeway after it).
    for now in [exp - 3600, exp + 59] {
        let ok = at(now).verifier().verify(token);
        let ok = ok.map(|c| serde_json::to_vec(&*c).unwrap());
        tally.check(
            &format!("claims at {now}"),
            Some(Accept),
            &ok.map_err(|e| e.to_string()),
        );
    }
    // Expired once `now >= exp + leeway`, and with the real clock.
    let late = at(exp + 60).verifier().verify(token).unwrap_err();
    assert_eq!(late.kind(), AuthErrorKind::Expired);
    let real = Authenticator::builder().key_set(set()).build().unwrap();
    let expired = real.verifier().verify(token).unwrap_err();
    assert_eq!(expired.kind(), AuthErrorKind::Expired);
    tally.check(
        "claims, real clock",
        Some(Reject),
        &Err(expired.to_string()),
    );
    // The signature step alone still accepts it with the real clock.
    assert!(real.verifier().verify_jws(token).is_ok());
    tally.finish();
}

#[test]
fn rfc7520_section4() {
    let doc = load("rfc7520/rfc7520_jws.json");
    let keys = &doc["keys"];
    let mut tally = Tally::new("rfc7520/rfc7520_jws.json", RFC7520_ON_PURPOSE);
    for case in doc["cases"].as_array().unwrap() {
        let section = case["section"].as_str().unwrap();
        let serialization = case["serialization"].as_str().unwrap();
        let id = match serialization {
            "compact" => section.to_owned(),
            _ => format!("{section}/{serialization}"),
        };
        let jws = match case.get("jws_json") {
            Some(v) => v.to_string(),
            None => case["jws"].as_str().unwrap().to_owned(),
        };
        let auth = authenticator(&keys[case["key"].as_str().unwrap()]);
        // Every example of RFC 7520 section 4 is a valid signature.
        tally.check(&id, Some(Accept), &verify_jws(&auth, &jws));
    }

    // 4.5 re-attached is 4.4, which is accepted.
    let cases = doc["cases"].as_array().unwrap();
    let find = |id: &str| cases.iter().find(|c| c["section"] == id).unwrap();
    let detached = find("4.5")["jws"].as_str().unwrap();
    let attached = detached.replacen(
        "..",
        &format!(".{}.", doc["payload_b64"].as_str().unwrap()),
        1,
    );
    assert_eq!(attached, find("4.4")["jws"].as_str().unwrap());
    // 4.6's signature covers only the protected header {"alg":"HS256"}: as a
    // compact token (without the unprotected `kid`) it verifies, the single
    // key of the set being the one kid-less tokens may use.
    let general = &find("4.6")["jws_json"];
    let sig = &general["signatures"][0];
    let compact = format!(
        "{}.{}.{}",
        sig["protected"].as_str().unwrap(),
        general["payload"].as_str().unwrap(),
        sig["signature"].as_str().unwrap()
    );
    assert!(verify_jws(&authenticator(&keys["3.5_hmac"]), &compact).is_ok());

    // The same data as Wycheproof's RFC 7520 groups (two independent copies).
    let wycheproof = load("wycheproof/json_web_signature_test.json");
    let wp = |tc: u64| -> String {
        let groups = wycheproof["testGroups"].as_array().unwrap();
        let tests = groups.iter().flat_map(|g| g["tests"].as_array().unwrap());
        let test = tests.into_iter().find(|t| t["tcId"] == tc).unwrap();
        test["jws"].as_str().unwrap().to_owned()
    };
    for (section, tc) in [("4.1", 345), ("4.2", 346), ("4.3", 347), ("4.4", 348)] {
        assert_eq!(find(section)["jws"].as_str().unwrap(), wp(tc), "{section}");
    }

    // The claims path with the RFC 7520 keys.
    let rsa = authenticator(&keys["3.3_rsa_public"]).unwrap();
    for alg in [Algorithm::RS256, Algorithm::PS384] {
        claims_path_accepts(&rsa, &keys["3.4_rsa_private"], alg);
    }
    let hmac = authenticator(&keys["3.5_hmac"]).unwrap();
    claims_path_accepts(&hmac, &keys["3.5_hmac"], Algorithm::HS256);
    tally.finish();
}
