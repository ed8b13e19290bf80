#!/usr/bin/env bash
# Opens a run's report.html in headless Chromium, as a reader would from the file system,
# takes a screenshot, and fails when any image on the page did not load.
#
#   scripts/check-report.sh <report.html> [screenshot.png]
#
# The page marks its own broken images once loaded (a script in report.html sets
# data-images / data-broken-images on <body>); the DOM is dumped after the page settled and
# those counts are read back. Installs Debian's `chromium` package when no Chromium is found.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
    echo "usage: $0 <report.html> [screenshot.png]" >&2
    exit 2
fi
[[ -f $1 ]] || { echo "check-report: $1: no such file" >&2; exit 2; }
report=$(realpath "$1")
shot=${2:-$(dirname "$report")/report-screenshot.png}
shot=$(realpath -m "$shot")

find_chrome() {
    local c
    for c in chromium chromium-browser google-chrome google-chrome-stable; do
        if command -v "$c" >/dev/null 2>&1; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

chrome=$(find_chrome || true)
if [[ -z $chrome ]]; then
    echo "check-report: no Chromium found, installing Debian's chromium package" >&2
    as_root=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { echo "check-report: need root or sudo to install chromium" >&2; exit 1; }
        as_root=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
    chrome=$(find_chrome) || { echo "check-report: chromium did not install" >&2; exit 1; }
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(
    --headless --no-sandbox --disable-gpu --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$profile"
    # let the page finish loading its images (virtual time runs ahead without waiting)
    --virtual-time-budget=15000
    --hide-scrollbars
)
# file:// URL of the page, with characters a URL cannot hold escaped
url="file://$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$report" 2>/dev/null || echo "$report")"

dom=$(timeout 120 "$chrome" "${flags[@]}" --dump-dom "$url" 2>/dev/null) || {
    echo "check-report: chromium failed to load $report" >&2
    exit 1
}
body=$(grep -o '<body[^>]*>' <<<"$dom" | head -n 1 || true)
images=$(sed -n 's/.*data-images="\([0-9]*\)".*/\1/p' <<<"$body")
broken=$(sed -n 's/.*data-broken-images="\([0-9]*\)".*/\1/p' <<<"$body")
if [[ -z $images || -z $broken ]]; then
    echo "check-report: the page's image check did not run (is $report a report.html from the plot stage?)" >&2
    exit 1
fi

# a tall window so the screenshot shows more than the first screen
timeout 120 "$chrome" "${flags[@]}" --window-size=1400,3000 --screenshot="$shot" "$url" >/dev/null 2>&1 || true
if [[ ! -s $shot ]]; then
    echo "check-report: no screenshot was written to $shot" >&2
    exit 1
fi

if [[ $broken -ne 0 ]]; then
    echo "check-report: $broken of $images images did not load:" >&2
    grep -o 'class="broken-note">image did not load: [^<]*' <<<"$dom" \
        | sed 's/^class="broken-note">image did not load: /  /' >&2 || true
    echo "screenshot: $shot" >&2
    exit 1
fi
if [[ $images -eq 0 ]]; then
    echo "check-report: warning: the page has no images" >&2
fi
echo "check-report: $images images loaded, none broken; screenshot: $shot"
