//! The lifecycle in `cargo test`: the real session core against an in-memory Flask API
//! (`MemoryApi`), an in-memory store whose saves can be held (`TestStore`), and a wall
//! clock driven by tokio's paused time (`TestClock`). Deterministic: no wall-clock sleep,
//! no network; tokens are real EdDSA JWTs verified against a real JWKS.

mod api_fetch;
mod forced;
mod races;
mod refresh;
mod reporting;
mod scheduler;
mod sign_in;

use super::AuthCore;
use crate::api::{
    ApiFuture, ApiSession, AppRequest, AppResponse, FlaskApi, IssuedToken, TokenAnswer, User,
};
use crate::clock::Clock;
use crate::config::{Config, ConfigInput};
use crate::cookies::StoredCookie;
use crate::errors::{AuthError, ErrorCode, Result};
use crate::jwks::{parse_jwks, KeySet};
use crate::secret::Secret;
use crate::storage::{SessionStore, StoreFuture};
use crate::test_keys;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// 2026-12-01T00:00:00Z: where the test clock starts.
const START_MS: i64 = 1_796_083_200_000;

/// This machine's wall clock, moving with tokio's (paused) time, and able to jump ahead
/// alone, as it does when a machine wakes from sleep (monotonic timers stood still).
pub struct TestClock {
    start: Instant,
    jumped_ms: AtomicI64,
}

impl TestClock {
    fn new() -> Arc<TestClock> {
        Arc::new(TestClock {
            start: Instant::now(),
            jumped_ms: AtomicI64::new(0),
        })
    }

    pub fn jump(&self, by: Duration) {
        self.jumped_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        START_MS + self.start.elapsed().as_millis() as i64 + self.jumped_ms.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    Login,
    Token,
    Refresh,
    Jwks,
    Logout,
    App,
}

/// What the in-memory API does on the next calls of one endpoint.
enum Fault {
    Fail(AuthError),
}

/// A Flask API in memory: issues real JWTs, counts and timestamps every call, fails or
/// holds calls on demand. Holding a call parks it until `release`, so a test decides
/// exactly what overlaps. It knows which sessions are alive, and the client's two cookie
/// jars (the current session's and a sign-in's) as `HttpApi` keeps them.
pub struct MemoryApi {
    clock: Arc<TestClock>,
    pub lifetime_secs: AtomicI64,
    /// The `sub` of the tokens it issues.
    pub subject: Mutex<String>,
    alive: Mutex<HashSet<u32>>,
    cookies: Mutex<Vec<StoredCookie>>,
    pending_cookies: Mutex<Vec<StoredCookie>>,
    calls: Mutex<Vec<(Call, Instant)>>,
    faults: Mutex<HashMap<Call, VecDeque<Fault>>>,
    holds: Mutex<HashMap<Call, watch::Sender<bool>>>,
    next_session: Mutex<u32>,
    renewals: Mutex<u32>,
    issued: AtomicI64,
}

impl MemoryApi {
    fn new(clock: Arc<TestClock>) -> Arc<MemoryApi> {
        Arc::new(MemoryApi {
            clock,
            lifetime_secs: AtomicI64::new(600),
            subject: Mutex::new("1".into()),
            alive: Mutex::new(HashSet::new()),
            cookies: Mutex::new(Vec::new()),
            pending_cookies: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            faults: Mutex::new(HashMap::new()),
            holds: Mutex::new(HashMap::new()),
            next_session: Mutex::new(0),
            renewals: Mutex::new(0),
            issued: AtomicI64::new(0),
        })
    }

    pub fn jwks() -> String {
        test_keys::jwks(&[&test_keys::FIRST])
    }

    /// A JWT as the API would issue it now.
    pub fn mint(&self) -> String {
        let now = self.clock.now_ms() / 1000;
        let claims = serde_json::json!({
            "sub": self.subject.lock().clone(),
            "email": "demo@example.com",
            "iat": now,
            "exp": now + self.lifetime_secs.load(Ordering::Relaxed),
            "jti": self.issued.fetch_add(1, Ordering::Relaxed).to_string(),
        });
        test_keys::FIRST.sign(&claims)
    }

    pub fn count(&self, call: Call) -> usize {
        self.calls.lock().iter().filter(|(c, _)| *c == call).count()
    }

