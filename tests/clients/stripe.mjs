// Drives the Stripe emulator through stripe-node, Stripe's official Node library (not our
// code, not the Python SDK), and prints what it observed as one JSON object on stdout.
// Usage: STRIPE_HOST=127.0.0.1 STRIPE_PORT=... STRIPE_KEY=sk_test_... node stripe.mjs
// A webhook endpoint is served here on 127.0.0.1 and every delivery is checked with
// stripe.webhooks.constructEvent, the verification Stripe tells integrators to use.
import http from 'node:http'
import Stripe from 'stripe'

const stripe = new Stripe(process.env.STRIPE_KEY, {
  host: process.env.STRIPE_HOST,
  port: Number(process.env.STRIPE_PORT),
  protocol: 'http',
  maxNetworkRetries: 0
})
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const deliveries = []
const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    deliveries.push({ body: Buffer.concat(chunks), signature: req.headers['stripe-signature'] })
    res.writeHead(200).end('{}')
  })
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const endpoint = await stripe.webhookEndpoints.create({
  url: `http://127.0.0.1:${server.address().port}/stripe`,
  enabled_events: ['*']
})

const product = await stripe.products.create({ name: 'Tenantry starter (node)' })
const price = await stripe.prices.create({
  product: product.id, currency: 'usd', unit_amount: 2900, recurring: { interval: 'month' }
})
const session = await stripe.checkout.sessions.create({
  mode: 'subscription',
  line_items: [{ price: price.id, quantity: 1 }],
  success_url: 'http://127.0.0.1:9/paid?session={CHECKOUT_SESSION_ID}',
  cancel_url: 'http://127.0.0.1:9/cancelled',
  metadata: { signup_id: 'node' }
})

async function subscribe (testCard) {
  const customer = await stripe.customers.create({
    email: 'node@example.com',
    payment_method: testCard,
    invoice_settings: { default_payment_method: testCard }
  })
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] })
  const invoice = await stripe.invoices.retrieve(sub.latest_invoice, {
    expand: ['payments.data.payment.payment_intent']
  })
  const intent = invoice.payments.data[0].payment.payment_intent
  return {
    id: sub.id,
    status: sub.status,
    invoice: invoice.status,
    payment_intent: intent.status,
    decline: intent.last_payment_error ? intent.last_payment_error.code : null
  }
}
const paid = await subscribe('pm_card_visa')
const declined = await subscribe('pm_card_chargeCustomerFail')

// The emulator delivers asynchronously: wait for this subscription's creation event.
const verify = (d, secret) => stripe.webhooks.constructEvent(d.body, d.signature, secret)
let verified = null
for (let i = 0; i < 200 && !verified; i++) {
  for (const d of deliveries) {
    const event = verify(d, endpoint.secret) // throws if the signature does not match
    if (event.type === 'customer.subscription.created' && event.data.object.id === paid.id) {
      verified = { type: event.type, object: event.data.object.id, delivery: d }
    }
  }
  if (!verified) await sleep(50)
}
const refusal = (fn) => { try { fn(); return null } catch (err) { return err.type } }
const tampered = { ...verified.delivery, body: Buffer.from(verified.delivery.body.toString().replace(paid.id, 'sub_forged')) }
const webhook = {
  type: verified.type,
  object: verified.object,
  all_verified: deliveries.length,
  tampered: refusal(() => verify(tampered, endpoint.secret)),
  wrong_secret: refusal(() => verify(verified.delivery, 'whsec_not_the_secret'))
}
server.closeAllConnections()
server.close()
console.log(JSON.stringify({
  session: { id: session.id, object: session.object, mode: session.mode, status: session.status, url: session.url },
  paid,
  declined,
  webhook
}))
