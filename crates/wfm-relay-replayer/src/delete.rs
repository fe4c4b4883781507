//! Deleting letters from the DLQ honestly: only the entries SQS confirmed count as deleted
//! (DeleteMessageBatch answers per-entry `Failed` inside an HTTP 200, and an expired receipt
//! handle is `ReceiptHandleIsInvalid`; Amazon SQS API Reference, DeleteMessageBatch). An entry
//! that failed is tried once more at once, while the handle the replayer holds is still valid
//! (the scan receives with a visibility that outlasts the action, so only SQS itself can have
//! invalidated it); what still fails stays in the DLQ and its caller counts it
//! `delivered_not_deleted`.

use crate::Replayer;
use tracing::warn;
use wfm_relay_aws::queues::Received;

/// Splits `msgs` into those whose id is in `deleted` and the others, keeping their order.
fn split_deleted(msgs: Vec<Received>, deleted: &[String]) -> (Vec<Received>, Vec<Received>) {
    msgs.into_iter()
        .partition(|m| deleted.contains(&m.message_id))
}

impl Replayer {
    /// Deletes `msgs` from the DLQ, retrying the failed entries once. Returns how many SQS
    /// confirmed deleted and the messages that are still in the DLQ.
    pub(crate) async fn delete_confirmed(&self, msgs: Vec<Received>) -> (usize, Vec<Received>) {
        if msgs.is_empty() {
            return (0, msgs);
        }
        let dlq = self.queues.dlq();
        let refs: Vec<&Received> = msgs.iter().collect();
        let first = dlq.delete_batch(&refs).await;
        let (gone, failed) = split_deleted(msgs, &first);
        if failed.is_empty() {
            return (gone.len(), failed);
        }
        let refs: Vec<&Received> = failed.iter().collect();
        let second = dlq.delete_batch(&refs).await;
        let (gone_now, kept) = split_deleted(failed, &second);
        for m in &kept {
            warn!(message_id = %m.message_id, "delivered, not deleted from the DLQ (may replay again)");
        }
        (gone.len() + gone_now.len(), kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> Received {
        Received {
            message_id: id.into(),
            receipt_handle: format!("h-{id}"),
            body: String::new(),
            sent_at: None,
        }
    }

    #[test]
    fn only_confirmed_ids_count_as_deleted() {
        let (gone, kept) = split_deleted(
            vec![msg("a"), msg("b"), msg("c")],
            &["c".to_owned(), "a".to_owned(), "zz".to_owned()],
        );
        let ids = |v: &[Received]| v.iter().map(|m| m.message_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&gone), ["a", "c"]);
        assert_eq!(ids(&kept), ["b"], "an entry in neither list is not deleted");
    }
}
