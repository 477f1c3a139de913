//! Server-provided nonces (RFC 9449 §8 and §9), stateless: a nonce is the
//! time it was issued and an HMAC-SHA256 of that time under a server key,
//! so any instance holding the key accepts it and nothing is stored. A
//! nonce is accepted for its lifetime; once it is older than half of it, a
//! successful response carries the next one in `DPoP-Nonce`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const MAC_LEN: usize = 16;

/// What a proof's `nonce` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    /// Valid and young.
    Fresh,
    /// Valid, but past half its lifetime: send the next one.
    Renew,
    /// Missing, forged, expired or from the future.
    Invalid,
}

pub(crate) struct Nonces {
    mac: HmacSha256,
    lifetime: u64,
}

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Nonces {
    /// `key`: at least 32 bytes (checked by the caller); `lifetime` in
    /// seconds, at least 4.
    pub(crate) fn new(key: &[u8], lifetime: u64) -> Option<Self> {
        Some(Self {
            mac: HmacSha256::new_from_slice(key).ok()?,
            lifetime: lifetime.max(4),
        })
    }

    fn tag(&self, issued: u64) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(b"tower-jwt-auth dpop nonce v1");
        mac.update(&issued.to_be_bytes());
        mac
    }

    /// The nonce to hand out at `now`. Issue times are rounded down to a
    /// quarter of the lifetime, so clients hitting any instance at about
    /// the same time get the same nonce.
    pub(crate) fn current(&self, now: u64) -> HeaderValue {
        let step = self.lifetime / 4;
        let issued = now - now % step;
        let mut raw = [0u8; 8 + MAC_LEN];
        raw[..8].copy_from_slice(&issued.to_be_bytes());
        raw[8..].copy_from_slice(&self.tag(issued).finalize().into_bytes()[..MAC_LEN]);
        // base64url is a valid header value.
        HeaderValue::from_str(&URL_SAFE_NO_PAD.encode(raw))
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }

    pub(crate) fn check(&self, nonce: Option<&str>, now: u64) -> NonceCheck {
        let Some(nonce) = nonce else {
            return NonceCheck::Invalid;
        };
        let mut raw = [0u8; 8 + MAC_LEN];
        match URL_SAFE_NO_PAD.decode_slice(nonce, &mut raw) {
            Ok(n) if n == raw.len() => {}
            _ => return NonceCheck::Invalid,
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&raw[..8]);
        let issued = u64::from_be_bytes(issued);
        // Constant time: the tag is a MAC.
        if self.tag(issued).verify_truncated_left(&raw[8..]).is_err() {
            return NonceCheck::Invalid;
        }
        match now.checked_sub(issued) {
            Some(age) if age <= self.lifetime / 2 => NonceCheck::Fresh,
            Some(age) if age <= self.lifetime => NonceCheck::Renew,
            _ => NonceCheck::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_fresh_then_renewed_then_refused() {
        let n = Nonces::new(&[7u8; 32], 400).unwrap();
        let nonce = n.current(1_000_000);
        let s = nonce.to_str().unwrap();
        assert_eq!(n.check(Some(s), 1_000_000), NonceCheck::Fresh);
        assert_eq!(n.check(Some(s), 1_000_200), NonceCheck::Fresh);
        assert_eq!(n.check(Some(s), 1_000_201), NonceCheck::Renew);
        assert_eq!(n.check(Some(s), 1_000_400), NonceCheck::Renew);
        assert_eq!(n.check(Some(s), 1_000_401), NonceCheck::Invalid);
        // Issued "in the future" (clock moved back): refused.
        assert_eq!(n.check(Some(s), 999_000), NonceCheck::Invalid);
        assert_ne!(n.current(1_000_100), nonce);
    }

    #[test]
    fn forged_or_foreign_nonces_are_refused() {
        let n = Nonces::new(&[7u8; 32], 400).unwrap();
        let other = Nonces::new(&[8u8; 32], 400).unwrap();
        let theirs = other.current(1_000_000);
        assert_eq!(
            n.check(Some(theirs.to_str().unwrap()), 1_000_000),
            NonceCheck::Invalid
        );
        for bad in [
            None,
            Some(""),
            Some("abc"),
            Some("!!!!"),
            Some(&"A".repeat(32)[..]),
        ] {
            assert_eq!(n.check(bad, 1_000_000), NonceCheck::Invalid, "{bad:?}");
        }
        // Same key on another instance: accepted.
        let sibling = Nonces::new(&[7u8; 32], 400).unwrap();
        let ours = n.current(1_000_000);
        assert_eq!(
            sibling.check(Some(ours.to_str().unwrap()), 1_000_001),
            NonceCheck::Fresh
        );
    }
}
