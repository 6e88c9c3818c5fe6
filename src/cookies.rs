//! The session cookie jar. Cookies are accepted only from the API's own origin (a
//! `Domain` attribute naming any other host is ignored) and sent only back to it; their
//! values are secrets, and the jar can be snapshotted into the stored session and restored.

use crate::secret::Secret;
use parking_lot::Mutex;
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;
use url::Url;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCookie {
    pub name: String,
    pub value: Secret,
}

pub struct CookieJar {
    origin: url::Origin,
    host: String,
    cookies: Mutex<Vec<StoredCookie>>,
}

enum CookieUpdate {
    Set(StoredCookie),
    Remove(String),
}

impl CookieJar {
    pub fn new(api: &Url) -> Self {
        CookieJar {
            origin: api.origin(),
            host: api.host_str().unwrap_or_default().to_ascii_lowercase(),
            cookies: Mutex::new(Vec::new()),
        }
    }

    pub fn snapshot(&self) -> Vec<StoredCookie> {
        self.cookies.lock().clone()
    }

    pub fn replace(&self, cookies: Vec<StoredCookie>) {
        *self.cookies.lock() = cookies;
    }

    pub fn clear(&self) {
        self.cookies.lock().clear();
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.lock().is_empty()
    }

    /// Parses one `Set-Cookie` value; `None` for anything malformed or meant for another host.
    fn parse(&self, header: &str) -> Option<CookieUpdate> {
        let mut parts = header.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let (name, value) = (name.trim(), value.trim().trim_matches('"'));
        if name.is_empty() || name.len() > 256 || value.len() > 8192 {
            return None;
        }
        let mut expired = false;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
            match key.as_str() {
                "domain" => {
                    let domain = val.trim_start_matches('.').to_ascii_lowercase();
                    if !domain.is_empty() && domain != self.host {
                        return None;
                    }
                }
                "max-age" => expired |= val.parse::<i64>().map(|age| age <= 0).unwrap_or(false),
                "expires" => {
                    expired |= httpdate::parse_http_date(val)
                        .map(|at| at <= SystemTime::now())
                        .unwrap_or(false)
                }
                _ => {}
            }
        }
        Some(if expired || value.is_empty() {
            CookieUpdate::Remove(name.to_string())
        } else {
            CookieUpdate::Set(StoredCookie {
                name: name.to_string(),
                value: Secret::new(value),
            })
        })
    }
}

impl reqwest::cookie::CookieStore for CookieJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        if url.origin() != self.origin {
            return;
        }
        for header in headers {
            let Some(update) = header.to_str().ok().and_then(|h| self.parse(h)) else {
                continue;
            };
            let mut cookies = self.cookies.lock();
            match update {
                CookieUpdate::Set(cookie) => {
                    cookies.retain(|c| c.name != cookie.name);
                    cookies.push(cookie);
                }
                CookieUpdate::Remove(name) => cookies.retain(|c| c.name != name),
            }
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        if url.origin() != self.origin {
            return None;
        }
        let cookies = self.cookies.lock();
        if cookies.is_empty() {
            return None;
        }
        let joined = zeroize::Zeroizing::new(
            cookies
                .iter()
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

    #[test]
    fn keeps_cookies_of_the_api_origin_only() {
        let api = "http://127.0.0.1:5000/api/login";
        let jar = CookieJar::new(&Url::parse(api).unwrap());
        set(&jar, api, "session=abc; HttpOnly; Path=/");
        set(&jar, api, "other=1; Domain=evil.example.com");
        set(&jar, "http://127.0.0.1:6000/", "foreign=1");
        assert_eq!(
            header(&jar, "http://127.0.0.1:5000/x").as_deref(),
            Some("session=abc")
        );
        assert_eq!(header(&jar, "http://127.0.0.1:6000/x"), None);
        assert_eq!(
            format!("{:?}", jar.snapshot()),
            "[StoredCookie { name: \"session\", value: [redacted] }]"
        );
    }

    #[test]
    fn expired_cookies_are_removed() {
        let api = "https://api.example.com/";
        let jar = CookieJar::new(&Url::parse(api).unwrap());
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
    }
}
