'use strict';
// The Node.js peer: the reserve a team might build instead, on @grpc/grpc-js and ioredis,
// behind the project's own protos (loaded at run time). `make bench` measures it beside
// the service as system "node" (benchmarks/run.py starts it).
//
// Same job and same Redis script as the lean Python peer (../lean_reserve.lua: what it
// does and leaves out): each event-loop turn's orders, from Reserve, ReserveBatch and
// ReserveStream alike, go to Redis as ONE script call; every caller gets its own answer.
// GetStock reads the service's counters hash, so the harness checks it like the service.
//
// usage: node server.js --port P --redis redis://127.0.0.1:N [--shards 64]
// Prints "READY <port>" once it listens; stops on SIGTERM.

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const Redis = require('ioredis');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const SHARDS = Number(args.shards || 64);
const HOLD_TTL_MS = 3600000; // as the benchmark's service: nothing expires during a run
const PROTO_DIR = path.join(__dirname, '..', '..', '..', 'protos');
const definition = protoLoader.loadSync(['reservation/v1/reservation_service.proto'],
  { includeDirs: [PROTO_DIR], keepCase: true, longs: Number, enums: String, defaults: true });
const v1 = grpc.loadPackageDefinition(definition).reservation.v1;

const redis = new Redis(args.redis, { enableAutoPipelining: false });
redis.defineCommand('leanReserve', {
  numberOfKeys: 0,
  lua: fs.readFileSync(path.join(__dirname, '..', 'lean_reserve.lua'), 'utf8'),
});

// The key scheme of reservation/storage/keys.py; the shard is crc32 % shards as
// reservation/domain/shards.py has it.
const prefix = (shard) => `rsv:{${shard}}:`;
const shardOf = (value) => zlib.crc32(value) % SHARDS;

function pack(req) {
  const ref = `${req.channel}:${req.order_id}`;
  const home = req.lines.length ? shardOf(req.lines[0].sku) : 0;
  const parts = [`${prefix(home)}hold:${ref}`, `${prefix(home)}expiry`, req.buyer_id,
    String(req.lines.length)];
  for (const ln of req.lines) parts.push(prefix(shardOf(ln.sku)), ln.sku, String(ln.quantity));
  return parts.join('\t');
}

function reservation(req, answer) {
  const [state, reason, sku, allocs] = answer.split('\t');
  return {
    reservation_id: `${req.channel}:${req.order_id}`, channel: req.channel,
    order_id: req.order_id, buyer_id: req.buyer_id, state: `RESERVATION_STATE_${state}`,
    reject_reason: reason ? `REJECT_REASON_${reason}` : 'REJECT_REASON_UNSPECIFIED',
    failed_sku: sku, lines: req.lines,
    allocations: allocs ? allocs.split(';').map((a) => {
      const [s, wh, q] = a.split('|');
      return { sku: s, warehouse_id: wh, quantity: Number(q) };
    }) : [],
  };
}

// This turn's orders: the first one schedules the flush after the turn's other work.
let queued = [];
function submit(req) {
  return new Promise((resolve, reject) => {
    queued.push({ packed: pack(req), resolve, reject });
    if (queued.length === 1) setImmediate(flush);
  });
}
function flush() {
  const batch = queued;
  queued = [];
  redis.leanReserve(HOLD_TTL_MS, batch.length, ...batch.map((b) => b.packed)).then(
    (answers) => batch.forEach((b, i) => b.resolve(answers[i])),
    (err) => batch.forEach((b) => b.reject(err)));
}

function fail(callback, err) {
  callback({ code: grpc.status.UNAVAILABLE, details: String(err) });
}

const service = {
  Reserve(call, callback) {
    submit(call.request).then(
      (a) => callback(null, { reservation: reservation(call.request, a) }),
      (err) => fail(callback, err));
  },
  ReserveBatch(call, callback) {
    const reqs = call.request.requests;
    Promise.all(reqs.map(submit)).then(
      (answers) => callback(null, {
        results: answers.map((a, i) => ({ reservation: reservation(reqs[i], a) })),
      }),
      (err) => fail(callback, err));
  },
  ReserveStream(call) {
    // Answers in the order the messages came, each as soon as it and those before it are in.
    let chain = Promise.resolve();
    call.on('data', (msg) => {
      const req = msg.request;
      const answer = submit(req);
      chain = chain.then(() => answer).then(
        (a) => call.write({ channel: req.channel, order_id: req.order_id,
          reservation: reservation(req, a) }),
        (err) => call.destroy(err));
    });
    call.on('end', () => chain.then(() => call.end()));
  },
  GetStock(call, callback) {
    const sku = call.request.sku;
    redis.hgetall(`${prefix(shardOf(sku))}stock:${sku}`).then((flat) => {
      const byWh = {};
      const names = { a: 'available', h: 'held', c: 'confirmed', r: 'returned', l: 'loaded' };
      for (const [field, value] of Object.entries(flat)) {
        const cut = field.lastIndexOf('|');
        const name = names[field.slice(cut + 1)];
        if (!name) continue;
        const wh = field.slice(0, cut);
        byWh[wh] = byWh[wh] || { warehouse_id: wh, available: 0, held: 0, confirmed: 0,
          returned: 0, loaded: 0 };
        byWh[wh][name] = Number(value);
      }
      callback(null, { sku, levels: Object.values(byWh) });
    }, (err) => fail(callback, err));
  },
};

const server = new grpc.Server();
server.addService(v1.ReservationService.service, service);
server.bindAsync(`127.0.0.1:${args.port || 0}`, grpc.ServerCredentials.createInsecure(),
  (err, port) => {
    if (err) {
      console.log(`FAILED ${err}`);
      process.exit(1);
    }
    console.log(`READY ${port}`);
  });
process.on('SIGTERM', () => server.tryShutdown(() => redis.quit().then(() => process.exit(0))));
