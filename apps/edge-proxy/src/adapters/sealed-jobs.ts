// Jobs as the durable outboxes of Bun, Deno and Node store them: the members' bodies (vendor tokens)
// sealed under PROXY_STORE_KEYS and bound to the job's id; the rest in clear, for views and queries.
import type { StoredJob } from "../outbox.ts";
import { SealError, type SealingKeys, seal, unseal } from "../sealed.ts";

/** The member of a stored job's `input` that holds the others, sealed (no vendor has this member). */
const SEALED = "$sealed";

/** `job` as stored: its input sealed when it has any and keys are given. */
export async function sealJob(job: StoredJob, keys: SealingKeys | undefined): Promise<StoredJob> {
  // Nothing left to seal, no keys, or sealed already (a job written back as it was read).
  if (
    keys === undefined ||
    Object.keys(job.input).length === 0 ||
    Object.hasOwn(job.input, SEALED)
  ) {
    return job;
  }
  return { ...job, input: { [SEALED]: await seal(keys, JSON.stringify(job.input), job.id) } };
}

/** `job` as stored, opened: its input back in clear (throws SealError when it cannot open). */
export async function openJob(job: StoredJob, keys: SealingKeys | undefined): Promise<StoredJob> {
  const sealed = Object.hasOwn(job.input, SEALED) ? job.input[SEALED] : undefined;
  if (sealed === undefined) return job;
  if (keys === undefined || typeof sealed !== "string") {
    throw new SealError("a stored job's input is sealed, and no PROXY_STORE_KEYS open it");
  }
  return { ...job, input: JSON.parse(await unseal(keys, sealed, job.id)) as StoredJob["input"] };
}

/** How soon a job that cannot be opened is looked at again, until its age fails it. */
export const UNOPENED_RETRY_MS = 60_000;
