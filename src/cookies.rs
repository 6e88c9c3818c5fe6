//! The session cookie jar. `Set-Cookie` is parsed by the `cookie` crate; what this file
//! adds is the policy: cookies are accepted only from the API's own origin (a `Domain`
//! naming any other host is refused) and sent only back to it, on the paths they name,
//! until they expire; `Secure` ones never over plain http except to loopback; the `__Host-`
//! and `__Secure-` prefixes are enforced. Values are secrets, and the jar can be
//! snapshotted into the stored session and restored.

use crate::config::is_loopback;
use crate::secret::Secret;
use parking_lot::Mutex;
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};
use url::Url;
use zeroize::Zeroizing;

/// Longer names or values are not kept: no real session cookie comes close.
const MAX_NAME_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 8192;
/// More cookies than any session needs; beyond it the oldest goes.
const MAX_COOKIES: usize = 50;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCookie {
    pub name: String,
    pub value: Secret,
    /// Sent only to request paths under this one.
    #[serde(default = "root_path")]
    pub path: String,
    /// Sent only over https, or over http to loopback.
    #[serde(default)]
    pub secure: bool,
    /// Unix seconds after which it is no longer sent; `None` for a session cookie.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

fn root_path() -> String {
    "/".to_string()
}

impl StoredCookie {
    fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// RFC 6265 §5.1.4 path-match.
    fn matches_path(&self, request_path: &str) -> bool {
        request_path == self.path
            || (request_path.starts_with(&self.path)
                && (self.path.ends_with('/')
                    || request_path.as_bytes().get(self.path.len()) == Some(&b'/')))
    }
}

pub struct CookieJar {
    origin: url::Origin,
    host: String,
    /// https, or http to a loopback host (which browsers treat as secure as well).
    secure_context: bool,
    cookies: Mutex<Vec<StoredCookie>>,
}

enum CookieUpdate {
    Set(StoredCookie),
    Remove { name: String, path: String },
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

/// RFC 6265 §5.1.4 default-path: the request path up to its last `/`.
fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(0) | None => root_path(),
        Some(last) => path[..last].to_string(),
    }
}

impl CookieJar {
    pub fn new(api: &Url) -> Self {
        CookieJar {
            origin: api.origin(),
            host: api.host_str().unwrap_or_default().to_ascii_lowercase(),
            secure_context: api.scheme() == "https" || is_loopback(api),
            cookies: Mutex::new(Vec::new()),
        }
    }

    pub fn snapshot(&self) -> Vec<StoredCookie> {
        let now = unix_now();
        let mut cookies = self.cookies.lock();
        cookies.retain(|cookie| !cookie.is_expired(now));
        cookies.clone()
    }

    pub fn replace(&self, cookies: Vec<StoredCookie>) {
        *self.cookies.lock() = cookies;
    }

