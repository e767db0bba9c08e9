//! One live stream's fan-out to its listeners: a broadcast of chunks (Ogg pages, MP3
//! frames) plus the last few, so a new listener starts with a burst and plays at once.
//! Listeners get the chunks joined in groups of about 100 ms (a write per group, not per
//! 24 ms MP3 frame: with hundreds of listeners the wake-ups and writes are the cost), the
//! node's own consumers each chunk. A listener that falls more than the backlog behind
//! loses its place (see `web::live`).

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
    /// Every chunk as published, for the node's own consumers (HLS, the recorder, pushes).
    each: broadcast::Sender<Bytes>,
    /// Listeners' chunks: `group` published chunks joined into one, so that each listener
    /// costs one wake-up and one write per group instead of one per chunk.
    grouped: broadcast::Sender<Bytes>,
    group: usize,
    grouped_backlog: usize,
    burst: usize,
    /// The chunks already sent to listeners (the next one's burst), and those waiting to
    /// fill a group. One lock, so a new listener's burst meets its first group exactly.
    state: Mutex<Pending>,
    listeners: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Pending {
    recent: VecDeque<Bytes>,
    waiting: Vec<Bytes>,
}

impl Fanout {
    /// `backlog`: chunks a consumer may fall behind; `burst`: chunks a new listener gets
    /// first; `group`: chunks per write to listeners.
    pub fn new(backlog: usize, burst: usize, group: usize) -> Self {
        let group = group.max(1);
        let grouped_backlog = backlog.div_ceil(group).max(2);
        Self {
            each: broadcast::channel(backlog).0,
            grouped: broadcast::channel(grouped_backlog).0,
            group,
            grouped_backlog,
            burst,
            state: Mutex::new(Pending {
                recent: VecDeque::with_capacity(burst),
                waiting: Vec::with_capacity(group),
            }),
            listeners: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn publish(&self, chunk: Bytes) {
        // No receiver is not an error.
        let _ = self.each.send(chunk.clone());
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        st.waiting.push(chunk);
        if st.waiting.len() < self.group {
            return;
        }
        let waiting = std::mem::take(&mut st.waiting);
        let joined = if waiting.len() == 1 {
            waiting[0].clone()
        } else {
            Bytes::from(waiting.concat())
        };
        for c in waiting {
            if st.recent.len() == self.burst {
                st.recent.pop_front();
            }
            st.recent.push_back(c);
        }
        // Sent under the lock: a listener subscribing now sees either this group in its
        // burst or as its first live chunk, never both or neither.
        let _ = self.grouped.send(joined);
    }

    /// A counted listener: the burst, then the live chunks in groups.
    pub fn subscribe(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>, ListenerGuard) {
        let guard = self.count();
        match self.state.lock() {
            Ok(st) => (
                st.recent.iter().cloned().collect(),
                self.grouped.subscribe(),
                guard,
            ),
            Err(_) => (Vec::new(), self.grouped.subscribe(), guard),
        }
    }

    /// Counts a listener that is served from [`Self::groups`] by a writer of its own.
    pub fn count(&self) -> ListenerGuard {
        self.listeners.fetch_add(1, Ordering::Relaxed);
        ListenerGuard(self.listeners.clone())
    }

    /// The groups as listeners get them, for a writer that serves many listeners itself
    /// (not counted; see [`Self::count`]). It keeps its own burst of the latest groups.
    pub fn groups(&self) -> broadcast::Receiver<Bytes> {
        self.grouped.subscribe()
    }

    /// How many groups make a new listener's burst.
    pub fn burst_groups(&self) -> usize {
        self.burst.div_ceil(self.group)
    }

    /// How many groups a listener may fall behind before it loses its place.
    pub fn backlog_groups(&self) -> usize {
        self.grouped_backlog
    }

    /// Every chunk as published, for an internal consumer (not counted as a listener).
    pub fn receiver(&self) -> broadcast::Receiver<Bytes> {
        self.each.subscribe()
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
        let f = Fanout::new(8, 2, 1);
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

    #[test]
    fn listeners_get_groups_that_follow_their_burst_exactly() {
        let f = Fanout::new(64, 3, 4);
        let mut each = f.receiver();
        for i in 0..6u8 {
            f.publish(Bytes::from(vec![i]));
        }
        // 0..4 went out as one group; 4 and 5 wait for two more.
        let (burst, mut rx, _guard) = f.subscribe();
        assert_eq!(burst, [1u8, 2, 3].map(|i| Bytes::from(vec![i])));
        for i in 6..8u8 {
            f.publish(Bytes::from(vec![i]));
        }
        assert_eq!(rx.try_recv().unwrap(), Bytes::from(vec![4, 5, 6, 7]));
        assert!(rx.try_recv().is_err());
        // The node's own consumers still get every chunk by itself.
        for i in 0..8u8 {
            assert_eq!(each.try_recv().unwrap(), Bytes::from(vec![i]));
        }
    }
}
