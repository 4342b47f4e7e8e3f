//! A processor's input queue.
//!
//! System frames first, and data and control frames dropped at an interruption.
//!
//! ## Concurrency
//! No lock: two unbounded channels (system, other) and an interruption epoch. A data or control
//! frame is stamped with the epoch when it is sent; sending an `Interruption` bumps the epoch
//! first, so every frame queued before it is stale and the receiver drops it unread.

use crate::frame::{Direction, Frame, SystemFrame};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

type Item = (Frame, Direction);

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct QueueSender {
    system: mpsc::UnboundedSender<Item>,
    other: mpsc::UnboundedSender<(u64, Item)>,
    epoch: Arc<AtomicU64>,
}

/// The receiving side, owned by one processor's task.
#[derive(Debug)]
pub(crate) struct QueueReceiver {
    system: mpsc::UnboundedReceiver<Item>,
    other: mpsc::UnboundedReceiver<(u64, Item)>,
    epoch: Arc<AtomicU64>,
}

pub(crate) fn queue() -> (QueueSender, QueueReceiver) {
    let (system_tx, system_rx) = mpsc::unbounded_channel();
    let (other_tx, other_rx) = mpsc::unbounded_channel();
    let epoch = Arc::new(AtomicU64::new(0));
    (
        QueueSender {
            system: system_tx,
            other: other_tx,
            epoch: epoch.clone(),
        },
        QueueReceiver {
            system: system_rx,
            other: other_rx,
            epoch,
        },
    )
}

/// Whether a frame makes the receiver drop its queue and cancel its work.
pub(crate) fn interrupts(frame: &Frame) -> bool {
    matches!(
        frame,
        Frame::System(SystemFrame::Interruption | SystemFrame::Cancel(_))
    )
}

impl QueueSender {
    /// Queues a frame; a closed receiver (a finished processor) drops it.
    pub(crate) fn send(&self, frame: Frame, direction: Direction) {
        if frame.is_system() {
            if interrupts(&frame) {
                self.epoch.fetch_add(1, Ordering::SeqCst);
            }
            let _ = self.system.send((frame, direction));
        } else {
            let stamp = self.epoch.load(Ordering::SeqCst);
            let _ = self.other.send((stamp, (frame, direction)));
        }
    }
}

impl QueueReceiver {
    /// The next frame: any system frame first, then the oldest data or control frame that is not
    /// stale. `None` when every sender is gone.
    pub(crate) async fn recv(&mut self) -> Option<Item> {
        loop {
            tokio::select! {
                biased;
                Some(item) = self.system.recv() => return Some(item),
                Some((stamp, item)) = self.other.recv() => {
                    if stamp == self.epoch.load(Ordering::SeqCst) {
                        return Some(item);
                    }
                }
                else => return None,
            }
        }
    }

    /// The next system frame only (used while a `process` call runs).
    pub(crate) async fn recv_system(&mut self) -> Option<Item> {
        self.system.recv().await
    }
}
