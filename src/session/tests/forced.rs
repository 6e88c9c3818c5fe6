//! Refreshes a caller forces (a 401, `invalidateCredentials`, `refreshJwtToken()`, the IPC
//! `refresh`) are coalesced and spaced, and a status that says `offline` comes back by
//! itself once the API answers, with one event per real change.

use super::*;
use crate::session::{AuthStatus, State};

fn recorder(h: &Harness) -> Arc<Mutex<Vec<State>>> {
    let states = Arc::new(Mutex::new(Vec::new()));
    let sink = states.clone();
    h.core
        .on_status_change(Arc::new(move |status: &AuthStatus| {
            sink.lock().push(status.state)
        }));
    states
}

#[tokio::test(start_paused = true)]
async fn forced_refreshes_in_a_loop_are_spaced_as_failures_back_off() {
    let h = Harness::signed_in().await;
    let before = h.api.token_requests();
    // 2 s of a caller forcing a refresh every 10 ms (the IPC channel in a loop).
    for _ in 0..200 {
        let token = h.core.force_refresh().await.expect("a token every time");
        assert!(h.core.is_token_valid(Some(token.expose())));
        pass(Duration::from_millis(10)).await;
    }
    let forced = h.api.token_requests() - before;
    // The first at once, the next 1 s later (refreshRetryMinMs), the third not before 3 s.
    assert_eq!(forced, 2, "{forced} refreshes in 2 s");
    // A whole refreshRetryMaxMs later the spacing starts afresh.
    pass(Duration::from_secs(70)).await;
    let quiet = h.api.token_requests();
    h.core.force_refresh().await.unwrap();
    assert_eq!(h.api.token_requests(), quiet + 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_token_is_replaced_once_and_its_young_replacement_is_kept() {
    let h = Harness::signed_in().await;
    let before = h.api.token_requests();
    let first = h.current_token();
    h.core.replace_rejected_token(Some(&first)).await.unwrap();
    let replacement = h.current_token();
    assert_ne!(
        replacement, first,
        "the login's token is replaced at the first 401"
    );
    assert_eq!(h.api.token_requests(), before + 1);
    // A server that refuses every token: 2 s of 401s, and invalidateCredentials.
    for _ in 0..100 {
        let kept = h.core.replace_rejected_token(Some(&replacement)).await;
        assert_eq!(
            kept.unwrap().expose(),
            replacement,
            "kept; the 401 is passed on"
        );
        h.core.replace_rejected_token(None).await.unwrap();
        pass(Duration::from_millis(20)).await;
    }
    assert_eq!(h.api.token_requests(), before + 1, "no refresh in 2 s");
    pass(super::super::refresh::MIN_REFUSED_TOKEN_AGE).await;
    h.core
        .replace_rejected_token(Some(&replacement))
        .await
        .unwrap();
    assert_eq!(
        h.api.token_requests(),
        before + 2,
        "older than the minimum age: replaced"
    );
}

#[tokio::test(start_paused = true)]
async fn offline_comes_back_to_valid_by_itself_once_the_api_answers() {
    let h = Harness::signed_in().await;
    let states = recorder(&h);
    h.api.fail(Call::Refresh, network_down(), 1000);
    h.api.fail(Call::Token, network_down(), 1000);
    assert_eq!(
        h.core.force_refresh().await.unwrap_err().code,
        ErrorCode::Network
    );
    assert_eq!(h.core.status().state, State::Offline);
    // The token is fresh (due at 480 s), yet the failed refresh is retried in backoff.
    pass(Duration::from_secs(20)).await;
    let retries = h.api.count(Call::Refresh);
    assert!(retries >= 4, "{retries} attempts in 20 s");
    assert_eq!(h.core.status().state, State::Offline);
    h.api.clear_faults();
    // The next retry comes within the backoff cap (refreshRetryMaxMs, 60 s here).
    pass(Duration::from_secs(60)).await;
    assert_eq!(h.core.status().state, State::Valid);
    assert_eq!(
        *states.lock(),
        vec![State::Refreshing, State::Offline, State::Valid],
        "one event per real change, none per retry"
    );
}
