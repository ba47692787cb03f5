#!/usr/bin/env python3
"""Turn a `pip install --dry-run --report REPORT.json` into a hash-pinned lock file.

Usage:  lock-from-report.py REPORT.json HEADER.txt [EXCLUDE,...] > LOCK.txt

Each line of the lock is `name==version --hash=sha256:...` for the one wheel pip chose;
sorted by name, so the same report always gives the same bytes. HEADER.txt (comment lines)
is copied to the top. Packages named in EXCLUDE (comma-separated) are left out, and listed
in a last comment line. Refuses a report entry without a sha256 or one that is not a wheel.
"""
import json
import sys


def main() -> int:
    report_path, header_path = sys.argv[1], sys.argv[2]
    exclude = {n.strip().lower() for n in (sys.argv[3] if len(sys.argv) > 3 else "").split(",") if n.strip()}
    left_out = []
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    lines = []
    for item in report["install"]:
        meta, info = item["metadata"], item["download_info"]
        if meta["name"].lower() in exclude:
            left_out.append(f"{meta['name']}=={meta['version']}")
            continue
        url = info["url"]
        sha = info.get("archive_info", {}).get("hashes", {}).get("sha256")
        if not sha or not url.split("#")[0].endswith(".whl"):
            print(f"lock-from-report: {meta['name']}: not a hashed wheel: {url}", file=sys.stderr)
            return 1
        wheel = url.split("#")[0].rsplit("/", 1)[-1].replace("%2B", "+")
        lines.append((meta["name"].lower(), f"{meta['name']}=={meta['version']} \\\n"
                      f"    --hash=sha256:{sha}  # {wheel}"))
    with open(header_path, encoding="utf-8") as f:
        sys.stdout.write(f.read())
    for _, line in sorted(lines):
        sys.stdout.write(line + "\n")
    if left_out:
        sys.stdout.write("# left out (resolved, not installed): " + " ".join(sorted(left_out)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
