use std::sync::{
    atomic::{AtomicU32, Ordering},
    Arc,
};

use super::*;
use crate::claimed::tests::{eventually, node};

/// Busy for its first `busy` rounds, then idle; its wait never ends on its own.
struct Counting {
    busy: u32,
    rounds: Arc<AtomicU32>,
    waits: Arc<AtomicU32>,
}

#[async_trait]
impl Worker for Counting {
    async fn work(&mut self, _: &App) -> Round {
        if self.rounds.fetch_add(1, Ordering::SeqCst) < self.busy {
            Round::Busy
        } else {
            Round::Idle
        }
    }

    async fn wait(&mut self, _: &App) {
        self.waits.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn busy_rounds_follow_each_other_and_shutdown_ends_a_wait() {
    let node = node(|_| {}).await;
    let (rounds, waits) = (Arc::default(), Arc::default());
    let worker = Counting {
        busy: 3,
        rounds: Arc::clone(&rounds),
        waits: Arc::clone(&waits),
    };
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(run(node.state.clone(), worker, shutdown));
    eventually(Duration::from_secs(5), "the worker waits", || async {
        waits.load(Ordering::SeqCst) == 1
    })
    .await;
    // Three busy rounds and the idle one, with no wait between them.
    assert_eq!(rounds.load(Ordering::SeqCst), 4);
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the worker did not stop while waiting")
        .unwrap();
    assert_eq!(rounds.load(Ordering::SeqCst), 4);
}
