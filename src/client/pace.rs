//! `--bwlimit`: one byte budget per second for the whole command, so files uploaded in parallel
//! share it, and the progress bars that count what went out.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use indicatif::ProgressBar;
use tokio::{sync::Mutex, time::Instant};

/// How much goes out at once, so a limit is kept smoothly rather than a chunk per second.
pub const PIECE: usize = 64 << 10;

pub struct Pace {
    bytes_per_sec: u64,
    /// When the next piece may go out.
    next: Mutex<Instant>,
}

impl Pace {
    pub fn new(bytes_per_sec: u64) -> Self {
        Self {
            bytes_per_sec: bytes_per_sec.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits until `n` more bytes fit the budget.
    async fn take(&self, n: usize) {
        let start = {
            let mut next = self.next.lock().await;
            let start = (*next).max(Instant::now());
            *next = start + Duration::from_secs_f64(n as f64 / self.bytes_per_sec as f64);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// `pieces` as they go out: kept to the pace, if any, and counted into `bars`.
pub fn paced<E>(
    pieces: impl Stream<Item = Result<Bytes, E>>,
    pace: Option<Arc<Pace>>,
    bars: [ProgressBar; 2],
) -> impl Stream<Item = Result<Bytes, E>> {
    pieces.then(move |piece| {
        let (pace, bars) = (pace.clone(), bars.clone());
        async move {
            if let (Ok(bytes), Some(pace)) = (&piece, &pace) {
                pace.take(bytes.len()).await;
            }
            if let Ok(bytes) = &piece {
                bars.iter().for_each(|b| b.inc(bytes.len() as u64));
            }
            piece
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_limit_spreads_the_bytes_over_time() {
        let pace = Arc::new(Pace::new(1 << 20));
        let pieces = futures_util::stream::iter(
            (0..32).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0; PIECE]))),
        );
        let bars = [ProgressBar::hidden(), ProgressBar::hidden()];
        let started = Instant::now();
        let sent: usize = paced(pieces, Some(pace), bars.clone())
            .map(|p| p.unwrap().len())
            .fold(0, |a, b| async move { a + b })
            .await;
        assert_eq!(sent, 2 << 20);
        assert_eq!(bars[0].position(), 2 << 20);
        // Two MiB at one MiB a second: the last piece leaves after 31 of them had their time.
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1930) && took < Duration::from_millis(2000),
            "{took:?}"
        );
    }
}
