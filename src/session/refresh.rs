//! One refresh at a time, shared by every caller, and the backoff after failures: one
//! record under one lock. Whoever needs a new token (a caller, the scheduler, a 401 from an
//! MCP server, the background refresh of the refresh window) joins the flight in progress,
//! takes the outcome of one that finished since it decided it needs one, gets the last
//! error while a failed refresh backs off, or leads a new flight.

use super::state::{RefreshCommit, Usable};
use super::token_cache::CurrentToken;
use super::AuthCore;
use crate::api::{ApiSession, TokenAnswer};
use crate::errors::{catch_panic_async, AuthError, ErrorCode, Result};
use crate::secret::Secret;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

pub type Outcome = Result<Secret>;
type Pending = watch::Receiver<Option<Outcome>>;

/// A caller's place in line: how many flights had finished when it decided it needs a new
/// token. Taken when the caller asks, not when its future first runs, so a burst of calls
/// shares one refresh however the runtime schedules them.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

/// A token obtained by a forced refresh is not replaced because a server refused it until
/// it is this old: the API issued it moments ago, so another one would most likely be
/// refused too, and a server that keeps answering 401 must not make every client refresh
/// in a loop. The 401 is passed on as it is meanwhile (docs/SECURITY.md).
pub const MIN_REFUSED_TOKEN_AGE: Duration = Duration::from_secs(10);

/// Why a flight is wanted: the token is due (expired, in its refresh window, restore), or a
/// caller forces a new one (a 401, `invalidateCredentials`, `refreshJwtToken()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    Due,
    Forced,
}

/// The right and the duty to run a flight: pass it to `finish`.
pub struct Lead {
    sender: watch::Sender<Option<Outcome>>,
    cause: Cause,
}

pub enum Joined {
    /// The outcome is known already.
    Settled(Outcome),
    /// A flight is in progress: `outcome` waits for it.
    Waiting(Pending),
    /// Run the refresh now, then `finish` with its outcome; `Pending` is its outcome.
    Leading(Lead, Pending),
}

#[derive(Default)]
struct Record {
    finished: u64,
    running: Option<Pending>,
    /// The outcome of flight number `finished`.
    last: Option<Outcome>,
    consecutive_failures: u32,
    /// While a failed refresh backs off, no flight starts before this.
    retry_at: Option<Instant>,
    last_success_at: Option<Instant>,
    /// Forced flights in a row, each spaced after the last as failures back off.
    forced_in_row: u32,
    last_forced_at: Option<Instant>,
    /// The token the last forced flight obtained, and when.
    forced_token: Option<(Instant, Secret)>,
}

pub struct RefreshFlight {
    record: Mutex<Record>,
    retry_min: Duration,
    retry_max: Duration,
}

/// What a caller of `get_token`/`refresh_token` waits for.
pub enum TokenWait {
    Ready(Outcome),
    Flight(Pending),
}

impl TokenWait {
    pub async fn outcome(self) -> Outcome {
        match self {
            TokenWait::Ready(outcome) => outcome,
            TokenWait::Flight(pending) => outcome(pending).await,
        }
    }
}

/// Waits for the outcome of a flight; a flight whose task died says so.
pub async fn outcome(mut pending: Pending) -> Outcome {
    match pending.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().unwrap_or_else(|| Err(lost())),
        Err(_) => Err(lost()),
    }
}

fn lost() -> AuthError {
    AuthError::internal("the token refresh stopped unexpectedly (a bug); try again")
}

