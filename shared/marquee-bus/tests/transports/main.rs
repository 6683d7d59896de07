//! The bus's promises, checked on both transports with the same cases: the
//! embedded SQLite log, and Kafka against a real broker
//! (`TEST_KAFKA_BROKERS`, default 127.0.0.1:9092, started by the test
//! command).

#![allow(clippy::unwrap_used, missing_docs)]

mod cases;
mod harness;
mod retention;
mod upgrade;

use cases::*;
use harness::TestBus;
use retention::a_replay_restores_every_event_ever_published;

marquee_test_support::on_each!(
    [embedded = TestBus::embedded().await, kafka = TestBus::kafka().await]
    order_is_kept_per_key,
    publishes_sent_together_land_once_each_in_order_per_key,
    a_restarted_consumer_loses_nothing_and_repeats_only_the_unfinished,
    a_poison_message_is_dead_lettered_while_the_rest_flows,
    a_message_failing_every_attempt_is_dead_lettered,
    consumers_of_one_group_share_the_partitions,
    publishing_survives_a_restart_of_the_log_or_broker,
    history_reads_from_the_beginning_an_offset_or_a_time,
    replay_runs_a_handler_over_history_outside_any_group,
    replay_skips_poison_and_stops_where_a_handler_keeps_failing,
    lag_counts_what_a_group_has_not_finished,
    a_dead_letter_is_redriven_to_its_topic,
    a_replay_restores_every_event_ever_published,
);