    pub fn clear(&self) {
        self.cookies.lock().clear();
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    /// Reads one `Set-Cookie` value from `url`; `None` for anything malformed, meant for
    /// another host, or breaking its prefix's rules.
    fn parse(&self, header: &str, url: &Url) -> Option<CookieUpdate> {
        let parsed = cookie::Cookie::parse(header).ok()?;
        let (name, value) = (parsed.name(), parsed.value());
        if name.is_empty() || name.len() > MAX_NAME_LEN || value.len() > MAX_VALUE_LEN {
            return None;
        }
        if let Some(domain) = parsed.domain() {
            let domain = domain.trim_start_matches('.');
            if !domain.is_empty() && !domain.eq_ignore_ascii_case(&self.host) {
                return None;
            }
        }
        let secure = parsed.secure().unwrap_or(false);
        if secure && !self.secure_context {
            return None;
        }
        let path = match parsed.path() {
            Some(path) if path.starts_with('/') => path.to_string(),
            _ => default_path(url),
        };
        let needs_secure = name.starts_with("__Secure-") || name.starts_with("__Host-");
        if needs_secure && !secure {
            return None;
        }
        if name.starts_with("__Host-") && (parsed.domain().is_some() || path != "/") {
            return None;
        }
        // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
        let expires_at = match (parsed.max_age(), parsed.expires_datetime()) {
            (Some(age), _) => Some(unix_now().saturating_add(age.whole_seconds())),
            (None, Some(at)) => Some(at.unix_timestamp()),
            (None, None) => None,
        };
        let cookie = StoredCookie {
            name: name.to_string(),
            value: Secret::new(value),
            path,
            secure,
            expires_at,
        };
        Some(if cookie.is_expired(unix_now()) || value.is_empty() {
            CookieUpdate::Remove {
                name: cookie.name,
                path: cookie.path,
            }
        } else {
            CookieUpdate::Set(cookie)
        })
    }
}

impl reqwest::cookie::CookieStore for CookieJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        if url.origin() != self.origin {
            return;
        }
        for header in headers {
            let Some(update) = header.to_str().ok().and_then(|h| self.parse(h, url)) else {
                continue;
            };
            let mut cookies = self.cookies.lock();
            match update {
                CookieUpdate::Set(cookie) => {
                    cookies.retain(|c| c.name != cookie.name || c.path != cookie.path);
                    if cookies.len() >= MAX_COOKIES {
                        cookies.remove(0);
                    }
                    cookies.push(cookie);
                }
                CookieUpdate::Remove { name, path } => {
                    cookies.retain(|c| c.name != name || c.path != path)
                }
            }
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        if url.origin() != self.origin {
            return None;
        }
        let now = unix_now();
        let mut cookies = self.cookies.lock();
        cookies.retain(|cookie| !cookie.is_expired(now));
        // Longer paths first (RFC 6265 §5.4 step 2).
        let mut sent: Vec<&StoredCookie> = cookies
            .iter()
            .filter(|c| c.matches_path(url.path()) && (!c.secure || self.secure_context))
            .collect();
        if sent.is_empty() {
            return None;
        }
        sent.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let joined = Zeroizing::new(
            sent.iter()
                .map(|c| format!("{}={}", c.name, c.value.expose()))
                .collect::<Vec<_>>()
                .join("; "),
        );
        let mut value = HeaderValue::from_str(&joined).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::cookie::CookieStore;

    fn set(jar: &CookieJar, url: &str, header: &str) {
        let value = HeaderValue::from_str(header).unwrap();
        jar.set_cookies(&mut std::iter::once(&value), &Url::parse(url).unwrap());
    }

    fn header(jar: &CookieJar, url: &str) -> Option<String> {
        jar.cookies(&Url::parse(url).unwrap())
            .map(|v| v.to_str().unwrap().to_string())
    }

    fn jar(api: &str) -> CookieJar {
        CookieJar::new(&Url::parse(api).unwrap())
    }

    #[test]
    fn keeps_cookies_of_the_api_origin_only() {
        let api = "http://127.0.0.1:5000/api/login";
        let jar = jar(api);
        set(&jar, api, "session=abc; HttpOnly; Path=/");
        set(&jar, api, "other=1; Domain=evil.example.com");
        set(&jar, "http://127.0.0.1:6000/", "foreign=1");
        assert_eq!(
            header(&jar, "http://127.0.0.1:5000/x").as_deref(),
            Some("session=abc")
        );
        assert_eq!(header(&jar, "http://127.0.0.1:6000/x"), None);
        let debug = format!("{:?}", jar.snapshot());
        assert!(
            debug.contains("value: [redacted]") && !debug.contains("abc"),
            "{debug}"
        );
    }

    #[test]
    fn expired_cookies_are_removed_and_max_age_is_checked_when_sending() {
        let api = "https://api.example.com/";
        let jar = jar(api);
        set(&jar, api, "session=abc");
        set(
            &jar,
            api,
            "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        );
        assert!(jar.is_empty());
        set(&jar, api, "session=abc");
        set(&jar, api, "session=abc; Max-Age=0");
        assert!(jar.is_empty());
        // Max-Age wins over a later Expires.
        set(
            &jar,
            api,
            "session=abc; Max-Age=-1; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
        );
        assert!(jar.is_empty());
        set(&jar, api, "session=abc; Max-Age=3600");
        let expires_at = jar.snapshot()[0].expires_at.unwrap();
        assert!((expires_at - unix_now() - 3600).abs() <= 2);
        // Restored from storage after it expired: never sent.
        let mut stale = jar.snapshot();
        stale[0].expires_at = Some(unix_now() - 1);
        jar.replace(stale);
        assert_eq!(header(&jar, api), None);
        assert!(jar.is_empty());
    }

    #[test]
    fn cookies_go_only_to_the_paths_they_name() {
        let api = "https://api.example.com/api/login";
        let jar = jar(api);
        set(&jar, api, "scoped=1; Path=/api/jwt");
        set(&jar, api, "site=2; Path=/");
        set(&jar, api, "here=3");
        assert_eq!(
            header(&jar, "https://api.example.com/api/jwt/token").as_deref(),
            Some("scoped=1; here=3; site=2")
        );
        assert_eq!(
            header(&jar, "https://api.example.com/api/jwtx").as_deref(),
            Some("here=3; site=2")
        );
        assert_eq!(
            header(&jar, "https://api.example.com/other").as_deref(),
            Some("site=2")
        );
        // The same name on another path is another cookie.
        set(&jar, api, "site=4; Path=/api");
        assert_eq!(jar.snapshot().len(), 4);
    }

    #[test]
    fn secure_cookies_never_travel_over_plain_http_except_to_loopback() {
        let plain = "http://api.internal.example/";
        let jar = jar(plain);
        set(&jar, plain, "session=abc; Secure");
        assert!(jar.is_empty(), "a Secure cookie from plain http is refused");
        let loopback = "http://127.0.0.1:5000/";
        let jar = self::jar(loopback);
        set(&jar, loopback, "session=abc; Secure");
        assert_eq!(header(&jar, loopback).as_deref(), Some("session=abc"));
    }

    #[test]
    fn prefixed_cookies_follow_their_rules() {
        let api = "https://api.example.com/api/login";
        let jar = jar(api);
        for refused in [
            "__Host-a=1; Path=/",
            "__Host-b=1; Secure",
            "__Host-c=1; Secure; Path=/; Domain=api.example.com",
            "__Secure-d=1",
        ] {
            set(&jar, api, refused);
        }
        assert!(jar.is_empty());
        set(&jar, api, "__Host-session=1; Secure; Path=/");
        set(&jar, api, "__Secure-other=2; Secure; Path=/");
        assert_eq!(jar.snapshot().len(), 2);
    }
}