impl RefreshFlight {
    pub fn new(retry_min: Duration, retry_max: Duration) -> RefreshFlight {
        RefreshFlight {
            record: Mutex::new(Record::default()),
            retry_min,
            retry_max,
        }
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.record.lock().finished)
    }

    pub fn join(&self, ticket: Ticket, cause: Cause) -> Joined {
        let mut record = self.record.lock();
        if let Some(pending) = &record.running {
            // A lead dropped without `finish` (its task was cancelled) leaves no flight.
            if pending.has_changed().is_ok() {
                return Joined::Waiting(pending.clone());
            }
            record.running = None;
        }
        if let Some(last) = &record.last {
            if record.finished > ticket.0 {
                return Joined::Settled(last.clone());
            }
            // While a failed refresh backs off, callers get its error without a request, so
            // a fleet of clients does not stampede a recovering API.
            if let Err(err) = last {
                if record.retry_at.is_some_and(|at| Instant::now() < at) {
                    return Joined::Settled(Err(err.clone()));
                }
            }
        }
        let (sender, pending) = watch::channel(None);
        record.running = Some(pending.clone());
        if cause == Cause::Forced {
            let now = Instant::now();
            if self.forced_streak_ended(&record, now) {
                record.forced_in_row = 0;
            }
            record.forced_in_row = record.forced_in_row.saturating_add(1);
            record.last_forced_at = Some(now);
        }
        Joined::Leading(Lead { sender, cause }, pending)
    }

    /// The spacing after the n-th forced flight in a row: the failure backoff's ceiling.
    fn forced_spacing(&self, forced_in_row: u32) -> Duration {
        self.backoff_ceiling(forced_in_row)
    }

    /// A whole `retry_max` without a forced flight after the spacing ended starts afresh.
    fn forced_streak_ended(&self, record: &Record, now: Instant) -> bool {
        record
            .last_forced_at
            .is_none_or(|at| now >= at + self.forced_spacing(record.forced_in_row) + self.retry_max)
    }

    /// Whether a forced refresh is to be answered with the current token now: inside the
    /// spacing after a forced flight that succeeded, with no flight running (a running one
    /// is joined; after a failure the backoff of failures applies, with its error).
    pub fn is_spacing_forced(&self, now: Instant) -> bool {
        let record = self.record.lock();
        let running = record
            .running
            .as_ref()
            .is_some_and(|pending| pending.has_changed().is_ok());
        let succeeded = matches!(record.last, Some(Ok(_)));
        match record.last_forced_at {
            Some(at) if record.forced_in_row > 0 && succeeded && !running => {
                now < at + self.forced_spacing(record.forced_in_row)
            }
            _ => false,
        }
    }

    /// Whether `token` was obtained by a forced flight less than `MIN_REFUSED_TOKEN_AGE` ago.
    pub fn is_young_forced_token(&self, token: &Secret, now: Instant) -> bool {
        self.record
            .lock()
            .forced_token
            .as_ref()
            .is_some_and(|(at, forced)| {
                forced.expose() == token.expose() && now < *at + MIN_REFUSED_TOKEN_AGE
            })
    }

    /// Records the outcome of the flight `lead` ran and hands it to everyone waiting.
    /// Returns the backoff delay when it failed.
    pub fn finish(&self, lead: Lead, outcome: Outcome) -> Option<Duration> {
        let delay = {
            let mut record = self.record.lock();
            record.finished += 1;
            record.running = None;
            let now = Instant::now();
            let delay = match &outcome {
                Err(err) if err.code != ErrorCode::LoginRequired => {
                    record.consecutive_failures = record.consecutive_failures.saturating_add(1);
                    // A wait the API asked for (Retry-After) is honoured, up to the maximum.
                    let asked = err.retry_after.unwrap_or_default().min(self.retry_max);
                    let delay = self.backoff(record.consecutive_failures).max(asked);
                    record.retry_at = Some(now + delay);
                    Some(delay)
                }
                _ => {
                    record.consecutive_failures = 0;
                    record.retry_at = None;
                    None
                }
            };
            if let Ok(token) = &outcome {
                record.last_success_at = Some(now);
                if lead.cause == Cause::Forced {
                    record.forced_token = Some((now, token.clone()));
                }
            }
            record.last = Some(outcome.clone());
            delay
        };
        lead.sender.send_replace(Some(outcome));
        delay
    }

    /// How long from `now` until the scheduler may start a flight: after the backoff of a
    /// failure, and at least `min_interval` after the last success.
    pub fn pause_before_next(&self, now: Instant, min_interval: Duration) -> Duration {
        let record = self.record.lock();
        let until_retry = record
            .retry_at
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        let until_floor = record.last_success_at.map_or(Duration::ZERO, |at| {
            (at + min_interval).saturating_duration_since(now)
        });
        until_retry.max(until_floor)
    }

    /// Exponential backoff with jitter: the n-th failure in a row waits a random time in
    /// `[d/2, d]` where `d = min(max, min * 2^(n-1))`.
    fn backoff(&self, failures: u32) -> Duration {
        self.backoff_ceiling(failures)
            .mul_f64(rand::random_range(0.5..=1.0))
    }

    fn backoff_ceiling(&self, n: u32) -> Duration {
        self.retry_min
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(self.retry_max)
    }
}

