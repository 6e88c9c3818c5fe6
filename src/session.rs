//! The session lifecycle: login, the current JWT, one shared refresh, logout, restore, and
//! the status the UI shows. Everything here is plain Rust on tokio; the binding only converts.

use crate::api::{ApiClient, IssuedToken, Reply, User};
use crate::config::{Config, StorageFallback};
use crate::errors::{AuthError, ErrorCode, Result};
use crate::jwks::{self, JwksCache, Verified};
use crate::jwt::{ClaimRules, Claims};
use crate::log::Logger;
use crate::secret::Secret;
use crate::storage::{SessionRecord, SessionStore, RECORD_VERSION};
use parking_lot::Mutex;
use std::future::Future;
use std::sync::atomic::{fence, AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

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

/// The snapshot the UI shows (`AuthStatus` in CONTRACT.md).
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

pub type StatusWatcher = Arc<dyn Fn(&AuthStatus) + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    SignedOut,
    Active,
    LoginRequired,
}

/// The JWT in use, verified when it was obtained.
#[derive(Debug)]
pub struct CurrentToken {
    pub raw: Secret,
    pub claims: Claims,
    /// Unique per token this core ever held (never 0): names a token generation.
    pub id: u64,
    /// Expiry in ms since the epoch on the server's clock.
    expires_at_ms: i64,
    /// From this moment (ms, server clock) the token is refreshed ahead of expiry.
    refresh_at_ms: i64,
}

/// What the per-request fast path needs to know about the usable token, readable without
/// any lock: a seqlock over (token id, refresh-at, expires-at), written only while `inner`
/// is locked (see `AuthCore::write_inner`), so writers never race each other. An id of 0
/// means there is no usable token (signed out, session ended, no token yet).
#[derive(Default)]
struct TokenBeacon {
    /// Odd while a write is in progress.
    seq: AtomicU64,
    id: AtomicU64,
    refresh_at_ms: AtomicI64,
    expires_at_ms: AtomicI64,
}

impl TokenBeacon {
    fn usable_token(inner: &Inner) -> Option<&CurrentToken> {
        (inner.phase == Phase::Active)
            .then_some(inner.token.as_deref())
            .flatten()
    }

