"""Drives confluent-kafka-python (librdkafka) against a Gregor broker.

    /usr/bin/python3 confluent_compat.py BROKER PREFIX N CODECS DEADLINE_S

For each codec in the comma-separated CODECS it creates the topic
PREFIX-CODEC (3 partitions) with the AdminClient (which also creates,
grows, alters, describes and deletes PREFIX-admin, see admin_round_trip), produces N records with
keys and headers, one producer per codec, then reads every partition of
every topic from the beginning with one Consumer that uses assign (no
consumer group: Gregor has none yet; the binding insists on a group.id,
which is never joined because nothing subscribes or commits). It prints one
JSON object on stdout; keys, values and header values are base64 (null
stays null). compat_test.go checks it.

The consume loop stops when every record has arrived and every partition
has reported end of partition, when DEADLINE_S passes, or when all records
have arrived and librdkafka has logged an error (an end of partition can
then never come); the logged errors are in "logs".
"""

import base64
import json
import logging
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, Producer,
                             TopicPartition)
from confluent_kafka import version as binding_version
from confluent_kafka import libversion
from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions,
                                   NewTopic)

PARTITIONS = 3


def b64(b):
    return None if b is None else base64.b64encode(b).decode()


def record(msg):
    return {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": b64(msg.key()),
        "value": b64(msg.value()),
        "headers": [{"key": k, "value": b64(v)} for k, v in (msg.headers() or [])],
    }


def payload(codec, i):
    """The i-th record: null key, empty and null values, binary bytes,
    long compressible text and duplicate header keys all occur."""
    key = None if i % 10 == 0 else ("key-%s-%d" % (codec, i)).encode()
    if i % 10 == 1:
        value = None
    elif i % 10 == 2:
        value = b""
    elif i % 10 == 3:
        value = bytes(range(256))
    else:
        value = (("value-%s-%d " % (codec, i)) * (1 + i % 37)).encode()
    headers = [("seq", str(i).encode()), ("codec", codec.encode()), ("dup", b"a"), ("dup", b"b")]
    if i % 5 == 4:
        headers.append(("nullhdr", None))
    return key, value, headers


def code(fut):
    """The Kafka error code a failed admin future holds, 0 if none."""
    err = fut.exception(timeout=20)
    return 0 if err is None else err.args[0].code()


def admin_round_trip(admin, topic, existing):
    """Creates topic with a config, grows it, alters and describes its
    config, deletes it; tries to create existing and delete a missing one;
    describes broker 1's configs."""
    out = {}
    out["create"] = code(admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config={"retention.ms": "1000"})])[topic])
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    e = admin.describe_configs([res])[res].result(timeout=10)["retention.ms"]
    out["created_config"] = [e.value, int(e.source)]
    out["create_existing"] = code(admin.create_topics([NewTopic(existing, num_partitions=1, replication_factor=1)])[existing])
    out["create_partitions"] = code(admin.create_partitions([NewPartitions(topic, 3)])[topic])
    out["partitions_after"] = len(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    alter = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"retention.ms": "2000"})
    out["alter"] = code(admin.alter_configs([alter])[alter])
    out["altered_config"] = admin.describe_configs([res])[res].result(timeout=10)["retention.ms"].value
    broker = ConfigResource(ConfigResource.Type.BROKER, "1")
    cfg = admin.describe_configs([broker])[broker].result(timeout=10)
    out["broker_configs"] = {k: cfg[k].value for k in ("num.partitions", "log.retention.hours", "auto.create.topics.enable") if k in cfg}
    out["delete"] = code(admin.delete_topics([topic], operation_timeout=10)[topic])
    out["listed_after_delete"] = topic in admin.list_topics(timeout=10).topics
    out["delete_missing"] = code(admin.delete_topics([topic + "-missing"], operation_timeout=10)[topic + "-missing"])
    return out


