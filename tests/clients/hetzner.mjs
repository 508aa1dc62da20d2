// Drives the Hetzner Cloud emulator through hcloud-js, a community Node client (not ours,
// not Hetzner's Python SDK), and prints what it observed as one JSON object on stdout.
// Usage: HCLOUD_URL=http://127.0.0.1:PORT/v1/ HCLOUD_TOKEN=... node hetzner.mjs
// Every step waits for its action; the pytest side asserts on the output.
import hcloud from 'hcloud-js'

const client = new hcloud.Client({
  token: process.env.HCLOUD_TOKEN,
  baseURL: process.env.HCLOUD_URL,
  timeout: 20000
})
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function finished (action) {
  for (let i = 0; i < 400; i++) {
    const current = await client.actions.get(action.id)
    if (current.status === 'success') return current.command
    if (current.status === 'error') throw new Error(`action ${current.command} failed: ${JSON.stringify(current.error)}`)
    await sleep(50)
  }
  throw new Error(`action ${action.id} did not finish`)
}

// hcloud-js drops `next_actions` (the power-on after create): wait for the status instead.
async function reaches (id, status) {
  for (let i = 0; i < 400; i++) {
    if ((await client.servers.get(id)).status === status) return status
    await sleep(50)
  }
  throw new Error(`server ${id} did not become ${status}`)
}

async function catalog () {
  const types = (await client.serverTypes.list({ perPage: 50 })).serverTypes
  const images = (await client.images.list({ perPage: 50 })).images
  const locations = (await client.locations.list()).locations
  return {
    type: (name) => types.find((t) => t.name === name),
    typeById: (id) => types.find((t) => t.id === id),
    image: (name) => images.find((i) => i.name === name),
    location: (name) => locations.find((l) => l.name === name)
  }
}

// One server through its whole life; refs are integer IDs or names, as `form` says.
async function lifecycle (cat, form) {
  const ref = (item) => (form === 'id' ? item.id : item.name)
  const name = `node-${form}`
  const steps = {}
  const created = await client.servers.build(name)
    .serverType(ref(cat.type('cpx11')))
    .image(ref(cat.image('ubuntu-24.04')))
    .location(ref(cat.location('nbg1')))
    .labels({ suite: 'node', form })
    .create()
  await finished(created.action)
  const id = created.server.id
  await reaches(id, 'running')
  steps.created = { sent: typeof ref(cat.type('cpx11')), type: created.server.serverType.name, location: created.server.datacenter.location.name }
  steps.by_name = (await client.servers.list({ name })).servers.map((s) => s.id)
  steps.by_label = (await client.servers.list({ labelSelector: `suite=node,form=${form}` })).servers.map((s) => s.id)
  steps.commands = []
  steps.commands.push(await finished(await client.servers.actions.powerOff(id)))
  steps.status_off = (await client.servers.get(id)).status
  steps.commands.push(await finished(await client.servers.actions.changeType(id, ref(cat.type('cpx31')), true)))
  steps.resized_to = (await client.servers.get(id)).serverType.name
  steps.commands.push(await finished(await client.servers.actions.powerOn(id)))
  steps.status_on = (await client.servers.get(id)).status
  steps.commands.push(await finished(await client.servers.actions.reboot(id)))
  const rebuilt = await client.servers.actions.rebuild(id, ref(cat.image('debian-12')))
  steps.commands.push(await finished(rebuilt.action))
  steps.rebuilt_to = (await client.servers.get(id)).image.name
  steps.renamed_to = (await client.servers.changeName(id, `${name}-renamed`)).name
  steps.commands.push(await finished(await client.servers.delete(id)))
  steps.after_delete = (await client.servers.list({ name: `${name}-renamed` })).servers.length
  return steps
}

// A server in every datacenter's location, with a type the datacenter lists; a type it
// does not list must be refused.
async function everyLocation (cat) {
  const out = {}
  for (const dc of (await client.datacenters.list()).datacenters) {
    const loc = dc.location.name
    const fits = cat.typeById(dc.serverTypes.available[0])
    const created = await client.servers.build(`node-in-${loc}`)
      .serverType(fits.name).image('ubuntu-24.04').location(loc).startAfterCreate(false).create()
    await finished(created.action)
    const misfit = (await client.serverTypes.list({ perPage: 50 })).serverTypes
      .find((t) => !dc.serverTypes.available.includes(t.id))
    let refused = null
    if (misfit) {
      try {
        await client.servers.build(`node-no-${loc}`).serverType(misfit.name).image('ubuntu-24.04').location(loc).create()
        refused = 'accepted'
      } catch (err) {
        refused = `${err.code}: ${err.message}`
      }
    }
    out[loc] = { datacenter: dc.name, created_in: created.server.datacenter.location.name, type: fits.name, misfit: misfit ? misfit.name : null, refused }
    await finished(await client.servers.delete(created.server.id))
  }
  return out
}

const cat = await catalog()
const result = { forms: {} }
for (const form of ['id', 'name']) result.forms[form] = await lifecycle(cat, form)
result.locations = await everyLocation(cat)
console.log(JSON.stringify(result))
