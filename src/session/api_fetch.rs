//! `apiFetch()`: the app's own requests to the API on the session's behalf. A 401 means
//! the API no longer knows the session, which ends it here as a refused token request does.

use super::state::Generation;
use super::AuthCore;
use crate::api::{api_url, AppRequest, AppResponse};
use crate::errors::{AuthError, ErrorCode, Result};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Notify;

/// What the caller asked for, as the JS options carried it.
pub struct AppFetch {
    pub target: String,
    pub method: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Cancels the request (fetch's `signal`).
    pub abort: Option<AbortHandle>,
}

/// Cancels one `api_fetch` from outside: once aborted, the request is dropped wherever it is
/// and the call ends with `E_ABORTED`; aborted before it is sent, nothing is sent. What the
/// session does with an answer already received (a 401 ending it) is never cut short.
#[derive(Clone, Default)]
pub struct AbortHandle(Arc<Notify>);

impl AbortHandle {
    pub fn abort(&self) {
        // One waiter at most; a permit stored before it waits is seen when it does.
        self.0.notify_one();
    }

    async fn aborted(&self) -> AuthError {
        self.0.notified().await;
        AuthError::new(
            ErrorCode::Aborted,
            "the API request was aborted by its signal",
        )
    }
}

impl AuthCore {
    /// Sends `fetch` to the API origin with the session's cookies (and CSRF token), only
    /// while a session is active; nothing is sent otherwise.
    pub fn api_fetch(
        self: &Arc<Self>,
        fetch: AppFetch,
    ) -> impl Future<Output = Result<AppResponse>> + Send + 'static {
        let request = api_url(&self.config, &fetch.target).and_then(|url| {
            AppRequest::new(url, fetch.method.as_deref(), fetch.headers, fetch.body)
        });
        let generation = self.state.lock().active_generation();
        let fetch_abort = fetch.abort;
        let core = self.clone();
        async move {
            let request = request?;
            let generation = generation?;
            let sending = core.api.send(&request);
            let response = match &fetch_abort {
                Some(abort) => tokio::select! {
                    biased;
                    err = abort.aborted() => return Err(err),
                    response = sending => response?,
                },
                None => sending.await?,
            };
            if response.status == 401 {
                let err = AuthError::login_required(format!(
                    "the API answered 401 to {} {}: it no longer recognises this session; sign in again",
                    request.method,
                    request.url.path()
                ));
                if core.change(|state| state.session_ended(generation, err.clone())) {
                    core.forget_ended_session(generation).await;
                }
                return Err(err);
            }
            Ok(response)
        }
    }

    /// After the API ended session `generation`: its cookies and stored record go, unless
    /// another session took over meanwhile.
    pub(super) async fn forget_ended_session(&self, generation: Generation) {
        self.logger
            .warn("the API ended the session; sign-in required", &[]);
        let lane = self.persist.enter().await;
        if self.generation() == generation {
            self.api.forget_session();
            self.persist
                .clear_quietly(&lane, &self.logger, "could not clear the stored session")
                .await;
        }
    }
}