    /// Refresh and token calls: each is one new JWT asked of the API.
    pub fn token_requests(&self) -> usize {
        self.count(Call::Refresh) + self.count(Call::Token)
    }

    pub fn times(&self, call: Call) -> Vec<Instant> {
        self.calls
            .lock()
            .iter()
            .filter(|(c, _)| *c == call)
            .map(|(_, at)| *at)
            .collect()
    }

    /// The next `times` calls of `call` fail with `err`.
    pub fn fail(&self, call: Call, err: AuthError, times: usize) {
        let mut faults = self.faults.lock();
        let queue = faults.entry(call).or_default();
        for _ in 0..times {
            queue.push_back(Fault::Fail(err.clone()));
        }
    }

    pub fn clear_faults(&self) {
        self.faults.lock().clear();
    }

    /// Calls of `call` from now on wait until `release`.
    pub fn hold(&self, call: Call) {
        self.holds.lock().insert(call, watch::channel(false).0);
    }

    pub fn release(&self, call: Call) {
        if let Some(gate) = self.holds.lock().remove(&call) {
            gate.send_replace(true);
        }
    }

    /// The API forgets every session (as when they expire server-side): token calls get 401.
    pub fn end_session(&self) {
        self.alive.lock().clear();
    }

    /// How many sessions the API holds alive.
    pub fn live_sessions(&self) -> usize {
        self.alive.lock().len()
    }

    fn jar(&self, session: ApiSession) -> &Mutex<Vec<StoredCookie>> {
        match session {
            ApiSession::Current => &self.cookies,
            ApiSession::Pending => &self.pending_cookies,
        }
    }

    /// The API session the cookie in `session`'s jar names.
    fn session_in(&self, session: ApiSession) -> Option<u32> {
        let jar = self.jar(session).lock();
        let value = jar.first()?.value.expose().to_string();
        value
            .strip_prefix("cookie-value-")?
            .split('-')
            .next()?
            .parse()
            .ok()
    }

    fn is_alive(&self, session: ApiSession) -> bool {
        self.session_in(session)
            .is_some_and(|id| self.alive.lock().contains(&id))
    }

    /// One call: counted, failed if a fault is queued, answered by `serve` (the server
    /// acts on it then), and delivered after any hold (the answer is in transit meanwhile),
    /// with the cookie it sets landing in the jar on delivery.
    async fn call<T>(
        &self,
        call: Call,
        session: ApiSession,
        serve: impl FnOnce() -> Result<(T, Option<StoredCookie>)>,
    ) -> Result<T> {
        self.calls.lock().push((call, Instant::now()));
        let fault = self
            .faults
            .lock()
            .get_mut(&call)
            .and_then(VecDeque::pop_front);
        let served = match fault {
            Some(Fault::Fail(err)) => Err(err),
            None => serve(),
        };
        let held = self.holds.lock().get(&call).map(|gate| gate.subscribe());
        if let Some(mut open) = held {
            let _ = open.wait_for(|open| *open).await;
        }
        let (answer, cookie) = served?;
        if let Some(cookie) = cookie {
            *self.jar(session).lock() = vec![cookie];
        }
        Ok(answer)
    }

    /// A cookie for API session `id`; each is a new value, as Flask renews it.
    fn session_cookie(&self, id: u32) -> StoredCookie {
        let mut renewal = self.renewals.lock();
        *renewal += 1;
        StoredCookie {
            name: "session".into(),
            value: Secret::new(format!("cookie-value-{id}-{renewal}")),
            path: "/".into(),
            secure: false,
            expires_at: None,
        }
    }

