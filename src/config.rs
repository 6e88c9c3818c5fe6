//! Options as the host app gives them, checked once at construction: anything that can
//! never work fails here with `E_CONFIG` or `E_INSECURE_URL`, so later code can trust it.

use crate::errors::{AuthError, Result};
use crate::jwt::Algorithm;
use std::net::IpAddr;
use std::time::Duration;
use url::{Host, Url};

/// Options before validation, in the shape of the JS options object.
#[derive(Clone, Debug, Default)]
pub struct ConfigInput {
    pub base_url: String,
    pub paths: PathsInput,
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub algorithms: Option<Vec<String>>,
    pub leeway_seconds: Option<f64>,
    pub jwks_max_age_seconds: Option<f64>,
    pub refresh_before_expiry_seconds: Option<f64>,
    pub request_timeout_ms: Option<f64>,
    pub refresh_retry_min_ms: Option<f64>,
    pub refresh_retry_max_ms: Option<f64>,
    pub storage: Option<String>,
    pub storage_dir: Option<String>,
    pub keyring_service: Option<String>,
    pub account: Option<String>,
    pub trusted_origins: Option<Vec<String>>,
    pub storage_fallback: Option<String>,
    pub log_level: Option<String>,
    pub proxy: Option<String>,
}

/// `None` keeps the default; `Some(None)` is an explicit `null` (turns an optional endpoint off).
#[derive(Clone, Debug, Default)]
pub struct PathsInput {
    pub csrf: Option<Option<String>>,
    pub login: Option<String>,
    pub logout: Option<String>,
    pub status: Option<String>,
    pub token: Option<String>,
    pub refresh: Option<Option<String>>,
    pub jwks: Option<String>,
}

