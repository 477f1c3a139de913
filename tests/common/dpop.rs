//! DPoP (RFC 9449) test plumbing: client proof keys (jsonwebtoken's),
//! access tokens bound to them, proofs (valid, unsigned, HMAC), a reqwest
//! client that sends them, and the checks on the layer's answers.

use std::net::SocketAddr;

use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

use super::{b64, ensure_provider, raw_token, signing_key, SECRET};

/// A client's proof key: the private key, its public JWK, its thumbprint
/// (computed by jsonwebtoken, independently of the crate).
pub struct ProofKey {
    pub alg: Algorithm,
    pub private: EncodingKey,
    pub jwk: Value,
    pub jkt: String,
}

pub fn proof_key(alg: Algorithm) -> ProofKey {
    ensure_provider();
    let private = signing_key(alg);
    let jwk = Jwk::from_encoding_key(&private, alg).expect("jwk");
    let jkt = jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint");
    ProofKey {
        alg,
        private,
        jwk: serde_json::to_value(&jwk).expect("jwk json"),
        jkt,
    }
}

/// `claims` with `cnf.jkt` set to `jkt` (a token bound to that key), or
/// unchanged with `None`.
pub fn bound_to(mut claims: Value, jkt: Option<&str>) -> Value {
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({ "jkt": jkt });
    }
    claims
}

/// An `oct` JWK holding the test secret: what an HMAC proof would name.
pub fn oct_jwk() -> Value {
    json!({"kty": "oct", "k": b64(SECRET)})
}

pub fn ath(token: &str) -> String {
    use sha2::Digest as _;
    b64(sha2::Sha256::digest(token.as_bytes()))
}

/// One request, valid unless a test changes one field.
pub struct Req {
    pub method: &'static str,
    pub path: &'static str,
    pub scheme: &'static str,
    pub token: String,
    pub header: Value,
    pub claims: Value,
    pub extra_proofs: usize,
    pub no_proof: bool,
}

impl Req {
    pub fn with(key: &ProofKey, origin: &str, path: &'static str, token: String, iat: u64) -> Self {
        let header = json!({"typ": "dpop+jwt", "alg": format!("{:?}", key.alg), "jwk": key.jwk});
        let claims = json!({
            "jti": format!("jti-{}", rand::random::<u64>()),
            "htm": "GET",
            "htu": format!("{origin}{path}"),
            "iat": iat,
            "ath": ath(&token),
        });
        Self {
            method: "GET",
            path,
            scheme: "DPoP",
            token,
            header,
            claims,
            extra_proofs: 0,
            no_proof: false,
        }
    }

    /// The proof for this request, signed with `key`.
    pub fn proof(&self, key: &ProofKey) -> String {
        raw_token(
            &self.header.to_string(),
            &self.claims.to_string(),
            key.alg,
            &key.private,
        )
    }

    /// The JWS signing input: header and claims, encoded, with a dot.
    pub fn signing_input(&self) -> String {
        format!(
            "{}.{}",
            b64(self.header.to_string()),
            b64(self.claims.to_string())
        )
    }

    /// This request's header and claims with an empty signature (the form
    /// of an `alg: none` proof).
    pub fn unsigned_proof(&self) -> String {
        format!("{}.", self.signing_input())
    }

    /// This request's header and claims signed HS256 with the test secret.
    pub fn hmac_proof(&self) -> String {
        raw_token(
            &self.header.to_string(),
            &self.claims.to_string(),
            Algorithm::HS256,
            &super::forge::secret_key(SECRET),
        )
    }
}

pub struct DpopReply {
    pub status: u16,
    pub challenges: Vec<String>,
    pub nonce: Option<String>,
    pub body: Value,
    pub grpc_status: Option<String>,
}

impl DpopReply {
    async fn read(res: reqwest::Response) -> Self {
        let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
        let challenges = res
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let (nonce, grpc_status) = (header("dpop-nonce"), header("grpc-status"));
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        Self {
            status,
            challenges,
            nonce,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            grpc_status,
        }
    }
}

pub async fn send_proof(addr: SocketAddr, req: &Req, proof: &str, grpc: bool) -> DpopReply {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
    let mut r = client
        .request(method, format!("http://{addr}{}", req.path))
        .header("authorization", format!("{} {}", req.scheme, req.token));
    if !req.no_proof {
        for _ in 0..=req.extra_proofs {
            r = r.header("dpop", proof);
        }
    }
    if grpc {
        r = r.header("content-type", "application/grpc");
    }
    DpopReply::read(r.send().await.expect("request")).await
}

pub async fn send(addr: SocketAddr, key: &ProofKey, req: &Req) -> DpopReply {
    send_proof(addr, req, &req.proof(key), false).await
}

/// GET `path` with an optional raw `Authorization` value and no proof.
pub async fn send_raw(addr: SocketAddr, path: &str, authorization: Option<&str>) -> DpopReply {
    let mut r = reqwest::Client::new().get(format!("http://{addr}{path}"));
    if let Some(a) = authorization {
        r = r.header("authorization", a);
    }
    DpopReply::read(r.send().await.expect("request")).await
}

/// The `algs` attribute lists the asymmetric algorithms, never HS*.
pub fn assert_algs(challenge: &str) {
    let algs = challenge
        .split("algs=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no algs in {challenge}"));
    assert_eq!(
        algs, "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA Ed25519",
        "{challenge}"
    );
}

pub fn assert_invalid_proof(r: &DpopReply, what: &str) {
    assert_eq!(r.status, 401, "{what}");
    let first = r.challenges.first().map(String::as_str).unwrap_or("");
    assert!(
        first.starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{what}: {:?}",
        r.challenges
    );
    assert_algs(first);
    assert!(r.body.is_null(), "{what}: no body");
}

/// 401 whose first challenge starts with `challenge` (e.g.
/// `DPoP error="invalid_token"`).
pub fn assert_refused(r: &DpopReply, challenge: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}");
    let first = r.challenges.first().map(String::as_str).unwrap_or("");
    assert!(first.starts_with(challenge), "{what}: {:?}", r.challenges);
}
