//! The session's state and every transition of it, as pure functions: no clock, no I/O,
//! no locks. `AuthCore` holds one `SessionState` under one lock and applies these.
//!
//! Every sign-in and sign-out starts a new *generation*. Work begun in one generation
//! (a refresh, a save, a clear) carries its number and takes effect only while it is still
//! current, so nothing of an older session can land in a newer one.

use super::token_cache::CurrentToken;
use crate::api::User;
use crate::errors::{AuthError, ErrorCode};
use std::sync::Arc;

/// What `status().state` says (docs/API.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    SignedOut,
    Valid,
    Refreshing,
    Expired,
    LoginRequired,
    Offline,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::SignedOut => "signed-out",
            State::Valid => "valid",
            State::Refreshing => "refreshing",
            State::Expired => "expired",
            State::LoginRequired => "login-required",
            State::Offline => "offline",
        }
    }
}

/// The snapshot the UI shows (`AuthStatus` in docs/API.md).
#[derive(Clone, Debug, PartialEq)]
pub struct AuthStatus {
    pub state: State,
    pub authenticated: bool,
    pub user: Option<User>,
    /// Expiry of the current JWT, in ms since the epoch on this machine's clock.
    pub expires_at: Option<i64>,
    pub last_error: Option<AuthError>,
    pub persistent: bool,
    /// The API's clock minus ours, when it exceeds the leeway.
    pub clock_skew_ms: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    SignedOut,
    Active,
    /// The API ended the session (401 from the token endpoint): sign in again.
    LoginRequired,
}

/// Names one session: bumped by every sign-in and sign-out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Generation(pub u64);

/// How the current token can serve a caller right now.
#[derive(Debug)]
pub enum Usable {
    Fresh(Arc<CurrentToken>),
    /// Valid, but inside the refresh window: hand it out and refresh in the background.
    Stale(Arc<CurrentToken>),
    NeedsRefresh,
    SignedOut,
    LoginRequired,
}

/// What the clock and the store add to the state to make an `AuthStatus`.
pub struct StatusContext {
    pub server_now_ms: i64,
    pub clock_offset_ms: i64,
    pub leeway_ms: i64,
    pub store_is_persistent: bool,
}

#[derive(Debug)]
pub struct SessionState {
    pub phase: Phase,
    pub token: Option<Arc<CurrentToken>>,
    pub user: Option<User>,
    pub refreshing: bool,
    pub offline: bool,
    pub last_error: Option<AuthError>,
    /// Whether this session is written to the store (`remember`).
    pub remember: bool,
    pub generation: Generation,
    /// The generation the last sign-out started.
    pub signed_out_in: Generation,
}

/// What a finished refresh did to the state.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshCommit {
    /// The new token is current.
    Replaced,
    /// Failed; the current token (if still valid) is kept.
    Failed,
    /// The API ended the session: state `login-required`; its cookies and record go.
    SessionEnded,
    /// The session it belonged to is gone (signed out or replaced meanwhile): discarded.
    Stale,
}

impl Default for SessionState {
    fn default() -> Self {
        SessionState {
            phase: Phase::SignedOut,
            token: None,
            user: None,
            refreshing: false,
            offline: false,
            last_error: None,
            remember: false,
            generation: Generation(0),
            signed_out_in: Generation(0),
        }
    }
}

pub fn not_signed_in() -> AuthError {
    AuthError::login_required("not signed in; call login() first")
}

pub fn session_gone() -> AuthError {
    AuthError::login_required("the session has ended; sign in again")
}

impl SessionState {
    fn next_generation(&mut self) -> Generation {
        self.generation = Generation(self.generation.0 + 1);
        self.generation
    }

    /// A new session (login or restore) takes over, in a generation of its own.
    pub fn sign_in(
        &mut self,
        token: Option<Arc<CurrentToken>>,
        user: Option<User>,
        remember: bool,
    ) -> Generation {
        *self = SessionState {
            phase: Phase::Active,
            token,
            user,
            remember,
            generation: self.generation,
            signed_out_in: self.signed_out_in,
            ..SessionState::default()
        };
        self.next_generation()
    }

    /// A login begun in `started_in` takes over, unless a sign-out came since (then it is
    /// abandoned: `None`). Checked and applied under the one lock, so a `logout()` called on
    /// another thread cannot slip between the check and the change.
    pub fn sign_in_unless_signed_out_since(
        &mut self,
        started_in: Generation,
        token: Arc<CurrentToken>,
        user: User,
        remember: bool,
    ) -> Option<Generation> {
        if self.signed_out_since(started_in) {
            return None;
        }
        Some(self.sign_in(Some(token), Some(user), remember))
    }

