//! What the app hears besides answers: configuration warnings and log records.

use super::*;
use crate::config::LogLevel;
use crate::log::LogRecord;

fn capture(h: &Harness) -> Arc<Mutex<Vec<LogRecord>>> {
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink = records.clone();
    h.core
        .logger()
        .subscribe(Arc::new(move |record: &LogRecord| {
            sink.lock().push(record.clone())
        }));
    records
}

#[tokio::test(start_paused = true)]
async fn refused_algorithms_are_warned_about_once_when_the_client_is_first_used() {
    let h = Harness::with_config(config(|c| {
        c.algorithms = Some(vec!["EdDSA".into(), "HS256".into(), "none".into()]);
    }));
    let records = capture(&h);
    h.login().await.unwrap();
    h.core.logout().await.unwrap();
    h.login().await.unwrap();
    let warnings: Vec<LogRecord> = records
        .lock()
        .iter()
        .filter(|r| r.message.contains("never accepted"))
        .cloned()
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].level, LogLevel::Warn);
    assert_eq!(
        warnings[0].fields,
        vec![("ignored".to_string(), "HS256,none".to_string())]
    );
}

#[tokio::test(start_paused = true)]
async fn no_log_record_at_trace_level_holds_a_token_cookie_or_password() {
    let h = Harness::with_config(config(|c| c.log_level = Some("trace".into())));
    let records = capture(&h);
    h.login().await.unwrap();
    let mut tokens = vec![h.current_token()];
    tokens.push(h.core.refresh_token().await.unwrap().expose().to_string());
    h.api.fail(Call::Refresh, network_down(), 1);
    h.api.fail(Call::Token, network_down(), 1);
    assert!(h.core.refresh_token().await.is_err());
    h.core.logout().await.unwrap();
    let logged = format!("{:?}", records.lock());
    assert!(records.lock().len() >= 5, "{logged}");
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logged.contains(signature), "a token was logged");
    }
    assert!(!logged.contains("eyJ"));
    assert!(
        !logged.contains("cookie-value"),
        "the session cookie was logged"
    );
    assert!(!logged.contains("\"pw\""));
}
