//! What an MCP server connection gets: a token only for a trusted origin, in the shapes
//! the MCP SDKs ask for. The origin check happens once, when the provider is created.

use crate::config::check_transport;
use crate::errors::{AuthError, ErrorCode, Result};
use crate::secret::Secret;
use crate::session::{AuthCore, FastToken, State, TokenSnapshot};
use std::sync::Arc;
use url::Url;

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
    if !core.config().trusted_origins.contains(&origin) {
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

    /// Generation of the token `tokens()`/`token()` can hand out at once, if any, decided
    /// without a lock (see `AuthCore::fast_token`). Inside the refresh window this also
    /// starts the one background refresh, as `get_token` does.
    pub fn ready_generation(&self) -> Option<u64> {
        match self.core.fast_token() {
            FastToken::Fresh(id) => Some(id),
            FastToken::Stale(id) => {
                self.core.refresh_in_background();
                Some(id)
            }
            FastToken::Unavailable => None,
        }
    }

    /// The token of the current generation with its expiry, for the object the fast path
    /// caches per generation; `None` when the async path is needed.
    pub fn snapshot(&self) -> Option<TokenSnapshot> {
        self.core.token_snapshot()
    }

    /// What `tokens()` can answer at once, without waiting; `None` sends the caller down
    /// the async path.
    pub fn ready_tokens(&self) -> Option<BearerTokens> {
        self.ready_generation()?;
        let snapshot = self.snapshot()?;
        Some(BearerTokens {
            access_token: snapshot.raw,
            expires_in: Some(self.core.seconds_until(snapshot.expires_at_local_ms)),
        })
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
                    && self.core.status().state == State::SignedOut =>
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
        rejected: Option<&str>,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let replacement = self.core.replace_rejected_token(rejected);
        async move { replacement.await.map(|_| ()) }
    }

    /// `invalidateCredentials(scope)` of the MCP SDK: `"tokens"` and `"all"` (and no scope)
    /// replace the token as a 401 does; other scopes (`"client"`, `"verifier"`) name OAuth
    /// state this provider never holds, so there is nothing to do.
    pub fn invalidate(
        &self,
        scope: Option<&str>,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let replacement = matches!(scope, None | Some("tokens") | Some("all"))
            .then(|| self.on_unauthorized(None));
        async move {
            match replacement {
                Some(replacement) => replacement.await,
                None => Ok(()),
            }
        }
    }
}