    /// Call with `inner` locked, after every change of its token or phase.
    fn publish(&self, inner: &Inner) {
        let (id, refresh_at, expires_at) = Self::usable_token(inner)
            .map_or((0, 0, 0), |t| (t.id, t.refresh_at_ms, t.expires_at_ms));
        // A token's times never change, so the same id means nothing to publish.
        if self.id.load(Ordering::Relaxed) == id {
            return;
        }
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.id.store(id, Ordering::Relaxed);
        self.refresh_at_ms.store(refresh_at, Ordering::Relaxed);
        self.expires_at_ms.store(expires_at, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// `(id, refresh_at_ms, expires_at_ms)` of the usable token; `None` when there is none,
    /// or when a write is in progress (the caller then takes the locked path).
    fn read(&self) -> Option<(u64, i64, i64)> {
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        let id = self.id.load(Ordering::Relaxed);
        let refresh_at = self.refresh_at_ms.load(Ordering::Relaxed);
        let expires_at = self.expires_at_ms.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != before || id == 0 {
            return None;
        }
        Some((id, refresh_at, expires_at))
    }
}

/// How the per-request fast path may serve the current token, decided without a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastToken {
    /// Outside the refresh window: token `id` is the answer.
    Fresh(u64),
    /// Inside the refresh window: token `id` is still the answer, and a background refresh
    /// should run (`refresh_in_background`), as `get_token` does.
    Stale(u64),
    /// Missing, expired, signed out, or the session ended: take `get_token`.
    Unavailable,
}

/// The usable token as the fast path hands it out.
pub struct TokenSnapshot {
    pub id: u64,
    pub raw: Secret,
    /// Expiry in ms since the epoch on this machine's clock (as `AuthStatus.expires_at`).
    pub expires_at_local_ms: i64,
}

struct Inner {
    phase: Phase,
    token: Option<Arc<CurrentToken>>,
    user: Option<User>,
    refreshing: bool,
    offline: bool,
    last_error: Option<AuthError>,
    /// Whether this session is written to the store (`remember`).
    remember: bool,
    /// Bumped by every login, logout and restore: work begun in an older epoch is discarded,
    /// so a refresh that finishes after `logout()` cannot bring the token back.
    epoch: u64,
}

impl Inner {
    fn signed_out() -> Inner {
        Inner {
            phase: Phase::SignedOut,
            token: None,
            user: None,
            refreshing: false,
            offline: false,
            last_error: None,
            remember: false,
            epoch: 0,
        }
    }
}

/// The outcome of the last refresh, numbered, so callers that queued behind it take that
/// outcome instead of asking the API again; and how many attempts in a row have failed.
#[derive(Default)]
struct RefreshGate {
    last: Option<(u64, Result<Secret>)>,
    consecutive_failures: u32,
}

/// The scheduler re-reads the wall clock at least this often, so a machine that slept past
/// a token's expiry (monotonic timers stop during sleep) refreshes soon after waking.
const SCHEDULER_MAX_SLEEP: Duration = Duration::from_secs(15);
/// How far ahead of the refresh window a coarse clock read may still say "fresh" (see
/// `AuthCore::fast_token`): a coarse clock lags by a few scheduler ticks, far less than this.
pub const COARSE_CLOCK_MARGIN_MS: i64 = 1000;
/// A floor under scheduled refreshes, whatever tokens the API issues.
const MIN_SCHEDULED_INTERVAL: Duration = Duration::from_secs(1);

/// How the current token can serve a caller right now.
enum Usable {
    Fresh(Secret),
    /// Valid, but inside the refresh window: hand it out and refresh in the background.
    Stale(Secret),
    NeedsRefresh,
    SignedOut,
    LoginRequired,
}

pub struct AuthCore {
    pub config: Config,
    api: ApiClient,
    jwks: JwksCache,
    store: Arc<dyn SessionStore>,
    pub logger: Arc<Logger>,
    inner: Mutex<Inner>,
    /// Lock-free copy of what `inner` says about the usable token, for the fast path.
    beacon: TokenBeacon,
    next_token_id: AtomicU64,
    /// Single flight: held while a refresh runs; remembers the last outcome and the backoff.
    refresh_gate: tokio::sync::Mutex<RefreshGate>,
    /// When a failed refresh may be tried again (monotonic clock); `None` after a success.
    retry_at: Mutex<Option<Instant>>,
    /// When the last refresh succeeded: the scheduler leaves at least `MIN_SCHEDULED_INTERVAL`
    /// after it (failures are spaced by the backoff instead).
    last_refresh_at: Mutex<Option<Instant>>,
    /// Wakes the refresh scheduler when the session changes.
    scheduler_wake: Arc<Notify>,
    scheduler_running: AtomicBool,
    refreshes_completed: AtomicU64,
    background_refresh_running: AtomicBool,
    /// Server clock minus ours, in ms.
    clock_offset_ms: AtomicI64,
    watchers: Mutex<Vec<(u64, StatusWatcher)>>,
    next_watcher_id: AtomicU64,
    last_published: Mutex<Option<AuthStatus>>,
}

fn local_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn user_from_claims(claims: &Claims) -> Option<User> {
    Some(User {
        id: claims.sub.clone()?,
        email: claims.email.clone().unwrap_or_default(),
        display_name: None,
        roles: None,
    })
}

impl AuthCore {
    pub fn new(config: Config, store: Arc<dyn SessionStore>) -> Result<Arc<AuthCore>> {
        let api = ApiClient::new(&config)?;
        let logger = Arc::new(Logger::new(config.log_level));
        Ok(Arc::new(AuthCore {
            api,
            jwks: JwksCache::new(),
            store,
            logger,
            inner: Mutex::new(Inner::signed_out()),
            beacon: TokenBeacon::default(),
            next_token_id: AtomicU64::new(1),
            refresh_gate: tokio::sync::Mutex::new(RefreshGate::default()),
            retry_at: Mutex::new(None),
            last_refresh_at: Mutex::new(None),
            scheduler_wake: Arc::new(Notify::new()),
            scheduler_running: AtomicBool::new(false),
            refreshes_completed: AtomicU64::new(0),
            background_refresh_running: AtomicBool::new(false),
            clock_offset_ms: AtomicI64::new(0),
            watchers: Mutex::new(Vec::new()),
            next_watcher_id: AtomicU64::new(1),
            last_published: Mutex::new(None),
            config,
        }))
    }

    /// Warnings about the configuration that the host app should see once.
    pub fn report_config(&self) {
        if !self.config.refused_algorithms.is_empty() {
            self.logger.warn(
                "algorithms lists values that are never accepted; they are ignored",
                &[("ignored", &self.config.refused_algorithms.join(","))],
            );
        }
    }

