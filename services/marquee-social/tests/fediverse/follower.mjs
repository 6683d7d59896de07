// An independent ActivityPub follower for marquee-social's fediverse tests:
// Fedify (@fedify/fedify, from the npm ci'd directory given as the first
// argument, FEDIFY_DIR) serving one Person, `follower`, on a free
// 127.0.0.1 port. It prints one line,
//   {"url": "http://127.0.0.1:PORT", "actor": "http://127.0.0.1:PORT/users/follower"}
// when it listens, logs only to stderr (FEDIFY_LOG=debug|info|warning|error,
// warning by default), and stops when stdin closes or on SIGTERM.
//
//   node follower.mjs "$FEDIFY_DIR"
//
// Control endpoints, plain JSON on the same server, answered before Fedify:
//   POST /control/follow    {"handle": "acct:NAME@127.0.0.1:PORT"}
//        Fedify's own lookup (WebFinger, then the actor document), then a
//        Follow signed with the actor's RSA key (draft-cavage HTTP
//        Signatures, rsa-sha256), delivered at once (no queue): answers
//        {"actor": ID, "follow": FOLLOW ID}, or 502 {"error": ...} with
//        Fedify's words.
//   POST /control/unfollow  {"handle": ...}: an Undo of that same Follow,
//        answers {"actor", "follow", "undo"}.
//   GET  /control/received  every activity the inbox listeners accepted
//        (Fedify verified its signature and its actor owns the key), in
//        arrival order: [{"type", "id", "actor", "object": {"id", "type",
//        "url", "content", "name", "summary"} | null, "object_id"}].
//   GET  /control/rejected  every inbox POST Fedify refused:
//        [{"path", "status", "error", "reasons", "signature", "activity"}],
//        reasons being Fedify's own log lines for that request.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';

const packagesDir = process.argv[2] ?? process.exit(2);

// Fedify is an ES module only (no `require` in its exports), and LogTape
// must be the very module Fedify imports (its ES build, not its CommonJS
// one) for configuring it here to configure Fedify's loggers: import both
// by the files their `import` exports name.
async function importPackage(name) {
  const root = join(packagesDir, 'node_modules', name);
  const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return import(pathToFileURL(join(root, exports['.'].import.default)).href);
}
const fedify = await importPackage('@fedify/fedify');
const logtape = await importPackage('@logtape/logtape');
const {
  Accept, Create, Delete, Endpoints, Follow, MemoryKvStore, Person, Reject, Undo, Update,
  createFederation, generateCryptoKeyPair, getTypeId, isActor,
} = fedify;

// Fedify always looks `acct:` handles up with WebFinger over https (and so
// builds https:// URLs for them); the servers under test answer plain http
// on loopback. So https://127.0.0.1:PORT/... and https://localhost:PORT/...
// are fetched as http:// — loopback only, every other URL is left alone.
const loopbackHttps = /^https:\/\/(127\.0\.0\.1|localhost):\d+\//;
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const href = input instanceof Request ? input.url : String(input);
  if (!loopbackHttps.test(href)) return realFetch(input, init);
  const rewritten = `http://${href.slice('https://'.length)}`;
  if (!(input instanceof Request)) return realFetch(rewritten, init);
  const body = input.method === 'GET' || input.method === 'HEAD' ? undefined : await input.arrayBuffer();
  return realFetch(new Request(rewritten, {
    method: input.method, headers: input.headers, body, redirect: input.redirect, signal: input.signal,
  }), init);
};

