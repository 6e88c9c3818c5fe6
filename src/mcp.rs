//! What an MCP server connection gets: a token only for a trusted origin, in the shapes
//! the MCP SDKs ask for. The origin check happens once, when the provider is created.

use crate::config::check_transport;
use crate::errors::{AuthError, ErrorCode, Result};
use crate::secret::Secret;
use crate::session::{AuthCore, FastToken, TokenSnapshot};
use std::sync::Arc;
use url::Url;

fn precise_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// This machine's wall clock in ms, read the cheapest way the OS offers: on Linux
/// `CLOCK_REALTIME_COARSE`, a few ns from the vDSO instead of ~30 ns for the precise clock
/// (which would be most of the per-request cost), lagging it by a few scheduler ticks.
/// `AuthCore::fast_token` trusts it only far from any deadline. Elsewhere: the precise clock.
pub fn coarse_now_ms() -> i64 {
    #[cfg(all(
        any(target_os = "linux", target_os = "android"),
        target_pointer_width = "64"
    ))]
    {
        use std::os::raw::c_int;
        /// `struct timespec` of 64-bit Linux: `time_t` and `long` are both 64 bits.
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: c_int, tp: *mut Timespec) -> c_int;
        }
        const CLOCK_REALTIME_COARSE: c_int = 5;
        let mut now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec; the call writes only into it.
        if unsafe { clock_gettime(CLOCK_REALTIME_COARSE, &mut now) } == 0 {
            return now.tv_sec * 1000 + now.tv_nsec / 1_000_000;
        }
    }
    precise_now_ms()
}

/// Whole seconds from now until `expires_at_local_ms` (as `expires_in` counts), never negative.
pub fn seconds_until(expires_at_local_ms: i64) -> i64 {
    ((expires_at_local_ms - precise_now_ms()).max(0) + 999) / 1000
}

/// `OAuthTokens` of the MCP SDK, minus what a JWT session has no use for.
pub struct BearerTokens {
    pub access_token: Secret,
    pub expires_in: Option<i64>,
}

pub struct McpAccess {
    core: Arc<AuthCore>,
    origin: String,
}

/// Exact scheme + host + port match against `trustedOrigins`; never by name or substring.
pub fn trusted_origin_of(core: &AuthCore, server_url: &str) -> Result<String> {
    let url = Url::parse(server_url.trim()).map_err(|_| {
        AuthError::new(
            ErrorCode::UntrustedOrigin,
            "the MCP server URL is not a valid absolute URL",
        )
    })?;
    check_transport(&url, "the MCP server URL")?;
    let origin = url.origin().ascii_serialization();
    if !core.config.trusted_origins.contains(&origin) {
        return Err(AuthError::new(
            ErrorCode::UntrustedOrigin,
            format!("{origin} is not in trustedOrigins, so it never receives the JWT; add it to trustedOrigins if this MCP server belongs to your API"),
        ));
    }
    Ok(origin)
}

impl McpAccess {
    pub fn new(core: Arc<AuthCore>, server_url: &str) -> Result<McpAccess> {
        let origin = trusted_origin_of(&core, server_url)?;
        Ok(McpAccess { core, origin })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The per-request fast path: how `tokens()`/`token()` can answer right now, decided
    /// without a lock (a lock-free read of the current token's generation and, unless a
    /// deadline is near, a coarse clock read). `Stale` means: serve it and start `refresh_in_background`, as
    /// `get_token` does.
    pub fn fast_token(&self) -> FastToken {
        self.core.fast_token(coarse_now_ms())
    }

    /// Generation of the token `tokens()`/`token()` can hand out at once, if any. Inside the
    /// refresh window this also starts the one background refresh, which needs a tokio
    /// runtime context: without one the answer is `None`, and the async path does it.
    pub fn ready_generation(&self) -> Option<u64> {
        match self.fast_token() {
            FastToken::Fresh(id) => Some(id),
            FastToken::Stale(id) => tokio::runtime::Handle::try_current().is_ok().then(|| {
                self.core.refresh_in_background();
                id
            }),
            FastToken::Unavailable => None,
        }
    }

    /// The token of the current generation with its expiry, for the object the fast path
    /// caches per generation; `None` when the async path is needed.
    pub fn snapshot(&self) -> Option<TokenSnapshot> {
        self.core.token_snapshot()
    }

    /// `None` only when signed out; a dead session is an error the SDK passes on.
    pub async fn tokens(&self) -> Result<Option<BearerTokens>> {
        match self.token().await? {
            Some(access_token) => Ok(Some(BearerTokens {
                access_token,
                expires_in: self.core.expires_in().map(|s| s.max(0)),
            })),
            None => Ok(None),
        }
    }

    /// Called before every MCP request, so the usual path is `get_token` alone; the state
    /// is consulted only to tell "signed out" (no token) from a session the API ended.
    pub async fn token(&self) -> Result<Option<Secret>> {
        match self.core.get_token().await {
            Ok(token) => Ok(Some(token)),
            Err(err)
                if err.code == ErrorCode::LoginRequired
                    && self.core.status().state == crate::session::State::SignedOut =>
            {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// The server answered 401 to `rejected` (or to the current token): replace it once,
    /// shared with every other caller that saw the same 401. Never starts an OAuth flow.
    pub fn on_unauthorized(
        &self,
        rejected: Option<String>,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let replacement = self.core.replace_rejected_token(rejected);
        async move { replacement.await.map(|_| ()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_lags_far_less_than_the_margin_it_is_trusted_with() {
        for _ in 0..100_000 {
            let coarse = coarse_now_ms();
            let lag = precise_now_ms() - coarse;
            assert!(lag > -2, "coarse clock ahead by {} ms", -lag);
            assert!(
                lag < crate::session::COARSE_CLOCK_MARGIN_MS / 4,
                "coarse clock behind by {lag} ms"
            );
        }
    }

    #[test]
    fn expires_in_counts_whole_seconds_up() {
        let now = precise_now_ms();
        assert_eq!(seconds_until(now - 5_000), 0);
        assert!((10..=11).contains(&seconds_until(now + 10_500)));
    }
}
