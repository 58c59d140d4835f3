/** A subject at a trusted identity provider. */
export interface SubjectRef {
  /** The provider's issuer identifier, exactly as configured (https URL). */
  issuer: string;
  /** `sub` at that issuer; undefined when the trigger named only a session (`sid`). */
  subject: string | undefined;
  /** The provider's session id (`sid`), when the trigger named one. */
  sid: string | undefined;
}

/** A validated trigger: who is to be logged out, by which mechanism, for the log line and job. */
export interface LogoutTrigger {
  kind: "oidc-backchannel" | "ssf-caep" | "global-token-revocation";
  target: SubjectRef;
  /** The token's jti (OIDC, SSF); undefined for a Global Token Revocation request. */
  jti: string | undefined;
  /**
   * The replay guard's claim of the jti: released when the logouts cannot be queued, so that the
   * provider's redelivery is taken instead of refused as a replay.
   */
  claim?: { key: string; owner: string };
}
