//! Login, logout and restore. Each holds the storage lane (`persist.rs`) for its whole
//! course, so they take effect one at a time, and none of them interleaves with a
//! refresh's save. The binding spawns them onto a multi-threaded runtime, which may poll
//! them in another order than they were called, so what each yields to is decided when it
//! is called: logout wins (it signs out in memory at once, and a login or restore called
//! before it is abandoned), a restore yields to a login or logout called after it, and a
//! login replaces a session restored meanwhile.

use super::persist::InLane;
use super::state::{Generation, Usable};
use super::token_cache::CurrentToken;
use super::AuthCore;
use crate::api::{ApiSession, User};
use crate::errors::{AuthError, ErrorCode, Result};
use crate::jwt::Claims;
use crate::secret::Secret;
use crate::session::AuthStatus;
use crate::storage::SessionRecord;
use std::future::Future;
use std::sync::Arc;

fn user_from_claims(claims: &Claims) -> Option<User> {
    Some(User {
        id: claims.sub.clone()?,
        email: claims.email.clone().unwrap_or_default(),
        display_name: None,
        roles: None,
    })
}

fn abandoned() -> AuthError {
    AuthError::login_required("signed out while signing in; the sign-in was abandoned")
}

impl AuthCore {
    /// Signs in. What it races with is decided when called, not when the future first runs:
    /// a `logout()` called after it abandons it, in whatever order the runtime polls the two;
    /// a session restored meanwhile is replaced.
    pub fn login(
        self: &Arc<Self>,
        email: &str,
        password: Secret,
        remember: bool,
    ) -> impl Future<Output = Result<AuthStatus>> + Send + 'static {
        let started_in = self.generation();
        let core = self.clone();
        let email = email.to_owned();
        async move { core.login_in(started_in, &email, password, remember).await }
    }

    async fn login_in(
        self: &Arc<Self>,
        started_in: Generation,
        email: &str,
        password: Secret,
        remember: bool,
    ) -> Result<AuthStatus> {
        if email.trim().is_empty() || password.is_empty() {
            return Err(AuthError::new(
                ErrorCode::InvalidCredentials,
                "email and password are both required",
            ));
        }
        self.report_config();
        let lane = self.persist.enter().await;
        if self.state.lock().signed_out_since(started_in) {
            return Err(abandoned());
        }
        self.logger.debug("signing in", &[]);
        let signed_in = match self.check_store_for(remember).await {
            Ok(()) => self.sign_in_at_api(email.trim(), password, remember).await,
            Err(err) => Err(err),
        };
        let (token, user) = match signed_in {
            Ok(parts) => parts,
            Err(err) => {
                self.logger
                    .warn("sign-in failed", &[("code", err.code.as_str())]);
                self.change(|state| state.login_failed(err.clone()));
                return Err(err);
            }
        };
        // A logout waiting for the lane ends the API session of this login; nothing else.
        if self.state.lock().signed_out_since(started_in) {
            self.end_pending_session().await;
            return Err(abandoned());
        }
        if self.api.has_session() {
            // The session this login replaces is ended at the API first: dropping its cookie
            // alone would leave it live there until it expires. Best effort, as every logout;
            // the new session is already in hand, so nothing is lost.
            if let Err(err) = self.api.logout(ApiSession::Current).await {
                self.logger.debug(
                    "could not end the replaced session at the API",
                    &[("code", err.code.as_str())],
                );
            }
        }
        let user_id = user.id.clone();
        // The new session's state and cookies take over together, under the one lock, and
        // only if no logout was called meanwhile (that one may run on another thread).
        let Some(generation) = self.change_quietly(|state| {
            let generation =
                state.sign_in_unless_signed_out_since(started_in, token, user, remember);
            if generation.is_some() {
                self.api.adopt_pending_session();
            }
            generation
        }) else {
            self.end_pending_session().await;
            return Err(abandoned());
        };
        if remember {
            self.store_new_session(&lane, generation).await?;
        } else {
            // Nothing of this session is stored; an older record that cannot be cleared now
            // is still replaced by the next remembered login or logout.
            self.persist
                .clear_quietly(
                    &lane,
                    &self.logger,
                    "could not clear a previously stored session",
                )
                .await;
        }
        self.publish_status();
        self.scheduler.wake();
        self.logger.info(
            "signed in",
            &[
                ("user", &user_id),
                ("remember", if remember { "true" } else { "false" }),
            ],
        );
        Ok(self.status())
    }

    /// A session to remember needs a store to keep it in: asked before the password goes
    /// out, so a store that cannot be used fails the login with `E_STORAGE` and the API never
    /// sees it (unless `storageFallback: "memory"` lets the session live in memory instead).
    async fn check_store_for(&self, remember: bool) -> Result<()> {
        if !remember || self.persist.falls_back_to_memory() {
            return Ok(());
        }
        self.persist.probe().await
    }

    /// Login, token and user at the API, in the pending session; nothing of the current
    /// session changes here. A sign-in that fails after the API accepted the password ends
    /// its half-made session there (best effort) and drops its cookies.
    async fn sign_in_at_api(
        &self,
        email: &str,
        password: Secret,
        remember: bool,
    ) -> Result<(Arc<CurrentToken>, User)> {
        let user = match self.api.login(email, &password, remember).await {
            Ok(user) => user,
            Err(err) => {
                self.api.forget_pending_session();
                return Err(err);
            }
        };
        drop(password);
        let completed = self.complete_sign_in(user).await;
        if completed.is_err() {
            self.end_pending_session().await;
        }
        completed
    }

    /// The token and the user of a sign-in the API accepted.
    async fn complete_sign_in(&self, user: Option<User>) -> Result<(Arc<CurrentToken>, User)> {
        let answer = self.api.issue_token(ApiSession::Pending).await?;
        let token = self.verify_answer(answer).await?;
        let user = match user {
            Some(user) => Some(user),
            None => self
                .api
                .user_status(ApiSession::Pending)
                .await
                .ok()
                .flatten(),
        }
        .or_else(|| user_from_claims(&token.claims))
        .ok_or_else(|| {
            AuthError::bad_response("the API did not say which user signed in (no user in the login or status answer, no sub in the JWT)")
        })?;
        Ok((token, user))
    }

    /// Ends the session a sign-in made at the API and drops its cookies: it is never used.
    async fn end_pending_session(&self) {
        if let Err(err) = self.api.logout(ApiSession::Pending).await {
            self.logger.debug(
                "could not end the abandoned sign-in's session at the API",
                &[("code", err.code.as_str())],
            );
        }
        self.api.forget_pending_session();
    }

    /// Stores a session just signed in. With the credential store unavailable, either the
    /// session continues in memory (`storageFallback: "memory"`) or the login is undone.
    async fn store_new_session(&self, lane: &InLane<'_>, generation: Generation) -> Result<()> {
        let Err(err) = self.save_in_lane(lane, generation).await else {
            return Ok(());
        };
        if err.code == ErrorCode::Storage && self.persist.falls_back_to_memory() {
            self.logger.warn(
                "the credential store is unavailable; this session is kept in memory only (storageFallback: memory)",
                &[("code", err.code.as_str())],
            );
            self.change_quietly(|state| state.keep_in_memory_only(generation));
            return Ok(());
        }
        self.change(|state| state.sign_out(Some(err.clone())));
        if let Err(logout) = self.api.logout(ApiSession::Current).await {
            self.logger.debug(
                "could not end the unstored session at the API",
                &[("code", logout.code.as_str())],
            );
        }
        self.api.forget_session();
        Err(err)
    }

    /// Signs out in memory when called, not when the future first runs, so a token asked
    /// for after `logout()` is refused whatever order the runtime polls them in (a refresh or
    /// login in flight is discarded when it finishes, and drops any cookie it received).
    /// The future then tells the server (best effort) and wipes cookies and storage, unless a
    /// login called later has taken over meanwhile.
    pub fn logout(self: &Arc<Self>) -> impl Future<Output = Result<()>> + Send + 'static {
        let generation = self.change(|state| state.sign_out(None));
        self.scheduler.wake();
        let core = self.clone();
        async move { core.end_signed_out_session(generation).await }
    }

    async fn end_signed_out_session(self: &Arc<Self>, generation: Generation) -> Result<()> {
        let lane = self.persist.enter().await;
        if self.generation() != generation {
            self.logger
                .info("signed out; a later sign-in has taken over", &[]);
            return Ok(());
        }
        if self.api.has_session() {
            if let Err(err) = self.api.logout(ApiSession::Current).await {
                self.logger.info(
                    "the API did not confirm the logout; the local session is wiped anyway",
                    &[("code", err.code.as_str())],
                );
            }
        }
        self.api.forget_session();
        self.persist.clear_for_logout(&lane, &self.logger).await?;
        self.logger.info("signed out", &[]);
        Ok(())
    }

    /// Brings back a stored session. A stored token that still verifies (with the stored
    /// keys) needs no network; an expired one is refreshed with the stored session cookie.
    /// As `login`, decided when called: a `login()` or `logout()` called after it takes
    /// over, and it brings nothing back.
    pub fn restore(self: &Arc<Self>) -> impl Future<Output = Result<AuthStatus>> + Send + 'static {
        let started_in = self.generation();
        let core = self.clone();
        async move { core.restore_in(started_in).await }
    }

    async fn restore_in(self: &Arc<Self>, started_in: Generation) -> Result<AuthStatus> {
        self.report_config();
        let lane = self.persist.enter().await;
        if self.generation() != started_in {
            return Ok(self.restore_overtaken());
        }
        let Some(stored) = self.persist.load(&lane, &self.logger).await? else {
            self.logger.debug("no stored session", &[]);
            return Ok(self.status());
        };
        let record = match SessionRecord::decode(
            &stored,
            &self.config.account,
            &self.config.origin(),
        ) {
            Ok(Some(record)) => record,
            Ok(None) => {
                self.logger.info(
                    "the stored session belongs to another API origin; starting signed out and leaving it stored",
                    &[],
                );
                return Ok(self.status());
            }
            Err(why) => {
                self.logger
                    .warn("discarding an unusable stored session", &[("reason", &why)]);
                self.persist.clear(&lane).await?;
                return Ok(self.status());
            }
        };
        if let Some(document) = &record.jwks {
            self.verifier.install_stored_keys(document);
        }
        let token = record
            .token
            .and_then(|raw| self.verifier.verify_stored(raw));
        if token.is_none() && record.cookies.is_empty() {
            self.logger.warn(
                "discarding a stored session with neither a usable token nor a cookie",
                &[],
            );
            self.persist.clear(&lane).await?;
            return Ok(self.status());
        }
        // Checked again with the change itself: a `logout()` called on the JS thread while
        // this read the store (this runs on a worker) wins.
        let restored = self.change(|state| {
            let restored = state.restore_if_still(started_in, token, record.user);
            if restored.is_some() {
                self.api.resume_session(record.cookies);
            }
            restored
        });
        if restored.is_none() {
            return Ok(self.restore_overtaken());
        }
        drop(lane);
        self.logger.info("restored the stored session", &[]);
        self.scheduler.wake();
        match self.usable() {
            Usable::Fresh(_) => {}
            Usable::Stale(_) => self.refresh_in_background(),
            _ => {
                if let Err(err) = self.refresh_token().await {
                    if err.code != ErrorCode::LoginRequired && !err.code.is_transient() {
                        return Err(err);
                    }
                }
            }
        }
        Ok(self.status())
    }

    /// A `login()` or `logout()` called after `restore()` took over: nothing is restored.
    fn restore_overtaken(&self) -> AuthStatus {
        self.logger.debug(
            "a later sign-in or sign-out has taken over; nothing restored",
            &[],
        );
        self.status()
    }
}
