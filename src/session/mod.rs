//! The session lifecycle, plain Rust on tokio; the binding only converts. Where to look:
//!
//! | what | where |
//! |---|---|
//! | login, logout, restore (the facade) | `sign_in.rs` |
//! | the app's own API requests (`apiFetch`) | `api_fetch.rs` |
//! | phases and transitions, generations | `state.rs` (pure) |
//! | the one refresh and its backoff | `refresh.rs` |
//! | refreshing ahead of expiry | `scheduler.rs` |
//! | verifying a token the API issued | `verify.rs` |
//! | the lock-free current token | `token_cache.rs` |
//! | the ordered path to storage | `persist.rs` |
//!
//! One lock (`state`) orders every change of the session; every change publishes the
//! token for lock-free readers before the lock is released, and then the status for the
//! app. Effects that outlive the lock (network, storage) carry the session generation they
//! belong to and are dropped when it is no longer current.

mod api_fetch;
mod persist;
mod refresh;
mod scheduler;
mod sign_in;
mod state;
mod token_cache;
mod verify;

#[cfg(test)]
mod tests;

pub use api_fetch::{AbortHandle, AppFetch};
pub use state::{AuthStatus, State};
#[cfg(test)]
pub use token_cache::COARSE_CLOCK_MARGIN_MS;
pub use token_cache::{FastToken, TokenSnapshot};

use crate::api::{FlaskApi, HttpApi};
use crate::clock::{Clock, ServerClock, SystemClock};
use crate::config::{Config, ProxySetting};
use crate::errors::Result;
use crate::listeners::{Listener, Listeners};
use crate::log::Logger;
use crate::secret::Secret;
use crate::storage::{SessionRecord, SessionStore, RECORD_VERSION};
use parking_lot::Mutex;
use persist::{InLane, Persistence};
use refresh::{Cause, RefreshFlight, TokenWait};
use scheduler::Scheduler;
use state::{Generation, Phase, SessionState, StatusContext, Usable};
use std::future::Future;
use std::sync::{Arc, Once};
use token_cache::TokenCache;
use verify::Verifier;

pub struct AuthCore {
    config: Config,
    api: Arc<dyn FlaskApi>,
    verifier: Verifier,
    persist: Persistence,
    logger: Arc<Logger>,
    clock: ServerClock,
    /// Where background work runs (refresh flights, the scheduler), whichever thread asks.
    runtime: tokio::runtime::Handle,
    state: Mutex<SessionState>,
    tokens: TokenCache,
    flight: RefreshFlight,
    scheduler: Scheduler,
    status_listeners: Listeners<AuthStatus>,
    last_published: Mutex<Option<AuthStatus>>,
    config_reported: Once,
}