    /// Milliseconds since the epoch on the API's clock, as far as we can tell.
    fn server_now_ms(&self) -> i64 {
        local_now_ms() + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    fn server_now(&self) -> i64 {
        self.server_now_ms().div_euclid(1000)
    }

    fn claim_rules(&self) -> ClaimRules {
        ClaimRules {
            issuer: self.config.issuer.clone(),
            audience: self.config.audience.clone(),
            leeway: self.config.leeway,
        }
    }

    /// `refreshBeforeExpirySeconds`, or a fifth of the token's lifetime capped at 5 minutes;
    /// never more than half the lifetime, so a window longer than the token cannot make every
    /// new token due for refresh at once.
    fn refresh_window_ms(&self, claims: &Claims) -> i64 {
        let lifetime_ms = (claims.exp - claims.iat.unwrap_or(claims.exp)).max(0) * 1000;
        match self.config.refresh_before_expiry {
            Some(window) => (window.as_millis() as i64).min(lifetime_ms / 2),
            None => (lifetime_ms / 5).min(300_000),
        }
    }

    // ----- status ---------------------------------------------------------------------

    fn status_of(&self, inner: &Inner) -> AuthStatus {
        let now = self.server_now_ms();
        let token_expired = inner.token.as_ref().is_none_or(|t| t.expires_at_ms <= now);
        let state = match inner.phase {
            Phase::SignedOut => State::SignedOut,
            Phase::LoginRequired => State::LoginRequired,
            Phase::Active if inner.refreshing => State::Refreshing,
            Phase::Active if inner.offline => State::Offline,
            Phase::Active if token_expired => State::Expired,
            Phase::Active => State::Valid,
        };
        let offset = self.clock_offset_ms.load(Ordering::Relaxed);
        AuthStatus {
            state,
            authenticated: inner.phase == Phase::Active,
            user: if inner.phase == Phase::Active {
                inner.user.clone()
            } else {
                None
            },
            expires_at: inner.token.as_ref().map(|t| t.expires_at_ms - offset),
            clock_skew_ms: (offset.abs() > self.config.leeway.as_millis() as i64).then_some(offset),
            last_error: inner.last_error.clone(),
            persistent: inner.phase == Phase::Active
                && inner.remember
                && self.store.is_persistent(),
        }
    }

    pub fn status(&self) -> AuthStatus {
        self.status_of(&self.inner.lock())
    }

    pub fn is_authenticated(&self) -> bool {
        self.inner.lock().phase == Phase::Active
    }

    pub fn on_status_change(&self, watcher: StatusWatcher) -> u64 {
        let id = self.next_watcher_id.fetch_add(1, Ordering::Relaxed);
        self.watchers.lock().push((id, watcher));
        id
    }

    pub fn remove_status_watcher(&self, id: u64) {
        self.watchers
            .lock()
            .retain(|(watcher_id, _)| *watcher_id != id);
    }

    /// Tells watchers about the current status if it differs from the last one they saw.
    fn publish(&self) {
        let mut last = self.last_published.lock();
        let status = self.status();
        if last.as_ref() == Some(&status) {
            return;
        }
        *last = Some(status.clone());
        let watchers: Vec<StatusWatcher> = self
            .watchers
            .lock()
            .iter()
            .map(|(_, w)| w.clone())
            .collect();
        for watcher in watchers {
            watcher(&status);
        }
    }

    /// Every change of `inner` goes through here (or `update`), so the lock-free beacon the
    /// fast path reads never disagrees with it.
    fn write_inner<T>(&self, change: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self.inner.lock();
        let result = change(&mut inner);
        self.beacon.publish(&inner);
        result
    }

    fn update<T>(&self, change: impl FnOnce(&mut Inner) -> T) -> T {
        let result = self.write_inner(change);
        self.publish();
        result
    }

    // ----- tokens ---------------------------------------------------------------------

    fn usable(&self) -> Usable {
        let inner = self.inner.lock();
        debug_assert_eq!(
            self.beacon.id.load(Ordering::Relaxed),
            TokenBeacon::usable_token(&inner).map_or(0, |t| t.id),
            "inner changed without write_inner: the fast path would see an old token"
        );
        match inner.phase {
            Phase::SignedOut => return Usable::SignedOut,
            Phase::LoginRequired => return Usable::LoginRequired,
            Phase::Active => {}
        }
        let Some(token) = &inner.token else {
            return Usable::NeedsRefresh;
        };
        let now = self.server_now_ms();
        if token.expires_at_ms <= now {
            Usable::NeedsRefresh
        } else if token.refresh_at_ms <= now {
            Usable::Stale(token.raw.clone())
        } else {
            Usable::Fresh(token.raw.clone())
        }
    }

    pub fn stored_token(&self) -> Option<Secret> {
        let inner = self.inner.lock();
        (inner.phase == Phase::Active)
            .then(|| inner.token.as_ref().map(|t| t.raw.clone()))
            .flatten()
    }

    /// The per-request fast path: whether the current token can be handed out right now,
    /// decided from the lock-free beacon (no lock, no JWT parsing, no storage) and
    /// `coarse_now_ms`, a cheap read of this machine's clock that may lag it by a few ms
    /// (`CLOCK_REALTIME_COARSE`). The coarse time only ever answers "fresh", and only while
    /// the refresh window is more than `COARSE_CLOCK_MARGIN_MS` away; closer to it, and
    /// inside it, the precise clock decides, exactly as `get_token` does. So it agrees with
    /// `get_token`: `Fresh`/`Stale` only when that would answer without waiting,
    /// `Unavailable` when it would refresh first or fail.
    pub fn fast_token(&self, coarse_now_ms: i64) -> FastToken {
        let Some((id, refresh_at, expires_at)) = self.beacon.read() else {
            return FastToken::Unavailable;
        };
        let offset = self.clock_offset_ms.load(Ordering::Relaxed);
        if coarse_now_ms + offset + COARSE_CLOCK_MARGIN_MS < refresh_at {
            return FastToken::Fresh(id);
        }
        let now = local_now_ms() + offset;
        if expires_at <= now {
            FastToken::Unavailable
        } else if refresh_at <= now {
            FastToken::Stale(id)
        } else {
            FastToken::Fresh(id)
        }
    }

    /// The usable, unexpired token with its generation id, for building the object the fast
    /// path caches; `None` when `get_token` would have to refresh first (or fail).
    pub fn token_snapshot(&self) -> Option<TokenSnapshot> {
        let inner = self.inner.lock();
        let token = TokenBeacon::usable_token(&inner)?;
        (token.expires_at_ms > self.server_now_ms()).then(|| TokenSnapshot {
            id: token.id,
            raw: token.raw.clone(),
            expires_at_local_ms: token.expires_at_ms - self.clock_offset_ms.load(Ordering::Relaxed),
        })
    }

    /// Seconds until the current token expires (server clock), if there is one.
    pub fn expires_in(&self) -> Option<i64> {
        let inner = self.inner.lock();
        inner
            .token
            .as_ref()
            .map(|t| t.claims.exp - self.server_now())
    }

    fn not_signed_in() -> AuthError {
        AuthError::login_required("not signed in; call login() first")
    }

    fn session_gone() -> AuthError {
        AuthError::login_required("the session has ended; sign in again")
    }

    /// A verified, unexpired JWT; refreshes first when it has expired, and in the background
    /// when it is inside the refresh window. Concurrent callers share one refresh.
    pub async fn get_token(self: &Arc<Self>) -> Result<Secret> {
        let ticket = self.refreshes_completed.load(Ordering::Acquire);
        match self.usable() {
            Usable::Fresh(token) => Ok(token),
            Usable::Stale(token) => {
                self.refresh_in_background();
                Ok(token)
            }
            Usable::NeedsRefresh => self.refresh_shared(ticket).await,
            Usable::SignedOut => Err(Self::not_signed_in()),
            Usable::LoginRequired => Err(Self::session_gone()),
        }
    }

    /// Forces a new JWT; callers arriving while one is being fetched share it. The caller's
    /// place in line is taken when this is called, not when the future first runs, so a burst
    /// of calls shares one refresh however the runtime schedules them.
    pub fn refresh_token(
        self: &Arc<Self>,
    ) -> impl Future<Output = Result<Secret>> + Send + 'static {
        let ticket = self.refreshes_completed.load(Ordering::Acquire);
        let core = self.clone();
        async move { core.refresh_shared(ticket).await }
    }

