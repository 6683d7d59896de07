//! The cases, each written once for both transports.

use std::collections::{BTreeMap, HashSet};

use marquee_bus::{DeadLetter, Position, Transport, dead_letter_header};
use marquee_events::topics;
use marquee_runtime::clock::{Clock as _, SystemClock};
use marquee_test_support::wait;
use tokio_util::sync::CancellationToken;

use crate::harness::{
    Recorder, TestBus, WAIT, consume_on, group, keyed, numbered, publish_all, record,
};

pub async fn order_is_kept_per_key(test: TestBus) {
    let topic = test.topic(3).await;
    let keys = ["alpha", "beta", "gamma", "delta"];
    test.publish_all(
        &topic,
        (0..50).flat_map(|n| keys.map(|key| (key, format!("{key}-{n}")))),
    )
    .await;
    let recorder = Recorder::default();
    let (stop, task) = test.consume(&group(), &topic, recorder.clone());
    wait::until_true("all 200 messages are handled", WAIT, || {
        recorder.count() >= 200
    })
    .await;
    stop.cancel();
    task.await.unwrap();

    let mut per_key: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for message in recorder.handled.lock().unwrap().iter() {
        let payload = String::from_utf8(message.payload.clone()).unwrap();
        let (key, n) = payload.split_once('-').unwrap();
        assert_eq!(message.key.as_deref(), Some(key));
        per_key
            .entry(key.to_owned())
            .or_default()
            .push(n.parse().unwrap());
    }
    assert_eq!(per_key.len(), 4);
    for (key, sequence) in per_key {
        assert_eq!(sequence, (0..50).collect::<Vec<_>>(), "order of key {key}");
    }
}

pub async fn publishes_sent_together_land_once_each_in_order_per_key(test: TestBus) {
    // More than one group commit and more than one consumer batch.
    const COUNT: u32 = 2_500;
    let topic = test.topic(3).await;
    let records = (0..COUNT)
        .map(|n| record(&topic, &format!("key-{}", n % 7), &n.to_string()))
        .collect();
    let outcomes = test.bus.publish_all(records).await;
    assert_eq!(outcomes.len(), COUNT as usize);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    let group = group();
    let recorder = Recorder::default();
    let (stop, task) = test.consume(&group, &topic, recorder.clone());
    wait::until_true("all of them are handled", WAIT, || {
        recorder.count() >= COUNT as usize
    })
    .await;
    stop.cancel();
    task.await.unwrap();

    let mut per_key: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for message in recorder.handled.lock().unwrap().iter() {
        let n: u32 = String::from_utf8(message.payload.clone())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(message.key, Some(format!("key-{}", n % 7)));
        per_key.entry(format!("key-{}", n % 7)).or_default().push(n);
    }
    for (key, sequence) in &per_key {
        let expected: Vec<u32> = (0..COUNT)
            .filter(|n| format!("key-{}", n % 7) == *key)
            .collect();
        assert_eq!(*sequence, expected, "order of key {key}");
    }
    assert_eq!(recorder.count(), COUNT as usize, "handled once each");
    // The group's offsets, stored per batch, cover everything it handled.
    for lag in test.bus.lag(&group, &[&topic]).await.unwrap() {
        assert_eq!(lag.lag, 0, "{lag:?}");
    }
}

pub async fn a_restarted_consumer_loses_nothing_and_repeats_only_the_unfinished(test: TestBus) {
    let topic = test.topic(1).await;
    let group = group();
    test.publish_all(&topic, numbered(0..20, |_| "film")).await;

    // The first consumer goes down while handling message 10.
    let crash = CancellationToken::new();
    let first = Recorder::crashing_at("10", crash.clone());
    let mut subscription = marquee_bus::Subscription::new(group.clone(), &[&topic]);
    // Long enough that the crash, not a retry, decides what happens next.
    subscription.retry.initial_backoff = std::time::Duration::from_secs(60);
    let task = tokio::spawn({
        let (bus, handler, shutdown) = (test.bus.clone(), first.clone(), crash.clone());
        async move { bus.consume(subscription, handler, shutdown).await.unwrap() }
    });
    task.await.unwrap();
    let expected_first: Vec<String> = (0..10).map(|n| n.to_string()).collect();
    assert_eq!(first.payloads(), expected_first);

    // A restarted consumer of the same group resumes at the unfinished one.
    let second = Recorder::default();
    let (stop, task) = consume_on(&test.reopen().await, &group, &topic, second.clone());
    wait::until_true("the rest is handled", WAIT, || second.count() >= 10).await;
    stop.cancel();
    task.await.unwrap();
    let expected_second: Vec<String> = (10..20).map(|n| n.to_string()).collect();
    assert_eq!(second.payloads(), expected_second);
}

