//! One API session as the HTTP client holds it, and how that client is built: cookies on
//! the API's origin, redirects followed on it only, the proxy as configured (never for
//! loopback).

use crate::config::{is_loopback, Config, ProxySetting};
use crate::cookies::CookieJar;
use crate::errors::{AuthError, Result};
use crate::secret::Secret;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

const MAX_REDIRECTS: usize = 5;
const CSRF_HEADER: &str = "X-CSRF-Token";

/// One API session as the client holds it: its cookies, its CSRF token, and the HTTP client
/// that sends them.
pub(super) struct Conversation {
    /// Replaced whole by `setProxy()`; requests already sent finish on the one they began.
    pub(super) http: ArcSwap<reqwest::Client>,
    pub(super) cookies: Arc<CookieJar>,
    pub(super) csrf_token: Mutex<Option<Secret>>,
}

/// An HTTP client for the API at `base_url` that keeps its cookies in `cookies`, follows
/// redirects on the API's origin only, and reaches it as `proxy` says, except that loopback
/// is never proxied (an `http://127.0.0.1` login would otherwise cross the proxy in clear).
pub(super) fn http_client(
    base_url: &Url,
    connect_timeout: Duration,
    cookies: Arc<CookieJar>,
    proxy: &ProxySetting,
) -> Result<reqwest::Client> {
    let redirect_origin = base_url.origin();
    let builder = reqwest::Client::builder()
        .cookie_provider(cookies)
        .connect_timeout(connect_timeout);
    let builder = match proxy {
        _ if is_loopback(base_url) => builder.no_proxy(),
        // reqwest reads HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY itself.
        ProxySetting::System => builder,
        ProxySetting::Direct => builder.no_proxy(),
        ProxySetting::Url(url) => builder.proxy(
            reqwest::Proxy::all(url.as_str())
                .map_err(|_| AuthError::config("the proxy URL cannot be used"))?,
        ),
    };
    builder
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if attempt.url().origin() == redirect_origin {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .user_agent(concat!("symbiote-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| AuthError::internal("could not set up the HTTP client (TLS backend)"))
}

impl Conversation {
    pub(super) fn new(config: &Config) -> Result<Conversation> {
        let cookies = Arc::new(CookieJar::new(&config.base_url));
        let http = http_client(
            &config.base_url,
            config.request_timeout,
            cookies.clone(),
            &config.proxy,
        )?;
        Ok(Conversation {
            http: ArcSwap::from_pointee(http),
            cookies,
            csrf_token: Mutex::new(None),
        })
    }

    pub(super) fn request(&self, method: Method, url: &Url) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .load()
            .request(method.clone(), url.clone())
            .header(ACCEPT, "application/json");
        // Flask-WTF checks every method but the safe ones.
        if !method.is_safe() {
            if let Some(csrf) = self.csrf_token.lock().as_ref() {
                if let Ok(mut value) = HeaderValue::from_str(csrf.expose()) {
                    value.set_sensitive(true);
                    request = request.header(CSRF_HEADER, value);
                }
            }
        }
        request
    }

    pub(super) fn post_json(
        &self,
        url: &Url,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder {
        self.request(Method::POST, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    }

    pub(super) fn forget(&self) {
        self.cookies.clear();
        *self.csrf_token.lock() = None;
    }
}

/// The user name and password of a proxy URL, as written and percent-decoded.
pub(super) fn credentials_of(proxy: &ProxySetting) -> Vec<Secret> {
    let ProxySetting::Url(url) = proxy else {
        return Vec::new();
    };
    [url.username(), url.password().unwrap_or_default()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let decoded = percent_encoding::percent_decode_str(part).decode_utf8_lossy();
            [Secret::new(part), Secret::new(decoded.into_owned())]
        })
        .collect()
}