    /// `ticket`: how many refreshes had completed when the caller decided it needs one. If
    /// one completed since, its outcome is the caller's too.
    /// While a failed refresh backs off, callers get its error without a request, so a
    /// fleet of clients does not stampede a recovering API.
    async fn refresh_shared(self: &Arc<Self>, ticket: u64) -> Result<Secret> {
        let mut gate = self.refresh_gate.lock().await;
        if let Some((number, outcome)) = &gate.last {
            if *number > ticket {
                return outcome.clone();
            }
            if let Err(err) = outcome {
                if self.retry_at.lock().is_some_and(|at| Instant::now() < at) {
                    return Err(err.clone());
                }
            }
        }
        let outcome = self.refresh_now().await;
        let number = self.refreshes_completed.fetch_add(1, Ordering::AcqRel) + 1;
        match &outcome {
            Err(err) if err.code != ErrorCode::LoginRequired => {
                gate.consecutive_failures = gate.consecutive_failures.saturating_add(1);
                // A wait the API asked for (Retry-After) is honoured, up to refreshRetryMaxMs.
                let asked = err
                    .retry_after
                    .unwrap_or_default()
                    .min(self.config.retry_max);
                let delay = self.backoff(gate.consecutive_failures).max(asked);
                *self.retry_at.lock() = Some(Instant::now() + delay);
                self.logger.debug(
                    "next refresh attempt after a backoff",
                    &[("delayMs", &delay.as_millis().to_string())],
                );
            }
            _ => {
                gate.consecutive_failures = 0;
                *self.retry_at.lock() = None;
            }
        }
        if outcome.is_ok() {
            *self.last_refresh_at.lock() = Some(Instant::now());
        }
        gate.last = Some((number, outcome.clone()));
        self.scheduler_wake.notify_one();
        outcome
    }

    /// Exponential backoff with jitter: the n-th failure in a row waits a random time in
    /// `[d/2, d]` where `d = min(max, min * 2^(n-1))`.
    fn backoff(&self, failures: u32) -> Duration {
        let (min, max) = (self.config.retry_min, self.config.retry_max);
        let ceiling = min
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(max);
        ceiling.mul_f64(rand::random_range(0.5..=1.0))
    }

