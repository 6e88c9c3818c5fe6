//! Structured log records for the host app (`onLog`). Fields are plain strings chosen by
//! the caller; secrets are `Secret`, which has no way to be formatted into one.

use crate::config::LogLevel;
use crate::listeners::{Listener, Listeners};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

pub struct Logger {
    level: LogLevel,
    sinks: Listeners<LogRecord>,
}

impl Logger {
    pub fn new(level: LogLevel) -> Self {
        Logger {
            level,
            sinks: Listeners::default(),
        }
    }

    pub fn subscribe(&self, sink: Listener<LogRecord>) -> u64 {
        self.sinks.subscribe(sink)
    }

    pub fn unsubscribe(&self, id: u64) {
        self.sinks.unsubscribe(id)
    }

    pub fn log(&self, level: LogLevel, message: &str, fields: &[(&str, &str)]) {
        if level < self.level {
            return;
        }
        self.sinks.emit_with(|| LogRecord {
            level,
            message: message.to_string(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
    }

    pub fn error(&self, message: &str, fields: &[(&str, &str)]) {
        self.log(LogLevel::Error, message, fields)
    }

    pub fn warn(&self, message: &str, fields: &[(&str, &str)]) {
        self.log(LogLevel::Warn, message, fields)
    }

    pub fn info(&self, message: &str, fields: &[(&str, &str)]) {
        self.log(LogLevel::Info, message, fields)
    }

    pub fn debug(&self, message: &str, fields: &[(&str, &str)]) {
        self.log(LogLevel::Debug, message, fields)
    }

    pub fn trace(&self, message: &str, fields: &[(&str, &str)]) {
        self.log(LogLevel::Trace, message, fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use std::sync::Arc;

    #[test]
    fn records_below_the_level_are_dropped_and_unsubscribe_works() {
        let logger = Logger::new(LogLevel::Info);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = seen.clone();
        let id = logger.subscribe(Arc::new(move |r: &LogRecord| {
            sink_seen.lock().push(r.clone())
        }));
        logger.debug("hidden", &[]);
        logger.warn("shown", &[("k", "v")]);
        logger.unsubscribe(id);
        logger.error("after", &[]);
        let seen = seen.lock();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].message, "shown");
        assert_eq!(seen[0].fields, vec![("k".to_string(), "v".to_string())]);
    }
}