// ----- running a flight -------------------------------------------------------------

/// A refresh continues a session: a token for another user (`sub`) is refused and the
/// session kept as it was, rather than silently becoming someone else's session.
fn same_user(current: &CurrentToken, token: Arc<CurrentToken>) -> Result<Arc<CurrentToken>> {
    match (&current.claims.sub, &token.claims.sub) {
        (Some(before), Some(after)) if before != after => Err(AuthError::token_invalid(
            "the API issued a refreshed JWT for another user (sub); the session is kept as it was",
        )),
        _ => Ok(token),
    }
}

impl AuthCore {
    /// Joins or leads the flight for a caller holding `ticket`. The place in line is taken
    /// now, and a flight this starts runs as a task of its own, so it completes (and stores
    /// its token) whatever becomes of the caller.
    pub(super) fn refresh_after(self: &Arc<Self>, ticket: Ticket, cause: Cause) -> TokenWait {
        match self.flight.join(ticket, cause) {
            Joined::Settled(outcome) => TokenWait::Ready(outcome),
            Joined::Waiting(pending) => TokenWait::Flight(pending),
            Joined::Leading(lead, pending) => {
                let core = self.clone();
                self.runtime.spawn(async move {
                    let work = core.clone();
                    let outcome = catch_panic_async(async move { work.run_refresh().await }).await;
                    if let Some(delay) = core.flight.finish(lead, outcome) {
                        core.logger.debug(
                            "next refresh attempt after a backoff",
                            &[("delayMs", &delay.as_millis().to_string())],
                        );
                    }
                    core.scheduler.wake();
                });
                TokenWait::Flight(pending)
            }
        }
    }

    /// Starts one refresh unless one runs (or backs off) already; callers keep the current
    /// token meanwhile.
    pub fn refresh_in_background(self: &Arc<Self>) {
        drop(self.refresh_after(self.flight.ticket(), Cause::Due));
    }

    /// A refresh a caller forces: spaced as failures back off, so a loop of callers (or a
    /// server answering 401 to every token) costs a handful of refreshes, not one each.
    /// Inside the spacing, a usable current token is the answer.
    pub(super) fn forced_refresh(self: &Arc<Self>, ticket: Ticket) -> TokenWait {
        if let Usable::Fresh(token) | Usable::Stale(token) = self.usable() {
            if self.flight.is_spacing_forced(Instant::now()) {
                return TokenWait::Ready(Ok(token.raw.clone()));
            }
        }
        self.refresh_after(ticket, Cause::Forced)
    }

    /// One refresh: obtain and verify a token, commit it to the session it was asked for,
    /// store it. The outcome is handed to the flight's callers after the store has it.
    async fn run_refresh(self: &Arc<Self>) -> Outcome {
        let (generation, current) = self.change(|state| state.begin_refresh())?;
        self.logger.debug("refreshing the JWT", &[]);
        let obtained = self.obtain_token(current.as_ref()).await;
        match self.change(|state| state.finish_refresh(generation, &obtained)) {
            RefreshCommit::Replaced => {
                self.logger.info("JWT refreshed", &[]);
                let lane = self.persist.enter().await;
                if let Err(err) = self.save_in_lane(&lane, generation).await {
                    self.logger.error(
                        "could not store the refreshed session; it continues in memory",
                        &[("code", err.code.as_str())],
                    );
                }
            }
            RefreshCommit::Failed => {
                if let Err(err) = &obtained {
                    self.logger.warn(
                        "JWT refresh failed; the current token is kept while it is valid",
                        &[("code", err.code.as_str())],
                    );
                }
            }
            RefreshCommit::SessionEnded => self.forget_ended_session(generation).await,
            RefreshCommit::Stale => {
                // Overtaken by a logout: cookies its answer brought after logout cleared the
                // jar are no session's, unless a sign-in took over since (then they are its).
                let _lane = self.persist.enter().await;
                if self.state.lock().signed_out_right_after(generation) {
                    self.api.forget_session();
                }
                return Err(AuthError::login_required(
                    "signed out while the token was being refreshed",
                ));
            }
        }
        obtained.map(|token| token.raw.clone())
    }

