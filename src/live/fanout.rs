//! One live stream's fan-out to its listeners: a broadcast of chunks (Ogg pages, MP3
//! frames) plus the last few, so a new listener starts with a burst and plays at once.
//! A listener that falls more than the backlog behind loses its place (see `web::live`).

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use bytes::Bytes;
use tokio::sync::broadcast;

/// Counts a listener while alive.
pub struct ListenerGuard(Arc<AtomicUsize>);

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct Fanout {
    tx: broadcast::Sender<Bytes>,
    recent: Mutex<VecDeque<Bytes>>,
    burst: usize,
    listeners: Arc<AtomicUsize>,
}

impl Fanout {
    /// `backlog`: chunks a listener may fall behind; `burst`: chunks a new one gets first.
    pub fn new(backlog: usize, burst: usize) -> Self {
        Self {
            tx: broadcast::channel(backlog).0,
            recent: Mutex::new(VecDeque::with_capacity(burst)),
            burst,
            listeners: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn publish(&self, chunk: Bytes) {
        if let Ok(mut r) = self.recent.lock() {
            if r.len() == self.burst {
                r.pop_front();
            }
            r.push_back(chunk.clone());
        }
        // No listener is not an error.
        let _ = self.tx.send(chunk);
    }

    /// A counted listener: the burst, then the live chunks.
    pub fn subscribe(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>, ListenerGuard) {
        self.listeners.fetch_add(1, Ordering::Relaxed);
        // Subscribe before copying the burst, so no chunk falls between the two.
        let rx = self.tx.subscribe();
        let burst = self
            .recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        (burst, rx, ListenerGuard(self.listeners.clone()))
    }

    /// The live chunks only, for an internal consumer (not counted as a listener).
    pub fn receiver(&self) -> broadcast::Receiver<Bytes> {
        self.tx.subscribe()
    }

    pub fn listeners(&self) -> usize {
        self.listeners.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_live_and_counted() {
        let f = Fanout::new(8, 2);
        for i in 0..5u8 {
            f.publish(Bytes::from(vec![i]));
        }
        let (burst, mut rx, guard) = f.subscribe();
        assert_eq!(burst, vec![Bytes::from(vec![3]), Bytes::from(vec![4])]);
        assert_eq!(f.listeners(), 1);
        f.publish(Bytes::from(vec![5]));
        assert_eq!(rx.try_recv().unwrap(), Bytes::from(vec![5]));
        drop(guard);
        assert_eq!(f.listeners(), 0);
    }
}
