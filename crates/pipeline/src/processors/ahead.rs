//! Work started ahead of its use in a task of its own, what it sends buffered until it is read.
//!
//! A reply drafted before the turn is final (`draft.rs`) and a sentence voiced before its reply
//! asks for it (`tts.rs`) both start a provider's stream early. Dropped unread, the task is
//! aborted (the request with it); read, it runs for as long as its stream is read.

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A task sending items, and what it has sent so far.
#[derive(Debug)]
pub(crate) struct Ahead<T> {
    items: mpsc::UnboundedReceiver<T>,
    task: JoinHandle<()>,
}

impl<T> Drop for Ahead<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T: Send + 'static> Ahead<T> {
    /// Runs `work` now in its own task; what it sends is kept until read.
    pub(crate) fn spawn<F>(work: impl FnOnce(mpsc::UnboundedSender<T>) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, items) = mpsc::unbounded_channel();
        Self {
            items,
            task: tokio::spawn(work(tx)),
        }
    }

    /// What was sent and what is still coming; the task lives as long as the stream.
    pub(crate) fn into_stream(self) -> BoxStream<'static, T> {
        futures_util::stream::unfold(self, |mut ahead| async move {
            ahead.items.recv().await.map(|item| (item, ahead))
        })
        .boxed()
    }
}