pub async fn a_poison_message_is_dead_lettered_while_the_rest_flows(test: TestBus) {
    let topic = test.topic(1).await;
    test.publish_all(&topic, keyed("k", &["first", "poison", "last"]))
        .await;
    let group = group();
    let recorder = Recorder::poisoned_by("poison");
    let (stop, task) = test.consume(&group, &topic, recorder.clone());
    wait::until_true("the good messages are handled", WAIT, || {
        recorder.count() >= 2
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(recorder.payloads(), ["first", "last"]);

    let dead = dead_letters_from(&test, &topic, 1).await;
    let letter = &dead[0];
    assert_eq!(letter.payload, b"poison");
    assert_eq!(
        letter.header("test"),
        Some("yes"),
        "original headers are kept"
    );
    let poison_at = first_ten(&test, &topic).await[1].offset;
    assert_eq!(
        DeadLetter::of(letter),
        Some(DeadLetter {
            reason: "poison message: cannot decode poison".to_owned(),
            topic: topic.clone(),
            partition: 0,
            offset: poison_at,
            group: group.clone(),
            attempts: 1,
        })
    );
}

pub async fn a_message_failing_every_attempt_is_dead_lettered(test: TestBus) {
    let topic = test.topic(1).await;
    test.publish_all(&topic, keyed("k", &["before", "stuck", "after"]))
        .await;
    let recorder = Recorder::always_failing_on("stuck");
    let (stop, task) = test.consume(&group(), &topic, recorder.clone());
    wait::until_true("the others are handled", WAIT, || recorder.count() >= 2).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(recorder.payloads(), ["before", "after"]);

    let dead = dead_letters_from(&test, &topic, 1).await;
    assert_eq!(dead[0].payload, b"stuck");
    let why = DeadLetter::of(&dead[0]).unwrap();
    assert_eq!(
        (why.attempts, why.reason.as_str()),
        (3, "transient failure: database is down")
    );
}

pub async fn consumers_of_one_group_share_the_partitions(test: TestBus) {
    let topic = test.topic(4).await;
    let group = group();
    let (a, b) = (Recorder::default(), Recorder::default());
    let (stop_a, task_a) = test.consume(&group, &topic, a.clone());
    let (stop_b, task_b) = test.consume(&group, &topic, b.clone());

    // Publish in waves until both members have work: a Kafka group needs a
    // moment to rebalance onto its second member.
    let published = std::cell::Cell::new(0);
    wait::until("both consumers have a partition", WAIT, || async {
        if a.count() > 0 && b.count() > 0 {
            return Some(());
        }
        let from = published.get();
        publish_all(
            &test.bus,
            &topic,
            numbered(from..from + 50, |n| format!("key-{n}")),
        )
        .await;
        published.set(from + 50);
        None
    })
    .await;
    let total = published.get() as usize;
    wait::until_true("every message is handled", WAIT, || {
        let seen: HashSet<String> = a.payloads().into_iter().chain(b.payloads()).collect();
        seen.len() == total
    })
    .await;
    stop_a.cancel();
    stop_b.cancel();
    task_a.await.unwrap();
    task_b.await.unwrap();

    let partitions = |r: &Recorder| -> HashSet<i32> {
        r.handled
            .lock()
            .unwrap()
            .iter()
            .map(|m| m.partition)
            .collect()
    };
    let (pa, pb) = (partitions(&a), partitions(&b));
    assert!(!pa.is_empty() && !pb.is_empty());
    assert_eq!(pa.union(&pb).count(), 4, "all four partitions were read");
}

pub async fn publishing_survives_a_restart_of_the_log_or_broker(test: TestBus) {
    match test.settings.transport {
        Transport::Embedded => {
            let topic = test.topic(2).await;
            test.publish_all(&topic, numbered(0..10, |n| n.to_string()))
                .await;
            let group = group();
            let before = Recorder::default();
            let (stop, task) = test.consume(&group, &topic, before.clone());
            wait::until_true("the first ten are handled", WAIT, || before.count() == 10).await;
            stop.cancel();
            task.await.unwrap();

            // A new process on the same file: the log and the group's offsets are there.
            let reopened = test.reopen().await;
            publish_all(&reopened, &topic, numbered(10..20, |n| n.to_string())).await;
            let after = Recorder::default();
            let (stop, task) = consume_on(&reopened, &group, &topic, after.clone());
            wait::until_true("the next ten are handled", WAIT, || after.count() == 10).await;
            stop.cancel();
            task.await.unwrap();
            let mut payloads: Vec<u32> = after
                .payloads()
                .iter()
                .map(|p| p.parse().unwrap())
                .collect();
            payloads.sort_unstable();
            assert_eq!(payloads, (10..20).collect::<Vec<_>>());
        }
        Transport::Kafka => {
            let mut broker = marquee_test_support::DurableBroker::start();
            let test = TestBus::kafka_at(&broker.address).await;
            let topic = test.topic(1).await;
            test.publish_all(&topic, numbered(0..10, |_| "k")).await;
            broker.kill();
            // Published while the broker is down: librdkafka holds it until
            // the broker is back, and the delivery report then confirms it.
            let bus = test.bus.clone();
            let pending = {
                let topic = topic.clone();
                tokio::spawn(async move {
                    publish_all(&bus, &topic, numbered(10..20, |_| "k")).await;
                })
            };
            // Down for a while, as a crashed broker is: not a wait for work.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            broker.restart();
            pending.await.unwrap();

            let recorder = Recorder::default();
            let (stop, task) = test.consume(&group(), &topic, recorder.clone());
            wait::until_true("all twenty are handled", WAIT, || recorder.count() >= 20).await;
            stop.cancel();
            task.await.unwrap();
            let expected: Vec<String> = (0..20).map(|n| n.to_string()).collect();
            assert_eq!(recorder.payloads(), expected);
        }
    }
}

/// The first `count` dead letters that came from `topic`.
async fn dead_letters_from(test: &TestBus, topic: &str, count: usize) -> Vec<marquee_bus::Message> {
    let recorder = Recorder::default();
    let (stop, task) = test.consume(&group(), topics::DEAD_LETTERS, recorder.clone());
    let from_topic = |r: &Recorder| -> Vec<marquee_bus::Message> {
        r.handled
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.header(dead_letter_header::TOPIC) == Some(topic))
            .cloned()
            .collect()
    };
    let dead = wait::until_value(
        "the dead letters arrive",
        WAIT,
        || std::future::ready(from_topic(&recorder)),
        |dead| dead.len() >= count,
    )
    .await;
    stop.cancel();
    task.await.unwrap();
    dead
}

fn payload(message: &marquee_bus::Message) -> String {
    String::from_utf8(message.payload.clone()).unwrap()
}

pub async fn history_reads_from_the_beginning_an_offset_or_a_time(test: TestBus) {
    let topic = test.topic(2).await;
    let key = |n: u32| if n.is_multiple_of(2) { "a" } else { "b" };
    test.publish_all(&topic, numbered(0..5, key)).await;
    let cut = a_cut_after_what_is_published().await;
    test.publish_all(&topic, numbered(5..10, key)).await;

    let all = test
        .bus
        .read(&topic, Position::Beginning, 100)
        .await
        .unwrap();
    let mut payloads: Vec<String> = all.iter().map(|l| payload(&l.message)).collect();
    payloads.sort();
    assert_eq!(payloads, (0..10).map(|n| n.to_string()).collect::<Vec<_>>());
    for logged in &all {
        let n: u32 = payload(&logged.message).parse().unwrap();
        let at = logged.timestamp.expect("publish times are known");
        assert_eq!(
            at >= cut,
            n >= 5,
            "message {n} published at {at}, cut at {cut}"
        );
    }
    assert_eq!(
        test.bus
            .read(&topic, Position::Beginning, 3)
            .await
            .unwrap()
            .len(),
        3
    );

    let mut later: Vec<String> = test
        .bus
        .read(&topic, Position::Time(cut), 100)
        .await
        .unwrap()
        .iter()
        .map(|l| payload(&l.message))
        .collect();
    later.sort();
    assert_eq!(later, ["5", "6", "7", "8", "9"]);

    let seven = all.iter().find(|l| payload(&l.message) == "7").unwrap();
    let from = seven.message.offset;
    let read = test
        .bus
        .read(&topic, Position::Offset(from), 100)
        .await
        .unwrap();
    let expected: HashSet<String> = all
        .iter()
        .filter(|l| l.message.offset >= from)
        .map(|l| payload(&l.message))
        .collect();
    let got: HashSet<String> = read.iter().map(|l| payload(&l.message)).collect();
    assert!(got.contains("7"));
    assert_eq!(got, expected, "every partition read from offset {from}");
}

/// A time strictly after every message published so far and strictly
/// before any published once this returns: the next whole millisecond (logs
/// and brokers keep and compare milliseconds), after the clock passed it.
/// The bus stamps with the system clock; the broker, which may look up times
/// by when it stored a message (tansu does), stored all of it by the
/// delivery report, before this reads the clock.
async fn a_cut_after_what_is_published() -> chrono::DateTime<chrono::Utc> {
    let now = SystemClock.now();
    let cut = chrono::DateTime::from_timestamp_millis(now.timestamp_millis() + 1).unwrap();
    wait::until_true("the clock passes the cut", WAIT, || SystemClock.now() > cut).await;
    cut
}

pub async fn replay_runs_a_handler_over_history_outside_any_group(test: TestBus) {
    let topic = test.topic(2).await;
    let key = |n: u32| if n.is_multiple_of(2) { "even" } else { "odd" };
    test.publish_all(&topic, numbered(0..20, key)).await;
    let recorder = Recorder::default();
    let (replayed, last_progress) = replay_from_the_beginning(&test, &topic, &recorder).await;
    assert_eq!(replayed.unwrap(), 20);
    assert_eq!(last_progress, (20, 20));
    for key in ["even", "odd"] {
        let sequence: Vec<u32> = recorder
            .handled
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.key.as_deref() == Some(key))
            .map(|m| payload(m).parse().unwrap())
            .collect();
        let mut sorted = sequence.clone();
        sorted.sort_unstable();
        assert_eq!(sequence, sorted, "order of key {key}");
        assert_eq!(sequence.len(), 10);
    }

    // No group moved: a group's first consumer still gets everything.
    let group = group();
    let lag: i64 = test
        .bus
        .lag(&group, &[&topic])
        .await
        .unwrap()
        .iter()
        .map(|l| l.lag)
        .sum();
    assert_eq!(lag, 20);
    let consumer = Recorder::default();
    let (stop, task) = test.consume(&group, &topic, consumer.clone());
    wait::until_true("the group reads all 20", WAIT, || consumer.count() >= 20).await;
    stop.cancel();
    task.await.unwrap();
}

