//! Opaque tokens (feature `remote`): the introspection endpoint's answer
//! in place of the signature, then the same [`sequence::run`] as a JWT's,
//! on every request: a cached answer is never a shortcut past the route's
//! rules (the ordering mistake of Ory Oathkeeper's CVE-2021-32701).

use std::any::Any;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::sequence::{self, Request};
use super::{Decode, IssuerVerifier, Verdict};
use crate::claims::Claims;
use crate::error::{AuthError, AuthErrorKind};
use crate::introspection::{Answer, Introspector};
use crate::observe;

/// `token` checked through `introspector`: a cached answer decides now; a
/// new one is waited for (one request per token, shared).
pub(super) fn check<C: Send + Sync + 'static>(
    verifier: &Arc<IssuerVerifier>,
    introspector: &Arc<Introspector>,
    token: &str,
    request: &Request<'_>,
    decode: Decode<C>,
) -> Verdict<Claims<C>> {
    if token.len() > verifier.settings.max_token_len {
        return Verdict::Ready(Err(AuthErrorKind::TokenTooLarge.into()));
    }
    let now = verifier.settings.rules.clock.now();
    if let Some(answer) = introspector.cached(token, now) {
        return judge(verifier, &answer, request, now, decode);
    }
    let verifier = Arc::clone(verifier);
    let introspector = Arc::clone(introspector);
    let token = token.to_owned();
    let route = request.route.clone();
    let matched = request.matched.clone();
    let jkt = request.jkt.map(str::to_owned);
    Verdict::Pending {
        wait: Box::pin(async move {
            let answer = introspector.answer(&token).await?;
            let now = verifier.settings.rules.clock.now();
            let request = Request {
                route: &route,
                matched: &matched,
                jkt: jkt.as_deref(),
            };
            match judge(&verifier, &answer, &request, now, decode) {
                Verdict::Ready(result) => result,
                Verdict::Pending { wait, .. } => wait.await,
            }
        }),
        unless_waited: AuthErrorKind::IntrospectionUnavailable.into(),
    }
}

/// An answer through the security sequence, at clock second `now`.
fn judge<C: Send + Sync + 'static>(
    verifier: &IssuerVerifier,
    answer: &Arc<Answer>,
    request: &Request<'_>,
    now: u64,
    decode: Decode<C>,
) -> Verdict<Claims<C>> {
    let Some(claims) = answer.claims() else {
        return Verdict::Ready(Err(AuthErrorKind::InactiveToken.into()));
    };
    observe::issuer(claims.get("iss").and_then(Value::as_str));
    match sequence::run(verifier, claims, None, request, now) {
        Err(e) => Verdict::Ready(Err(e)),
        Ok(None) => Verdict::Ready(typed(answer, decode)),
        Ok(Some(revocation)) => {
            let answer = Arc::clone(answer);
            sequence::pending_revocation(async move {
                let claims = answer.claims().ok_or(AuthErrorKind::InactiveToken)?;
                sequence::ask(&*revocation, claims).await?;
                typed(&answer, decode)
            })
        }
    }
}

/// The answer's claims as `C`, deserialized once per answer.
fn typed<C: Send + Sync + 'static>(
    answer: &Answer,
    decode: Decode<C>,
) -> Result<Claims<C>, AuthError> {
    let stored = answer.typed.get_or_init(|| {
        let claims: &Map<String, Value> = answer.claims()?;
        let bytes = serde_json::to_vec(claims).ok()?;
        let typed = decode(&bytes, &mut Some(claims.clone()))?;
        Some(Arc::new(typed) as Arc<dyn Any + Send + Sync>)
    });
    stored
        .clone()
        .and_then(|t| t.downcast::<C>().ok())
        .map(Claims)
        .ok_or_else(|| AuthError::new(AuthErrorKind::InvalidClaims))
}
