//! Single flight, forced refreshes, backoff and recovery, and the API ending the session.

use super::*;
use crate::session::State;
use tokio::task::JoinSet;

#[tokio::test(start_paused = true)]
async fn a_thousand_callers_on_an_expired_token_share_one_request() {
    let h = Harness::signed_in().await;
    let first = h.current_token();
    let before = h.api.token_requests();
    h.api.hold(Call::Refresh);
    h.clock.jump(Duration::from_secs(3600));
    let mut callers = JoinSet::new();
    for _ in 0..1000 {
        let core = h.core.clone();
        callers.spawn(async move { core.get_token().await });
    }
    settle().await;
    assert_eq!(h.api.token_requests() - before, 1, "one request, held");
    h.api.release(Call::Refresh);
    let tokens: Vec<String> = callers
        .join_all()
        .await
        .into_iter()
        .map(|token| token.expect("a token").expose().to_string())
        .collect();
    assert!(tokens.iter().all(|token| *token == tokens[0]));
    assert_ne!(tokens[0], first);
    assert_eq!(h.api.token_requests() - before, 1);
}

#[tokio::test(start_paused = true)]
async fn a_forced_refresh_while_one_is_in_flight_shares_it_and_a_later_one_does_not() {
    let h = Harness::signed_in().await;
    let before = h.api.token_requests();
    h.api.hold(Call::Refresh);
    let first = h.core.refresh_token();
    let joined: Vec<_> = (0..10).map(|_| h.core.refresh_token()).collect();
    settle().await;
    h.api.release(Call::Refresh);
    let token = first.await.unwrap();
    for other in joined {
        assert_eq!(other.await.unwrap().expose(), token.expose());
    }
    assert_eq!(h.api.token_requests() - before, 1);
    let later = h.core.refresh_token().await.unwrap();
    assert_ne!(
        later.expose(),
        token.expose(),
        "a refresh asked after one finished is new"
    );
    assert_eq!(h.api.token_requests() - before, 2);
}

