//! This replica's claims on slots being booked: a contested slot's losers on this replica
//! are answered from memory, without a transaction. Across replicas the database decides
//! as before (an advisory try-lock, then the exclusion constraints): a claim here only
//! spares the losers the round trips.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

/// How long a slot this replica just booked is answered as taken from memory: until
/// every search shows it taken anyway. A cancellation through this replica clears it.
const BOOKED_FOR: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
enum State {
    /// A booking of it is in flight here.
    InFlight,
    /// Booked here at this instant.
    Booked(Instant),
}

/// The claims, by slot key (`operator@start`).
#[derive(Debug, Clone, Default)]
pub struct Claims {
    slots: Arc<Mutex<HashMap<String, State>>>,
}

/// The slots one booking claimed; released when dropped, unless marked booked.
#[derive(Debug)]
pub struct Claim {
    claims: Claims,
    keys: Vec<String>,
}

/// A slot's key.
pub fn key(operator: &str, start: jiff::Timestamp) -> String {
    format!("{operator}@{start}")
}

impl Claims {
    fn map(&self) -> MutexGuard<'_, HashMap<String, State>> {
        // The map holds no invariant a panicking holder could break half-way.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims those of `keys` no booking here holds or just made; `None` when none is
    /// left.
    pub fn claim(&self, keys: &[String]) -> Option<Claim> {
        let now = Instant::now();
        let mut map = self.map();
        map.retain(|_, s| match s {
            State::InFlight => true,
            State::Booked(at) => now.duration_since(*at) < BOOKED_FOR,
        });
        let free: Vec<String> = keys
            .iter()
            .filter(|k| !map.contains_key(*k))
            .cloned()
            .collect();
        if free.is_empty() {
            return None;
        }
        for k in &free {
            map.insert(k.clone(), State::InFlight);
        }
        Some(Claim {
            claims: self.clone(),
            keys: free,
        })
    }

    /// Forgets a slot (its booking was cancelled or moved here).
    pub fn forget(&self, key: &str) {
        self.map().remove(key);
    }
}

impl Claim {
    /// The claimed keys.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The booking committed on `key`: answer it as taken for a moment; the others are
    /// released.
    pub fn booked(mut self, booked: &str) {
        let mut map = self.claims.map();
        for k in self.keys.drain(..) {
            if k == booked {
                map.insert(k, State::Booked(Instant::now()));
            } else {
                map.remove(&k);
            }
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let mut map = self.claims.map();
        for k in &self.keys {
            map.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_in_flight_or_just_booked_is_not_claimed_twice() {
        let claims = Claims::default();
        let a = claims.claim(&["x".into(), "y".into()]).unwrap();
        assert!(claims.claim(&["x".into()]).is_none());
        assert_eq!(
            claims.claim(&["x".into(), "z".into()]).unwrap().keys(),
            ["z"]
        );
        a.booked("x");
        assert!(claims.claim(&["x".into()]).is_none(), "just booked");
        assert!(claims.claim(&["y".into()]).is_some(), "released");
        claims.forget("x");
        assert!(claims.claim(&["x".into()]).is_some(), "cancelled");
        drop(claims.claim(&["w".into()]));
        assert!(
            claims.claim(&["w".into()]).is_some(),
            "a failed booking releases"
        );
    }
}