    /// A restore begun in `started_in` brings its session back only if nothing signed in
    /// or out since (`None` otherwise), under the same lock as the check.
    pub fn restore_if_still(
        &mut self,
        started_in: Generation,
        token: Option<Arc<CurrentToken>>,
        user: Option<User>,
    ) -> Option<Generation> {
        if self.generation != started_in {
            return None;
        }
        Some(self.sign_in(token, user, true))
    }

    /// Forgets the session in memory and starts a new generation, so whatever the old one
    /// still has in flight is discarded when it finishes.
    pub fn sign_out(&mut self, last_error: Option<AuthError>) -> Generation {
        *self = SessionState {
            last_error,
            generation: self.generation,
            ..SessionState::default()
        };
        self.signed_out_in = self.next_generation();
        self.signed_out_in
    }

    /// Whether a sign-out happened after `generation` (a login begun then is abandoned; a
    /// sign-in meanwhile, a restore's, is one it simply replaces).
    pub fn signed_out_since(&self, generation: Generation) -> bool {
        self.signed_out_in > generation
    }

    /// A failed sign-in leaves the session as it was and says why.
    pub fn login_failed(&mut self, err: AuthError) {
        self.last_error = Some(err);
    }

    /// The session continues in memory only (the store refused it under `storageFallback`).
    pub fn keep_in_memory_only(&mut self, generation: Generation) {
        if self.generation == generation {
            self.remember = false;
        }
    }

    /// Whether the session of `generation` was signed out and nothing signed in since.
    pub fn signed_out_right_after(&self, generation: Generation) -> bool {
        self.phase == Phase::SignedOut && self.generation.0 == generation.0 + 1
    }

    /// Whether `generation` still is the session, and the session is one worth storing.
    pub fn is_stored_session(&self, generation: Generation) -> bool {
        self.generation == generation && self.phase == Phase::Active && self.remember
    }

    pub fn usable(&self, server_now_ms: i64) -> Usable {
        match self.phase {
            Phase::SignedOut => Usable::SignedOut,
            Phase::LoginRequired => Usable::LoginRequired,
            Phase::Active => match &self.token {
                None => Usable::NeedsRefresh,
                Some(token) if token.expires_at_ms <= server_now_ms => Usable::NeedsRefresh,
                Some(token) if token.refresh_at_ms <= server_now_ms => Usable::Stale(token.clone()),
                Some(token) => Usable::Fresh(token.clone()),
            },
        }
    }

    /// The token of an active session, whatever its expiry.
    pub fn usable_token(&self) -> Option<&Arc<CurrentToken>> {
        (self.phase == Phase::Active)
            .then_some(self.token.as_ref())
            .flatten()
    }

    /// A refresh may start: the generation it belongs to and the token it replaces.
    pub fn begin_refresh(&mut self) -> Result<(Generation, Option<Arc<CurrentToken>>), AuthError> {
        let generation = self.active_generation()?;
        self.refreshing = true;
        Ok((generation, self.token.clone()))
    }

    /// A refresh of `generation` finished with `outcome`.
    pub fn finish_refresh(
        &mut self,
        generation: Generation,
        outcome: &Result<Arc<CurrentToken>, AuthError>,
    ) -> RefreshCommit {
        // A session the API ended meanwhile (an `apiFetch()` got 401) takes no new token.
        if self.generation != generation || self.phase != Phase::Active {
            return RefreshCommit::Stale;
        }
        self.refreshing = false;
        match outcome {
            Ok(token) => {
                self.token = Some(token.clone());
                self.offline = false;
                self.last_error = None;
                RefreshCommit::Replaced
            }
            Err(err) if err.code == ErrorCode::LoginRequired => {
                self.session_ended(generation, err.clone());
                RefreshCommit::SessionEnded
            }
            Err(err) => {
                self.offline = err.code.is_transient();
                self.last_error = Some(err.clone());
                RefreshCommit::Failed
            }
        }
    }

    /// The API ended session `generation` (401): state `login-required`, no token. False
    /// when that session is no longer the current one.
    pub fn session_ended(&mut self, generation: Generation, err: AuthError) -> bool {
        if self.generation != generation || self.phase != Phase::Active {
            return false;
        }
        self.phase = Phase::LoginRequired;
        self.token = None;
        self.refreshing = false;
        self.offline = false;
        self.last_error = Some(err);
        true
    }

    /// The generation of the active session, or why there is none.
    pub fn active_generation(&self) -> Result<Generation, AuthError> {
        match self.phase {
            Phase::SignedOut => Err(not_signed_in()),
            Phase::LoginRequired => Err(session_gone()),
            Phase::Active => Ok(self.generation),
        }
    }