    /// A token answer; like Flask, it also renews the session cookie.
    fn answer(&self, session: ApiSession) -> Result<(TokenAnswer, Option<StoredCookie>)> {
        let Some(id) = self.session_in(session).filter(|_| self.is_alive(session)) else {
            return Err(AuthError::login_required(
                "the API no longer recognises this session; sign in again",
            ));
        };
        let answer = TokenAnswer {
            issued: IssuedToken {
                access_token: Secret::new(self.mint()),
                expires_in: None,
            },
            server_date: None,
        };
        Ok((answer, Some(self.session_cookie(id))))
    }
}

impl FlaskApi for MemoryApi {
    fn login<'a>(
        &'a self,
        _email: &'a str,
        password: &'a Secret,
        _remember: bool,
    ) -> ApiFuture<'a, Option<User>> {
        Box::pin(self.call(Call::Login, ApiSession::Pending, move || {
            if password.expose() != "pw" {
                return Err(AuthError::new(
                    ErrorCode::InvalidCredentials,
                    "the API refused the email or password",
                ));
            }
            let id = {
                let mut next = self.next_session.lock();
                *next += 1;
                *next
            };
            self.alive.lock().insert(id);
            let user = User {
                id: "1".into(),
                email: "demo@example.com".into(),
                display_name: None,
                roles: None,
            };
            Ok((Some(user), Some(self.session_cookie(id))))
        }))
    }

    fn user_status(&self, _session: ApiSession) -> ApiFuture<'_, Option<User>> {
        Box::pin(async { Ok(None) })
    }

    fn issue_token(&self, session: ApiSession) -> ApiFuture<'_, TokenAnswer> {
        Box::pin(self.call(Call::Token, session, move || self.answer(session)))
    }

    fn refresh_token<'a>(&'a self, _current: &'a Secret) -> ApiFuture<'a, Option<TokenAnswer>> {
        Box::pin(self.call(Call::Refresh, ApiSession::Current, || {
            self.answer(ApiSession::Current)
                .map(|(answer, cookie)| (Some(answer), cookie))
        }))
    }

    fn fetch_jwks(&self) -> ApiFuture<'_, KeySet> {
        Box::pin(self.call(Call::Jwks, ApiSession::Current, || {
            Ok((parse_jwks(Self::jwks().as_bytes())?, None))
        }))
    }

    fn logout(&self, session: ApiSession) -> ApiFuture<'_, ()> {
        Box::pin(self.call(Call::Logout, session, move || {
            if let Some(id) = self.session_in(session) {
                self.alive.lock().remove(&id);
            }
            Ok(((), None))
        }))
    }

    /// 200 with the path as body while the API knows the session, 401 after.
    fn send<'a>(&'a self, request: &'a AppRequest) -> ApiFuture<'a, AppResponse> {
        Box::pin(self.call(Call::App, ApiSession::Current, move || {
            let status = if self.is_alive(ApiSession::Current) {
                200
            } else {
                401
            };
            let body = request.url.path().as_bytes().to_vec();
            Ok((
                AppResponse {
                    status,
                    headers: Vec::new(),
                    body,
                },
                None,
            ))
        }))
    }

    fn session_cookies(&self) -> Vec<StoredCookie> {
        self.cookies.lock().clone()
    }

    fn resume_session(&self, cookies: Vec<StoredCookie>) {
        *self.cookies.lock() = cookies;
    }

    fn has_session(&self) -> bool {
        !self.cookies.lock().is_empty()
    }

    fn forget_session(&self) {
        self.cookies.lock().clear();
    }

    fn adopt_pending_session(&self) {
        *self.cookies.lock() = std::mem::take(&mut *self.pending_cookies.lock());
    }

    fn forget_pending_session(&self) {
        self.pending_cookies.lock().clear();
    }

    /// There is no network in memory: nothing to route.
    fn set_proxy(&self, _proxy: &crate::config::ProxySetting) -> crate::errors::Result<()> {
        Ok(())
    }
}

/// A store in memory whose saves can be held: a held save has begun (it is counted) but
/// has not landed until `release_saves`.
#[derive(Default)]
pub struct TestStore {
    record: Mutex<Option<Secret>>,
    saves_begun: Mutex<usize>,
    hold: Mutex<Option<watch::Sender<bool>>>,
    hold_loads: Mutex<Option<watch::Sender<bool>>>,
    unavailable: Mutex<bool>,
}

/// Waits while `gate` holds a gate that is not yet open.
async fn pass_gate(gate: &Mutex<Option<watch::Sender<bool>>>) {
    let held = gate.lock().as_ref().map(|gate| gate.subscribe());
    if let Some(mut open) = held {
        let _ = open.wait_for(|open| *open).await;
    }
}

impl TestStore {
    pub fn record(&self) -> Option<Secret> {
        self.record.lock().clone()
    }

    pub fn saves_begun(&self) -> usize {
        *self.saves_begun.lock()
    }

    pub fn hold_saves(&self) {
        *self.hold.lock() = Some(watch::channel(false).0);
    }

