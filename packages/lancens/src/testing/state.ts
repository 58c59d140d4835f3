// The simulator's memory: users, their login token, and the push tokens bound to each session.

/** The two kinds of push token Lancens keeps per user. */
export type PushTokenKind = "ring" | "message";

/** One bound push token, as `POST /v1/api/user/token` takes it (table 1 of the vendor's page). */
export interface PushTokenRecord {
  push_token: string;
  language: string;
  dev: number;
  bundleid: string;
  os: string;
  os_token: string;
  push_platform: string;
}

/** A user the simulator knows. */
export interface SimulatorUser {
  username: string;
  password: string;
  /** Defaults to the user's position in the list, from 1. */
  id?: number;
}

interface UserRecord {
  id: number;
  username: string;
  password: string;
  /** The one valid login token; a new login replaces it, as Lancens regenerates it. */
  token: string | undefined;
  ring: PushTokenRecord[];
  message: PushTokenRecord[];
}

/** Users, sessions and push tokens; every read returns a copy. */
export class SimulatorState {
  readonly #users = new Map<string, UserRecord>();
  readonly #sessions = new Map<string, string>();

  addUser(user: SimulatorUser): void {
    const id = user.id ?? this.#users.size + 1;
    this.#users.set(user.username, {
      id,
      username: user.username,
      password: user.password,
      token: undefined,
      ring: [],
      message: [],
    });
  }

  /** The user whose password matches, or undefined. */
  authenticate(username: string, password: string): { id: number } | undefined {
    const user = this.#users.get(username);
    return user && user.password === password ? { id: user.id } : undefined;
  }

  /** Starts a session: the old token stops being valid and, as on Lancens, push tokens are deleted. */
  startSession(username: string, token: string, clearPushTokens: boolean): void {
    const user = this.#require(username);
    if (user.token !== undefined) this.#sessions.delete(user.token);
    user.token = token;
    this.#sessions.set(token, username);
    if (clearPushTokens) this.clearPushTokens(username);
  }

  /** The username a valid token belongs to. */
  sessionUser(token: string): string | undefined {
    return this.#sessions.get(token);
  }

  /** Ends the session of a token; false when it was not valid. */
  endSession(token: string): boolean {
    const username = this.#sessions.get(token);
    if (username === undefined) return false;
    this.#sessions.delete(token);
    const user = this.#users.get(username);
    if (user && user.token === token) user.token = undefined;
    return true;
  }

  bind(username: string, kind: PushTokenKind, record: PushTokenRecord): boolean {
    const list = this.#require(username)[kind];
    if (list.some((bound) => bound.push_token === record.push_token)) return false;
    list.push({ ...record });
    return true;
  }

  /** Deletes every push token of one kind; returns how many there were. */
  clear(username: string, kind: PushTokenKind): number {
    const user = this.#require(username);
    const count = user[kind].length;
    user[kind] = [];
    return count;
  }

  clearPushTokens(username: string): void {
    this.clear(username, "ring");
    this.clear(username, "message");
  }

  pushTokens(username: string, kind: PushTokenKind): PushTokenRecord[] {
    return (this.#users.get(username)?.[kind] ?? []).map((record) => ({ ...record }));
  }

  tokenOf(username: string): string | undefined {
    return this.#users.get(username)?.token;
  }

  validTokens(): string[] {
    return [...this.#sessions.keys()];
  }

  usernames(): string[] {
    return [...this.#users.keys()];
  }

  hasUser(username: string): boolean {
    return this.#users.has(username);
  }

  #require(username: string): UserRecord {
    const user = this.#users.get(username);
    if (!user) throw new Error(`the simulator has no user ${JSON.stringify(username)}`);
    return user;
  }
}