impl AuthCore {
    /// The client as shipped: the API over HTTP, this machine's clock.
    pub fn new(
        config: Config,
        store: Arc<dyn SessionStore>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Arc<AuthCore>> {
        let api = Arc::new(HttpApi::new(&config)?);
        Ok(Self::with_parts(
            config,
            api,
            store,
            Arc::new(SystemClock),
            runtime,
        ))
    }

    /// The client with the parts given (tests use an in-memory API and a test clock).
    pub fn with_parts(
        config: Config,
        api: Arc<dyn FlaskApi>,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<AuthCore> {
        let core = Arc::new(AuthCore {
            verifier: Verifier::new(&config),
            persist: Persistence::new(store, config.storage_fallback, config.origin()),
            logger: Arc::new(Logger::new(config.log_level)),
            clock: ServerClock::new(clock),
            state: Mutex::new(SessionState::default()),
            tokens: TokenCache::default(),
            flight: RefreshFlight::new(config.retry_min, config.retry_max),
            scheduler: Scheduler::default(),
            status_listeners: Listeners::default(),
            last_published: Mutex::new(None),
            config_reported: Once::new(),
            api,
            runtime,
            config,
        });
        Scheduler::start(&core);
        core
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn logger(&self) -> &Arc<Logger> {
        &self.logger
    }

    /// Warnings about the configuration, once, when the client is first used (login or
    /// restore): a host subscribes to `onLog` after constructing the client.
    fn report_config(&self) {
        self.config_reported.call_once(|| {
            if !self.config.refused_algorithms.is_empty() {
                self.logger.warn(
                    "algorithms lists values that are never accepted; they are ignored",
                    &[("ignored", &self.config.refused_algorithms.join(","))],
                );
            }
        });
    }

    // ----- state and status -----------------------------------------------------------

    /// Every change of the session goes through here: under the one lock, then the token
    /// is published for lock-free readers, then (after the lock) the status for the app.
    fn change<T>(&self, change: impl FnOnce(&mut SessionState) -> T) -> T {
        let result = self.change_quietly(change);
        self.publish_status();
        result
    }

    /// As `change`, but the app hears of it with the next published status (a login tells
    /// it once the session is stored).
    fn change_quietly<T>(&self, change: impl FnOnce(&mut SessionState) -> T) -> T {
        let mut state = self.state.lock();
        let result = change(&mut state);
        self.tokens.publish(state.usable_token());
        result
    }

    fn generation(&self) -> Generation {
        self.state.lock().generation
    }

    fn status_context(&self) -> StatusContext {
        StatusContext {
            server_now_ms: self.clock.server_now_ms(),
            clock_offset_ms: self.clock.offset_ms(),
            leeway_ms: self.config.leeway.as_millis() as i64,
            store_is_persistent: self.persist.is_persistent(),
        }
    }

    pub fn status(&self) -> AuthStatus {
        self.state.lock().status(&self.status_context())
    }

    /// A session exists (`status().authenticated`), without building the whole status.
    pub fn is_authenticated(&self) -> bool {
        self.state.lock().phase == Phase::Active
    }

    pub fn on_status_change(&self, listener: Listener<AuthStatus>) -> u64 {
        self.status_listeners.subscribe(listener)
    }

    pub fn remove_status_listener(&self, id: u64) {
        self.status_listeners.unsubscribe(id)
    }

    /// Tells listeners about the current status if it differs from the last one they saw.
    /// Under its own lock, so they see the statuses in the order they happened.
    fn publish_status(&self) {
        let mut last = self.last_published.lock();
        let status = self.status();
        if last.as_ref() == Some(&status) {
            return;
        }
        *last = Some(status.clone());
        self.status_listeners.emit_with(|| status);
    }

    // ----- tokens ---------------------------------------------------------------------

    fn usable(&self) -> Usable {
        self.state.lock().usable(self.clock.server_now_ms())
    }

    /// The current token without network or refresh, whatever its expiry. Lock-free.
    pub fn stored_token(&self) -> Option<Secret> {
        self.tokens.current().map(|token| token.raw.clone())
    }

    /// The per-request fast path: whether the current token can be handed out right now,
    /// decided without a lock. Agrees with `get_token`: `Fresh`/`Stale` only when that would
    /// answer without waiting, `Unavailable` when it would refresh first or fail.
    pub fn fast_token(&self) -> FastToken {
        self.tokens.fast_token(&self.clock)
    }

    /// The usable, unexpired token with its generation id; `None` when `get_token` would
    /// have to refresh first (or fail). Lock-free.
    pub fn token_snapshot(&self) -> Option<TokenSnapshot> {
        self.tokens.snapshot(&self.clock)
    }

    /// Seconds until the current token expires (server clock), if there is one.
    pub fn expires_in(&self) -> Option<i64> {
        self.tokens
            .current()
            .map(|token| token.claims.exp - self.clock.server_now_secs())
    }

    /// Whole seconds from now until `local_ms` (this machine's clock), never negative.
    pub fn seconds_until(&self, local_ms: i64) -> i64 {
        self.clock.seconds_until(local_ms)
    }

    /// A verified, unexpired JWT; refreshes first when it has expired, and in the background
    /// when it is inside the refresh window. Concurrent callers share one refresh.
    pub fn get_token(self: &Arc<Self>) -> impl Future<Output = Result<Secret>> + Send + 'static {
        let ticket = self.flight.ticket();
        let wait = match self.usable() {
            Usable::Fresh(token) => TokenWait::Ready(Ok(token.raw.clone())),
            Usable::Stale(token) => {
                self.refresh_in_background();
                TokenWait::Ready(Ok(token.raw.clone()))
            }
            Usable::NeedsRefresh => self.refresh_after(ticket, Cause::Due),
            Usable::SignedOut => TokenWait::Ready(Err(state::not_signed_in())),
            Usable::LoginRequired => TokenWait::Ready(Err(state::session_gone())),
        };
        wait.outcome()
    }

    /// A new JWT now (the scheduler, restore); callers arriving while one is being fetched
    /// share it.
    pub fn refresh_token(
        self: &Arc<Self>,
    ) -> impl Future<Output = Result<Secret>> + Send + 'static {
        self.refresh_after(self.flight.ticket(), Cause::Due)
            .outcome()
    }

    /// `refreshJwtToken()`: a new JWT, unless forced refreshes are being spaced (then the
    /// current token); callers arriving while one is being fetched share it.
    pub fn force_refresh(
        self: &Arc<Self>,
    ) -> impl Future<Output = Result<Secret>> + Send + 'static {
        self.forced_refresh(self.flight.ticket()).outcome()
    }

