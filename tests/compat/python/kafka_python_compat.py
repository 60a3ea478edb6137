"""Drives kafka-python against a Gregor broker.

    /usr/bin/python3 kafka_python_compat.py BROKER PREFIX N CODECS DEADLINE_S

For each codec in the comma-separated CODECS ("none", "gzip", "snappy",
"lz4" or "zstd"; the last three need python3-snappy, python3-lz4 and
python3-zstandard) it creates the topic PREFIX-CODEC (3 partitions) with the
KafkaAdminClient, produces N records with keys and headers, then reads
every partition of every topic from the beginning with one KafkaConsumer
with group_id=None and assign (Gregor has no consumer groups yet). It
prints one JSON object on stdout; keys, values and header values are
base64 (null stays null). python_test.go checks it.

The consume loop stops when every partition's position has reached its end
offset or DEADLINE_S passes; then it polls a few more times, when there is
nothing left to read, and reports what that returned or raised
("tail_records", "tail_errors"). An exception raised by poll is recorded in
"consume_errors" and polling goes on, so one bad response does not hide
what the others returned.
"""

import base64
import json
import sys
import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (ConfigResource, ConfigResourceType, KafkaAdminClient,
                         NewTopic)

PARTITIONS = 3


def b64(b):
    return None if b is None else base64.b64encode(b).decode()


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
    return key, value, headers


def main():
    broker, prefix, n, codecs, deadline_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(","), float(sys.argv[5])
    out = {"version": kafka.__version__}
    topics = ["%s-%s" % (prefix, c) for c in codecs]

    admin = KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=10000)
    out["api_version"] = ".".join(str(x) for x in admin.config["api_version"])
    resp = admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics], timeout_ms=10000)
    out["create_errors"] = [[t, code] for t, code, *_ in resp.topic_errors]
    out["listed"] = sorted(admin.list_topics())
    res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topics[0])])
    out["topic_configs"] = {}
    for r in res:
        for error_code, error_message, rtype, rname, entries in r.resources:
            if error_code:
                raise SystemExit("describe_configs %s: error %d %s" % (rname, error_code, error_message))
            for entry in entries:
                out["topic_configs"][entry[0]] = entry[1]
    admin.close()

    produced = []
    for codec, topic in zip(codecs, topics):
        p = KafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=20,
                          compression_type=None if codec == "none" else codec)
        futs = []
        for i in range(n):
            key, value, headers = payload(codec, i)
            futs.append((p.send(topic, key=key, value=value, headers=headers, partition=i % PARTITIONS), key, value, headers))
        p.flush(20)
        for f, key, value, headers in futs:
            md = f.get(timeout=20)  # raises on error
            produced.append({
                "topic": md.topic, "partition": md.partition, "offset": md.offset,
                "key": b64(key), "value": b64(value),
                "headers": [{"key": k, "value": b64(v)} for k, v in headers],
            })
        p.close()
    out["produced"] = produced

    c = KafkaConsumer(bootstrap_servers=broker, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", fetch_max_wait_ms=100)
    tps = [TopicPartition(t, part) for t in topics for part in range(PARTITIONS)]
    c.assign(tps)
    c.seek_to_beginning()
    begin = c.beginning_offsets(tps)
    end_offsets = c.end_offsets(tps)
    out["watermarks"] = {"%s/%d" % (tp.topic, tp.partition): [begin[tp], end_offsets[tp]] for tp in tps}
    consumed, errors = [], []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if all(c.position(tp) >= end_offsets[tp] for tp in tps):
            break
        try:
            batches = c.poll(timeout_ms=100)
        except Exception as e:  # noqa: BLE001 -- reported, then keep polling
            errors.append("%s: %s" % (type(e).__name__, e))
            if len(errors) > 20:
                break
            continue
        for tp, msgs in batches.items():
            for m in msgs:
                consumed.append({
                    "topic": m.topic, "partition": m.partition, "offset": m.offset,
                    "key": b64(m.key), "value": b64(m.value),
                    "headers": [{"key": k, "value": b64(v)} for k, v in (m.headers or [])],
                })
    out["positions"] = {"%s/%d" % (tp.topic, tp.partition): c.position(tp) for tp in tps}
    # A consumer that has caught up keeps polling: fetches of partitions
    # with nothing new must come back empty, not fail.
    tail, tail_errors = 0, []
    for _ in range(3):
        try:
            tail += sum(len(msgs) for msgs in c.poll(timeout_ms=200).values())
        except Exception as e:  # noqa: BLE001 -- reported
            tail_errors.append("%s: %s" % (type(e).__name__, e))
    out["tail_records"] = tail
    out["tail_errors"] = tail_errors
    c.close()
    out["consumed"] = consumed
    out["consume_errors"] = errors
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