/// Absolute endpoint URLs, all on the API's origin.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub csrf: Option<Url>,
    pub login: Url,
    pub logout: Url,
    pub status: Url,
    pub token: Url,
    pub refresh: Option<Url>,
    pub jwks: Url,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    Keyring,
    Memory,
    /// A backend object supplied by the host app (`{load, save, clear}`).
    Custom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageFallback {
    None,
    Memory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn parse(value: &str) -> Option<LogLevel> {
        match value {
            "trace" => Some(LogLevel::Trace),
            "debug" => Some(LogLevel::Debug),
            "info" => Some(LogLevel::Info),
            "warn" => Some(LogLevel::Warn),
            "error" => Some(LogLevel::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub base_url: Url,
    pub endpoints: Endpoints,
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub leeway: Duration,
    /// Cached keys older than this are refetched before the next verification that talks
    /// to the API anyway (every refresh); offline checks use them whatever their age.
    pub jwks_max_age: Duration,
    /// `None`: `min(300 s, lifetime / 5)` of each token.
    pub refresh_before_expiry: Option<Duration>,
    pub request_timeout: Duration,
    /// First and largest pause after failed refreshes (exponential backoff with jitter).
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub storage: StorageKind,
    /// Where the keyring store keeps its encrypted record file; `None`: the OS data dir.
    pub storage_dir: Option<std::path::PathBuf>,
    pub keyring_service: String,
    pub account: String,
    /// ASCII-serialised origins (`scheme://host[:port]`), compared exactly.
    pub trusted_origins: Vec<String>,
    pub storage_fallback: StorageFallback,
    pub log_level: LogLevel,
    pub proxy: ProxySetting,
    /// Algorithms the host listed that are never accepted (`none`, `HS*`), to warn about.
    pub refused_algorithms: Vec<String>,
}

const DEFAULT_ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
const MAX_LEEWAY_SECONDS: f64 = 3600.0;
/// A week: a withdrawn key must stop being trusted within days at the most.
const MAX_JWKS_MAX_AGE_SECONDS: f64 = 604_800.0;
const MAX_TIMEOUT_MS: f64 = 600_000.0;
const MAX_NAME_LENGTH: usize = 256;

impl Config {
    pub fn from_input(input: ConfigInput) -> Result<Config> {
        let base_url = parse_base_url(&input.base_url)?;
        let endpoints = resolve_endpoints(&base_url, &input.paths)?;
        let (algorithms, refused_algorithms) = parse_algorithms(input.algorithms.as_deref())?;
        let trusted_origins = match &input.trusted_origins {
            None => vec![base_url.origin().ascii_serialization()],
            Some(list) if list.is_empty() => {
                return Err(AuthError::config(
                    "trustedOrigins is empty, so no MCP server could ever get a token; leave it out to trust only the API's origin",
                ))
            }
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(index, entry)| parse_trusted_origin(index, entry))
                .collect::<Result<Vec<_>>>()?,
        };
        let retry_min_ms = number_option(
            "refreshRetryMinMs",
            input.refresh_retry_min_ms,
            1.0,
            3_600_000.0,
        )?
        .unwrap_or(1000.0);
        let retry_max_ms = number_option(
            "refreshRetryMaxMs",
            input.refresh_retry_max_ms,
            1.0,
            3_600_000.0,
        )?
        .unwrap_or(60_000.0);
        if retry_max_ms < retry_min_ms {
            return Err(AuthError::config(
                "refreshRetryMaxMs must not be smaller than refreshRetryMinMs",
            ));
        }
        if let Some(issuer) = &input.issuer {
            if issuer.is_empty() {
                return Err(AuthError::config(
                    "issuer is empty; leave it out to skip the iss check",
                ));
            }
        }
        if input.audience.iter().any(String::is_empty) {
            return Err(AuthError::config("audience contains an empty string"));
        }
        Ok(Config {
            endpoints,
            issuer: input.issuer,
            audience: input.audience,
            algorithms,
            leeway: Duration::from_secs_f64(
                number_option("leewaySeconds", input.leeway_seconds, 0.0, MAX_LEEWAY_SECONDS)?
                    .unwrap_or(30.0),
            ),
            jwks_max_age: Duration::from_secs_f64(
                number_option(
                    "jwksMaxAgeSeconds",
                    input.jwks_max_age_seconds,
                    0.0,
                    MAX_JWKS_MAX_AGE_SECONDS,
                )?
                .unwrap_or(600.0),
            ),
            refresh_before_expiry: number_option(
                "refreshBeforeExpirySeconds",
                input.refresh_before_expiry_seconds,
                0.0,
                86_400.0,
            )?
            .map(Duration::from_secs_f64),
            request_timeout: Duration::from_secs_f64(
                number_option("requestTimeoutMs", input.request_timeout_ms, 1.0, MAX_TIMEOUT_MS)?
                    .unwrap_or(10_000.0)
                    / 1000.0,
            ),
            retry_min: Duration::from_secs_f64(retry_min_ms / 1000.0),
            retry_max: Duration::from_secs_f64(retry_max_ms / 1000.0),
            storage: match input.storage.as_deref() {
                None | Some("keyring") => StorageKind::Keyring,
                Some("memory") => StorageKind::Memory,
                Some("custom") => StorageKind::Custom,
                Some(other) => {
                    return Err(AuthError::config(format!(
                        "storage must be \"keyring\", \"memory\" or an object with load/save/clear, not {other:?}"
                    )))
                }
            },
            storage_dir: match input.storage_dir {
                Some(dir) if dir.trim().is_empty() => {
                    return Err(AuthError::config("storageDir is empty; leave it out to use the OS data directory"))
                }
                dir => dir.map(std::path::PathBuf::from),
            },
            keyring_service: name_option("keyringService", input.keyring_service, "symbiote")?,
            account: name_option("account", input.account, "default")?,
            trusted_origins,
            storage_fallback: match input.storage_fallback.as_deref() {
                None | Some("none") => StorageFallback::None,
                Some("memory") => StorageFallback::Memory,
                Some(other) => {
                    return Err(AuthError::config(format!(
                        "storageFallback must be \"none\" or \"memory\", not {other:?}"
                    )))
                }
            },
            log_level: match input.log_level.as_deref() {
                None => LogLevel::Info,
                Some(level) => LogLevel::parse(level).ok_or_else(|| {
                    AuthError::config(format!(
                        "logLevel must be one of error, warn, info, debug, trace, not {level:?}"
                    ))
                })?,
            },
            refused_algorithms,
            proxy: match input.proxy {
                None => ProxySetting::System,
                Some(value) => ProxySetting::parse(&value)?,
            },
            base_url,
        })
    }

    pub fn origin(&self) -> String {
        self.base_url.origin().ascii_serialization()
    }
}

/// `127.0.0.0/8`, `::1` and `localhost`: the only hosts plain `http://` may reach.
/// How the API is reached: `proxy` and `setProxy()`. Loopback is never proxied, whatever
/// this says.
#[derive(Clone, PartialEq, Eq)]
pub enum ProxySetting {
    /// The environment: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, with `NO_PROXY`.
    System,
    /// Straight to the API.
    Direct,
    /// Everything through this proxy (`http://` or `https://`, perhaps with credentials).
    Url(Url),
}

impl ProxySetting {
    /// `"system"`, `"none"` or a proxy URL. Messages never repeat the value: a proxy URL
    /// may carry credentials.
    pub fn parse(value: &str) -> Result<ProxySetting> {
        match value {
            "system" => Ok(ProxySetting::System),
            "none" => Ok(ProxySetting::Direct),
            _ => {
                let url = Url::parse(value).map_err(|_| {
                    AuthError::config(
                        "proxy must be \"system\", \"none\" or a proxy URL such as http://proxy.example.com:3128",
                    )
                })?;
                match url.scheme() {
                    "http" | "https" if url.host().is_some() => Ok(ProxySetting::Url(url)),
                    "http" | "https" => Err(AuthError::config("the proxy URL has no host")),
                    _ => Err(AuthError::config(
                        "the proxy URL must be http:// or https:// (SOCKS proxies are not supported)",
                    )),
                }
            }
        }
    }
}

/// Never the URL itself: it may hold a password.
impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxySetting::System => f.write_str("System"),
            ProxySetting::Direct => f.write_str("Direct"),
            ProxySetting::Url(url) => write!(
                f,
                "Url({}://{}:{})",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port_or_known_default().unwrap_or_default()
            ),
        }
    }
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `https://` anywhere, `http://` only to loopback; the error names the option at fault.
pub fn check_transport(url: &Url, what: &str) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(AuthError::insecure_url(format!(
            "{what} uses http:// to {}, which would send credentials in clear text; use https:// (plain http is allowed only for 127.0.0.1, [::1] and localhost)",
            url.host_str().unwrap_or("?")
        ))),
        scheme => Err(AuthError::config(format!(
            "{what} has scheme {scheme:?}; only https:// (and http:// to loopback) is supported"
        ))),
    }
}

