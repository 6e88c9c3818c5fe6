//! A list of host listeners (status changes, log records): subscribe, unsubscribe, emit.
//! Emitting calls a snapshot of the list outside its lock, so a listener may subscribe or
//! unsubscribe from inside its own call.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub type Listener<T> = Arc<dyn Fn(&T) + Send + Sync>;

pub struct Listeners<T> {
    list: Mutex<Vec<(u64, Listener<T>)>>,
    next_id: AtomicU64,
}

impl<T> Default for Listeners<T> {
    fn default() -> Self {
        Listeners {
            list: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        }
    }
}

impl<T> Listeners<T> {
    /// Returns the id that `unsubscribe` takes.
    pub fn subscribe(&self, listener: Listener<T>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.list.lock().push((id, listener));
        id
    }

    pub fn unsubscribe(&self, id: u64) {
        self.list
            .lock()
            .retain(|(listener_id, _)| *listener_id != id);
    }

    /// Calls every listener with the value `make` builds, built only when someone listens.
    pub fn emit_with(&self, make: impl FnOnce() -> T) {
        let listeners: Vec<Listener<T>> = self.list.lock().iter().map(|(_, l)| l.clone()).collect();
        if listeners.is_empty() {
            return;
        }
        let value = make();
        for listener in listeners {
            listener(&value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_get_values_until_they_unsubscribe() {
        let listeners = Listeners::<u32>::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let id = listeners.subscribe(Arc::new(move |v: &u32| sink.lock().push(*v)));
        listeners.emit_with(|| 1);
        listeners.unsubscribe(id);
        let mut built = false;
        listeners.emit_with(|| {
            built = true;
            2
        });
        assert_eq!(*seen.lock(), vec![1]);
        assert!(!built, "nothing is built when nobody listens");
    }
}