// Logging: Fedify's records at FEDIFY_LOG's level (warning by default) go to
// stderr; all of them, down to debug, are also kept with the HTTP request
// they happened in, so that a refused inbox POST or a failed lookup can say
// why in Fedify's own words.
const requestLog = new AsyncLocalStorage();
const NOT_FETCHED = 'not fetched (only its id was given): ';
const stderrLevel = logtape.parseLogLevel(process.env.FEDIFY_LOG || 'warning');
const renderValue = (value) => {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.cause == null ? String(value) : `${value} (${renderValue(value.cause)})`;
  return inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 2000 });
};
const renderMessage = (record) => record.message.map((part, i) => (i % 2 === 0 ? part : renderValue(part))).join('');
await logtape.configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: {
    stderr: logtape.withFilter((record) => {
      // Said on every send: this actor has an RSA key only, so no FEP-8b32
      // Object Integrity Proof (that needs an Ed25519 key), by design.
      if (String(record.rawMessage).startsWith('No supported key found to create a proof')) return;
      // record() below never fetches an object given by its id alone.
      if (record.message.some((part) => part instanceof Error && part.message.startsWith(NOT_FETCHED))) return;
      process.stderr.write(`follower: ${record.level} ${record.category.join('.')}: ${renderMessage(record)}\n`);
    }, stderrLevel),
    request: (record) => {
      requestLog.getStore()?.push({ level: record.level, category: record.category.join('.'), message: renderMessage(record) });
    },
  },
  loggers: [
    { category: 'fedify', lowestLevel: 'debug', sinks: ['stderr', 'request'] },
    { category: ['logtape', 'meta'], lowestLevel: 'warning', sinks: ['stderr'] },
  ],
});

// In memory only: this process's key pair (RSASSA-PKCS1-v1_5, SHA-256, 4096
// bits), so Fedify signs with draft-cavage rsa-sha256 HTTP Signatures.
const keyPair = await generateCryptoKeyPair('RSASSA-PKCS1-v1_5');
const IDENTIFIER = 'follower';

// No queue: Fedify then sends and handles activities immediately, within
// the control or inbox request.
const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });

federation
  .setActorDispatcher('/users/{identifier}', async (ctx, identifier) => {
    if (identifier !== IDENTIFIER) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: 'Fedify follower',
      summary: 'The independent follower of marquee-social\'s fediverse tests',
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((key) => key.multikey),
    });
  })
  .mapHandle((_ctx, username) => (username === IDENTIFIER ? IDENTIFIER : null))
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === IDENTIFIER ? [keyPair] : []));

const received = [];
const rejected = [];

