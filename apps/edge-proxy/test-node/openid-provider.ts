// A real OpenID Provider (oidc-provider) on 127.0.0.1 that signs users in and out headlessly and sends Back-Channel Logout itself.
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, {
  type ClientMetadata,
  type Configuration,
  type JWK,
  type KoaContextWithOIDC,
} from "oidc-provider";

/** One relying party registered at the provider. */
export interface OpenIdClientOptions {
  clientId: string;
  /** Where the provider POSTs `logout_token`: an http(s) URL on 127.0.0.1 or [::1]. */
  backchannelLogoutUri: string;
  /** Whether ID and logout tokens carry `sid` (default true; the provider sends `sid` only then). */
  backchannelLogoutSessionRequired?: boolean;
  /** How the provider signs this client's ID and logout tokens (default RS256). */
  idTokenSignedResponseAlg?: "RS256" | "ES256";
}

export interface OpenIdProviderOptions {
  clients: OpenIdClientOptions[];
}

/** A user agent: the provider's cookies, as a browser keeps them per path. */
export class Browser {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  header(url: URL): string | undefined {
    const pairs: string[] = [];
    for (const [name, { value, path }] of this.#cookies) {
      if (pathMatches(url.pathname, path)) pairs.push(`${name}=${value}`);
    }
    return pairs.length > 0 ? pairs.join("; ") : undefined;
  }

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = "/";
      let expired = value === "";
      for (const attribute of attributes) {
        const [key = "", arg = ""] = attribute.split("=", 2);
        const lower = key.toLowerCase();
        if (lower === "path" && arg.startsWith("/")) path = arg;
        if (lower === "expires" && Date.parse(arg) <= Date.now()) expired = true;
        if (lower === "max-age" && Number(arg) <= 0) expired = true;
      }
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, { value, path });
    }
  }
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}

/** A user signed in at one client: what its ID token says, and the browser that holds the provider's session. */
export interface OpenIdSession {
  clientId: string;
  accountId: string;
  sub: string;
  /** The session ID the provider gave this client; absent when the client does not require one. */
  sid: string | undefined;
  idToken: string;
  browser: Browser;
}

/** What the provider reported for one back-channel logout request it sent. */
export type BackchannelDelivery =
  | { clientId: string; sid: string | undefined; ok: true }
  | { clientId: string; sid: string | undefined; ok: false; error: string };

export interface OpenIdProvider {
  issuer: string;
  discoveryUrl: string;
  jwksUrl: string;
  /**
   * Signs `accountId` in at `clientId` through the authorization code flow. Pass `browser` (from an
   * earlier sign-in) to reuse that provider session, as a second client in the same browser would.
   */
  signIn(clientId: string, accountId: string, browser?: Browser): Promise<OpenIdSession>;
  /**
   * Ends the provider session through its end_session endpoint (id_token_hint, logout confirmed).
   * Resolves once the provider has sent every back-channel logout, with what each one got back.
   */
  signOut(session: OpenIdSession): Promise<BackchannelDelivery[]>;
  close(): Promise<void>;
}

/** Every request the harness makes, and each back-channel POST the provider makes, ends within this. */
const REQUEST_TIMEOUT_MS = 5_000;
/** A sign-in takes five redirects here (authorize, login, resume, consent, resume); more means a loop. */
const MAX_STEPS = 12;
/** The header that ties the provider's back-channel events to the sign-out that caused them. */
const SIGN_OUT_HEADER = "x-test-sign-out";

/** The title of the logout page, which the provider shows only to a browser with a signed-in account. */
const LOGOUT_PAGE_TITLE = "Sign out";

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint: string;
  jwks_uri: string;
}

