//! Refreshing ahead of expiry, and catching up after the machine slept.

use super::*;
use crate::session::State;

#[tokio::test(start_paused = true)]
async fn the_scheduler_refreshes_inside_the_window_before_anyone_waits() {
    let h = Harness::signed_in().await;
    let first = h.current_token();
    let before = h.api.token_requests();
    // A 600 s token's window is its last fifth: due at 480 s.
    pass(Duration::from_secs(479)).await;
    assert_eq!(h.api.token_requests(), before, "nothing before the window");
    pass(Duration::from_secs(2)).await;
    assert_eq!(
        h.api.token_requests(),
        before + 1,
        "one refresh in the window"
    );
    assert_ne!(h.current_token(), first);
    assert!(h.store.record().is_some());
    // Hours of use: one refresh per token lifetime window, never an expired token.
    for _ in 0..30 {
        pass(Duration::from_secs(120)).await;
        let token = h.core.get_token().await.unwrap();
        assert!(h.core.is_token_valid(Some(token.expose())));
    }
    let refreshes = h.api.token_requests() - before;
    assert!(
        (7..=9).contains(&refreshes),
        "{refreshes} refreshes in an hour"
    );
}

#[tokio::test(start_paused = true)]
async fn notify_resume_after_a_long_suspend_refreshes_at_once() {
    let h = Harness::signed_in().await;
    let first = h.current_token();
    pass(Duration::from_secs(5)).await;
    // Asleep for two hours: the wall clock moved, tokio's timers did not.
    h.clock.jump(Duration::from_secs(7200));
    assert_eq!(h.core.status().state, State::Expired);
    let before = h.api.token_requests();
    h.core.notify_resume();
    settle().await;
    assert_eq!(h.api.token_requests(), before + 1);
    assert_ne!(h.current_token(), first);
    assert_eq!(h.core.status().state, State::Valid);
}

#[tokio::test(start_paused = true)]
async fn without_notify_resume_the_scheduler_catches_up_within_its_longest_sleep() {
    let h = Harness::signed_in().await;
    let first = h.current_token();
    h.clock.jump(Duration::from_secs(7200));
    pass(crate::session::scheduler::SCHEDULER_MAX_SLEEP).await;
    assert_ne!(h.current_token(), first);
    assert_eq!(h.core.status().state, State::Valid);
}