fn parse_url(value: &str, what: &str) -> Result<Url> {
    let url = Url::parse(value.trim())
        .map_err(|err| AuthError::config(format!("{what} is not a valid URL ({err})")))?;
    if url.host().is_none() {
        return Err(AuthError::config(format!("{what} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AuthError::config(format!(
            "{what} contains a user name or password; credentials go to login(), never into a URL"
        )));
    }
    check_transport(&url, what)?;
    Ok(url)
}

fn parse_base_url(value: &str) -> Result<Url> {
    if value.trim().is_empty() {
        return Err(AuthError::config(
            "baseUrl is required: the origin of the Flask API, e.g. https://api.example.com",
        ));
    }
    let mut url = parse_url(value, "baseUrl")?;
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Named by its place in the list, never quoted: an entry may carry a password.
fn parse_trusted_origin(index: usize, value: &str) -> Result<String> {
    let url = parse_url(value, &format!("trustedOrigins[{index}]"))?;
    Ok(url.origin().ascii_serialization())
}

fn resolve_endpoints(base: &Url, paths: &PathsInput) -> Result<Endpoints> {
    let resolve = |name: &str, value: Option<&str>, default: &str| -> Result<Url> {
        let path = value.unwrap_or(default);
        if path.trim().is_empty() {
            return Err(AuthError::config(format!("paths.{name} is empty")));
        }
        let url = base.join(path).map_err(|err| {
            AuthError::config(format!("paths.{name} is not a valid path ({err})"))
        })?;
        if url.origin() != base.origin() {
            return Err(AuthError::config(format!(
                "paths.{name} points at another origin than baseUrl; every API endpoint must live on the API's origin"
            )));
        }
        Ok(url)
    };
    let optional = |name: &str, value: &Option<Option<String>>, default: Option<&str>| match value {
        Some(None) => Ok(None),
        Some(Some(path)) => resolve(name, Some(path), "").map(Some),
        None => default
            .map(|path| resolve(name, Some(path), path))
            .transpose(),
    };
    Ok(Endpoints {
        csrf: optional("csrf", &paths.csrf, None)?,
        login: resolve("login", paths.login.as_deref(), "/api/login")?,
        logout: resolve("logout", paths.logout.as_deref(), "/api/logout")?,
        status: resolve("status", paths.status.as_deref(), "/api/user/status")?,
        token: resolve("token", paths.token.as_deref(), "/api/jwt/token")?,
        refresh: optional("refresh", &paths.refresh, Some("/api/jwt/refresh"))?,
        jwks: resolve("jwks", paths.jwks.as_deref(), "/api/jwt/jwks")?,
    })
}

/// Parses the allowlist. `none` and `HS*` are dropped (and reported) rather than refused,
/// because the contract says they are refused whatever is listed.
fn parse_algorithms(list: Option<&[String]>) -> Result<(Vec<Algorithm>, Vec<String>)> {
    let Some(list) = list else {
        return Ok((DEFAULT_ALGORITHMS.to_vec(), Vec::new()));
    };
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for name in list {
        if name.eq_ignore_ascii_case("none") || name.starts_with("HS") {
            refused.push(name.clone());
            continue;
        }
        match name.parse::<Algorithm>() {
            Ok(algorithm) => accepted.push(algorithm),
            Err(_) => {
                return Err(AuthError::config(format!(
                    "algorithms contains {name:?}; supported are RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"
                )))
            }
        }
    }
    if accepted.is_empty() {
        return Err(AuthError::config(
            "algorithms allows no asymmetric algorithm; none and HS* are never accepted, list e.g. [\"RS256\", \"ES256\"]",
        ));
    }
    accepted.dedup();
    Ok((accepted, refused))
}

fn number_option(name: &str, value: Option<f64>, min: f64, max: f64) -> Result<Option<f64>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= min && v <= max => Ok(Some(v)),
        Some(v) => Err(AuthError::config(format!(
            "{name} must be a number from {min} to {max}, not {v}"
        ))),
    }
}

