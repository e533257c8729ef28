//! Running one function over many items on a few threads, results kept in item order: how both
//! clients resolve and download several packages at once (`--jobs`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `items.iter().map(f)`, on at most `jobs` threads (each takes the next item when it is free),
/// returned in the order of `items`.
pub fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    if let Ok(mut slots) = slots.lock() {
                        slots[i] = Some(result);
                    }
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_item_order_whatever_the_thread_count() {
        let items: Vec<u32> = (0..50).collect();
        for jobs in [1, 3, 64] {
            let doubled = map_in_order(&items, jobs, |n| n * 2);
            assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        }
        assert!(map_in_order(&[] as &[u32], 4, |n| *n).is_empty());
    }

    #[test]
    fn runs_items_at_the_same_time_when_jobs_allow() {
        // Two items that can only both finish if they run at once: each waits for the other.
        let barrier = std::sync::Barrier::new(2);
        let done = map_in_order(&[0, 1], 2, |_| barrier.wait().is_leader());
        assert_eq!(done.iter().filter(|leader| **leader).count(), 1);
    }
}