    pub fn release_saves(&self) {
        if let Some(gate) = self.hold.lock().take() {
            gate.send_replace(true);
        }
    }

    /// Every call fails `E_STORAGE` from now on, as a locked or absent credential store does.
    pub fn make_unavailable(&self) {
        *self.unavailable.lock() = true;
    }

    fn check_available(&self) -> crate::errors::Result<()> {
        if *self.unavailable.lock() {
            return Err(AuthError::storage("the test store is unavailable"));
        }
        Ok(())
    }

    /// Loads from now on wait (the read is under way) until `release_loads`.
    pub fn hold_loads(&self) {
        *self.hold_loads.lock() = Some(watch::channel(false).0);
    }

    pub fn release_loads(&self) {
        if let Some(gate) = self.hold_loads.lock().take() {
            gate.send_replace(true);
        }
    }
}

impl SessionStore for TestStore {
    fn load(&self) -> StoreFuture<'_, Option<Secret>> {
        Box::pin(async move {
            self.check_available()?;
            let record = self.record();
            pass_gate(&self.hold_loads).await;
            Ok(record)
        })
    }

    fn save(&self, record: Secret) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.check_available()?;
            *self.saves_begun.lock() += 1;
            pass_gate(&self.hold).await;
            *self.record.lock() = Some(record);
            Ok(())
        })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.check_available()?;
            *self.record.lock() = None;
            Ok(())
        })
    }

    fn is_persistent(&self) -> bool {
        true
    }
}

/// One client with its API, store and clock.
pub struct Harness {
    pub core: Arc<AuthCore>,
    pub api: Arc<MemoryApi>,
    pub store: Arc<TestStore>,
    pub clock: Arc<TestClock>,
}

pub fn config(adjust: impl FnOnce(&mut ConfigInput)) -> Config {
    let mut input = ConfigInput {
        base_url: "http://127.0.0.1:9".into(),
        algorithms: Some(vec!["EdDSA".into()]),
        refresh_retry_min_ms: Some(1000.0),
        refresh_retry_max_ms: Some(60_000.0),
        ..ConfigInput::default()
    };
    adjust(&mut input);
    Config::from_input(input).expect("a valid test configuration")
}

impl Harness {
    /// A client with default options, not signed in. Call inside a paused tokio runtime.
    pub fn new() -> Harness {
        Self::with_config(config(|_| {}))
    }

    pub fn with_config(config: Config) -> Harness {
        let clock = TestClock::new();
        let api = MemoryApi::new(clock.clone());
        let store = Arc::new(TestStore::default());
        Self::with_parts(config, api, store, clock)
    }

    /// A later run of the app after one that signed in and ended: a session stored, none
    /// in memory yet.
    pub async fn after_a_signed_in_run() -> Harness {
        Harness::signed_in().await.next_run()
    }

    /// Another client (a later run of the app) over the same API, store and clock.
    pub fn next_run(&self) -> Harness {
        Self::with_parts(
            config(|_| {}),
            self.api.clone(),
            self.store.clone(),
            self.clock.clone(),
        )
    }

    fn with_parts(
        config: Config,
        api: Arc<MemoryApi>,
        store: Arc<TestStore>,
        clock: Arc<TestClock>,
    ) -> Harness {
        let core = AuthCore::with_parts(
            config,
            api.clone(),
            store.clone(),
            clock.clone(),
            tokio::runtime::Handle::current(),
        );
        Harness {
            core,
            api,
            store,
            clock,
        }
    }

    pub async fn signed_in() -> Harness {
        let harness = Harness::new();
        harness.login().await.expect("signs in");
        harness
    }

    pub async fn login(&self) -> Result<crate::session::AuthStatus> {
        self.core
            .login("demo@example.com", Secret::new("pw"), true)
            .await
    }

    pub fn current_token(&self) -> String {
        self.core
            .stored_token()
            .expect("a current token")
            .expose()
            .to_string()
    }
}

/// Runs everything runnable until nothing is (tokio's paused clock does not move).
pub async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

/// Lets `by` pass on both clocks, running whatever becomes due on the way.
pub async fn pass(by: Duration) {
    tokio::time::sleep(by).await;
    settle().await;
}

pub fn network_down() -> AuthError {
    AuthError::new(ErrorCode::Network, "the token endpoint could not connect")
}
