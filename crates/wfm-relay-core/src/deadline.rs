//! The deadline an invocation works against, and the time left before it (PRODUCT.md §3,
//! "Timeouts"). Pure: the clock's reading is an argument.

use std::time::{Duration, SystemTime};

/// The deadline an invocation works against. Lambda passes its deadline in
/// `Lambda-Runtime-Deadline-Ms`; a deadline already past when the invocation starts (local
/// emulators such as `cargo lambda watch` send a fixed 1970 value) is treated as absent and the
/// configured function timeout counts from `started` instead (PRODUCT.md §3).
pub fn effective_deadline(
    runtime_deadline: SystemTime,
    started: SystemTime,
    function_timeout: Duration,
) -> SystemTime {
    if runtime_deadline > started {
        runtime_deadline
    } else {
        started + function_timeout
    }
}

/// Time left before `deadline - reserve` at `now`; zero when already inside the reserve.
pub fn time_left(deadline: SystemTime, reserve: Duration, now: SystemTime) -> Duration {
    deadline
        .checked_sub(reserve)
        .and_then(|limit| limit.duration_since(now).ok())
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn past_deadline_is_absent() {
        let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let fixed_1970 = UNIX_EPOCH + Duration::from_millis(600_000);
        let timeout = Duration::from_secs(60);
        assert_eq!(
            effective_deadline(fixed_1970, start, timeout),
            start + timeout
        );
        let real = start + Duration::from_secs(10);
        assert_eq!(effective_deadline(real, start, timeout), real);
        assert_eq!(
            time_left(real, Duration::from_secs(3), start),
            Duration::from_secs(7)
        );
        assert_eq!(
            time_left(real, Duration::from_secs(30), start),
            Duration::ZERO
        );
    }
}
