//! Connection limits across the listeners of one protocol: in total and per client address.
//! The listener takes a place before it starts a session; the session holds it (a
//! [`ConnGuard`]) until its connection ends. Here, below both, so that neither imports the
//! other for it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::actors::supervisor::lock;

/// Connection limits across the listeners of one protocol: in total and per client address.
#[derive(Debug, Default)]
pub struct ConnLimiter {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// Holds one connection's place; released on drop.
#[derive(Debug)]
pub struct ConnGuard {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl ConnLimiter {
    pub fn try_acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Option<ConnGuard> {
        let mut per_ip = lock(&self.per_ip);
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= max_per_ip || self.total.load(Ordering::SeqCst) >= max_total {
            if *n == 0 {
                per_ip.remove(&ip);
            }
            return None;
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        Some(ConnGuard {
            limiter: self.clone(),
            ip,
        })
    }

    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut per_ip = lock(&self.limiter.per_ip);
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.limiter.total.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_total_and_per_ip() {
        let l = Arc::new(ConnLimiter::default());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let g1 = l.try_acquire(a, 3, 2).unwrap();
        let _g2 = l.try_acquire(a, 3, 2).unwrap();
        assert!(l.try_acquire(a, 3, 2).is_none(), "per-ip limit");
        let _g3 = l.try_acquire(b, 3, 2).unwrap();
        assert!(l.try_acquire(b, 3, 2).is_none(), "total limit");
        drop(g1);
        assert_eq!(l.total(), 2);
        assert!(l.try_acquire(a, 3, 2).is_some());
    }
}
