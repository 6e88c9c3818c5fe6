//! `apiFetch()`: only with a session, and a 401 ends it as a refused token request does.

use super::*;
use crate::session::{AbortHandle, AppFetch, State};

fn get(target: &str) -> AppFetch {
    AppFetch {
        target: target.into(),
        method: None,
        headers: Vec::new(),
        body: None,
        abort: None,
    }
}

#[tokio::test(start_paused = true)]
async fn signed_in_it_answers_with_what_the_api_said() {
    let h = Harness::signed_in().await;
    let response = h.core.api_fetch(get("/api/mcp/tools/agent")).await.unwrap();
    assert_eq!(
        (response.status, response.body),
        (200, b"/api/mcp/tools/agent".to_vec())
    );
    assert_eq!(h.core.status().state, State::Valid);
}

#[tokio::test(start_paused = true)]
async fn signed_out_or_off_origin_nothing_is_sent() {
    let h = Harness::new();
    let err = h.core.api_fetch(get("/api/x")).await.err().unwrap();
    assert_eq!(err.code, ErrorCode::LoginRequired);
    h.login().await.unwrap();
    let err = h
        .core
        .api_fetch(get("https://evil.example.com/x"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, ErrorCode::UntrustedOrigin);
    assert_eq!(h.api.count(Call::App), 0);
}

#[tokio::test(start_paused = true)]
async fn a_401_ends_the_session_and_clears_what_was_stored() {
    let h = Harness::signed_in().await;
    assert!(h.store.record().is_some());
    h.api.end_session();
    let err = h.core.api_fetch(get("/api/x")).await.err().unwrap();
    assert_eq!(err.code, ErrorCode::LoginRequired);
    let status = h.core.status();
    assert_eq!(status.state, State::LoginRequired);
    assert_eq!(
        status.last_error.map(|e| e.code),
        Some(ErrorCode::LoginRequired)
    );
    assert!(h.core.stored_token().is_none());
    assert!(h.store.record().is_none());
    assert!(!h.api.has_session());
    // Later calls fail at once, without a request.
    let err = h.core.api_fetch(get("/api/x")).await.err().unwrap();
    assert_eq!(err.code, ErrorCode::LoginRequired);
    assert_eq!(h.api.count(Call::App), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refresh_in_flight_when_a_401_ends_the_session_brings_no_token_back() {
    let h = Harness::signed_in().await;
    h.api.hold(Call::Refresh);
    let refresh = h.core.refresh_token();
    settle().await;
    h.api.end_session();
    let ended = h.core.api_fetch(get("/api/x")).await;
    assert_eq!(ended.err().unwrap().code, ErrorCode::LoginRequired);
    // The held refresh was answered with a token before the session ended.
    h.api.release(Call::Refresh);
    assert!(refresh.await.is_err());
    assert_eq!(h.core.status().state, State::LoginRequired);
    assert!(h.core.stored_token().is_none());
    assert!(h.store.record().is_none());
}

#[tokio::test(start_paused = true)]
async fn an_abort_ends_the_call_in_flight_and_leaves_the_session_alone() {
    let h = Harness::signed_in().await;
    h.api.hold(Call::App);
    let abort = AbortHandle::default();
    let fetching = h.core.api_fetch(AppFetch {
        abort: Some(abort.clone()),
        ..get("/api/slow")
    });
    let fetching = tokio::spawn(fetching);
    settle().await;
    assert_eq!(h.api.count(Call::App), 1, "the request is out");
    abort.abort();
    let err = fetching.await.unwrap().err().unwrap();
    assert_eq!(err.code, ErrorCode::Aborted);
    assert_eq!(h.core.status().state, State::Valid);
    assert!(h.core.status().last_error.is_none());
    h.api.release(Call::App);
}

#[tokio::test(start_paused = true)]
async fn aborted_before_it_is_sent_nothing_is_sent() {
    let h = Harness::signed_in().await;
    let abort = AbortHandle::default();
    abort.abort();
    let err = h
        .core
        .api_fetch(AppFetch {
            abort: Some(abort),
            ..get("/api/x")
        })
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, ErrorCode::Aborted);
    assert_eq!(h.api.count(Call::App), 0);
}