class Collect(logging.Handler):
    """Keeps librdkafka's warnings and errors for the JSON output."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, rec):
        self.lines.append(rec.getMessage())
        sys.stderr.write(rec.getMessage() + "\n")


def main():
    broker, prefix, n, codecs, deadline_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(","), float(sys.argv[5])
    out = {"version": binding_version()[0], "librdkafka": libversion()[0]}
    topics = ["%s-%s" % (prefix, c) for c in codecs]

    admin = AdminClient({"bootstrap.servers": broker})
    futs = admin.create_topics([NewTopic(t, num_partitions=PARTITIONS, replication_factor=1) for t in topics], operation_timeout=10)
    for t, f in futs.items():
        f.result(timeout=20)  # raises on error

    md = admin.list_topics(timeout=10)
    out["cluster_id"] = md.cluster_id
    out["controller_id"] = md.controller_id
    out["brokers"] = {str(b.id): "%s:%d" % (b.host, b.port) for b in md.brokers.values()}
    out["topics"] = {
        t: sorted(
            [{"partition": p.id, "leader": p.leader, "replicas": list(p.replicas), "isrs": list(p.isrs),
              "error": None if p.error is None else str(p.error)} for p in m.partitions.values()],
            key=lambda x: x["partition"],
        )
        for t, m in md.topics.items()
    }

    res = ConfigResource(ConfigResource.Type.TOPIC, topics[0])
    out["topic_configs"] = {name: e.value for name, e in admin.describe_configs([res])[res].result(timeout=10).items()}

    out["admin"] = admin_round_trip(admin, "%s-admin" % prefix, topics[0])

    produced = []
    for codec, topic in zip(codecs, topics):
        # Each partition's records must go in one batch: a batch of one
        # small record does not shrink, and librdkafka then sends it
        # uncompressed. So learn the topic's leaders first (records for an
        # unknown topic wait in a queue that is split when the metadata
        # comes), then let the batches fill for longer than the loop takes.
        p = Producer({"bootstrap.servers": broker, "compression.type": codec, "acks": "all", "linger.ms": 200})
        p.list_topics(topic, timeout=10)
        errors = []

        def report(err, msg, headers):
            # A delivery report has no headers: take the ones we sent.
            if err is not None:
                errors.append(str(err))
            else:
                r = record(msg)
                r["headers"] = [{"key": k, "value": b64(v)} for k, v in headers]
                produced.append(r)

        for i in range(n):
            key, value, headers = payload(codec, i)
            p.produce(topic, key=key, value=value, headers=headers, partition=i % PARTITIONS,
                      on_delivery=lambda err, msg, h=headers: report(err, msg, h))
        left = p.flush(20)
        if left or errors:
            raise SystemExit("produce %s: %d undelivered, errors %s" % (topic, left, errors))
    out["produced"] = produced

    out["watermarks"] = {}
    collect = Collect()
    log = logging.getLogger("rdkafka")
    log.addHandler(collect)
    log.propagate = False
    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": "gregor-compat-unused",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "logger": log,
    })
    for t in topics:
        for part in range(PARTITIONS):
            lo, hi = c.get_watermark_offsets(TopicPartition(t, part), timeout=10)
            out["watermarks"]["%s/%d" % (t, part)] = [lo, hi]
    c.assign([TopicPartition(t, part, OFFSET_BEGINNING) for t in topics for part in range(PARTITIONS)])
    consumed, eof, errors = [], set(), []
    want_eof = len(topics) * PARTITIONS
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        msg = c.poll(0.1)
        if msg is not None:
            if msg.error() is None:
                consumed.append(record(msg))
            elif msg.error().code() == KafkaError._PARTITION_EOF:
                eof.add("%s/%d" % (msg.topic(), msg.partition()))
            else:
                errors.append(str(msg.error()))
        if len(consumed) >= len(produced) and (len(eof) == want_eof or collect.lines):
            break
    c.close()
    out["consumed"] = consumed
    out["eof"] = sorted(eof)
    out["consume_errors"] = errors
    out["logs"] = collect.lines
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
