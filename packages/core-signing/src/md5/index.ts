// @x/core-signing/md5: MD5withRSA signatures (eBET's) on BigInt, for keys of @x/core-signing/rsa.
export { signMd5WithRsa, verifyMd5WithRsa } from "../md5.ts";
