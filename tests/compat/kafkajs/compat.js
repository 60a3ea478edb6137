// compat.js drives kafkajs against a Gregor broker for compat_test.go.
//
//	node compat.js BROKER PREFIX N
//
// With the admin client it creates PREFIX-none and PREFIX-gzip (three
// partitions each, the compressions kafkajs has built in) and PREFIX-delete,
// lists the topics and fetches their metadata. It produces N records with
// keys and headers to each codec's topic, reads the offsets
// (fetchTopicOffsets), reads the records back, fetches once more at the end
// of each partition (which must return nothing), deletes PREFIX-delete and
// lists the topics again. It prints one JSON object on stdout; keys, values
// and header values are base64 (null stays null):
//
//	{"listed": [...], "metadata": {...}, "sent": [...], "produced": {...},
//	 "offsets": {...}, "consumed": [...], "tail": {...}, "afterDelete": [...]}
//
// kafkajs's Consumer needs consumer groups, which Gregor does not have
// yet, so the records are read with kafkajs's own Fetch request (the
// Broker.fetch its Consumer uses) against each partition's leader, through
// the internal Cluster object that Kafka.producer/consumer/admin build.
// Errors go to stderr and exit 1.
'use strict'

const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const [broker, prefix, countArg] = process.argv.slice(2)
if (!broker || !prefix || !countArg) {
  console.error('usage: node compat.js BROKER PREFIX N')
  process.exit(2)
}
const count = parseInt(countArg, 10)
const partitions = 3
const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }

const kafka = new Kafka({
  clientId: 'gregor-compat',
  brokers: [broker],
  logLevel: logLevel.WARN,
  connectionTimeout: 5000,
  requestTimeout: 10000,
  retry: { retries: 3 },
})

const b64 = v => (v === null || v === undefined ? null : Buffer.from(v).toString('base64'))

// pairs flattens kafkajs headers ({k: v} where a repeated key has an
// array of values) into [{key, value}] in order.
function pairs(headers) {
  const out = []
  for (const [key, v] of Object.entries(headers || {})) {
    for (const value of Array.isArray(v) ? v : [v]) out.push({ key, value: b64(value) })
  }
  return out
}

// message returns the i-th record for codec: null keys, null and empty
// values, binary bytes, long text and repeated header keys all occur.
function message(codec, i) {
  let value
  switch (i % 10) {
    case 1: value = null; break
    case 2: value = Buffer.alloc(0); break
    case 3: value = Buffer.from(Array.from({ length: 256 }, (_, b) => b)); break
    default: value = Buffer.from(`value-${codec}-${i} `.repeat(1 + (i % 37)))
  }
  return {
    key: i % 10 === 0 ? null : Buffer.from(`key-${codec}-${i}`),
    value,
    partition: i % partitions,
    headers: { seq: String(i), codec, dup: ['a', 'b'] },
  }
}

// newCluster returns kafkajs's internal Cluster, the object its Consumer
// fetches through; kafkajs keeps the factory behind a private symbol.
function newCluster() {
  const sym = Object.getOwnPropertySymbols(kafka).find(s => s.description === 'private:Kafka:createCluster')
  if (!sym) throw new Error('kafkajs internals changed: no private:Kafka:createCluster')
  return kafka[sym]({ allowAutoTopicCreation: false })
}

// fetchRound sends one Fetch per partition leader for the partitions in
// next (partition -> fetch offset) and returns the partitions' responses.
async function fetchRound(cluster, topic, next, maxWaitTime) {
  const out = []
  const byLeader = cluster.findLeaderForPartitions(topic, [...next.keys()])
  for (const [nodeId, ps] of Object.entries(byLeader)) {
    const b = await cluster.findBroker({ nodeId })
    const resp = await b.fetch({
      isolationLevel: 1,
      maxWaitTime,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic, partitions: ps.map(p => ({ partition: p, fetchOffset: String(next.get(p)), maxBytes: 1 << 20 })) }],
    })
    for (const t of resp.responses) out.push(...t.partitions)
  }
  return out
}