fn name_option(name: &str, value: Option<String>, default: &str) -> Result<String> {
    let value = value.unwrap_or_else(|| default.to_string());
    if value.is_empty() || value.len() > MAX_NAME_LENGTH || value.chars().any(char::is_control) {
        return Err(AuthError::config(format!(
            "{name} must be 1 to {MAX_NAME_LENGTH} printable characters"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorCode;

    fn input(base_url: &str) -> ConfigInput {
        ConfigInput {
            base_url: base_url.to_string(),
            ..Default::default()
        }
    }

    fn code_of(input: ConfigInput) -> ErrorCode {
        Config::from_input(input).unwrap_err().code
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = Config::from_input(input("https://api.example.com")).unwrap();
        assert_eq!(
            config.endpoints.login.as_str(),
            "https://api.example.com/api/login"
        );
        assert_eq!(
            config.endpoints.refresh.as_ref().unwrap().as_str(),
            "https://api.example.com/api/jwt/refresh"
        );
        assert!(config.endpoints.csrf.is_none());
        assert_eq!(config.algorithms, vec![Algorithm::RS256, Algorithm::ES256]);
        assert_eq!(config.leeway, Duration::from_secs(30));
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(
            (config.retry_min, config.retry_max),
            (Duration::from_secs(1), Duration::from_secs(60))
        );
        assert_eq!(
            config.trusted_origins,
            vec!["https://api.example.com".to_string()]
        );
        assert_eq!(config.storage, StorageKind::Keyring);
        assert_eq!(config.keyring_service, "symbiote");
        assert_eq!(config.account, "default");
    }

    #[test]
    fn proxy_settings_are_checked_and_never_repeated() {
        assert_eq!(ProxySetting::parse("system").unwrap(), ProxySetting::System);
        assert_eq!(ProxySetting::parse("none").unwrap(), ProxySetting::Direct);
        let with_password =
            ProxySetting::parse("http://user:hunter2@proxy.example.com:3128").unwrap();
        assert_eq!(
            format!("{with_password:?}"),
            "Url(http://proxy.example.com:3128)"
        );
        for bad in [
            "socks5://user:hunter2@proxy.example.com:1080",
            "hunter2 not a url",
            "ftp://hunter2@proxy.example.com",
            "",
        ] {
            let err = ProxySetting::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::Config, "{bad}");
            assert!(!err.message.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:5000",
            "http://127.8.0.1",
            "http://[::1]:80",
            "http://localhost:1",
        ] {
            assert!(Config::from_input(input(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.example.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
        ] {
            assert_eq!(code_of(input(bad)), ErrorCode::InsecureUrl, "{bad}");
        }
        assert_eq!(code_of(input("ftp://example.com")), ErrorCode::Config);
        assert_eq!(code_of(input("not a url")), ErrorCode::Config);
        assert_eq!(code_of(input("")), ErrorCode::Config);
        assert_eq!(
            code_of(input("https://user:pw@api.example.com")),
            ErrorCode::Config
        );
    }

    #[test]
    fn trusted_origins_are_checked_and_normalised() {
        let mut options = input("https://api.example.com");
        options.trusted_origins = Some(vec!["https://MCP.example.com:443/some/path".into()]);
        let config = Config::from_input(options.clone()).unwrap();
        assert_eq!(
            config.trusted_origins,
            vec!["https://mcp.example.com".to_string()]
        );
        options.trusted_origins = Some(vec!["http://mcp.example.com".into()]);
        assert_eq!(code_of(options.clone()), ErrorCode::InsecureUrl);
        options.trusted_origins = Some(vec![]);
        assert_eq!(code_of(options), ErrorCode::Config);
    }

    #[test]
    fn a_url_with_credentials_is_refused_without_repeating_them() {
        let mut options = input("https://api.example.com");
        options.trusted_origins = Some(vec![
            "https://mcp.example.com".into(),
            "https://user:hunter2@mcp.example.com".into(),
        ]);
        let err = Config::from_input(options).unwrap_err();
        assert_eq!(err.code, ErrorCode::Config);
        assert!(err
            .message
            .contains("trustedOrigins[1] contains a user name or password"));
        assert!(!err.message.contains("hunter2") && !err.message.contains("user:"));
        let err = Config::from_input(input("https://user:hunter2@api.example.com")).unwrap_err();
        assert!(err
            .message
            .starts_with("baseUrl contains a user name or password"));
        assert!(!err.message.contains("hunter2"));
    }

    #[test]
    fn none_and_hmac_are_dropped_from_the_allowlist() {
        let mut options = input("https://api.example.com");
        options.algorithms = Some(vec!["HS256".into(), "none".into(), "ES256".into()]);
        let config = Config::from_input(options.clone()).unwrap();
        assert_eq!(config.algorithms, vec![Algorithm::ES256]);
        assert_eq!(
            config.refused_algorithms,
            vec!["HS256".to_string(), "none".to_string()]
        );
        options.algorithms = Some(vec!["HS256".into()]);
        assert_eq!(code_of(options.clone()), ErrorCode::Config);
        options.algorithms = Some(vec!["XY123".into()]);
        assert_eq!(code_of(options), ErrorCode::Config);
    }

    #[test]
    fn impossible_numbers_and_names_are_refused() {
        let mut options = input("https://api.example.com");
        options.request_timeout_ms = Some(0.0);
        assert_eq!(code_of(options.clone()), ErrorCode::Config);
        options.request_timeout_ms = Some(f64::NAN);
        assert_eq!(code_of(options.clone()), ErrorCode::Config);
        options.request_timeout_ms = None;
        options.leeway_seconds = Some(-1.0);
        assert_eq!(code_of(options.clone()), ErrorCode::Config);
        options.leeway_seconds = None;
        options.account = Some(String::new());
        assert_eq!(code_of(options.clone()), ErrorCode::Config);
        options.account = None;
        options.storage = Some("disk".into());
        assert_eq!(code_of(options.clone()), ErrorCode::Config);
        options.storage = None;
        options.log_level = Some("loud".into());
        assert_eq!(code_of(options), ErrorCode::Config);
    }

    #[test]
    fn paths_stay_on_the_api_origin_and_null_turns_refresh_off() {
        let mut options = input("https://api.example.com");
        options.paths.refresh = Some(None);
        options.paths.csrf = Some(Some("/login".into()));
        let config = Config::from_input(options.clone()).unwrap();
        assert!(config.endpoints.refresh.is_none());
        assert_eq!(
            config.endpoints.csrf.unwrap().as_str(),
            "https://api.example.com/login"
        );
        options.paths.token = Some("https://evil.example.com/token".into());
        assert_eq!(code_of(options), ErrorCode::Config);
    }
}