pub async fn replay_skips_poison_and_stops_where_a_handler_keeps_failing(test: TestBus) {
    let topic = test.topic(1).await;
    test.publish_all(&topic, keyed("k", &["0", "poison", "2", "broken", "4"]))
        .await;

    let skipping = Recorder::poisoned_by("poison");
    let (replayed, last_progress) = replay_from_the_beginning(&test, &topic, &skipping).await;
    assert_eq!(
        replayed.unwrap(),
        4,
        "the poison message is not counted as handled"
    );
    assert_eq!(skipping.payloads(), ["0", "2", "broken", "4"]);
    assert_eq!(last_progress, (5, 5), "skipped counts as done");

    let failing = Recorder::always_failing_on("broken");
    let (stopped, _) = replay_from_the_beginning(&test, &topic, &failing).await;
    let broken_at = first_ten(&test, &topic).await[3].offset;
    match stopped {
        Err(marquee_bus::BusError::Replay {
            topic: at_topic,
            offset,
            attempts,
            ..
        }) => {
            let policy = marquee_bus::RetryPolicy::default();
            assert_eq!(
                (at_topic, offset, attempts),
                (topic, broken_at, policy.max_attempts)
            );
        }
        other => panic!("expected the replay to stop at `broken`, got {other:?}"),
    }
    assert_eq!(
        failing.payloads(),
        ["0", "poison", "2"],
        "nothing after the failure"
    );
}

