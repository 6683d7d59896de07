//! The cases, each written once for both transports.

use std::collections::{BTreeMap, HashSet};

use marquee_bus::{Transport, dead_letter_header};
use marquee_events::topics;
use tokio_util::sync::CancellationToken;

use crate::harness::{OwnBroker, Recorder, TestBus, consume_on, eventually, group, record};

pub async fn order_is_kept_per_key(test: TestBus) {
    let topic = test.topic(3).await;
    for n in 0..50 {
        for key in ["alpha", "beta", "gamma", "delta"] {
            test.bus
                .publish(record(&topic, key, &format!("{key}-{n}")))
                .await
                .unwrap();
        }
    }
    let recorder = Recorder::default();
    let (stop, task) = test.consume(&group(), &topic, recorder.clone());
    eventually("all 200 messages are handled", || recorder.count() >= 200).await;
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

pub async fn a_restarted_consumer_loses_nothing_and_repeats_only_the_unfinished(test: TestBus) {
    let topic = test.topic(1).await;
    let group = group();
    for n in 0..20 {
        test.bus
            .publish(record(&topic, "film", &n.to_string()))
            .await
            .unwrap();
    }

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
    eventually("the rest is handled", || second.count() >= 10).await;
    stop.cancel();
    task.await.unwrap();
    let expected_second: Vec<String> = (10..20).map(|n| n.to_string()).collect();
    assert_eq!(second.payloads(), expected_second);
}

pub async fn a_poison_message_is_dead_lettered_while_the_rest_flows(test: TestBus) {
    let topic = test.topic(1).await;
    for payload in ["first", "poison", "last"] {
        test.bus
            .publish(record(&topic, "k", payload))
            .await
            .unwrap();
    }
    let group = group();
    let recorder = Recorder::poisoned_by("poison");
    let (stop, task) = test.consume(&group, &topic, recorder.clone());
    eventually("the good messages are handled", || recorder.count() >= 2).await;
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
    assert_eq!(
        letter.header(dead_letter_header::GROUP),
        Some(group.as_str())
    );
    assert_eq!(letter.header(dead_letter_header::PARTITION), Some("0"));
    assert_eq!(letter.header(dead_letter_header::ATTEMPTS), Some("1"));
    assert!(letter.header(dead_letter_header::OFFSET).is_some());
    assert_eq!(
        letter.header(dead_letter_header::REASON),
        Some("poison message: cannot decode poison")
    );
}

pub async fn a_message_failing_every_attempt_is_dead_lettered(test: TestBus) {
    let topic = test.topic(1).await;
    for payload in ["before", "stuck", "after"] {
        test.bus
            .publish(record(&topic, "k", payload))
            .await
            .unwrap();
    }
    let recorder = Recorder::always_failing_on("stuck");
    let (stop, task) = test.consume(&group(), &topic, recorder.clone());
    eventually("the others are handled", || recorder.count() >= 2).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(recorder.payloads(), ["before", "after"]);

    let dead = dead_letters_from(&test, &topic, 1).await;
    assert_eq!(dead[0].payload, b"stuck");
    assert_eq!(dead[0].header(dead_letter_header::ATTEMPTS), Some("3"));
    assert_eq!(
        dead[0].header(dead_letter_header::REASON),
        Some("transient failure: database is down")
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
    let mut published = 0;
    while a.count() == 0 || b.count() == 0 {
        assert!(published < 5_000, "one consumer never got a partition");
        for _ in 0..50 {
            test.bus
                .publish(record(
                    &topic,
                    &format!("key-{published}"),
                    &published.to_string(),
                ))
                .await
                .unwrap();
            published += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let total = published;
    eventually("every message is handled", || {
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
            for n in 0..10 {
                test.bus
                    .publish(record(&topic, &n.to_string(), &n.to_string()))
                    .await
                    .unwrap();
            }
            let group = group();
            let before = Recorder::default();
            let (stop, task) = test.consume(&group, &topic, before.clone());
            eventually("the first ten are handled", || before.count() == 10).await;
            stop.cancel();
            task.await.unwrap();

            // A new process on the same file: the log and the group's offsets are there.
            let reopened = test.reopen().await;
            for n in 10..20 {
                reopened
                    .publish(record(&topic, &n.to_string(), &n.to_string()))
                    .await
                    .unwrap();
            }
            let after = Recorder::default();
            let (stop, task) = consume_on(&reopened, &group, &topic, after.clone());
            eventually("the next ten are handled", || after.count() == 10).await;
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
            let mut broker = OwnBroker::start();
            let test = TestBus::kafka_at(&broker.address).await;
            let topic = test.topic(1).await;
            for n in 0..10 {
                test.bus
                    .publish(record(&topic, "k", &n.to_string()))
                    .await
                    .unwrap();
            }
            broker.kill();
            // Published while the broker is down: librdkafka holds it until
            // the broker is back, and the delivery report then confirms it.
            let bus = test.bus.clone();
            let pending = {
                let topic = topic.clone();
                tokio::spawn(async move {
                    for n in 10..20 {
                        bus.publish(record(&topic, "k", &n.to_string()))
                            .await
                            .unwrap();
                    }
                })
            };
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            broker.restart();
            pending.await.unwrap();

            let recorder = Recorder::default();
            let (stop, task) = test.consume(&group(), &topic, recorder.clone());
            eventually("all twenty are handled", || recorder.count() >= 20).await;
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
    eventually("the dead letter arrives", || {
        from_topic(&recorder).len() >= count
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    from_topic(&recorder)
}
