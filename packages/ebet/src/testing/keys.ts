// A fixed, published RSA key pair for the simulator's default channel: for tests only, never for a real channel.

/** The test channel's 1024-bit private key (PKCS#1 PEM, as eBET hands keys out). Public: do not use it anywhere real. */
export const EBET_TEST_PRIVATE_KEY: string = `-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDSzihNY+j7MxEIX4EQiuOPiqW71LOM9HKB9WmOYhBQAT2X5Jyv
qooKY/FZHwrE1EuiR0Oj442cxGURKGa7xmO5QSEFQZBv/uDl1ZINmChk0A/8qkyM
5Kn/hbcufjsEU/kEYp5+eQtkmRtmO35aUqKhIgE6Kq61+o8PZa+443dIhQIDAQAB
AoGAYPXyE6agwun6K5/B/ZnkkWF0WbC75VmKUbxPkO4KEsJ/Uh4U87e9RooxuIxO
p7n+D+Y3dmpz+GddFUc/+Z6GvxlBVyGeNhJacWcDWYHXsS9P6pCnzEpGjl/fqU3b
wJe4Gey7JWX2PGQtEfyR2RS8rMSmI4ldLWzwtVWbx50KNQECQQDpMP/5p1/C1iEM
zhMgvq36q0HTC1hzUTAxxxcgDaIHmUMrCcOO3+hKRe4GxwD47mtZh28TOay9CRzu
RiywDMDrAkEA52yezSoVzQXYVriPWRntIGP3cF9lem1BJEKhCVgzHjyMLrSk5H/7
z9cvBSAQu+WodJzH+HhgHklTKP/bEqdATwJAP/q2sIuQhYd0h+veaaSHXXgxVjMN
sI38+BtUp/G1m/ob6KoEIqYiOIaZOPjOtn3LrEOxYQf48eCXNHTCfAbzwwJAV6et
snoJTeGz4oz/RrlqNoWGuFp5vlhZfxl5k2eD3SUD18D2X9IWF9AicCeIDxNareig
WX2GspIFXJckbDlLQwJBANz349XRQrrEszwJkmru02b9sxhk94PVcbxR8R4JCnTV
oJovNtAMwQ0g7r2XHa/yPmR+0v3LNZ/kiril0hKeYPg=
-----END RSA PRIVATE KEY-----`;

/** The public half of EBET_TEST_PRIVATE_KEY (SPKI PEM), registered for channel 1 by default. */
export const EBET_TEST_PUBLIC_KEY: string = `-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDSzihNY+j7MxEIX4EQiuOPiqW7
1LOM9HKB9WmOYhBQAT2X5JyvqooKY/FZHwrE1EuiR0Oj442cxGURKGa7xmO5QSEF
QZBv/uDl1ZINmChk0A/8qkyM5Kn/hbcufjsEU/kEYp5+eQtkmRtmO35aUqKhIgE6
Kq61+o8PZa+443dIhQIDAQAB
-----END PUBLIC KEY-----`;
