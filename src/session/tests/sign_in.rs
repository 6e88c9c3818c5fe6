//! Signing in while signed in: a login that fails after the API accepted the password
//! changes nothing of the session there was, at the API or here.

use super::*;
use crate::session::State;

/// User A signed in, then `login()` again while the token endpoint fails with `err`.
async fn a_failed_second_login(err: AuthError) {
    let h = Harness::signed_in().await;
    let token = h.current_token();
    let cookies = h.api.session_cookies();
    let logouts = h.api.count(Call::Logout);
    h.api.fail(Call::Token, err.clone(), 1);
    let refused = h.login().await.unwrap_err();
    assert_eq!(refused.code, err.code);
    let status = h.core.status();
    assert_eq!(status.state, State::Valid, "the session there was goes on");
    assert_eq!(status.last_error.map(|e| e.code), Some(err.code));
    assert_eq!(h.current_token(), token);
    assert_eq!(
        h.api.session_cookies(),
        cookies,
        "apiFetch() still goes out as the same session"
    );
    assert_eq!(
        h.api.count(Call::Logout),
        logouts + 1,
        "the half-made session is ended at the API, and only it"
    );
    assert_eq!(h.api.live_sessions(), 1);
    h.core
        .refresh_token()
        .await
        .expect("the session there was still works at the API");
    let next = h.next_run();
    assert_eq!(next.core.restore().await.unwrap().state, State::Valid);
    assert_eq!(next.current_token(), h.current_token());
}

#[tokio::test(start_paused = true)]
async fn a_login_whose_token_step_fails_with_503_keeps_the_session_there_was() {
    a_failed_second_login(AuthError::new(
        ErrorCode::Server,
        "the token endpoint answered 503",
    ))
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_login_of_an_account_without_a_jwt_keeps_the_session_there_was() {
    // The token endpoint's 403 for an account that may not have a JWT.
    a_failed_second_login(AuthError::login_required("the token endpoint answered 403")).await;
}

#[tokio::test(start_paused = true)]
async fn a_login_while_signed_in_ends_the_replaced_session_at_the_api_once_it_succeeded() {
    let h = Harness::signed_in().await;
    let cookies = h.api.session_cookies();
    h.login().await.unwrap();
    assert_ne!(h.api.session_cookies(), cookies);
    assert_eq!(h.api.count(Call::Logout), 1);
    assert_eq!(h.api.live_sessions(), 1, "only the new session is alive");
    h.core.refresh_token().await.expect("and it works");
}

#[tokio::test(start_paused = true)]
async fn a_login_to_remember_with_no_usable_store_fails_before_the_password_goes_out() {
    let h = Harness::new();
    h.store.make_unavailable();
    let refused = h.login().await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Storage);
    assert_eq!(
        h.api.count(Call::Login),
        0,
        "the API never saw the password"
    );
    assert_eq!(h.api.live_sessions(), 0);
    let status = h.core.status();
    assert_eq!(status.state, State::SignedOut);
    assert_eq!(status.last_error.map(|e| e.code), Some(ErrorCode::Storage));
}

#[tokio::test(start_paused = true)]
async fn a_login_to_remember_with_no_usable_store_keeps_the_session_there_was() {
    let h = Harness::signed_in().await;
    let token = h.current_token();
    let logins = h.api.count(Call::Login);
    h.store.make_unavailable();
    assert_eq!(h.login().await.unwrap_err().code, ErrorCode::Storage);
    assert_eq!(h.api.count(Call::Login), logins);
    assert_eq!(h.core.status().state, State::Valid);
    assert_eq!(h.current_token(), token);
}

#[tokio::test(start_paused = true)]
async fn with_storage_fallback_memory_a_login_goes_on_in_memory_when_the_store_is_unusable() {
    let h = Harness::with_config(config(|c| c.storage_fallback = Some("memory".into())));
    h.store.make_unavailable();
    let status = h.login().await.expect("signs in, in memory");
    assert_eq!(status.state, State::Valid);
    assert!(!status.persistent);
    assert_eq!(h.api.count(Call::Login), 1);
}

#[tokio::test(start_paused = true)]
async fn a_login_not_to_remember_does_not_need_the_store() {
    let h = Harness::new();
    h.store.make_unavailable();
    let status = h
        .core
        .login("demo@example.com", Secret::new("pw"), false)
        .await
        .expect("a session for this run only needs no store");
    assert_eq!(status.state, State::Valid);
}
