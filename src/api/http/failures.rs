//! How `HttpApi` words a failure: each error names the endpoint and the API's origin and
//! says what to do, never copies text from a response, and scrubs the proxy's credentials
//! out of what a lower layer said.

use super::HttpApi;
use crate::api::{Endpoint, Reply};
use crate::config::check_transport;
use crate::errors::{AuthError, ErrorCode};
use reqwest::header::LOCATION;

impl HttpApi {
    /// What a lower layer said about a failure, without the proxy's credentials in it.
    pub(super) fn scrubbed(&self, text: String) -> String {
        self.proxy_credentials
            .lock()
            .iter()
            .fold(text, |text, secret| {
                text.replace(secret.expose(), "[redacted]")
            })
    }

    pub(super) fn origin_name(&self) -> String {
        self.origin.ascii_serialization()
    }

    pub(super) fn transport_error(&self, endpoint: Endpoint, err: reqwest::Error) -> AuthError {
        let mut root: &dyn std::error::Error = &err;
        while let Some(source) = root.source() {
            root = source;
        }
        let code = if err.is_timeout() {
            ErrorCode::Timeout
        } else if err.is_redirect() {
            ErrorCode::BadResponse
        } else {
            ErrorCode::Network
        };
        let what = match code {
            ErrorCode::BadResponse => "redirected too many times",
            _ if err.is_connect() => "could not connect",
            _ if err.is_body() || err.is_decode() => "lost the connection while reading the answer",
            _ => "failed",
        };
        let root = self.scrubbed(root.to_string());
        AuthError::new(
            code,
            format!(
                "the {} at {} {what} ({root}); check that the API is running and reachable",
                endpoint.name(),
                self.origin_name()
            ),
        )
    }

    pub(super) fn timeout_error(&self, endpoint: Endpoint) -> AuthError {
        AuthError::new(
            ErrorCode::Timeout,
            format!(
                "the {} at {} did not answer within {} ms (requestTimeoutMs)",
                endpoint.name(),
                self.origin_name(),
                self.timeout.as_millis()
            ),
        )
    }

    pub(super) fn redirect_error(&self, endpoint: Endpoint, reply: &Reply) -> AuthError {
        let target = reply
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| self.endpoints.login.join(location).ok());
        if let Some(target) = &target {
            if let Err(err) =
                check_transport(target, &format!("a redirect from the {}", endpoint.name()))
            {
                return err;
            }
        }
        AuthError::bad_response(format!(
            "the {} redirected to another origin, which is not followed so credentials stay with the API; point baseUrl at the final address",
            endpoint.name()
        ))
    }

    /// Errors every endpoint shares: 5xx, 429, and anything else unexpected. A `Retry-After`
    /// on a 5xx or 429 is named in the message and carried on the error for the backoff.
    pub(super) fn unexpected_status(&self, endpoint: Endpoint, reply: &Reply) -> AuthError {
        let status = reply.status.as_u16();
        let what = if reply.status.is_server_error() {
            format!("failed with HTTP {status}")
        } else if status == 429 {
            "is rate limiting this client".to_string()
        } else {
            return AuthError::bad_response(format!(
                "the {} answered HTTP {status}, which the API contract does not describe",
                endpoint.name()
            ));
        };
        let retry_after = reply.retry_after();
        let wait = retry_after
            .map(|d| format!(" (Retry-After: {} s)", d.as_secs()))
            .unwrap_or_default();
        AuthError::new(
            ErrorCode::Server,
            format!("the {} {what}{wait}; try again later", endpoint.name()),
        )
        .with_retry_after(retry_after)
    }

    pub(super) fn csrf_refused(&self, endpoint: Endpoint) -> AuthError {
        let message = if self.endpoints.csrf.is_some() {
            format!(
                "the {} refused a freshly fetched CSRF token; check that paths.csrf names the endpoint whose token the API checks",
                endpoint.name()
            )
        } else {
            format!(
                "the {} refused the request for a missing CSRF token; set paths.csrf to the API's CSRF endpoint (\"/api/login\" for Flask-Security)",
                endpoint.name()
            )
        };
        AuthError::new(ErrorCode::Csrf, message)
    }
}