/// The gaps between attempts, from the `[d/2, d]` jitter of `d = min(max, min * 2^(n-1))`.
fn assert_backoff(gaps: &[Duration], min_ms: u64, max_ms: u64) {
    for (n, gap) in gaps.iter().enumerate() {
        let ceiling = Duration::from_millis((min_ms << n.min(20)).min(max_ms));
        assert!(
            *gap >= ceiling / 2 && *gap <= ceiling,
            "attempt {}: waited {gap:?}, expected within [{:?}, {ceiling:?}]",
            n + 1,
            ceiling / 2
        );
    }
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn an_outage_backs_off_exponentially_up_to_the_cap_then_recovers_by_itself() {
    let h = Harness::with_config(config(|c| {
        c.refresh_retry_min_ms = Some(1000.0);
        c.refresh_retry_max_ms = Some(8000.0);
    }));
    h.login().await.unwrap();
    let token = h.current_token();
    h.api.fail(Call::Refresh, network_down(), 1000);
    h.api.fail(Call::Token, network_down(), 1000);
    // The 600 s token is due at 480 s; 60 s of outage from there.
    pass(Duration::from_secs(480 + 60)).await;
    let attempts = h.api.times(Call::Refresh);
    assert!(attempts.len() >= 8, "{} attempts", attempts.len());
    assert_backoff(&gaps(&attempts), 1000, 8000);
    assert_eq!(h.core.status().state, State::Offline);
    assert_eq!(
        h.core.get_token().await.unwrap().expose(),
        token,
        "the still-valid token is served"
    );
    let during_backoff = h.api.token_requests();
    let err = h.core.refresh_token().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Network);
    assert_eq!(
        h.api.token_requests(),
        during_backoff,
        "callers share the backoff: no request"
    );

    h.api.clear_faults();
    pass(Duration::from_secs(9)).await;
    let status = h.core.status();
    assert_eq!(status.state, State::Valid);
    assert_eq!(status.last_error, None);
    assert_ne!(h.current_token(), token, "recovered with a new token");
    let recovered = h.api.token_requests();
    pass(Duration::from_secs(60)).await;
    assert_eq!(
        h.api.token_requests(),
        recovered,
        "no retries once recovered"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_for_up_to_the_maximum() {
    let h = Harness::with_config(config(|c| {
        c.refresh_retry_min_ms = Some(100.0);
        c.refresh_retry_max_ms = Some(10_000.0);
    }));
    h.login().await.unwrap();
    let busy = AuthError::new(ErrorCode::Server, "the token endpoint is rate limiting")
        .with_retry_after(Some(Duration::from_secs(5)));
    h.api.fail(Call::Refresh, busy.clone(), 2);
    h.api.fail(Call::Token, busy, 2);
    pass(Duration::from_secs(480 + 20)).await;
    let attempts = h.api.times(Call::Refresh);
    assert_eq!(attempts.len(), 3, "two refused, the third succeeds");
    for gap in gaps(&attempts) {
        assert!(gap >= Duration::from_secs(5), "waited {gap:?}, asked 5 s");
        assert!(gap <= Duration::from_millis(5100));
    }
    assert_eq!(h.core.status().state, State::Valid);

    let h = Harness::with_config(config(|c| {
        c.refresh_retry_min_ms = Some(100.0);
        c.refresh_retry_max_ms = Some(2000.0);
    }));
    h.login().await.unwrap();
    let greedy = AuthError::new(ErrorCode::Server, "the token endpoint failed")
        .with_retry_after(Some(Duration::from_secs(3600)));
    h.api.fail(Call::Refresh, greedy.clone(), 1);
    h.api.fail(Call::Token, greedy, 1);
    pass(Duration::from_secs(480 + 10)).await;
    let attempts = h.api.times(Call::Refresh);
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts[1] - attempts[0] <= Duration::from_secs(2),
        "capped at the maximum"
    );
}

#[tokio::test(start_paused = true)]
async fn a_401_from_the_token_endpoint_ends_the_session_and_its_stored_record() {
    let h = Harness::signed_in().await;
    assert!(h.store.record().is_some());
    h.api.end_session();
    let err = h.core.refresh_token().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::LoginRequired);
    settle().await;
    let status = h.core.status();
    assert_eq!(status.state, State::LoginRequired);
    assert!(!status.authenticated);
    assert!(h.store.record().is_none(), "the stored record is cleared");
    assert!(!h.api.has_session(), "the cookies are dropped");
    assert!(h.core.stored_token().is_none());
    assert_eq!(
        h.core.get_token().await.unwrap_err().code,
        ErrorCode::LoginRequired
    );
    let requests = h.api.token_requests();
    pass(Duration::from_secs(3600)).await;
    assert_eq!(
        h.api.token_requests(),
        requests,
        "nothing retries an ended session"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_still_valid_token_and_the_stored_session() {
    let h = Harness::signed_in().await;
    let token = h.current_token();
    let stored = h.store.record();
    h.api.fail(Call::Refresh, network_down(), 1);
    h.api.fail(Call::Token, network_down(), 1);
    let err = h.core.refresh_token().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Network);
    assert_eq!(h.current_token(), token);
    assert_eq!(h.store.record(), stored);
    assert!(h.core.status().authenticated);
}

#[tokio::test(start_paused = true)]
async fn a_refreshed_token_for_another_user_is_refused_and_the_session_kept() {
    let h = Harness::signed_in().await;
    let token = h.current_token();
    let stored = h.store.record();
    *h.api.subject.lock() = "2".into();
    let err = h.core.refresh_token().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::TokenInvalid);
    assert!(err.message.contains("another user"), "{err}");
    assert_eq!(h.current_token(), token, "the token in use is kept");
    assert_eq!(h.store.record(), stored, "nothing stored");
    let status = h.core.status();
    assert_eq!(status.user.unwrap().id, "1");
    assert!(status.authenticated);
    assert_eq!(status.last_error.unwrap().code, ErrorCode::TokenInvalid);
    assert_eq!(
        h.api.count(Call::Token),
        2,
        "the token endpoint was asked as well"
    );
}