    /// Starts the task that refreshes ahead of expiry and retries after failures, unless it
    /// runs already. It holds the core weakly, so a dropped client stops it.
    fn ensure_scheduler(self: &Arc<Self>) {
        self.scheduler_wake.notify_one();
        if self.scheduler_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let core = Arc::downgrade(self);
        let wake = self.scheduler_wake.clone();
        tokio::spawn(async move {
            loop {
                let Some(wait) = core
                    .upgrade()
                    .and_then(|core| core.next_scheduled_refresh())
                else {
                    let Some(core) = core.upgrade() else { return };
                    core.scheduler_running.store(false, Ordering::Release);
                    // A session may have started between the check and the store above.
                    if core.next_scheduled_refresh().is_none()
                        || core.scheduler_running.swap(true, Ordering::AcqRel)
                    {
                        return;
                    }
                    continue;
                };
                if !wait.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(wait.min(SCHEDULER_MAX_SLEEP)) => {}
                        _ = wake.notified() => {}
                    }
                    continue;
                }
                let Some(core) = core.upgrade() else { return };
                let ticket = core.refreshes_completed.load(Ordering::Acquire);
                let _ = core.refresh_shared(ticket).await;
            }
        });
    }

    /// How long until the scheduler should refresh; `None` when there is no session to keep.
    fn next_scheduled_refresh(&self) -> Option<Duration> {
        let refresh_at_ms = {
            let inner = self.inner.lock();
            if inner.phase != Phase::Active {
                return None;
            }
            inner.token.as_ref().map_or(0, |t| t.refresh_at_ms)
        };
        let until_window =
            Duration::from_millis((refresh_at_ms - self.server_now_ms()).max(0) as u64);
        let now = Instant::now();
        let until_retry = self
            .retry_at
            .lock()
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        let until_floor = self.last_refresh_at.lock().map_or(Duration::ZERO, |at| {
            (at + MIN_SCHEDULED_INTERVAL).saturating_duration_since(now)
        });
        Some(until_window.max(until_retry).max(until_floor))
    }

    /// A server refused `rejected` (or the current token): refresh once, unless the token in
    /// use is already another one, which then is the answer. Takes its place in line when
    /// called, as `refresh_token` does.
    pub fn replace_rejected_token(
        self: &Arc<Self>,
        rejected: Option<String>,
    ) -> impl Future<Output = Result<Secret>> + Send + 'static {
        let ticket = self.refreshes_completed.load(Ordering::Acquire);
        let core = self.clone();
        async move {
            if let (Some(rejected), Some(current)) = (rejected, core.stored_token()) {
                if current.expose() != rejected {
                    return Ok(current);
                }
            }
            core.refresh_shared(ticket).await
        }
    }

    /// Starts one refresh unless one runs already; callers keep the current token meanwhile.
    /// Needs a tokio runtime context.
    pub fn refresh_in_background(self: &Arc<Self>) {
        if self.background_refresh_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let ticket = self.refreshes_completed.load(Ordering::Acquire);
        let core = self.clone();
        tokio::spawn(async move {
            let _ = core.refresh_shared(ticket).await;
            core.background_refresh_running
                .store(false, Ordering::Release);
        });
    }

    /// Learns the server's clock from its `Date` header. Differences within two seconds are
    /// the header's resolution, not skew.
    fn observe_server_clock(&self, reply: &Reply) {
        let Some(server_ms) = reply
            .server_date
            .and_then(|date| date.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
        else {
            return;
        };
        let offset = server_ms - local_now_ms();
        let offset = if offset.abs() <= 2000 { 0 } else { offset };
        let previous = self.clock_offset_ms.swap(offset, Ordering::Relaxed);
        if (previous - offset).abs() > 2000 {
            self.logger.info(
                "the API's clock differs from this machine's; expiry decisions use the API's clock",
                &[("offsetMs", &offset.to_string())],
            );
        }
    }

    async fn verify_issued(
        &self,
        issued: IssuedToken,
        reply: &Reply,
    ) -> Result<(Secret, Verified)> {
        self.observe_server_clock(reply);
        let verified = self
            .jwks
            .verify(
                issued.access_token.expose(),
                &self.config.algorithms,
                &self.claim_rules(),
                self.server_now(),
                || self.api.fetch_jwks(),
            )
            .await?;
        // The leeway tolerates clocks that differ; a freshly issued token that is already
        // past its `exp` could only be handed out expired, so it is refused like any other.
        if verified.claims.exp * 1000 <= self.server_now_ms() {
            return Err(AuthError::token_invalid(
                "the API issued a JWT that has already expired; check the API's token lifetime and clock",
            ));
        }
        Ok((issued.access_token, verified))
    }

    /// The refresh endpoint with the current token, and on any failure the token endpoint.
    async fn obtain_token(
        &self,
        current: Option<&Arc<CurrentToken>>,
    ) -> Result<(Secret, Verified)> {
        if let Some(current) = current {
            if let Some(answer) = self.api.refresh_token(&current.raw).await {
                let refreshed = match answer {
                    Ok((issued, reply)) => self.verify_issued(issued, &reply).await,
                    Err(err) => Err(err),
                };
                match refreshed {
                    Ok(token) => return Ok(token),
                    Err(err) => self.logger.debug(
                        "refresh endpoint failed; falling back to the token endpoint",
                        &[("code", err.code.as_str())],
                    ),
                }
            }
        }
        let (issued, reply) = self.api.issue_token().await?;
        self.verify_issued(issued, &reply).await
    }

    fn current_token(&self, raw: Secret, verified: Verified) -> Arc<CurrentToken> {
        Arc::new(CurrentToken {
            raw,
            id: self.next_token_id.fetch_add(1, Ordering::Relaxed),
            expires_at_ms: verified.claims.exp * 1000,
            refresh_at_ms: verified.claims.exp * 1000 - self.refresh_window_ms(&verified.claims),
            claims: verified.claims,
        })
    }

    async fn refresh_now(self: &Arc<Self>) -> Result<Secret> {
        let (epoch, current) = {
            let inner = self.inner.lock();
            match inner.phase {
                Phase::SignedOut => return Err(Self::not_signed_in()),
                Phase::LoginRequired => return Err(Self::session_gone()),
                Phase::Active => (inner.epoch, inner.token.clone()),
            }
        };
        self.update(|inner| inner.refreshing = true);
        self.logger.debug("refreshing the JWT", &[]);
        let outcome = self.obtain_token(current.as_ref()).await;
        let committed = self.update(|inner| {
            inner.refreshing = false;
            if inner.epoch != epoch {
                return Err(AuthError::login_required(
                    "signed out while the token was being refreshed",
                ));
            }
            match &outcome {
                Ok((raw, verified)) => {
                    inner.token = Some(self.current_token(raw.clone(), verified.clone()));
                    inner.offline = false;
                    inner.last_error = None;
                    Ok(raw.clone())
                }
                Err(err) if err.code == ErrorCode::LoginRequired => {
                    inner.phase = Phase::LoginRequired;
                    inner.token = None;
                    inner.offline = false;
                    inner.last_error = Some(err.clone());
                    Err(err.clone())
                }
                Err(err) => {
                    inner.offline = err.code.is_transient();
                    inner.last_error = Some(err.clone());
                    Err(err.clone())
                }
            }
        });
        match &committed {
            Ok(_) => {
                self.logger.info("JWT refreshed", &[]);
                self.persist_quietly().await;
            }
            Err(err) if err.code == ErrorCode::LoginRequired && outcome.is_err() => {
                self.logger
                    .warn("the API ended the session; sign-in required", &[]);
                self.api.cookies.clear();
                if let Err(err) = self.store.clear().await {
                    self.logger.error(
                        "could not clear the stored session",
                        &[("code", err.code.as_str())],
                    );
                }
            }
            Err(err) => self.logger.warn(
                "JWT refresh failed; the current token is kept while it is valid",
                &[("code", err.code.as_str())],
            ),
        }
        committed
    }

    // ----- persistence ----------------------------------------------------------------

    fn record(&self) -> Option<SessionRecord> {
        let inner = self.inner.lock();
        if inner.phase != Phase::Active || !inner.remember {
            return None;
        }
        Some(SessionRecord {
            version: RECORD_VERSION,
            account: self.config.account.clone(),
            token: inner.token.as_ref().map(|t| t.raw.clone()),
            cookies: self.api.cookies.snapshot(),
            user: inner.user.clone(),
            jwks: self.jwks.cached().map(|keys| keys.document.clone()),
        })
    }

    async fn persist(&self) -> Result<()> {
        match self.record() {
            Some(record) => self.store.save(record.encode()?).await,
            None => Ok(()),
        }
    }

    /// After a refresh the new token is stored; failing that, the session goes on in memory.
    async fn persist_quietly(&self) {
        if let Err(err) = self.persist().await {
            self.logger.error(
                "could not store the refreshed session; it continues in memory",
                &[("code", err.code.as_str())],
            );
        }
    }

    // ----- login, logout, restore -----------------------------------------------------

    pub async fn login(
        self: &Arc<Self>,
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
        self.logger.debug("signing in", &[]);
        let attempt = async {
            let user = self.api.login(email.trim(), &password, remember).await?;
            drop(password);
            let (issued, reply) = self.api.issue_token().await?;
            let (raw, verified) = self.verify_issued(issued, &reply).await?;
            let user = match user {
                Some(user) => Some(user),
                None => self.api.user_status().await.ok().flatten(),
            }
            .or_else(|| user_from_claims(&verified.claims))
            .ok_or_else(|| {
                AuthError::bad_response("the API did not say which user signed in (no user in the login or status answer, no sub in the JWT)")
            })?;
            Ok::<_, AuthError>((raw, verified, user))
        };
        let (raw, verified, user) = match attempt.await {
            Ok(parts) => parts,
            Err(err) => {
                self.logger
                    .warn("sign-in failed", &[("code", err.code.as_str())]);
                self.update(|inner| inner.last_error = Some(err.clone()));
                return Err(err);
            }
        };
        let user_id = user.id.clone();
        let token = self.current_token(raw, verified);
        self.write_inner(|inner| {
            inner.epoch += 1;
            inner.phase = Phase::Active;
            inner.token = Some(token);
            inner.user = Some(user);
            inner.remember = remember;
            inner.offline = false;
            inner.last_error = None;
        });
        if remember {
            self.persist_new_session().await?;
        } else if let Err(err) = self.store.clear().await {
            // Nothing of this session is stored; an older record that cannot be cleared now
            // is still replaced by the next remembered login or logout.
            self.logger.warn(
                "could not clear a previously stored session",
                &[("code", err.code.as_str())],
            );
        }
        self.publish();
        self.ensure_scheduler();
        self.logger.info(
            "signed in",
            &[
                ("user", &user_id),
                ("remember", if remember { "true" } else { "false" }),
            ],
        );
        Ok(self.status())
    }

    /// Stores a session just signed in. With the credential store unavailable, either the
    /// session continues in memory (`storageFallback: "memory"`) or the login is undone.
    async fn persist_new_session(self: &Arc<Self>) -> Result<()> {
        let Err(err) = self.persist().await else {
            return Ok(());
        };
        if err.code == ErrorCode::Storage && self.config.storage_fallback == StorageFallback::Memory
        {
            self.logger.warn(
                "the credential store is unavailable; this session is kept in memory only (storageFallback: memory)",
                &[("code", err.code.as_str())],
            );
            self.write_inner(|inner| inner.remember = false);
            return Ok(());
        }
        self.discard_session(Some(err.clone()));
        self.publish();
        if let Err(logout) = self.api.logout().await {
            self.logger.debug(
                "could not end the unstored session at the API",
                &[("code", logout.code.as_str())],
            );
        }
        self.api.cookies.clear();
        Err(err)
    }

    /// Loads the stored record. A store that answers but cannot produce the record (it is
    /// corrupted) is cleared and counts as signed out; an unavailable store is an error,
    /// unless the app opted into `storageFallback: "memory"`.
    async fn load_record(&self) -> Result<Option<Secret>> {
        let err = match self.store.load().await {
            Ok(stored) => return Ok(stored),
            Err(err) => err,
        };
        if self.store.probe().await.is_ok() {
            self.logger.warn(
                "discarding a stored session that cannot be read",
                &[("reason", &err.message)],
            );
            self.store.clear().await?;
            return Ok(None);
        }
        if self.config.storage_fallback == StorageFallback::Memory {
            self.logger.warn(
                "the credential store is unavailable; starting signed out (storageFallback: memory)",
                &[("code", err.code.as_str())],
            );
            return Ok(None);
        }
        Err(err)
    }

    /// Forgets the in-memory session (not the store) and starts a new epoch.
    fn discard_session(&self, last_error: Option<AuthError>) {
        self.write_inner(|inner| {
            inner.epoch += 1;
            inner.phase = Phase::SignedOut;
            inner.token = None;
            inner.user = None;
            inner.remember = false;
            inner.offline = false;
            inner.refreshing = false;
            inner.last_error = last_error;
        });
    }

    /// Tells the server (best effort), then wipes memory and storage. A refresh in flight
    /// belongs to the old epoch and is discarded when it finishes.
    pub async fn logout(self: &Arc<Self>) -> Result<()> {
        self.discard_session(None);
        self.publish();
        self.scheduler_wake.notify_one();
        if !self.api.cookies.is_empty() {
            if let Err(err) = self.api.logout().await {
                self.logger.info(
                    "the API did not confirm the logout; the local session is wiped anyway",
                    &[("code", err.code.as_str())],
                );
            }
        }
        self.api.cookies.clear();
        self.api.forget_csrf_token();
        if let Err(err) = self.store.clear().await {
            if self.config.storage_fallback != StorageFallback::Memory {
                return Err(err);
            }
            self.logger.warn(
                "could not clear the credential store; nothing was stored there under storageFallback: memory",
                &[("code", err.code.as_str())],
            );
        }
        self.logger.info("signed out", &[]);
        Ok(())
    }

    /// Brings back a stored session. A stored token that still verifies (with the stored
    /// keys) needs no network; an expired one is refreshed with the stored session cookie.
    pub async fn restore(self: &Arc<Self>) -> Result<AuthStatus> {
        let Some(stored) = self.load_record().await? else {
            self.logger.debug("no stored session", &[]);
            return Ok(self.status());
        };
        let record = match SessionRecord::decode(&stored, &self.config.account) {
            Ok(record) => record,
            Err(why) => {
                self.logger
                    .warn("discarding an unusable stored session", &[("reason", &why)]);
                self.store.clear().await?;
                return Ok(self.status());
            }
        };
        if let Some(document) = &record.jwks {
            if let Ok(keys) = jwks::parse_jwks(document.as_bytes()) {
                self.jwks.install(keys);
            }
        }
        let token = record.token.and_then(|raw| {
            let verified = self
                .jwks
                .verify_cached(
                    raw.expose(),
                    &self.config.algorithms,
                    &self.claim_rules(),
                    None,
                )
                .ok()?;
            Some(self.current_token(raw, verified))
        });
        if token.is_none() && record.cookies.is_empty() {
            self.logger.warn(
                "discarding a stored session with neither a usable token nor a cookie",
                &[],
            );
            self.store.clear().await?;
            return Ok(self.status());
        }
        self.api.cookies.replace(record.cookies);
        self.update(|inner| {
            inner.epoch += 1;
            inner.phase = Phase::Active;
            inner.token = token;
            inner.user = record.user;
            inner.remember = true;
            inner.offline = false;
            inner.last_error = None;
        });
        self.logger.info("restored the stored session", &[]);
        self.ensure_scheduler();
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

    /// Signature (cached keys only, no network), algorithm and claims of `token`, or of
    /// the current token when `None`.
    pub fn is_token_valid(&self, token: Option<&str>) -> bool {
        let current;
        let token = match token {
            Some(token) => token,
            None => match self.stored_token() {
                Some(stored) => {
                    current = stored;
                    current.expose()
                }
                None => return false,
            },
        };
        self.jwks
            .verify_cached(
                token,
                &self.config.algorithms,
                &self.claim_rules(),
                Some(self.server_now()),
            )
            .is_ok()
    }

    /// The app says the machine woke up: time may have jumped, so check expiry now.
    pub fn notify_resume(self: &Arc<Self>) {
        self.publish();
        self.scheduler_wake.notify_one();
        if let Usable::Stale(_) | Usable::NeedsRefresh = self.usable() {
            self.refresh_in_background();
        }
    }

    /// Whether the configured store can be used now (for diagnostics such as `doctor`).
    pub async fn check_storage(&self) -> Result<()> {
        self.store.probe().await
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    fn token(id: u64, refresh_at_ms: i64, expires_at_ms: i64) -> Arc<CurrentToken> {
        Arc::new(CurrentToken {
            raw: Secret::new(format!("token-{id}")),
            claims: Claims {
                sub: None,
                email: None,
                iss: None,
                aud: Vec::new(),
                exp: expires_at_ms / 1000,
                nbf: None,
                iat: None,
                jti: None,
                all: Default::default(),
            },
            id,
            expires_at_ms,
            refresh_at_ms,
        })
    }

    fn inner(phase: Phase, token: Option<Arc<CurrentToken>>) -> Inner {
        Inner {
            phase,
            token,
            ..Inner::signed_out()
        }
    }

    #[test]
    fn the_beacon_shows_only_a_token_of_an_active_session() {
        let beacon = TokenBeacon::default();
        assert_eq!(beacon.read(), None);
        beacon.publish(&inner(Phase::Active, Some(token(7, 1_000, 2_000))));
        assert_eq!(beacon.read(), Some((7, 1_000, 2_000)));
        beacon.publish(&inner(Phase::LoginRequired, Some(token(8, 1_000, 2_000))));
        assert_eq!(beacon.read(), None);
        beacon.publish(&inner(Phase::Active, None));
        assert_eq!(beacon.read(), None);
        beacon.publish(&inner(Phase::Active, Some(token(9, 3_000, 4_000))));
        assert_eq!(beacon.read(), Some((9, 3_000, 4_000)));
        beacon.publish(&inner(Phase::SignedOut, None));
        assert_eq!(beacon.read(), None);
    }

    /// Readers racing a writer never see the id of one token with the times of another.
    #[test]
    fn a_read_never_mixes_two_tokens() {
        let beacon = Arc::new(TokenBeacon::default());
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (beacon, done) = (beacon.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut seen = 0u64;
                    while !done.load(Ordering::Relaxed) {
                        if let Some((id, refresh_at, expires_at)) = beacon.read() {
                            let id = id as i64;
                            assert_eq!((refresh_at, expires_at), (id * 10, id * 10 + 5));
                            seen += 1;
                        }
                    }
                    seen
                })
            })
            .collect();
        for id in 1..200_000i64 {
            let phase = if id % 7 == 0 {
                Phase::SignedOut
            } else {
                Phase::Active
            };
            beacon.publish(&inner(phase, Some(token(id as u64, id * 10, id * 10 + 5))));
        }
        done.store(true, Ordering::Relaxed);
        let seen: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(seen > 0);
    }
}
