//! loom models of `ArrayQueue`: no value lost or duplicated, order kept, the full and
//! empty verdicts at capacities 1 and 2, and `force_push` racing `pop`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use weft_lockfree::ArrayQueue;

/// Pops everything left, front to back.
fn drain(queue: &ArrayQueue<u32>) -> Vec<u32> {
    std::iter::from_fn(|| queue.pop()).collect()
}

#[test]
fn capacity_one_two_producers_one_wins() {
    loom::model(|| {
        let queue = Arc::new(ArrayQueue::new(1));
        let q = Arc::clone(&queue);
        let other = thread::spawn(move || q.push(1));
        let mine = queue.push(2);
        let theirs = other.join().unwrap();
        // With nobody popping, exactly one push finds room.
        match (mine, theirs) {
            (Ok(()), Err(1)) => assert_eq!(drain(&queue), [2]),
            (Err(2), Ok(())) => assert_eq!(drain(&queue), [1]),
            outcome => panic!("both or neither pushed: {outcome:?}"),
        }
        assert!(queue.is_empty());
    });
}

#[test]
fn capacity_one_push_pop_hand_off() {
    loom::model(|| {
        let queue = Arc::new(ArrayQueue::new(1));
        let q = Arc::clone(&queue);
        // The consumer is a spawned thread: with it on the main thread, loom 0.7
        // explored a single interleaving of this model (seen with `LOOM_LOG=info`)
        // and missed a Release weakened to Relaxed. The cause is not pinned down (a
        // guess: loom orders SeqCst operations by execution order, so its DPOR sees
        // some conflicts as causally ordered); each model's role order here was
        // picked by checking its iteration count.
        let consumer = thread::spawn(move || (0..2).filter_map(|_| q.pop()).collect::<Vec<u32>>());
        let first = queue.push(1);
        let second = queue.push(2);
        let popped = consumer.join().unwrap();
        assert_eq!(first, Ok(()), "the queue started empty");
        let mut all = popped;
        all.extend(drain(&queue));
        match second {
            // The second push found room: both values arrive, in order.
            Ok(()) => assert_eq!(all, [1, 2]),
            // The queue was full (1 not yet popped): only 1 ever entered.
            Err(2) => assert_eq!(all, [1]),
            Err(other) => panic!("push gave back {other}"),
        }
    });
}

#[test]
fn capacity_two_consumers_race() {
    loom::model(|| {
        let queue = Arc::new(ArrayQueue::new(2));
        queue.push(1).unwrap();
        queue.push(2).unwrap();
        assert!(queue.is_full());
        assert_eq!(queue.push(3), Err(3));
        let q = Arc::clone(&queue);
        let consumer = thread::spawn(move || q.pop());
        let mine = queue.pop();
        let theirs = consumer.join().unwrap();
        let mut both = [mine.unwrap(), theirs.unwrap()];
        both.sort_unstable();
        assert_eq!(both, [1, 2]);
        assert_eq!(queue.pop(), None);
    });
}

#[test]
fn capacity_two_producer_and_consumer_wrap() {
    loom::model(|| {
        let queue = Arc::new(ArrayQueue::new(2));
        queue.push(0).unwrap();
        let q = Arc::clone(&queue);
        // The second push lands in slot 0 of the next lap if the pop got there first.
        // (This way round loom explores 20 interleavings; with the roles swapped, 1.)
        let producer = thread::spawn(move || (q.push(1), q.push(2)));
        let popped = queue.pop();
        let (first, second) = producer.join().unwrap();
        assert_eq!(popped, Some(0), "0 was queued before the race");
        assert_eq!(first, Ok(()));
        let rest = drain(&queue);
        match second {
            Ok(()) => assert_eq!(rest, [1, 2]),
            Err(2) => assert_eq!(rest, [1]),
            Err(other) => panic!("push gave back {other}"),
        }
    });
}

#[test]
fn force_push_races_pop() {
    loom::model(|| {
        let queue = Arc::new(ArrayQueue::new(1));
        queue.push(1).unwrap();
        let q = Arc::clone(&queue);
        let forcer = thread::spawn(move || q.force_push(2));
        let popped = queue.pop();
        let evicted = forcer.join().unwrap();
        let left = drain(&queue);
        // Every value ends up in exactly one place, and 2 is never evicted nor lost.
        let mut all: Vec<u32> = popped.into_iter().chain(evicted).chain(left).collect();
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
        assert_ne!(evicted, Some(2));
    });
}

#[test]
fn force_push_races_force_push() {
    loom::model(|| {
        let queue = Arc::new(ArrayQueue::new(1));
        queue.push(1).unwrap();
        let q = Arc::clone(&queue);
        let other = thread::spawn(move || q.force_push(2));
        let mine = queue.force_push(3);
        let theirs = other.join().unwrap();
        let left = drain(&queue);
        assert_eq!(left.len(), 1, "a full queue stays full");
        let mut all: Vec<u32> = mine.into_iter().chain(theirs).chain(left).collect();
        all.sort_unstable();
        assert_eq!(all, [1, 2, 3]);
    });
}

#[test]
fn capacity_two_two_producers_one_consumer() {
    loom::model(|| {
        let queue = Arc::new(ArrayQueue::new(2));
        let (q1, q2) = (Arc::clone(&queue), Arc::clone(&queue));
        let producer = thread::spawn(move || q1.push(1));
        let consumer = thread::spawn(move || q2.pop());
        assert_eq!(queue.push(2), Ok(()), "two pushes fit in capacity 2");
        assert_eq!(producer.join().unwrap(), Ok(()));
        let popped = consumer.join().unwrap();
        let mut all: Vec<u32> = popped.into_iter().chain(drain(&queue)).collect();
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
    });
}
