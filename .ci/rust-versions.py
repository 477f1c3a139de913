#!/usr/bin/env python3
"""The MSRV kept honest: every package in the lockfile (all features, dev
dependencies included) must declare a rust-version no newer than ours.
Clippy's MSRV-aware lints (incompatible_msrv, reading `rust-version`) catch
newer std APIs in our own code; this catches them in the dependency tree."""
import json
import subprocess
import sys


def version(s):
    parts = (s.split(".") + ["0", "0"])[:3]
    return tuple(int(p) for p in parts)


meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
    check=True, capture_output=True, text=True).stdout)
packages = {p["id"]: p for p in meta["packages"]}
ours = next(p for p in meta["packages"] if p["name"] == "tower-jwt-auth")["rust_version"]
resolved = [packages[n["id"]] for n in meta["resolve"]["nodes"]]
newer = sorted((p["name"], p["version"], p["rust_version"]) for p in resolved
               if p.get("rust_version") and version(p["rust_version"]) > version(ours))
top = max((p.get("rust_version") or "0" for p in resolved), key=version)
print(f"rust-version {ours}: {len(resolved)} packages, the newest needs {top}")
for name, ver, rv in newer:
    print(f"  {name} {ver} needs Rust {rv}", file=sys.stderr)
sys.exit(1 if newer else 0)