const text = (value) => (value == null ? null : value.toString());
const href = (value) => (value == null ? null : value instanceof URL ? value.href : value.href?.href ?? null);
const typeName = (object) => getTypeId(object).href.replace(/^https:\/\/www\.w3\.org\/ns\/activitystreams#/, '');

// Never fetches: an object given only by its id stays null (object_id has it).
const noFetch = async (url) => { throw new Error(`${NOT_FETCHED}${url}`); };

async function record(ctx, activity) {
  const object = await activity.getObject({ documentLoader: noFetch, suppressError: true }).catch(() => null);
  received.push({
    type: typeName(activity),
    id: href(activity.id),
    actor: href(activity.actorId),
    object: object == null ? null : {
      id: href(object.id),
      type: typeName(object),
      url: href(object.url),
      content: text(object.content),
      name: text(object.name),
      summary: text(object.summary),
    },
    object_id: href(activity.objectId),
  });
}

federation
  .setInboxListeners('/users/{identifier}/inbox', '/inbox')
  .on(Accept, record)
  .on(Reject, record)
  .on(Create, record)
  .on(Update, record)
  .on(Delete, record)
  .on(Undo, record)
  .onError((_ctx, error) => {
    process.stderr.write(`follower: inbox listener failed: ${error?.stack ?? error}\n`);
  });

// Follows sent, by handle: the actor object and the Follow's id, for Undo.
const follows = new Map();

function fedifyWords(logs) {
  const lines = logs.filter((l) => l.level !== 'debug' || /^Failed|not found|Invalid|Disallowed/i.test(l.message));
  return lines.map((l) => l.message);
}

async function control(request, base) {
  const path = new URL(request.url).pathname;
  const json = (status, value) => new Response(JSON.stringify(value), {
    status, headers: { 'Content-Type': 'application/json' },
  });
  if (request.method === 'GET' && path === '/control/received') return json(200, received);
  if (request.method === 'GET' && path === '/control/rejected') return json(200, rejected);
  if (request.method !== 'POST' || (path !== '/control/follow' && path !== '/control/unfollow')) {
    return json(404, { error: `no control endpoint ${request.method} ${path}` });
  }
  let handle;
  try {
    ({ handle } = await request.json());
  } catch (error) {
    return json(400, { error: `the body is not JSON: ${error.message}` });
  }
  if (typeof handle !== 'string' || handle === '') return json(400, { error: 'the body needs a "handle" string' });
  const ctx = federation.createContext(new URL(base), undefined);
  const me = ctx.getActorUri(IDENTIFIER);
  const failed = (what, error) => {
    const words = [...(error == null ? [] : [renderValue(error)]), ...fedifyWords(requestLog.getStore())];
    return json(502, { error: `${what}${words.length ? `: ${words.join(' | ')}` : ''}` });
  };

  if (path === '/control/follow') {
    let actor;
    try {
      actor = await ctx.lookupObject(handle);
    } catch (error) {
      return failed(`Fedify could not look up ${handle}`, error);
    }
    if (actor == null) return failed(`Fedify found no ActivityPub object for ${handle}`);
    if (!isActor(actor) || actor.id == null) return failed(`${handle} is a ${typeName(actor)}, not an actor`);
    const follow = new Follow({ id: new URL(`/follows/${randomUUID()}`, base), actor: me, object: actor.id });
    try {
      await ctx.sendActivity({ identifier: IDENTIFIER }, actor, follow);
    } catch (error) {
      return failed(`Fedify could not deliver the Follow to ${href(actor.inboxId)}`, error);
    }
    follows.set(handle, { actor, follow });
    return json(200, { actor: actor.id.href, follow: follow.id.href });
  }

  const earlier = follows.get(handle);
  if (earlier == null) return json(400, { error: `${handle} was not followed (POST /control/follow first)` });
  const { actor, follow } = earlier;
  const undo = new Undo({ id: new URL(`/undos/${randomUUID()}`, base), actor: me, object: follow });
  try {
    await ctx.sendActivity({ identifier: IDENTIFIER }, actor, undo);
  } catch (error) {
    return failed(`Fedify could not deliver the Undo to ${href(actor.inboxId)}`, error);
  }
  follows.delete(handle);
  return json(200, { actor: actor.id.href, follow: follow.id.href, undo: undo.id.href });
}

const inboxPath = /^\/(users\/[^/]+\/)?inbox$/;

async function summarize(body) {
  try {
    const activity = JSON.parse(Buffer.from(body).toString('utf8'));
    const actor = activity.actor;
    return { type: activity.type ?? null, id: activity.id ?? null, actor: typeof actor === 'string' ? actor : actor?.id ?? null };
  } catch {
    return null;
  }
}

// Node's request -> a fetch Request -> the control endpoints or
// federation.fetch -> the Response back onto Node's response.
async function handle(req, res, base) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const request = new Request(new URL(req.url, base), {
    method: req.method,
    headers,
    body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
  });
  const path = new URL(request.url).pathname;
  const response = path.startsWith('/control/')
    ? await control(request, base)
    : await federation.fetch(request, { contextData: undefined });
  if (req.method === 'POST' && inboxPath.test(path) && response.status >= 400) {
    rejected.push({
      path,
      status: response.status,
      error: await response.clone().text(),
      reasons: fedifyWords(requestLog.getStore()),
      signature: req.headers.signature ?? null,
      activity: await summarize(body),
    });
  }
  const responseHeaders = {};
  response.headers.forEach((value, name) => { responseHeaders[name] = value; });
  res.writeHead(response.status, responseHeaders);
  res.end(Buffer.from(await response.arrayBuffer()));
}

const server = http.createServer((req, res) => {
  const base = `http://127.0.0.1:${server.address().port}`;
  requestLog.run([], () => handle(req, res, base)).catch((error) => {
    process.stderr.write(`follower: ${req.method} ${req.url} failed: ${error?.stack ?? error}\n`);
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(String(error));
  });
});
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

const url = `http://127.0.0.1:${server.address().port}`;
console.log(JSON.stringify({ url, actor: `${url}/users/${IDENTIFIER}` }));
