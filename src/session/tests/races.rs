//! Session changes that overlap. Logout wins; a later login is never undone by an
//! earlier logout; a save never lands after a later clear.

use super::*;
use crate::session::State;

#[tokio::test(start_paused = true)]
async fn logout_during_a_refresh_discards_it_and_wins() {
    let h = Harness::signed_in().await;
    h.api.hold(Call::Refresh);
    let refreshing = h.core.refresh_token();
    settle().await;
    let core = h.core.clone();
    let logout = tokio::spawn(async move { core.logout().await });
    settle().await;
    assert_eq!(
        h.core.status().state,
        State::SignedOut,
        "signed out at once"
    );
    assert!(h.core.stored_token().is_none());
    h.api.release(Call::Refresh);
    let err = refreshing.await.unwrap_err();
    assert_eq!(err.code, ErrorCode::LoginRequired);
    logout.await.unwrap().unwrap();
    assert_eq!(h.core.status().state, State::SignedOut);
    assert!(h.core.stored_token().is_none());
    assert!(h.store.record().is_none());
    assert!(
        !h.api.has_session(),
        "cookies the refresh received are gone too"
    );
    assert_eq!(h.api.count(Call::Logout), 1, "the API session was ended");
}

#[tokio::test(start_paused = true)]
async fn a_save_begun_before_logout_lands_before_its_clear_never_after() {
    let h = Harness::signed_in().await;
    h.store.hold_saves();
    let saves = h.store.saves_begun();
    let refreshed = h.core.refresh_token();
    settle().await;
    assert_eq!(
        h.store.saves_begun(),
        saves + 1,
        "the refreshed session is being written"
    );
    let core = h.core.clone();
    let logout = tokio::spawn(async move { core.logout().await });
    settle().await;
    h.store.release_saves();
    refreshed.await.unwrap();
    logout.await.unwrap().unwrap();
    settle().await;
    assert!(h.store.record().is_none(), "nothing stored after logout");
    let next = h.next_run();
    assert_eq!(next.core.restore().await.unwrap().state, State::SignedOut);
}

#[tokio::test(start_paused = true)]
async fn a_slow_logout_never_wipes_a_login_that_came_after_it() {
    let h = Harness::signed_in().await;
    h.api.hold(Call::Logout);
    let core = h.core.clone();
    let logout = tokio::spawn(async move { core.logout().await });
    settle().await;
    let core = h.core.clone();
    let login = tokio::spawn(async move {
        core.login("demo@example.com", Secret::new("pw"), true)
            .await
    });
    settle().await;
    h.api.release(Call::Logout);
    logout.await.unwrap().unwrap();
    assert_eq!(login.await.unwrap().unwrap().state, State::Valid);
    let status = h.core.status();
    assert_eq!(status.state, State::Valid);
    assert!(status.persistent);
    assert!(h.store.record().is_some(), "the newer login is stored");
    assert!(h.api.has_session(), "with its cookie");
    h.core
        .refresh_token()
        .await
        .expect("its session works at the API");
    let next = h.next_run();
    assert_eq!(next.core.restore().await.unwrap().state, State::Valid);
}

#[tokio::test(start_paused = true)]
async fn logout_during_a_login_abandons_the_login_and_ends_its_api_session() {
    let h = Harness::new();
    h.api.hold(Call::Token);
    let core = h.core.clone();
    let login = tokio::spawn(async move {
        core.login("demo@example.com", Secret::new("pw"), true)
            .await
    });
    settle().await;
    let core = h.core.clone();
    let logout = tokio::spawn(async move { core.logout().await });
    settle().await;
    h.api.release(Call::Token);
    let err = login.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::LoginRequired);
    logout.await.unwrap().unwrap();
    assert_eq!(h.core.status().state, State::SignedOut);
    assert!(h.core.stored_token().is_none());
    assert!(h.store.record().is_none());
    assert!(!h.api.has_session());
    assert_eq!(
        h.api.count(Call::Logout),
        1,
        "the abandoned login's API session is ended"
    );
}

