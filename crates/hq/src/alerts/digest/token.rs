//! Unsubscribe tokens: `<account id>.<kind>.<HMAC-SHA256 of both>`, keyed with a server
//! secret kept in the database (`hq_secrets`), so a link works without signing in, cannot
//! be forged or turned to another account or kind, and does not reveal the email.

use uuid::Uuid;

use crate::storage::digests::DigestKind;

fn message(user: Uuid, kind: DigestKind) -> String {
    format!(
        "countertop-digest-unsubscribe:v1:{}:{}",
        user.simple(),
        kind.as_str()
    )
}

/// The token of `user`'s `kind` digest.
pub fn sign(secret: &[u8], user: Uuid, kind: DigestKind) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, message(user, kind).as_bytes());
    format!(
        "{}.{}.{}",
        user.simple(),
        kind.as_str(),
        hex::encode(tag.as_ref())
    )
}

/// The account and kind a genuine token names; `None` for anything else.
pub fn verify(secret: &[u8], token: &str) -> Option<(Uuid, DigestKind)> {
    let mut parts = token.trim().splitn(3, '.');
    let user = Uuid::try_parse(parts.next()?).ok()?;
    let kind = DigestKind::parse(parts.next()?)?;
    let tag = hex::decode(parts.next()?).ok()?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::verify(&key, message(user, kind).as_bytes(), &tag).ok()?;
    Some((user, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_and_any_change_to_it_does_not() {
        let user = Uuid::now_v7();
        let t = sign(b"secret", user, DigestKind::Weekly);
        assert_eq!(verify(b"secret", &t), Some((user, DigestKind::Weekly)));
        assert_eq!(verify(b"other secret", &t), None);
        let other_kind = t.replace(".weekly.", ".daily.");
        assert_eq!(verify(b"secret", &other_kind), None);
        let other_user = format!("{}{}", Uuid::now_v7().simple(), &t[32..]);
        assert_eq!(verify(b"secret", &other_user), None);
        let mut flipped = t.clone();
        let last = flipped.pop().map(|c| if c == '0' { '1' } else { '0' });
        flipped.extend(last);
        assert_eq!(verify(b"secret", &flipped), None);
        for junk in ["", "...", "x.daily.00", "é.daily.é", &t[..t.len() - 1]] {
            assert_eq!(verify(b"secret", junk), None, "{junk:?}");
        }
    }
}
