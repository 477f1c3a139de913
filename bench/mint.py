"""Mints N distinct tokens for bench/load.sh, one per line, with PyJWT.

    python mint.py ALG KEY N OUT     (KEY: the HMAC secret, or a private PEM path)
"""
import sys
import time

import jwt

alg, key, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if alg != "HS256":
    with open(key, "rb") as f:
        key = f.read()
now = int(time.time())
with open(out, "w") as f:
    for i in range(n):
        claims = {"sub": f"load-{i}", "scope": "read", "iat": now, "exp": now + 7200}
        f.write(jwt.encode(claims, key, algorithm=alg) + "\n")
