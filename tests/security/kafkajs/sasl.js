// sasl.js drives kafkajs 2.x against a Gregor SASL listener for
// tests/security (see kafkajs_test.go). It uses the kafkajs that
// tests/compat/kafkajs installs (found through NODE_PATH).
//
//	node sasl.js roundtrip BROKER MECHANISM USER PASSWORD CA|- TOPIC GROUP N
//	node sasl.js badauth   BROKER MECHANISM USER PASSWORD CA|-
//
// roundtrip creates TOPIC (3 partitions) with the admin client, sends
// N records v0…v(N-1) with the producer, reads them back with a
// consumer in group GROUP (subscribe, fromBeginning), commits, and
// prints {"sent": N, "values": [...], "committed": [...]}.
// badauth connects a producer that must fail and prints
// {"name": error.name, "message": error.message}.
// CA is a PEM file to trust over SASL_SSL; "-" means SASL_PLAINTEXT.
'use strict'
const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

const [mode, broker, mechanism, username, password, ca] = process.argv.slice(2, 8)

function client (retries) {
  const conf = {
    clientId: 'gregor-security-kafkajs',
    brokers: [broker],
    sasl: { mechanism, username, password },
    logLevel: logLevel.ERROR,
    connectionTimeout: 10000,
    authenticationTimeout: 10000,
    retry: { retries }
  }
  if (ca !== '-') {
    conf.ssl = { ca: [fs.readFileSync(ca, 'utf-8')], rejectUnauthorized: true }
  }
  return new Kafka(conf)
}

async function roundtrip (topic, group, n) {
  const kafka = client(8)
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] })
  await admin.disconnect()

  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let i = 0; i < n; i++) {
    messages.push({ key: 'k' + (i % 7), value: 'v' + i })
  }
  await producer.send({ topic, messages })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 1000 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  // Done when every record was seen and the group has committed past
  // all of them (kafkajs commits after each batch; offsets are the next
  // to read, so they add up to n).
  const values = []
  const committedNow = {}
  await new Promise((resolve, reject) => {
    const check = () => {
      const total = Object.values(committedNow).reduce((a, b) => a + b, 0)
      if (values.length >= n && total >= n) {
        resolve()
      }
    }
    consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
      for (const t of e.payload.topics) {
        for (const p of t.partitions) {
          committedNow[p.partition] = Number(p.offset)
        }
      }
      check()
    })
    consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error))
    consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value.toString())
      }
    }).catch(reject)
  })
  await consumer.disconnect()

  const admin2 = kafka.admin()
  await admin2.connect()
  const committed = await admin2.fetchOffsets({ groupId: group, topics: [topic] })
  await admin2.disconnect()
  const offsets = committed[0].partitions.map(p => ({ partition: p.partition, offset: Number(p.offset) }))
  offsets.sort((a, b) => a.partition - b.partition)
  console.log(JSON.stringify({ sent: n, values, committed: offsets }))
}

async function badauth () {
  const producer = client(0).producer()
  try {
    await producer.connect()
  } catch (e) {
    console.log(JSON.stringify({ name: e.name, message: e.message }))
    return
  }
  await producer.disconnect()
  console.log(JSON.stringify({ name: '', message: 'connected' }))
}

const main = mode === 'roundtrip'
  ? () => roundtrip(process.argv[8], process.argv[9], Number(process.argv[10]))
  : badauth
main().then(() => process.exit(0), (e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
