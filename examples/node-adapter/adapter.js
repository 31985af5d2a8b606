// A channel adapter for the reservation service, in Node.js, through the public gRPC API
// only (the .proto files, loaded at run time: nothing is generated).
//
// What an adapter does with the service:
//   1. the order hub: it syncs the orders it pulled from its channel (OrderService.SyncOrders)
//      and reads one back (GetOrder);
//   2. a flash sale's hot path: it holds stock for an order (ReservationService.Reserve),
//      makes the hold permanent when the buyer pays (Confirm), or gives the units back
//      when the order is cancelled (Release).
//
// Settings (environment):
//   RESERVATION_TARGET  host:port of the service (default 127.0.0.1:50051)
//   RESERVATION_TOKEN   the adapter's bearer token, when the service has auth on
//   ADAPTER_CHANNEL     the channel this adapter speaks for (default jd)
//   ADAPTER_SHOP        the shop on that channel (default shop-1)
//   ADAPTER_SKU         the SKU the sample orders buy (default SKU-1; stock must be loaded)
//   ADAPTER_RUN_ID      makes the sample order ids unique per run (default: the time)
//   PROTO_DIR           where reservation/v1/*.proto are (default ../../protos)
// Prints one JSON line: what each step answered. Exits 1 (with the gRPC status) on error.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = process.env.PROTO_DIR || path.join(__dirname, '..', '..', 'protos');
const TARGET = process.env.RESERVATION_TARGET || '127.0.0.1:50051';
const CHANNEL = process.env.ADAPTER_CHANNEL || 'jd';
const SHOP = process.env.ADAPTER_SHOP || 'shop-1';
const SKU = process.env.ADAPTER_SKU || 'SKU-1';
const RUN = process.env.ADAPTER_RUN_ID || String(Date.now());
const DEADLINE_MS = 5000; // set a deadline on every call (the API guide: 1-3 s for Reserve)

// keepCase: the fields as the protos spell them (order_id, not orderId); longs as strings:
// int64 values (cents, quantities) arrive exactly, never as a rounded JS number.
const definition = protoLoader.loadSync(
  ['reservation/v1/reservation_service.proto', 'reservation/v1/order_service.proto'],
  { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true });
const v1 = grpc.loadPackageDefinition(definition).reservation.v1;

function metadata() {
  const md = new grpc.Metadata();
  if (process.env.RESERVATION_TOKEN) {
    md.set('authorization', `Bearer ${process.env.RESERVATION_TOKEN}`);
  }
  return md;
}

// One unary call as a promise, with a deadline and the token.
function call(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + DEADLINE_MS);
    client[method](request, metadata(), { deadline }, (err, reply) => {
      if (err) {
        err.method = method;
        reject(err);
      } else {
        resolve(reply);
      }
    });
  });
}

function timestamp(date) {
  return { seconds: String(Math.floor(date.getTime() / 1000)), nanos: 0 };
}

// What a real adapter builds from its channel's payload (see docs/integrating/adapters.md
// for the mapping tables): the canonical state, the channel's raw status, exact cents.
function channelOrder(orderId, now) {
  return {
    channel: CHANNEL,
    shop: SHOP,
    order_id: orderId,
    state: 'PAID',
    raw_status: 'WAIT_SELLER_STOCK_OUT',
    created_at: timestamp(now),
    modified_at: timestamp(now),
    paid_at: timestamp(now),
    receiver_phone: '13800138000',
    address: { province: '浙江省', city: '杭州市', district: '西湖区', detail: '文三路 1 号' },
    lines: [{ sku: SKU, quantity: '1', price: '1999' }],
    total: '1999',
    paid: '1999',
  };
}

function reserveRequest(orderId) {
  return {
    channel: CHANNEL,
    order_id: orderId,
    buyer_id: `buyer-${orderId}`,
    lines: [{ sku: SKU, quantity: '1' }],
    hold_ttl: { seconds: '900', nanos: 0 },
  };
}

async function main() {
  const credentials = grpc.credentials.createInsecure(); // TLS: grpc.credentials.createSsl(ca)
  const orders = new v1.OrderService(TARGET, credentials);
  const reservations = new v1.ReservationService(TARGET, credentials);
  const out = {};
  try {
    // 1. The order hub: sync what was pulled from the channel, then read it back.
    const hubOrder = `NODE-${RUN}-HUB`;
    const synced = await call(orders, 'SyncOrders', { orders: [channelOrder(hubOrder, new Date())] });
    const got = await call(orders, 'GetOrder', { key: { channel: CHANNEL, shop: SHOP, order_id: hubOrder } });
    out.sync = { order_id: hubOrder, outcome: synced.results[0].outcome, state: got.order.state };

    // 2. A paid order: hold its stock, then confirm it.
    const paid = `NODE-${RUN}-PAID`;
    const held = await call(reservations, 'Reserve', reserveRequest(paid));
    const confirmed = await call(reservations, 'Confirm', { channel: CHANNEL, order_id: paid });
    out.paid = { order_id: paid, reserved: held.reservation.state, confirmed: confirmed.reservation.state };

    // 3. A cancelled order: hold its stock, then release it.
    const cancelled = `NODE-${RUN}-CANCELLED`;
    const held2 = await call(reservations, 'Reserve', reserveRequest(cancelled));
    const released = await call(reservations, 'Release', { channel: CHANNEL, order_id: cancelled });
    out.cancelled = { order_id: cancelled, reserved: held2.reservation.state, released: released.reservation.state };

    // A rejection is an answer, not an error: the state says REJECTED and reject_reason why.
    if (held.reservation.state === 'RESERVATION_STATE_REJECTED') {
      out.paid.reject_reason = held.reservation.reject_reason;
    }
    console.log(JSON.stringify(out));
  } finally {
    orders.close();
    reservations.close();
  }
}

main().catch((err) => {
  // INVALID_ARGUMENT names the field in the message; UNAVAILABLE: the service is down.
  const code = err.code !== undefined ? grpc.status[err.code] : '';
  console.error(`adapter: ${err.method || 'start'} failed: ${code} ${err.details || err.message}`);
  process.exit(1);
});
