//! Exponential backoff with jitter: quick retries after a blip, a few minutes apart during
//! an outage, and never two kiosks retrying in lockstep.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            failures: 0,
        }
    }

    /// The wait before the next try: between half and all of `base * 2^failures`, capped.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.cap);
        self.failures = self.failures.saturating_add(1);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// A success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_reset_after_success() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let first = backoff.next_delay();
        assert!((Duration::from_millis(500)..=Duration::from_secs(1)).contains(&first));
        let second = backoff.next_delay();
        assert!((Duration::from_secs(1)..=Duration::from_secs(2)).contains(&second));
        for _ in 0..30 {
            let d = backoff.next_delay();
            assert!(d <= Duration::from_secs(300), "{d:?}");
        }
        let capped = backoff.next_delay();
        assert!(capped >= Duration::from_secs(150), "{capped:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads_kiosks_apart() {
        let delays: std::collections::HashSet<_> = (0..20)
            .map(|_| {
                let mut b = Backoff::new(Duration::from_secs(8), Duration::from_secs(300));
                b.next_delay()
            })
            .collect();
        assert!(delays.len() > 10);
    }
}