    /// A server refused `rejected` (or the current token): refresh once, unless the token in
    /// use is already another one, which then is the answer, or the token was itself just
    /// obtained because of a refusal (younger than `MIN_REFUSED_TOKEN_AGE`): then it stays,
    /// and the caller passes the 401 on.
    pub fn replace_rejected_token(
        self: &Arc<Self>,
        rejected: Option<&str>,
    ) -> impl Future<Output = Result<Secret>> + Send + 'static {
        let ticket = self.flight.ticket();
        let wait = match (rejected, self.stored_token()) {
            (Some(rejected), Some(current)) if current.expose() != rejected => {
                TokenWait::Ready(Ok(current))
            }
            (_, Some(current))
                if self
                    .flight
                    .is_young_forced_token(&current, tokio::time::Instant::now()) =>
            {
                self.logger.debug(
                    "a server refused a token obtained moments ago because of a refusal; it is kept and the refusal passed on",
                    &[],
                );
                TokenWait::Ready(Ok(current))
            }
            _ => self.forced_refresh(ticket),
        };
        wait.outcome()
    }

    /// Signature (cached keys only, no network), algorithm and claims of `token`, or of
    /// the current token when `None`.
    pub fn is_token_valid(&self, token: Option<&str>) -> bool {
        let current = self.stored_token();
        let Some(token) = token.or(current.as_ref().map(Secret::expose)) else {
            return false;
        };
        self.verifier.is_valid(token, self.clock.server_now_secs())
    }

    /// The app says the machine woke up: time may have jumped, so check expiry now.
    pub fn notify_resume(self: &Arc<Self>) {
        self.publish_status();
        self.scheduler.wake();
        if let Usable::Stale(_) | Usable::NeedsRefresh = self.usable() {
            self.refresh_in_background();
        }
    }

    /// `setProxy()`: the API is reached this way from the next request on.
    pub fn set_proxy(&self, proxy: &ProxySetting) -> Result<()> {
        self.api.set_proxy(proxy)?;
        self.logger.info("the proxy setting changed", &[]);
        Ok(())
    }

    /// Whether the configured store can be used now (for diagnostics such as `doctor`).
    pub async fn check_storage(&self) -> Result<()> {
        self.persist.probe().await
    }

    // ----- storage --------------------------------------------------------------------

    /// The record of session `generation`, if it still is the session and is remembered.
    fn record_of(&self, generation: Generation) -> Option<SessionRecord> {
        let state = self.state.lock();
        if !state.is_stored_session(generation) {
            return None;
        }
        Some(SessionRecord {
            version: RECORD_VERSION,
            account: self.config.account.clone(),
            origin: self.config.origin(),
            token: state.token.as_ref().map(|t| t.raw.clone()),
            cookies: self.api.session_cookies(),
            user: state.user.clone(),
            jwks: self.verifier.keys_document(),
        })
    }

    /// Stores session `generation` as it is now, unless it is no longer the session.
    async fn save_in_lane(&self, lane: &InLane<'_>, generation: Generation) -> Result<()> {
        match self.record_of(generation) {
            Some(record) => self.persist.save(lane, record).await,
            None => Ok(()),
        }
    }
}

impl Drop for AuthCore {
    /// Lets the scheduler task see that its client is gone.
    fn drop(&mut self) {
        self.scheduler.wake();
    }
}
