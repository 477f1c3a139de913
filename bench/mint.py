"""Mints N distinct tokens for bench/load.sh, one per line, with PyJWT.

    python mint.py ALG KEY N OUT     (KEY: the HMAC secret, or a private PEM path)
"""
import sys
import time

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

alg, key, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if alg != "HS256":
    # Parsed once: PyJWT given the PEM text parses (and checks) the key on
    # every encode, which for RSA costs more than the signature itself.
    with open(key, "rb") as f:
        key = load_pem_private_key(f.read(), password=None)
now = int(time.time())
with open(out, "w") as f:
    for i in range(n):
        claims = {"sub": f"load-{i}", "scope": "read", "iat": now, "exp": now + 7200}
        f.write(jwt.encode(claims, key, algorithm=alg) + "\n")
