// @x/fungame/verify: HS256 verification of FunGame tokens (with jose), kept apart so that the main
// entry (client, inspection, deny-lists) does not carry a JWT library.
export { type VerifiedToken, type VerifyTokenOptions, verifyToken } from "../verify.ts";
