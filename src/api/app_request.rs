//! `apiFetch()`: a request of the app's own to the API, sent with the session's cookies and
//! CSRF token. What the caller may set is checked here, before anything is sent: the
//! session's credentials are the client's to attach, never the caller's.

use crate::config::Config;
use crate::errors::{AuthError, ErrorCode, Result};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use url::Url;

/// Headers the client sets itself. A caller's `Cookie` or `X-CSRF-Token` would mix with
/// the session's; the others describe the connection, which is reqwest's to write.
const RESERVED_HEADERS: &[&str] = &[
    "cookie",
    "x-csrf-token",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];

/// Methods fetch itself refuses to send.
const FORBIDDEN_METHODS: &[&str] = &["CONNECT", "TRACE", "TRACK"];

pub struct AppRequest {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Vec<u8>>,
}

/// The API's answer: status, headers (its `Set-Cookie` stays in the client's jar) and body.
pub struct AppResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::new(ErrorCode::InvalidArgument, message)
}

/// A path on the API (resolved against `baseUrl`, as fetch resolves against a base) or an
/// absolute URL on the API's origin; any other origin is refused before anything is sent.
pub fn api_url(config: &Config, target: &str) -> Result<Url> {
    let url = config.base_url.join(target).map_err(|_| {
        invalid("apiFetch() takes a path such as \"/api/items\" or a URL on the API's origin")
    })?;
    if url.origin() != config.base_url.origin() {
        return Err(AuthError::new(
            ErrorCode::UntrustedOrigin,
            format!(
                "apiFetch() sends the session only to the API at {}; use fetch() for other origins",
                config.origin()
            ),
        ));
    }
    Ok(url)
}

impl AppRequest {
    /// Checks what the caller asked for; messages name the header, never its value.
    pub fn new(
        url: Url,
        method: Option<&str>,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
    ) -> Result<AppRequest> {
        let method = match method {
            None => Method::GET,
            Some(name) => {
                // fetch upper-cases the standard methods whatever their case, and only those.
                let upper = name.to_ascii_uppercase();
                let standard = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
                let name = if standard.contains(&upper.as_str()) {
                    upper.as_str()
                } else {
                    name
                };
                if FORBIDDEN_METHODS.contains(&name.to_ascii_uppercase().as_str()) {
                    return Err(invalid(format!("apiFetch() does not send {name} requests")));
                }
                Method::from_bytes(name.as_bytes())
                    .map_err(|_| invalid("apiFetch() init.method is not a valid HTTP method"))?
            }
        };
        if body.is_some() && (method == Method::GET || method == Method::HEAD) {
            return Err(invalid(format!(
                "apiFetch() cannot send a body with {method}"
            )));
        }
        let headers = headers
            .into_iter()
            .map(|(name, value)| {
                let header = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| invalid("apiFetch() init.headers has an invalid header name"))?;
                if RESERVED_HEADERS.contains(&header.as_str()) {
                    return Err(invalid(format!(
                        "apiFetch() sets the {header} header itself; leave it out of init.headers"
                    )));
                }
                let value = HeaderValue::from_str(&value).map_err(|_| {
                    invalid(format!(
                        "apiFetch() init.headers has an invalid value for {header}"
                    ))
                })?;
                Ok((header, value))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AppRequest {
            method,
            url,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigInput;

    fn config() -> Config {
        Config::from_input(ConfigInput {
            base_url: "https://api.example.com/app/".into(),
            ..ConfigInput::default()
        })
        .unwrap()
    }

    #[test]
    fn paths_and_urls_of_the_api_origin_are_taken_and_others_refused() {
        let config = config();
        assert_eq!(
            api_url(&config, "/api/mcp/tools/x?q=1").unwrap().as_str(),
            "https://api.example.com/api/mcp/tools/x?q=1"
        );
        assert_eq!(
            api_url(&config, "items").unwrap().as_str(),
            "https://api.example.com/app/items"
        );
        assert_eq!(
            api_url(&config, "https://api.example.com/x")
                .unwrap()
                .as_str(),
            "https://api.example.com/x"
        );
        for foreign in [
            "https://evil.example.com/x",
            "//evil.example.com/x",
            "http://api.example.com/x",
            "https://api.example.com:8443/x",
            "file:///etc/passwd",
        ] {
            let err = api_url(&config, foreign).unwrap_err();
            assert_eq!(err.code, ErrorCode::UntrustedOrigin, "{foreign}");
        }
    }

    #[test]
    fn the_session_headers_and_bad_methods_are_refused_without_echoing_values() {
        let url = api_url(&config(), "/x").unwrap();
        let with_header = |name: &str, value: &str| {
            AppRequest::new(
                url.clone(),
                Some("post"),
                vec![(name.into(), value.into())],
                None,
            )
        };
        for reserved in ["Cookie", "x-csrf-token", "Host", "Content-Length"] {
            let err = with_header(reserved, "session=stolen").err().unwrap();
            assert_eq!(err.code, ErrorCode::InvalidArgument);
            assert!(!err.message.contains("stolen"), "{}", err.message);
        }
        let err = with_header("x-note", "line\nbreak-secret").err().unwrap();
        assert!(!err.message.contains("secret"));
        let ok = with_header("Content-Type", "application/json").unwrap();
        assert_eq!(ok.method, Method::POST);
        for method in ["CONNECT", "trace", "bad method"] {
            assert!(AppRequest::new(url.clone(), Some(method), Vec::new(), None).is_err());
        }
        assert!(
            AppRequest::new(url.clone(), Some("GET"), Vec::new(), Some(b"x".to_vec())).is_err()
        );
        assert_eq!(
            AppRequest::new(url, Some("Purge"), Vec::new(), None)
                .unwrap()
                .method
                .as_str(),
            "Purge"
        );
    }
}
