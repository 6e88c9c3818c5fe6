//! Refreshing ahead of expiry: one task per client that sleeps until the current token
//! enters its refresh window (or, offline, until the backoff after a failure ends), then
//! joins the refresh flight like any caller. It holds the client weakly, so a dropped client ends it.

use super::state::Phase;
use super::AuthCore;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The scheduler re-reads the wall clock at least this often, so a machine that slept past
/// a token's expiry (monotonic timers stop during sleep) refreshes soon after waking.
pub const SCHEDULER_MAX_SLEEP: Duration = Duration::from_secs(15);
/// A floor under scheduled refreshes, whatever tokens the API issues.
pub const MIN_SCHEDULED_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Scheduler {
    /// Wakes the task when the session or the clock changed. A wake with nobody waiting is
    /// kept for the next wait, so none is lost.
    wake: Arc<Notify>,
}

/// How long until the token of a session is due: its refresh window (server clock), but
/// not before `pause` (backoff, or the floor after a success) has passed.
pub fn wait_before_refresh(refresh_at_ms: i64, server_now_ms: i64, pause: Duration) -> Duration {
    Duration::from_millis((refresh_at_ms - server_now_ms).max(0) as u64).max(pause)
}

impl Scheduler {
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn start(core: &Arc<AuthCore>) {
        let wake = core.scheduler.wake.clone();
        core.runtime.spawn(run(Arc::downgrade(core), wake));
    }
}

async fn run(core: Weak<AuthCore>, wake: Arc<Notify>) {
    loop {
        let Some(due_in) = core.upgrade().map(|core| core.next_scheduled_refresh()) else {
            return;
        };
        match due_in {
            None => wake.notified().await,
            Some(wait) if !wait.is_zero() => {
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(SCHEDULER_MAX_SLEEP)) => {}
                    _ = wake.notified() => {}
                }
            }
            Some(_) => {
                let Some(core) = core.upgrade() else { return };
                let _ = core.refresh_token().await;
            }
        }
    }
}

impl AuthCore {
    /// How long until the scheduler should refresh; `None` when there is no session to keep.
    fn next_scheduled_refresh(&self) -> Option<Duration> {
        let refresh_at_ms = {
            let state = self.state.lock();
            if state.phase != Phase::Active {
                return None;
            }
            // Offline (the last refresh could not reach the API), the next attempt is due
            // when its backoff ends, fresh token or not: the status returns to `valid` as
            // soon as the API answers, within `refreshRetryMaxMs`.
            if state.offline {
                0
            } else {
                state.token.as_ref().map_or(0, |t| t.refresh_at_ms)
            }
        };
        let pause = self
            .flight
            .pause_before_next(Instant::now(), MIN_SCHEDULED_INTERVAL);
        Some(wait_before_refresh(
            refresh_at_ms,
            self.clock.server_now_ms(),
            pause,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_at_the_window_but_never_inside_a_pause() {
        let second = Duration::from_secs(1);
        assert_eq!(
            wait_before_refresh(5_000, 1_000, Duration::ZERO),
            4 * second
        );
        assert_eq!(
            wait_before_refresh(5_000, 9_000, Duration::ZERO),
            Duration::ZERO
        );
        assert_eq!(wait_before_refresh(5_000, 9_000, 2 * second), 2 * second);
        assert_eq!(wait_before_refresh(5_000, 1_000, 10 * second), 10 * second);
    }
}