/// Replays `topic` from its beginning through `handler`: what the replay
/// returned, and the last `(done, total)` it reported.
async fn replay_from_the_beginning(
    test: &TestBus,
    topic: &str,
    handler: &Recorder,
) -> (Result<u64, marquee_bus::BusError>, (u64, u64)) {
    let last_progress = std::sync::Mutex::new((0, 0));
    let replayed = test
        .bus
        .replay(&[topic], Position::Beginning, handler, |done, total| {
            *last_progress.lock().unwrap() = (done, total);
        })
        .await;
    (replayed, last_progress.into_inner().unwrap())
}

pub async fn lag_counts_what_a_group_has_not_finished(test: TestBus) {
    let topic = test.topic(1).await;
    test.publish_all(&topic, numbered(0..6, |_| "k")).await;
    let group = group();
    let before = test.bus.lag(&group, &[&topic]).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!((before[0].committed, before[0].lag), (None, 6));
    assert_eq!(before[0].group, group);

    let recorder = Recorder::default();
    let (stop, task) = test.consume(&group, &topic, recorder.clone());
    wait::until_true("all 6 are handled", WAIT, || recorder.count() >= 6).await;
    stop.cancel();
    task.await.unwrap();
    let after = test.bus.lag(&group, &[&topic]).await.unwrap();
    assert_eq!(after[0].lag, 0, "{after:?}");
    assert_eq!(after[0].committed, Some(after[0].end));
}