#[tokio::test(start_paused = true)]
async fn restore_with_an_expired_token_refreshes_with_the_stored_cookie() {
    let h = Harness::after_a_signed_in_run().await;
    h.clock.jump(Duration::from_secs(7200));
    let before = h.api.token_requests();
    let status = h.core.restore().await.unwrap();
    assert_eq!(status.state, State::Valid);
    assert_eq!(h.api.count(Call::Login), 1, "no password needed");
    assert_eq!(h.api.token_requests(), before + 1);
    let next = h;
    assert!(next.core.is_token_valid(None));
}

#[tokio::test(start_paused = true)]
async fn restore_with_a_valid_token_needs_no_network() {
    let h = Harness::signed_in().await;
    let token = h.current_token();
    let calls = h.api.calls.lock().len();
    let next = h.next_run();
    assert_eq!(next.core.restore().await.unwrap().state, State::Valid);
    assert_eq!(next.current_token(), token);
    assert_eq!(h.api.calls.lock().len(), calls);
}

#[tokio::test(start_paused = true)]
async fn logout_signs_out_when_called_not_when_first_polled() {
    let h = Harness::signed_in().await;
    let logging_out = h.core.logout();
    assert_eq!(h.core.status().state, State::SignedOut);
    assert!(h.core.stored_token().is_none());
    let err = h.core.get_token().await.unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::LoginRequired,
        "a token asked for after logout() is refused, even before its future runs"
    );
    logging_out.await.unwrap();
    assert_eq!(h.api.count(Call::Logout), 1);
}

#[tokio::test(start_paused = true)]
async fn a_logout_called_after_a_login_wins_before_either_future_runs() {
    let h = Harness::new();
    let login = h.core.login("demo@example.com", Secret::new("pw"), true);
    let logout = h.core.logout();
    // The runtime may run them in either order; polling the login first is the hard one.
    let err = login.await.unwrap_err();
    assert_eq!(err.code, ErrorCode::LoginRequired);
    logout.await.unwrap();
    assert_eq!(h.core.status().state, State::SignedOut);
    assert!(h.store.record().is_none());
    assert_eq!(h.api.count(Call::Login), 0, "nothing was sent for it");
}

#[tokio::test(start_paused = true)]
async fn a_logout_called_after_a_restore_wins_before_either_future_runs() {
    let h = Harness::after_a_signed_in_run().await;
    let restoring = h.core.restore();
    let logout = h.core.logout();
    assert_eq!(restoring.await.unwrap().state, State::SignedOut);
    logout.await.unwrap();
    assert_eq!(h.core.status().state, State::SignedOut);
    assert!(h.core.stored_token().is_none());
    assert!(
        h.store.record().is_none(),
        "the logout cleared the stored session"
    );
}

#[tokio::test(start_paused = true)]
async fn a_restore_that_runs_before_a_login_called_earlier_is_replaced_not_abandoning_it() {
    let h = Harness::after_a_signed_in_run().await;
    let logins = h.api.count(Call::Login);
    let login = h.core.login("demo@example.com", Secret::new("pw"), true);
    let restoring = h.core.restore();
    // Polled in the other order than called, as a multi-threaded runtime may.
    assert_eq!(restoring.await.unwrap().state, State::Valid);
    assert_eq!(
        login.await.unwrap().state,
        State::Valid,
        "the login goes on"
    );
    assert_eq!(h.api.count(Call::Login), logins + 1);
}

#[tokio::test(start_paused = true)]
async fn a_logout_called_while_a_restore_reads_the_store_wins() {
    let h = Harness::after_a_signed_in_run().await;
    h.store.hold_loads();
    let core = h.core.clone();
    // The restore runs first (as a worker thread may): past its first check, reading.
    let restoring = tokio::spawn(async move { core.restore().await });
    settle().await;
    let logout = h.core.logout();
    h.store.release_loads();
    assert_eq!(restoring.await.unwrap().unwrap().state, State::SignedOut);
    logout.await.unwrap();
    assert_eq!(h.core.status().state, State::SignedOut);
    assert!(h.core.stored_token().is_none());
    assert!(!h.api.has_session(), "the stored cookies were not taken up");
    assert!(h.store.record().is_none());
}
