//! SQS's size limits as wfm-relay applies them before a call, and the pure split of a
//! SendMessageBatch into calls that fit.
//!
//! Facts (Amazon SQS API Reference, SendMessageBatch and SetQueueAttributes; FACTS.md §7.1):
//! a SendMessageBatch carries at most 10 entries, and the sum of its messages' sizes (body plus
//! every attribute's name, type and value, in UTF-8 bytes) is at most 1,048,576 bytes, or SQS
//! refuses the whole call with `BatchRequestTooLong`. A queue's `MaximumMessageSize` is between
//! 1,024 and 1,048,576 bytes; it is read from each queue, never assumed.

use std::ops::Range;

/// Most entries in one SendMessageBatch (and DeleteMessageBatch, ChangeMessageVisibilityBatch).
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Most bytes in one SendMessageBatch, all its messages together: 1 MiB.
pub const MAX_BATCH_BYTES: usize = 1_048_576;

/// The smallest `MaximumMessageSize` a queue can have: 1,024 bytes. Every queue accepts a
/// message of this size, so it is the bound used while a queue's own limit cannot be read.
pub const MIN_MESSAGE_BYTES: usize = 1_024;

/// Splits messages of the given sizes (bytes), in order, into consecutive calls of at most
/// [`MAX_BATCH_ENTRIES`] entries and [`MAX_BATCH_BYTES`] bytes in total. A message larger than
/// [`MAX_BATCH_BYTES`] on its own gets a call of its own (SQS refuses it; the caller reports it
/// failed). Returns index ranges into `sizes`; together they cover every index once.
pub fn batch_ranges(sizes: &[usize]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut total = 0usize;
    for (i, &size) in sizes.iter().enumerate() {
        let full = i - start == MAX_BATCH_ENTRIES || total.saturating_add(size) > MAX_BATCH_BYTES;
        if i > start && full {
            out.push(start..i);
            start = i;
            total = 0;
        }
        total = total.saturating_add(size);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_small_entries_per_call() {
        assert_eq!(batch_ranges(&[]), Vec::<Range<usize>>::new());
        assert_eq!(batch_ranges(&[5; 3]), vec![(0..3)]);
        assert_eq!(batch_ranges(&[5; 10]), vec![(0..10)]);
        assert_eq!(batch_ranges(&[5; 23]), [0..10, 10..20, 20..23]);
    }

    #[test]
    fn large_entries_split_at_one_mib_in_total() {
        // Case C23's sizes, wrapped in an envelope: 250 KB, 900 KB and 1,000,000 bytes.
        let sizes = [
            250_900, 900_800, 1_000_900, 250_900, 250_900, 250_900, 250_900,
        ];
        assert_eq!(batch_ranges(&sizes), [0..1, 1..2, 2..3, 3..7]);
        // Exactly 1 MiB together fits; one byte more does not.
        assert_eq!(batch_ranges(&[524_288, 524_288]), vec![(0..2)]);
        assert_eq!(batch_ranges(&[524_288, 524_289]), [0..1, 1..2]);
        // A message over 1 MiB alone is a call of its own, and the others are not held back.
        assert_eq!(
            batch_ranges(&[10, MAX_BATCH_BYTES + 1, 10]),
            [0..1, 1..2, 2..3]
        );
        for r in batch_ranges(&sizes) {
            let total: usize = sizes[r.clone()].iter().sum();
            assert!(r.len() == 1 || total <= MAX_BATCH_BYTES, "{r:?}: {total}");
        }
    }
}