    pub fn status(&self, context: &StatusContext) -> AuthStatus {
        let active = self.phase == Phase::Active;
        let token_expired = self
            .token
            .as_ref()
            .is_none_or(|t| t.expires_at_ms <= context.server_now_ms);
        let state = match self.phase {
            Phase::SignedOut => State::SignedOut,
            Phase::LoginRequired => State::LoginRequired,
            // A retry while offline stays `offline` until it succeeds: one event per real
            // change, not a `refreshing`/`offline` pair per attempt.
            Phase::Active if self.offline => State::Offline,
            Phase::Active if self.refreshing => State::Refreshing,
            Phase::Active if token_expired => State::Expired,
            Phase::Active => State::Valid,
        };
        let offset = context.clock_offset_ms;
        AuthStatus {
            state,
            authenticated: active,
            user: if active { self.user.clone() } else { None },
            expires_at: self.token.as_ref().map(|t| t.expires_at_ms - offset),
            clock_skew_ms: (offset.abs() > context.leeway_ms).then_some(offset),
            last_error: self.last_error.clone(),
            persistent: active && self.remember && context.store_is_persistent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn token(id: u64, refresh_at_ms: i64, expires_at_ms: i64) -> Arc<CurrentToken> {
        Arc::new(CurrentToken::for_tests(
            Secret::new(format!("t{id}")),
            id,
            refresh_at_ms,
            expires_at_ms,
        ))
    }

    fn context(now: i64) -> StatusContext {
        StatusContext {
            server_now_ms: now,
            clock_offset_ms: 0,
            leeway_ms: 30_000,
            store_is_persistent: true,
        }
    }

    #[test]
    fn each_sign_in_and_sign_out_is_a_generation_of_its_own() {
        let mut state = SessionState::default();
        let first = state.sign_in(Some(token(1, 50, 100)), None, true);
        let out = state.sign_out(None);
        let second = state.sign_in(Some(token(2, 50, 100)), None, true);
        assert!(first < out && out < second);
        assert!(state.is_stored_session(second));
        assert!(!state.is_stored_session(first));
        state.sign_out(None);
        assert!(state.signed_out_right_after(second));
        assert!(
            !state.signed_out_right_after(first),
            "a sign-in came between"
        );
    }

    #[test]
    fn a_refresh_of_an_older_generation_changes_nothing() {
        let mut state = SessionState::default();
        let generation = state.sign_in(Some(token(1, 50, 100)), None, true);
        let (began_in, _) = state.begin_refresh().unwrap();
        assert_eq!(began_in, generation);
        state.sign_out(None);
        let outcome = Ok(token(2, 150, 200));
        assert_eq!(
            state.finish_refresh(began_in, &outcome),
            RefreshCommit::Stale
        );
        assert!(state.token.is_none());
        assert_eq!(state.status(&context(0)).state, State::SignedOut);
    }

    #[test]
    fn usable_follows_the_refresh_window_and_expiry() {
        let mut state = SessionState::default();
        assert!(matches!(state.usable(0), Usable::SignedOut));
        state.sign_in(Some(token(1, 50, 100)), None, false);
        assert!(matches!(state.usable(49), Usable::Fresh(_)));
        assert!(matches!(state.usable(50), Usable::Stale(_)));
        assert!(matches!(state.usable(100), Usable::NeedsRefresh));
        assert_eq!(state.status(&context(100)).state, State::Expired);
        assert!(!state.status(&context(0)).persistent, "not remembered");
    }

    #[test]
    fn refresh_outcomes_move_the_state_as_the_contract_says() {
        let mut state = SessionState::default();
        let generation = state.sign_in(Some(token(1, 50, 100)), None, true);
        state.begin_refresh().unwrap();
        assert_eq!(state.status(&context(0)).state, State::Refreshing);
        let outage = Err(AuthError::new(ErrorCode::Network, "down"));
        assert_eq!(
            state.finish_refresh(generation, &outage),
            RefreshCommit::Failed
        );
        assert_eq!(state.status(&context(0)).state, State::Offline);
        assert_eq!(
            state.token.as_ref().unwrap().id,
            1,
            "the valid token is kept"
        );
        assert_eq!(
            state.finish_refresh(generation, &Ok(token(2, 150, 200))),
            RefreshCommit::Replaced
        );
        assert_eq!(state.status(&context(0)).state, State::Valid);
        let ended = Err(session_gone());
        assert_eq!(
            state.finish_refresh(generation, &ended),
            RefreshCommit::SessionEnded
        );
        let status = state.status(&context(0));
        assert_eq!(status.state, State::LoginRequired);
        assert!(!status.authenticated && !status.persistent);
        assert!(matches!(state.usable(0), Usable::LoginRequired));
        assert!(state.begin_refresh().is_err());
    }
}
