//! The node's long-running tasks, named and watched: each runs in an `info` span that
//! carries its name, logs how it ended, and a panic in one is never lost.
//!
//! A task that panics is a bug, and the state it shared with the others may be left half
//! changed. So the node does not restart the task inside a process it can no longer trust:
//! the panic is logged at error level and counted ([`panics`], printed by `/metrics` as
//! `streamp2p_task_panics_total`), `node::run` stops every service and returns an error,
//! and the process exits non-zero; systemd (`Restart=always`) then starts a fresh one, the
//! same path as after a power cut, which the node is built to survive.
//!
//! A task may keep its own [`Tasks`] of workers and wait on them with [`Tasks::join_all`]:
//! a worker's panic is raised again in the task that owns it, and so reaches the node,
//! logged and counted once. Short-lived per-connection tasks are not kept here: they get
//! a span where they are spawned, and a panic in one ends that connection only.

use std::{
    any::Any,
    collections::HashMap,
    future::Future,
    panic::AssertUnwindSafe,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures::FutureExt;
use tokio::task::{Id, JoinSet};
use tracing::Instrument;

/// Task panics since the process started.
static PANICS: AtomicU64 = AtomicU64::new(0);

/// Task panics since the process started, for `/metrics`.
pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// A task that panicked: the node stops on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task {name} panicked: {message}")]
pub struct TaskPanicked {
    pub name: &'static str,
    pub message: String,
}

/// What a task's future returns, and how its end is logged (in the task's span).
pub trait Outcome {
    fn log(self);
}

impl Outcome for () {
    fn log(self) {
        tracing::info!("task ended");
    }
}

impl<E: std::fmt::Display> Outcome for Result<(), E> {
    fn log(self) {
        match self {
            Ok(()) => tracing::info!("task ended"),
            Err(e) => tracing::error!("task failed: {e}"),
        }
    }
}

/// A set of named tasks (a `JoinSet` that knows their names).
#[derive(Default)]
pub struct Tasks {
    set: JoinSet<Result<(), TaskPanicked>>,
    /// The names of the tasks not joined yet.
    names: HashMap<Id, &'static str>,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` in a span named after it. A panic is caught at the task's edge, logged
    /// and counted there, at once, and reported by [`Tasks::first_panic`] or [`Tasks::stop`].
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future + Send + 'static,
        F::Output: Outcome,
    {
        let span = tracing::info_span!("task", name);
        // Unwind safety: after a panic nothing the task touched is used again, since the
        // node stops (see the module's comment).
        let caught = async move {
            match AssertUnwindSafe(task).catch_unwind().await {
                Ok(outcome) => {
                    outcome.log();
                    Ok(())
                }
                // A worker's panic, raised again by `join_all`: logged and counted already.
                Err(panic) => Err(match panic.downcast::<TaskPanicked>() {
                    Ok(worker) => *worker,
                    Err(panic) => {
                        PANICS.fetch_add(1, Ordering::Relaxed);
                        let message = panic_message(panic.as_ref());
                        tracing::error!("task panicked: {message}");
                        TaskPanicked { name, message }
                    }
                }),
            }
        };
        let handle = self.set.spawn(caught.instrument(span));
        self.names.insert(handle.id(), name);
    }

    /// Waits for the first task that panics, reaping the others as they end. Never returns
    /// when none panics, even once all have ended, so it can race the node's other ends.
    pub async fn first_panic(&mut self) -> TaskPanicked {
        while let Some(joined) = self.join_next().await {
            if let Err(p) = joined {
                return p;
            }
        }
        std::future::pending().await
    }

    /// Waits for every task to end. A panic in one is raised again here at once (the
    /// others are aborted), so that the task owning this set ends the same way.
    pub async fn join_all(mut self) {
        while let Some(joined) = self.join_next().await {
            if let Err(p) = joined {
                std::panic::resume_unwind(Box::new(p));
            }
        }
    }

    /// Waits up to `within` for every task to end (shutdown has been asked); those still
    /// running are named in a warning and aborted. Returns the first panic seen.
    pub async fn stop(mut self, within: Duration) -> Option<TaskPanicked> {
        let mut panicked = None;
        let all = async {
            while let Some(joined) = self.join_next().await {
                if let Err(p) = joined {
                    panicked.get_or_insert(p);
                }
            }
        };
        if tokio::time::timeout(within, all).await.is_err() {
            let mut left: Vec<_> = self.names.values().copied().collect();
            left.sort_unstable();
            tracing::warn!(tasks = ?left, "some tasks did not stop in time");
            self.set.abort_all();
        }
        panicked
    }

    async fn join_next(&mut self) -> Option<Result<(), TaskPanicked>> {
        let joined = self.set.join_next_with_id().await?;
        Some(match joined {
            Ok((id, ended)) => {
                self.names.remove(&id);
                ended
            }
            // Panics are caught inside the task, so this is a task aborted from outside,
            // which only `stop` does, after its wait.
            Err(e) => {
                let name = self.names.remove(&e.id()).unwrap_or("unknown");
                tracing::debug!(task = name, "task aborted");
                Ok(())
            }
        })
    }
}

/// The text a panic was raised with (`panic!` gives a `&str` or a `String`).
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::capture_logs;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// A task that panics with `payload` (as `panic!` does: a `String` or a `&str`).
    async fn panicking<P: Any + Send>(payload: P) {
        tokio::task::yield_now().await;
        std::panic::panic_any(payload)
    }

    #[test]
    fn a_panicking_task_is_logged_counted_and_reported() {
        let (panicked, logs) = capture_logs(|| {
            runtime().block_on(async {
                let mut tasks = Tasks::new();
                tasks.spawn("quiet", async {});
                tasks.spawn("broken", panicking(format!("boom {}", 42)));
                let before = panics();
                let p = tasks.first_panic().await;
                assert!(panics() > before);
                p
            })
        });
        assert_eq!(
            panicked,
            TaskPanicked {
                name: "broken",
                message: "boom 42".into()
            }
        );
        let line = logs.lines().find(|l| l.contains("panicked")).unwrap_or("");
        assert!(line.contains("ERROR"), "{logs}");
        assert!(line.contains("name=\"broken\""), "{logs}");
        assert!(
            logs.contains("name=\"quiet\"}: streamp2p::system::tasks: task ended"),
            "{logs}"
        );
    }

    #[test]
    fn a_worker_panic_reaches_the_owner_once() {
        let (panicked, logs) = capture_logs(|| {
            runtime().block_on(async {
                let mut tasks = Tasks::new();
                tasks.spawn("owner", async {
                    let mut workers = Tasks::new();
                    workers.spawn("worker", panicking("worker broke"));
                    workers.spawn("idle", std::future::pending::<()>());
                    workers.join_all().await;
                });
                tasks.first_panic().await
            })
        });
        assert_eq!(panicked.name, "worker");
        assert_eq!(panicked.message, "worker broke");
        assert_eq!(logs.matches("panicked").count(), 1, "{logs}");
        assert!(
            logs.contains("task{name=\"owner\"}:task{name=\"worker\"}"),
            "{logs}"
        );
    }

    #[test]
    fn errors_are_logged_and_stop_names_the_late_ones() {
        let (panicked, logs) = capture_logs(|| {
            runtime().block_on(async {
                let mut tasks = Tasks::new();
                tasks.spawn("failing", async { Err::<(), _>("disk full") });
                tasks.spawn("stuck", std::future::pending::<()>());
                tasks.stop(Duration::from_millis(50)).await
            })
        });
        assert_eq!(panicked, None);
        assert!(logs.contains("task failed: disk full"), "{logs}");
        assert!(
            logs.contains("did not stop in time tasks=[\"stuck\"]"),
            "{logs}"
        );
    }
}