/** Starts the provider on 127.0.0.1 with fresh RS256 and ES256 signing keys and the given clients. */
export async function startOpenIdProvider(options: OpenIdProviderOptions): Promise<OpenIdProvider> {
  const clients = checkClients(options.clients);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const secrets = new Map(clients.map((c) => [c.clientId, randomBytes(32).toString("base64url")]));
  const redirectUri = (clientId: string) => `${issuer}/rp-callback/${encodeURIComponent(clientId)}`;

  const configuration: Configuration = {
    clients: clients.map(
      (c): ClientMetadata => ({
        client_id: c.clientId,
        client_secret: secrets.get(c.clientId),
        redirect_uris: [redirectUri(c.clientId)],
        response_types: ["code"],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: c.idTokenSignedResponseAlg ?? "RS256",
        backchannel_logout_uri: c.backchannelLogoutUri,
        backchannel_logout_session_required: c.backchannelLogoutSessionRequired ?? true,
      }),
    ),
    jwks: { keys: signingKeys() },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.body = `<!DOCTYPE html><title>${LOGOUT_PAGE_TITLE}</title>${form}`;
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.body = "<!DOCTYPE html><title>Signed out</title>";
        },
      },
    },
    // Lifetimes stated here so the provider does not warn about its defaults; a test outlives none.
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    renderError: (ctx, out) => {
      ctx.type = "json";
      ctx.body = out;
    },
    // The provider refuses to connect to special-use addresses (loopback among them) through its own
    // dispatcher; these tests send back-channel logouts only to receivers on this machine.
    fetch: (url, init) => {
      const target = new URL(url instanceof Request ? url.url : url);
      if (!isLoopback(target.hostname)) {
        return Promise.reject(new Error(`refusing a request off this machine: ${target.origin}`));
      }
      const { dispatcher: _ssrfGuard, ...rest } = init as RequestInit & { dispatcher?: unknown };
      return fetch(target, rest);
    },
  };
  let provider: Provider;
  try {
    provider = new Provider(issuer, configuration);
  } catch (error) {
    await close();
    throw error;
  }

  const deliveries = new Map<string, BackchannelDelivery[]>();
  const record = (ctx: KoaContextWithOIDC, delivery: BackchannelDelivery) => {
    deliveries.get(ctx.get(SIGN_OUT_HEADER))?.push(delivery);
  };
  provider.on("backchannel.success", (ctx, client, _accountId, sid) => {
    record(ctx, { clientId: client.clientId, sid, ok: true });
  });
  provider.on("backchannel.error", (ctx, error, client, _accountId, sid) => {
    // fetch's own message ("fetch failed") hides why; the cause names the refused connection.
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    record(ctx, { clientId: client.clientId, sid, ok: false, error: `${error.message}${cause}` });
  });

  const callback = provider.callback();
  server.on("request", (req, res) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    if (path.startsWith("/interaction/")) {
      interaction(provider, req, res, path).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(400, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: String((error as Error).message) }));
        }
      });
    } else {
      callback(req, res);
    }
  });

  const discoveryUrl = `${issuer}/.well-known/openid-configuration`;
  let discovery: Discovery;
  try {
    discovery = (await (await send(new Browser(), discoveryUrl)).json()) as Discovery;
    if (discovery.issuer !== issuer) {
      throw new Error(`discovery names issuer ${discovery.issuer}, expected ${issuer}`);
    }
  } catch (error) {
    await close();
    throw error;
  }

  async function signIn(
    clientId: string,
    accountId: string,
    browser = new Browser(),
  ): Promise<OpenIdSession> {
    const secret = secrets.get(clientId);
    if (secret === undefined) throw new Error(`signIn: clientId ${clientId} is not registered`);
    if (accountId === "") throw new Error("signIn: accountId must not be empty");
    const state = randomBytes(16).toString("base64url");
    const nonce = randomBytes(16).toString("base64url");
    const verifier = randomBytes(32).toString("base64url");
    const authorize = new URL(discovery.authorization_endpoint);
    authorize.search = new URLSearchParams({
      client_id: clientId,
      response_type: "code",
      redirect_uri: redirectUri(clientId),
      scope: "openid",
      state,
      nonce,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    }).toString();

    let next = authorize.href;
    let code: string | undefined;
    for (let step = 0; step < MAX_STEPS && code === undefined; step++) {
      if (next.startsWith(`${redirectUri(clientId)}?`)) {
        code = codeFrom(new URL(next), state, issuer);
        break;
      }
      const path = new URL(next, issuer).pathname;
      let response: Response;
      if (path.startsWith("/interaction/")) {
        const prompt = (await (await send(browser, next)).json()) as { prompt: string };
        const form = prompt.prompt === "login" ? { login: accountId } : {};
        response = await send(browser, `${next}/${prompt.prompt}`, form);
      } else {
        response = await send(browser, next);
      }
      const location = response.headers.get("location");
      if (location === null || response.status < 300 || response.status >= 400) {
        throw new Error(`signIn: ${path} answered ${response.status}: ${await response.text()}`);
      }
      next = new URL(location, next).href;
    }
    if (code === undefined) throw new Error(`signIn: no code after ${MAX_STEPS} redirects`);

    const token = await send(
      browser,
      discovery.token_endpoint,
      {
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri(clientId),
        code_verifier: verifier,
      },
      `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`,
    );
    const body = (await token.json()) as { id_token?: string; error?: string };
    if (!token.ok || typeof body.id_token !== "string") {
      throw new Error(`signIn: token endpoint answered ${token.status} ${body.error ?? ""}`);
    }
    const claims = jwtPayload(body.id_token);
    if (claims.nonce !== nonce || claims.aud !== clientId || claims.iss !== issuer) {
      throw new Error("signIn: the ID token's nonce, aud or iss is not this request's");
    }
    if (claims.sub !== accountId) {
      throw new Error(
        `signIn: this browser is signed in as ${String(claims.sub)}, not ${accountId}`,
      );
    }
    return {
      clientId,
      accountId,
      sub: claims.sub,
      sid: typeof claims.sid === "string" ? claims.sid : undefined,
      idToken: body.id_token,
      browser,
    };
  }

  async function signOut(session: OpenIdSession): Promise<BackchannelDelivery[]> {
    const { browser } = session;
    const end = new URL(discovery.end_session_endpoint);
    end.search = new URLSearchParams({ id_token_hint: session.idToken }).toString();
    const page = await send(browser, end.href);
    const html = await page.text();
    const form =
      /<form[^>]*action="([^"]+)"[^>]*>\s*<input type="hidden" name="xsrf" value="([^"]+)"/.exec(
        html,
      );
    // With no signed-in account the provider skips logoutSource and auto-posts its own form, which
    // would end nothing: only the page above proves there is a session to sign out of.
    if (!page.ok || form === null || !html.includes(`<title>${LOGOUT_PAGE_TITLE}</title>`)) {
      throw new Error(
        `signOut: end_session answered ${page.status} without the logout form of a signed-in session`,
      );
    }
    const [, action = "", xsrf = ""] = form;
    const mark = randomBytes(8).toString("hex");
    const sent: BackchannelDelivery[] = [];
    deliveries.set(mark, sent);
    try {
      const confirm = await send(
        browser,
        new URL(action, issuer).href,
        { xsrf, logout: "yes" },
        undefined,
        {
          [SIGN_OUT_HEADER]: mark,
        },
      );
      const location = confirm.headers.get("location");
      if (confirm.status !== 303 || location === null) {
        throw new Error(
          `signOut: logout confirmation answered ${confirm.status}: ${await confirm.text()}`,
        );
      }
      const done = await send(browser, new URL(location, issuer).href);
      if (!done.ok) throw new Error(`signOut: ${location} answered ${done.status}`);
    } finally {
      deliveries.delete(mark);
    }
    return sent;
  }

  async function close(): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  return { issuer, discoveryUrl, jwksUrl: discovery.jwks_uri, signIn, signOut, close };
}