pub async fn a_dead_letter_is_redriven_to_its_topic(test: TestBus) {
    let topic = test.topic(1).await;
    test.publish_all(&topic, keyed("k", &["poison"])).await;
    let consumers = group();
    let recorder = Recorder::poisoned_by("poison");
    let (stop, task) = test.consume(&consumers, &topic, recorder.clone());
    dead_letters_from(&test, &topic, 1).await;
    stop.cancel();
    task.await.unwrap();

    let dead = dead_letters_in_log(&test, &topic).await.remove(0);
    let redriven_to = test.bus.redrive(dead.partition, dead.offset).await.unwrap();
    assert_eq!(redriven_to, topic);

    let messages = first_ten(&test, &topic).await;
    assert_eq!(messages.len(), 2, "the original and the re-driven copy");
    let again = &messages[1];
    assert_eq!(again.payload, b"poison");
    assert_eq!(again.key.as_deref(), Some("k"));
    assert_eq!(again.header("test"), Some("yes"), "original headers kept");
    assert_redriven_from(again, &dead);

    // Still poison: the group dead-letters the copy, and re-driving that
    // names only the latest dead letter.
    let (stop, task) = test.consume(&consumers, &topic, recorder.clone());
    dead_letters_from(&test, &topic, 2).await;
    stop.cancel();
    task.await.unwrap();
    let dead_again = dead_letters_in_log(&test, &topic).await.remove(1);
    assert_eq!(
        dead_again.header(dead_letter_header::OFFSET),
        Some(again.offset.to_string().as_str())
    );
    test.bus
        .redrive(dead_again.partition, dead_again.offset)
        .await
        .unwrap();
    let third = first_ten(&test, &topic).await.remove(2);
    assert_redriven_from(&third, &dead_again);

    let missing = test
        .bus
        .redrive(dead.partition, dead.offset + 1_000_000)
        .await;
    assert!(
        matches!(missing, Err(marquee_bus::BusError::NotFound(_))),
        "{missing:?}"
    );
}

/// The first ten messages of `topic`'s history (all a case publishes).
async fn first_ten(test: &TestBus, topic: &str) -> Vec<marquee_bus::Message> {
    test.bus
        .read(topic, Position::Beginning, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|logged| logged.message)
        .collect()
}

/// The dead letters in the log that came from `topic`, oldest first.
async fn dead_letters_in_log(test: &TestBus, topic: &str) -> Vec<marquee_bus::Message> {
    test.bus
        .read(topics::DEAD_LETTERS, Position::Beginning, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|logged| logged.message)
        .filter(|m| m.header(dead_letter_header::TOPIC) == Some(topic))
        .collect()
}

/// `message` was re-driven from `dead`, and carries no other `dlq_` header.
fn assert_redriven_from(message: &marquee_bus::Message, dead: &marquee_bus::Message) {
    let dlq: Vec<&(String, String)> = message
        .headers
        .iter()
        .filter(|(name, _)| name.starts_with("dlq_"))
        .collect();
    let expected = format!("dead-letters/{}/{}", dead.partition, dead.offset);
    assert_eq!(
        dlq,
        [&(dead_letter_header::REDRIVEN_FROM.to_owned(), expected)],
        "only where it was re-driven from: {:?}",
        message.headers
    );
}
