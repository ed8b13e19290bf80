#!/usr/bin/env python3
"""Fetches Quick, Draw! files (Google, CC BY 4.0) for the named categories into a folder.

    scripts/download.py [--format simplified|raw|binary|sketchrnn] [--out work/data] CATEGORY...
    make download CATEGORIES="face cat" [FORMAT=simplified]

Each file is fetched to FILE.part beside its target, resumed from where a broken run stopped
(an HTTP Range request), checked against what the server says of it (its length, and its MD5
where Google's storage gives one in x-goog-hash), and only then renamed to its name. A file
already there that passes the same check is kept, not fetched again; a download that fails its
check is left as .part (and resumed or started again next time), never put in a good file's
place. Exits 1 when any category failed, naming it and why.

QUICKDRAW_BASE_URL overrides the data set's address (the tests serve a sample from a local
server).
"""
import argparse
import base64
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE = "https://storage.googleapis.com/quickdraw_dataset/"
FORMATS = {
    "simplified": ("full/simplified/{}.ndjson", "{}.ndjson"),
    "raw": ("full/raw/{}.ndjson", "{}.raw.ndjson"),
    "binary": ("full/binary/{}.bin", "{}.bin"),
    "sketchrnn": ("sketchrnn/{}.npz", "{}.npz"),
}
CHUNK = 1 << 20


class Failed(Exception):
    pass


def remote_facts(url, timeout):
    """The server's length and MD5 (base64, from x-goog-hash) of the file at url."""
    req = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            length = r.headers.get("Content-Length")
            md5 = None
            for h in r.headers.get_all("x-goog-hash") or []:
                for part in h.split(","):
                    k, _, v = part.strip().partition("=")
                    if k == "md5":
                        md5 = v
            return (int(length) if length is not None else None), md5
    except urllib.error.HTTPError as e:
        raise Failed(f"{url}: the server answered {e.code} {e.reason}"
                     + (" (no such category or format?)" if e.code == 404 else ""))
    except (urllib.error.URLError, OSError) as e:
        raise Failed(f"{url}: cannot reach it: {getattr(e, 'reason', e)}")


def check(path, length, md5):
    """Why the file at path is not the server's file, or None when it is."""
    size = os.path.getsize(path)
    if length is not None and size != length:
        return f"{size} bytes where the server has {length}"
    if md5 is not None:
        h = hashlib.md5()
        with open(path, "rb") as f:
            for b in iter(lambda: f.read(CHUNK), b""):
                h.update(b)
        got = base64.b64encode(h.digest()).decode()
        if got != md5:
            return f"MD5 {got} where the server has {md5}"
    if length is None and md5 is None:
        return None if size > 0 else "empty"
    return None


def fetch(url, target, timeout, quiet):
    length, md5 = remote_facts(url, timeout)
    if os.path.exists(target):
        why = check(target, length, md5)
        if why is None:
            return "kept (already complete)"
        # a file of the user's that is not the server's: never replaced silently
        raise Failed(f"{target} exists but is not the server's file ({why}); move it away to "
                     "fetch it again")
    part = target + ".part"
    have = os.path.getsize(part) if os.path.exists(part) else 0
    if length is not None and have > length:
        os.remove(part)  # longer than the file: not a beginning of it
        have = 0
    req = urllib.request.Request(url)
    if have:
        req.add_header("Range", f"bytes={have}-")
    resumed = False
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            if have and r.status == 206:
                resumed = True
                mode = "ab"
            else:
                have, mode = 0, "wb"  # the server ignored the range: start again
            done = have
            with open(part, mode) as f:
                for b in iter(lambda: r.read(CHUNK), b""):
                    f.write(b)
                    done += len(b)
                    if not quiet and length:
                        print(f"\r  {os.path.basename(target)}: {done / 1e6:.1f} of {length / 1e6:.1f} MB",
                              end="", file=sys.stderr, flush=True)
                f.flush()
                os.fsync(f.fileno())
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part may be whole already
            pass
        else:
            raise Failed(f"{url}: the server answered {e.code} {e.reason}")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise Failed(f"{url}: the download broke off ({getattr(e, 'reason', e)}); run again to resume "
                     f"from {part}")
    finally:
        if not quiet and length:
            print(file=sys.stderr)
    why = check(part, length, md5)
    if why is not None:
        raise Failed(f"{url}: the download is not the server's file ({why}); it stays in {part}, "
                     "run again to resume it")
    os.replace(part, target)
    dfd = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return "resumed and checked" if resumed else "fetched and checked"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("categories", nargs="+", metavar="CATEGORY", help="e.g. face cat 'hot dog'")
    ap.add_argument("--format", choices=sorted(FORMATS), default="simplified")
    ap.add_argument("--out", default="work/data", help="folder for the files [work/data]")
    ap.add_argument("--timeout", type=float, default=60, help="seconds without data before giving up")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    a = ap.parse_args()
    base = os.environ.get("QUICKDRAW_BASE_URL", BASE)
    if not base.endswith("/"):
        base += "/"
    os.makedirs(a.out, exist_ok=True)
    remote, local = FORMATS[a.format]
    failed = 0
    for cat in a.categories:
        url = base + urllib.parse.quote(remote.format(cat))
        target = os.path.join(a.out, local.format(cat.replace("/", "_")))
        try:
            what = fetch(url, target, a.timeout, a.quiet or not sys.stderr.isatty())
            print(f"[download] {cat}: {target} {what} ({os.path.getsize(target) / 1e6:.1f} MB)")
        except Failed as e:
            failed += 1
            print(f"[download] {cat}: FAILED: {e}", file=sys.stderr)
    if failed:
        print(f"[download] {failed} of {len(a.categories)} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