/** The login and consent steps a deployment would show as pages, answered from form posts instead. */
async function interaction(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const [, , uid, step] = path.split("/");
  if (uid !== details.uid) throw new Error("interaction uid does not match its cookie");
  if (req.method === "GET" && step === undefined) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ prompt: details.prompt.name }));
    return;
  }
  if (req.method !== "POST" || step !== details.prompt.name) {
    throw new Error(`expected a POST for the ${details.prompt.name} prompt`);
  }
  const form = new URLSearchParams(await readBody(req));
  if (step === "login") {
    const accountId = form.get("login");
    if (!accountId) throw new Error("login: the login field is required");
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  if (step !== "consent") throw new Error(`prompt ${step} is not handled here`);
  const { accountId } = details.session ?? {};
  const clientId = details.params.client_id;
  if (typeof accountId !== "string" || typeof clientId !== "string") {
    throw new Error("consent: the interaction has no signed-in account or client");
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId });
  if (grant === undefined) throw new Error("consent: the grant to extend is gone");
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
  };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { consent: { grantId } },
    { mergeWithLastSubmission: true },
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** One request from `browser` without following redirects: GET, or a form POST when `form` is given. */
async function send(
  browser: Browser,
  url: string,
  form?: Record<string, string>,
  authorization?: string,
  extra: Record<string, string> = {},
): Promise<Response> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...extra };
  const cookie = browser.header(target);
  if (cookie !== undefined) headers.cookie = cookie;
  if (authorization !== undefined) headers.authorization = authorization;
  if (form !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
  const response = await fetch(target, {
    method: form === undefined ? "GET" : "POST",
    headers,
    body: form === undefined ? null : new URLSearchParams(form),
    redirect: "manual",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  browser.store(response);
  return response;
}

/** The code of an authorization response, after checking its state and RFC 9207 issuer. */
function codeFrom(url: URL, state: string, issuer: string): string {
  const params = url.searchParams;
  const error = params.get("error");
  if (error !== null)
    throw new Error(`signIn: the provider answered ${error}: ${params.get("error_description")}`);
  if (params.get("state") !== state)
    throw new Error("signIn: the authorization response's state is not ours");
  if (params.get("iss") !== issuer)
    throw new Error("signIn: the authorization response's iss is not the issuer");
  const code = params.get("code");
  if (!code) throw new Error("signIn: the authorization response has no code");
  return code;
}

function jwtPayload(jwt: string): Record<string, unknown> {
  const [, payload = ""] = jwt.split(".");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** A fresh RS256 and ES256 key pair, as the private JWKs the provider signs with. */
function signingKeys(): JWK[] {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  return [
    {
      ...rsa.export({ format: "jwk" }),
      kid: `rs-${randomBytes(4).toString("hex")}`,
      alg: "RS256",
      use: "sig",
    },
    {
      ...ec.export({ format: "jwk" }),
      kid: `es-${randomBytes(4).toString("hex")}`,
      alg: "ES256",
      use: "sig",
    },
  ] as JWK[];
}

function isLoopback(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "[::1]";
}

function checkClients(clients: OpenIdClientOptions[]): OpenIdClientOptions[] {
  if (!Array.isArray(clients) || clients.length === 0)
    throw new Error("clients: at least one client is required");
  const seen = new Set<string>();
  for (const [i, c] of clients.entries()) {
    if (typeof c.clientId !== "string" || c.clientId === "") {
      throw new Error(`clients[${i}].clientId must be a non-empty string`);
    }
    if (seen.has(c.clientId))
      throw new Error(`clients[${i}].clientId ${c.clientId} is registered twice`);
    seen.add(c.clientId);
    const uri = URL.parse(c.backchannelLogoutUri);
    if (uri === null || !["http:", "https:"].includes(uri.protocol) || !isLoopback(uri.hostname)) {
      throw new Error(
        `clients[${i}].backchannelLogoutUri must be an http(s) URL on 127.0.0.1 or [::1]`,
      );
    }
  }
  return clients;
}