// fetchAll reads every record of topic from offset 0 up to the high
// watermarks in offsets.
async function fetchAll(cluster, topic, offsets) {
  await cluster.addTargetTopic(topic)
  await cluster.refreshMetadata()
  const next = new Map(offsets.map(o => [o.partition, 0]))
  const end = new Map(offsets.map(o => [o.partition, o.high]))
  const out = []
  for (let round = 0; round < 100; round++) {
    for (const [p, off] of next) if (off >= end.get(p)) next.delete(p)
    if (next.size === 0) return out
    for (const p of await fetchRound(cluster, topic, next, 500)) {
      if (p.errorCode !== 0) throw new Error(`fetch ${topic}/${p.partition}: error code ${p.errorCode}`)
      for (const m of p.messages) {
        const offset = Number(m.offset)
        if (offset < next.get(p.partition)) continue // a batch can start before the fetch offset
        out.push({ topic, partition: p.partition, offset, key: b64(m.key), value: b64(m.value), headers: pairs(m.headers) })
        next.set(p.partition, offset + 1)
      }
    }
  }
  throw new Error(`fetch ${topic}: no progress after 100 rounds`)
}

// fetchTail fetches every partition of topic at its high watermark, as a
// consumer that has caught up does, and returns how many records came back
// and the error, if any ("" when none).
async function fetchTail(cluster, topic, offsets) {
  try {
    const parts = await fetchRound(cluster, topic, new Map(offsets.map(o => [o.partition, o.high])), 100)
    let records = 0
    for (const p of parts) {
      if (p.errorCode !== 0) return { records, error: `partition ${p.partition}: error code ${p.errorCode}` }
      records += p.messages.length
    }
    return { records, error: '' }
  } catch (err) {
    return { records: 0, error: String(err && err.message ? err.message : err) }
  }
}

async function main() {
  const admin = kafka.admin()
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  const cluster = newCluster()
  await admin.connect()
  await producer.connect()
  await cluster.connect()
  const result = { sent: [], produced: {}, offsets: {}, consumed: [], tail: {}, metadata: {} }
  try {
    const topics = Object.keys(codecs).map(c => `${prefix}-${c}`)
    const doomed = `${prefix}-delete`
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [...topics, doomed].map(topic => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    })
    if (!created) throw new Error('createTopics returned false: the topics already existed')
    result.listed = (await admin.listTopics()).sort()
    const md = await admin.fetchTopicMetadata({ topics })
    for (const t of md.topics) {
      result.metadata[t.name] = t.partitions
        .map(p => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, error: p.partitionErrorCode }))
        .sort((a, b) => a.partition - b.partition)
    }
    for (const [codec, compression] of Object.entries(codecs)) {
      const topic = `${prefix}-${codec}`
      const messages = Array.from({ length: count }, (_, i) => message(codec, i))
      for (const m of messages) {
        result.sent.push({ topic, partition: m.partition, key: b64(m.key), value: b64(m.value), headers: pairs(m.headers) })
      }
      const meta = await producer.send({ topic, compression, acks: -1, messages })
      result.produced[topic] = meta
        .map(m => ({ partition: m.partition, error: m.errorCode, baseOffset: Number(m.baseOffset) }))
        .sort((a, b) => a.partition - b.partition)
      result.offsets[topic] = (await admin.fetchTopicOffsets(topic))
        .map(o => ({ partition: o.partition, low: Number(o.low), high: Number(o.high), offset: Number(o.offset) }))
        .sort((a, b) => a.partition - b.partition)
      result.consumed.push(...(await fetchAll(cluster, topic, result.offsets[topic])))
      result.tail[topic] = await fetchTail(cluster, topic, result.offsets[topic])
    }
    await admin.deleteTopics({ topics: [doomed], timeout: 10000 })
    result.afterDelete = (await admin.listTopics()).sort()
  } finally {
    await cluster.disconnect()
    await producer.disconnect()
    await admin.disconnect()
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : String(err))
  process.exit(1)
})
