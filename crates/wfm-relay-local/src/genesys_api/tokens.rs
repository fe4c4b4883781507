//! Access tokens of the stand-in: issue (client credentials), check (expiry), and the per-token
//! rate limit.
//!
//! Genesys Cloud facts: client-credentials tokens are issued by `POST /oauth/token` and last
//! `expires_in` seconds (300–172,800, default 86,400; Genesys help "Create an OAuth client");
//! the Platform API allows 300 requests per minute per token
//! (`client.credentials.token.rate.per.minute`, developer.genesys.cloud "Rate limits") and
//! answers beyond it with 429 and `Retry-After` (developer.genesys.cloud forum, "Normalized
//! Platform API 429 responses", 2021). The stand-in counts in fixed windows that start at a
//! token's first request after the previous window ended.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A per-token request limit: at most `requests` in each window of length `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length.
    pub per: Duration,
}

impl RateLimit {
    /// Genesys Cloud's limit: 300 requests per minute per token.
    pub const GENESYS: RateLimit = RateLimit {
        requests: 300,
        per: Duration::from_secs(60),
    };
}

struct Token {
    expires_at: Instant,
    window_start: Instant,
    in_window: u32,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// A token the stand-in never issued, or one that expired.
    Invalid,
    /// Over the rate limit: retry after this many whole seconds (≥ 1).
    RateLimited(u64),
}

/// All tokens issued so far.
pub struct Tokens {
    limit: RateLimit,
    by_value: HashMap<String, Token>,
    issued: u64,
}

impl Tokens {
    /// No tokens yet; `limit` applies to each token separately.
    pub fn new(limit: RateLimit) -> Self {
        Tokens {
            limit,
            by_value: HashMap::new(),
            issued: 0,
        }
    }

    /// Issues a new token valid for `ttl` from `now`; returns its value.
    pub fn issue(&mut self, now: Instant, ttl: Duration) -> String {
        self.issued += 1;
        let value = format!("standin-{}-{}", self.issued, uuid::Uuid::new_v4().simple());
        self.by_value.insert(
            value.clone(),
            Token {
                expires_at: now + ttl,
                window_start: now,
                in_window: 0,
            },
        );
        value
    }

    /// Number of tokens issued so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Makes every token issued so far expired (a token that ran out in the middle of a run).
    pub fn expire_all(&mut self, now: Instant) {
        for t in self.by_value.values_mut() {
            t.expires_at = now;
        }
    }

    /// Checks the `Authorization` header value and counts the request against the token's limit.
    ///
    /// # Errors
    /// The [`Refusal`]: missing, invalid / expired, or rate limited (requests refused with 429
    /// do not count against the window).
    pub fn admit(&mut self, authorization: Option<&str>, now: Instant) -> Result<(), Refusal> {
        let value = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(Refusal::Missing)?;
        let t = self.by_value.get_mut(value).ok_or(Refusal::Invalid)?;
        if now >= t.expires_at {
            return Err(Refusal::Invalid);
        }
        if now.duration_since(t.window_start) >= self.limit.per {
            t.window_start = now;
            t.in_window = 0;
        }
        if t.in_window >= self.limit.requests {
            let left = self
                .limit
                .per
                .saturating_sub(now.duration_since(t.window_start));
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            return Err(Refusal::RateLimited(secs.max(1)));
        }
        t.in_window += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_expiry_and_windows() {
        let t0 = Instant::now();
        let mut tokens = Tokens::new(RateLimit {
            requests: 2,
            per: Duration::from_secs(2),
        });
        let a = tokens.issue(t0, Duration::from_secs(10));
        let b = tokens.issue(t0, Duration::from_secs(10));
        let bearer = |v: &str| format!("Bearer {v}");
        assert_eq!(tokens.admit(Some(&bearer(&a)), t0), Ok(()));
        assert_eq!(tokens.admit(Some(&bearer(&a)), t0), Ok(()));
        let half = t0 + Duration::from_millis(500);
        assert_eq!(
            tokens.admit(Some(&bearer(&a)), half),
            Err(Refusal::RateLimited(2))
        );
        assert_eq!(tokens.admit(Some(&bearer(&b)), half), Ok(()), "per token");
        let next = t0 + Duration::from_secs(2);
        assert_eq!(tokens.admit(Some(&bearer(&a)), next), Ok(()), "new window");
        assert_eq!(tokens.admit(None, t0), Err(Refusal::Missing));
        assert_eq!(tokens.admit(Some("Bearer nope"), t0), Err(Refusal::Invalid));
        let late = t0 + Duration::from_secs(10);
        assert_eq!(tokens.admit(Some(&bearer(&b)), late), Err(Refusal::Invalid));
        let c = tokens.issue(t0, Duration::from_secs(10));
        tokens.expire_all(t0);
        assert_eq!(tokens.admit(Some(&bearer(&c)), t0), Err(Refusal::Invalid));
        assert_eq!(tokens.issued(), 3);
    }
}
