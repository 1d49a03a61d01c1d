//! Device tokens, API tokens and enrollment codes: how they are made and how they are
//! kept. Tokens carry 256 random bits; HQ stores only their SHA-256, so a leaked database
//! does not leak working credentials. None of these values is ever logged.

use sha2::{Digest, Sha256};

/// Errors from the system's random source.
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed: {0}")]
pub struct RandomError(String);

fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
    Ok(buf)
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

/// A fresh 256-bit bearer token, hex encoded (64 characters).
pub fn new_token() -> Result<String, RandomError> {
    Ok(to_hex(&random_bytes::<32>()?))
}

/// The only form in which HQ keeps a token or an enrollment code.
pub fn hash_secret(secret: &str) -> String {
    to_hex(&Sha256::digest(secret.as_bytes()))
}

/// Letters and digits that cannot be mistaken for each other when typed (no 0/O, 1/I/L,
/// U/V).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTWXYZ23456789";

/// A one-time enrollment code such as `K7QX-M2RA-9TWC` (about 58 bits).
pub fn new_enroll_code() -> Result<String, RandomError> {
    let bytes = random_bytes::<12>()?;
    let mut code = String::with_capacity(14);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char);
    }
    Ok(code)
}

/// Codes are compared without dashes, spaces or case, as people type them.
pub fn normalize_enroll_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_differ() {
        let a = new_token().expect("random");
        let b = new_token().expect("random");
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_stable_and_not_the_secret() {
        assert_eq!(hash_secret("abc"), hash_secret("abc"));
        assert_ne!(hash_secret("abc"), "abc");
        assert_eq!(hash_secret("abc").len(), 64);
    }

    #[test]
    fn typed_codes_match_however_they_are_written() {
        let code = new_enroll_code().expect("random");
        assert_eq!(code.len(), 14);
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(normalize_enroll_code(&typed), normalize_enroll_code(&code));
    }
}
