//! One clock for the whole crate. Expiry decisions use the wall clock (a JWT's `exp` is
//! wall-clock time) corrected by what we learned of the API's clock; waits and backoff use
//! tokio's monotonic clock, so `tokio::time::pause()` drives them in tests. The wall clock
//! is behind `Clock`, so tests can run it from tokio's paused time and make it jump (a
//! machine that slept) without touching the monotonic one.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    /// This machine's wall clock, in ms since the epoch.
    fn now_ms(&self) -> i64;

    /// The same clock read the cheapest way available; may lag `now_ms` by a few ms, and is
    /// trusted only far from any deadline (see `TokenCache::fast_token`).
    fn coarse_now_ms(&self) -> i64 {
        self.now_ms()
    }
}

/// The operating system's clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    /// On Linux `CLOCK_REALTIME_COARSE`: a few ns from the vDSO instead of ~30 ns for the
    /// precise clock, which would be most of the per-request cost. Elsewhere the precise clock.
    fn coarse_now_ms(&self) -> i64 {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let mut now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `now` is a valid, writable timespec; the call writes only into it.
            if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) } == 0 {
                // `time_t` and `c_long` are 32 bits on 32-bit targets.
                #[allow(clippy::unnecessary_cast)]
                return now.tv_sec as i64 * 1000 + now.tv_nsec as i64 / 1_000_000;
            }
        }
        self.now_ms()
    }
}

/// Differences within this are the `Date` header's resolution (whole seconds), not skew.
const DATE_RESOLUTION_MS: i64 = 2000;

/// This machine's clock plus what we learned of the API's (from its `Date` header).
pub struct ServerClock {
    local: Arc<dyn Clock>,
    /// The API's clock minus ours, in ms.
    offset_ms: AtomicI64,
}

impl ServerClock {
    pub fn new(local: Arc<dyn Clock>) -> ServerClock {
        ServerClock {
            local,
            offset_ms: AtomicI64::new(0),
        }
    }

    pub fn local_now_ms(&self) -> i64 {
        self.local.now_ms()
    }

    pub fn coarse_local_now_ms(&self) -> i64 {
        self.local.coarse_now_ms()
    }

    /// Milliseconds since the epoch on the API's clock, as far as we can tell.
    pub fn server_now_ms(&self) -> i64 {
        self.local_now_ms() + self.offset_ms()
    }

    pub fn server_now_secs(&self) -> i64 {
        self.server_now_ms().div_euclid(1000)
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Learns the API's clock from a `Date` it sent; returns the new offset when it changed
    /// by more than the header's resolution (worth a log line).
    pub fn observe(&self, server_date: Option<SystemTime>) -> Option<i64> {
        let server_ms = server_date?.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64;
        let offset = server_ms - self.local_now_ms();
        let offset = if offset.abs() <= DATE_RESOLUTION_MS {
            0
        } else {
            offset
        };
        let previous = self.offset_ms.swap(offset, Ordering::Relaxed);
        ((previous - offset).abs() > DATE_RESOLUTION_MS).then_some(offset)
    }

    /// Whole seconds from now until `local_ms` (this machine's clock), rounded up, never negative.
    pub fn seconds_until(&self, local_ms: i64) -> i64 {
        ((local_ms - self.local_now_ms()).max(0) + 999) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_coarse_clock_lags_far_less_than_the_margin_it_is_trusted_with() {
        let clock = SystemClock;
        for _ in 0..100_000 {
            let coarse = clock.coarse_now_ms();
            let lag = clock.now_ms() - coarse;
            assert!(lag > -2, "coarse clock ahead by {} ms", -lag);
            assert!(
                lag < crate::session::COARSE_CLOCK_MARGIN_MS / 4,
                "coarse clock behind by {lag} ms"
            );
        }
    }

    #[test]
    fn the_api_clock_is_learned_beyond_the_date_resolution_only() {
        let clock = ServerClock::new(Arc::new(SystemClock));
        let now = SystemTime::now();
        assert_eq!(clock.observe(Some(now + Duration::from_secs(1))), None);
        assert_eq!(clock.offset_ms(), 0);
        let offset = clock
            .observe(Some(now + Duration::from_secs(3600)))
            .unwrap();
        assert!((3_598_000..=3_600_000).contains(&offset));
        assert_eq!(clock.observe(Some(now + Duration::from_secs(3600))), None);
        assert!(clock.server_now_ms() - clock.local_now_ms() >= 3_598_000);
        assert_eq!(clock.observe(None), None);
    }

    #[test]
    fn seconds_until_count_whole_seconds_up() {
        let clock = ServerClock::new(Arc::new(SystemClock));
        let now = clock.local_now_ms();
        assert_eq!(clock.seconds_until(now - 5_000), 0);
        assert!((10..=11).contains(&clock.seconds_until(now + 10_500)));
    }
}