    /// The refresh endpoint with the current token, and on any failure the token endpoint.
    /// Either must name the same user (`sub`) as the token it replaces.
    async fn obtain_token(&self, current: Option<&Arc<CurrentToken>>) -> Result<Arc<CurrentToken>> {
        if let Some(current) = current {
            let refreshed = match self.api.refresh_token(&current.raw).await {
                Ok(Some(answer)) => Some(self.verify_answer(answer).await),
                Ok(None) => None,
                Err(err) => Some(Err(err)),
            };
            match refreshed.map(|token| same_user(current, token?)) {
                Some(Ok(token)) => return Ok(token),
                Some(Err(err)) => self.logger.debug(
                    "refresh endpoint failed; falling back to the token endpoint",
                    &[("code", err.code.as_str())],
                ),
                None => {}
            }
        }
        let token = self
            .verify_answer(self.api.issue_token(ApiSession::Current).await?)
            .await?;
        match current {
            Some(current) => same_user(current, token),
            None => Ok(token),
        }
    }

    /// Learns the API's clock from the answer, then verifies its token.
    pub(super) async fn verify_answer(&self, answer: TokenAnswer) -> Result<Arc<CurrentToken>> {
        if let Some(offset) = self.clock.observe(answer.server_date) {
            self.logger.info(
                "the API's clock differs from this machine's; expiry decisions use the API's clock",
                &[("offsetMs", &offset.to_string())],
            );
        }
        self.verifier
            .verify_issued(answer, &self.clock, self.api.as_ref())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight() -> RefreshFlight {
        RefreshFlight::new(Duration::from_millis(100), Duration::from_millis(400))
    }

    fn lead(joined: Joined) -> (Lead, Pending) {
        match joined {
            Joined::Leading(lead, pending) => (lead, pending),
            _ => panic!("expected to lead a flight"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn callers_join_the_flight_in_progress_and_take_a_finished_one() {
        let flight = flight();
        let early = flight.ticket();
        let (first, pending) = lead(flight.join(early, Cause::Due));
        assert!(matches!(flight.join(early, Cause::Due), Joined::Waiting(_)));
        flight.finish(first, Ok(Secret::new("new")));
        assert_eq!(outcome(pending).await.unwrap().expose(), "new");
        match flight.join(early, Cause::Due) {
            Joined::Settled(Ok(token)) => assert_eq!(token.expose(), "new"),
            _ => panic!("a flight finished since the ticket: its outcome is the answer"),
        }
        assert!(matches!(
            flight.join(flight.ticket(), Cause::Due),
            Joined::Leading(..)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_up_to_the_cap_and_honour_retry_after() {
        let flight = flight();
        let down = || AuthError::new(ErrorCode::Network, "down");
        let mut ceilings = Vec::new();
        for _ in 0..5 {
            let (lead_it, _) = lead(flight.join(flight.ticket(), Cause::Due));
            let delay = flight.finish(lead_it, Err(down())).unwrap();
            ceilings.push(delay);
            match flight.join(flight.ticket(), Cause::Due) {
                Joined::Settled(Err(err)) => assert_eq!(err.code, ErrorCode::Network),
                _ => panic!("backing off: the last error, no flight"),
            }
            tokio::time::advance(delay).await;
        }
        for (n, delay) in ceilings.iter().enumerate() {
            let ceiling = Duration::from_millis((100u64 << n).min(400));
            assert!(*delay >= ceiling / 2 && *delay <= ceiling, "{n}: {delay:?}");
        }
        let (lead_it, _) = lead(flight.join(flight.ticket(), Cause::Due));
        let asked = down().with_retry_after(Some(Duration::from_secs(3)));
        assert_eq!(
            flight.finish(lead_it, Err(asked)),
            Some(Duration::from_millis(400)),
            "Retry-After is honoured up to the maximum"
        );
        tokio::time::advance(Duration::from_millis(400)).await;
        let (lead_it, _) = lead(flight.join(flight.ticket(), Cause::Due));
        assert_eq!(flight.finish(lead_it, Ok(Secret::new("back"))), None);
        assert_eq!(
            flight.pause_before_next(Instant::now(), Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_flight_that_dies_is_an_internal_error_not_a_hang() {
        let flight = flight();
        let (lead_it, pending) = lead(flight.join(flight.ticket(), Cause::Due));
        drop(lead_it);
        assert_eq!(
            outcome(pending).await.unwrap_err().code,
            ErrorCode::Internal
        );
        assert!(
            matches!(
                flight.join(flight.ticket(), Cause::Due),
                Joined::Leading(..)
            ),
            "the next caller leads a new flight"
        );
    }
}
