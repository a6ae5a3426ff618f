#!/bin/sh
# The HTML report in a real browser: herd sim --html for two scenarios (one that passes, one
# that fails), each page loaded in headless Chromium, which must log no console message and run
# the page's script to its end; the DOM after load must have a lane per server, a marker per
# expectation (as many failing ones as the text report has FAIL lines) and heatmap cells; a
# screenshot of each is kept as a test artifact (in this test's folder).
# Usage: report_test.sh HERD SOURCE_DIR OUT_DIR. Exit 77 (skipped) without Chromium: `make
# test-report` installs it.
herd=$1 src=$2 out=$3
if ! command -v chromium > /dev/null; then
    echo "skipped: no chromium (make test-report installs Debian's chromium)"
    exit 77
fi
mkdir -p "$out" && cd "$out" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
browse() {  # browse PAGE ARGS...: headless Chromium, its own profile, nothing from the network
    page=$1; shift
    rm -rf profile
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$PWD/profile" "$@" "file://$PWD/$page"
}
count() { grep -o "$1" "$2" | wc -l; }

check() {  # check NAME SCENARIO EXPECTED_EXIT
    name=$1 scenario=$2
    "$herd" sim "$scenario" --html "$name.html" --quiet > "$name.txt"
    rc=$?
    [ $rc -eq "$3" ] || fail "$name: herd sim exited $rc, not $3"
    browse "$name.html" --enable-logging=stderr --v=0 --dump-dom > "$name.dom" 2> "$name.log" ||
        fail "$name: chromium could not load the page"
    browse "$name.html" --window-size=1100,2400 --screenshot="$PWD/$name.png" > /dev/null 2>&1 ||
        fail "$name: no screenshot"
    [ -s "$name.png" ] || fail "$name: empty screenshot"
    if grep 'CONSOLE' "$name.log"; then fail "$name: the page logged to the console"; fi
    grep -q 'data-ready="1"' "$name.dom" || fail "$name: the page's script did not run to its end"
    servers=$(sed -n 's/.*(\([0-9]*\) servers, .*/\1/p' "$name.txt" | head -1)
    lanes=$(grep -o 'class="lane" data-server="[^"]*"' "$name.dom" | sort -u | wc -l)
    [ "$lanes" -eq "$servers" ] || fail "$name: $lanes lanes for $servers servers"
    expectations=$(grep -c '^\(PASS\|FAIL\) ' "$name.txt")
    [ "$(count 'class="marker ' "$name.dom")" -eq "$expectations" ] ||
        fail "$name: not one marker per expectation ($expectations)"
    failing=$(grep -c '^FAIL ' "$name.txt")
    [ "$(count 'class="marker fail"' "$name.dom")" -eq "$failing" ] ||
        fail "$name: not one failing marker per FAIL line ($failing)"
    [ "$(count 'class="cell"' "$name.dom")" -ge $((servers * 10)) ] || fail "$name: no heatmap"
    echo "ok: $name ($servers lanes, $expectations markers, $failing failing; $name.png)"
}

check partition_heal "$src/scenarios/partition_heal.scn" 0
check failing_tie "$src/tests/report/failing_tie.scn" 1

# A failing expectation at the same instant as a passing one is drawn on top of it (SVG paints
# in document order): at every marker position, the last marker is a failing one if any is.
grep -o '<circle class="marker [a-z]*"[^>]*cx="[^"]*"' failing_tie.dom |
    sed 's/.*marker \([a-z]*\)".*cx="\([^"]*\)"/\2 \1/' > markers.txt
awk '{ last[$1] = $2; if ($2 == "fail") failed[$1] = 1 }
     END { for (x in failed) if (last[x] != "fail") { print "pass over fail at x=" x; exit 1 } }' \
    markers.txt || fail "failing_tie: a passing marker is drawn over a failing one"
grep -q 'fail' markers.txt || fail "failing_tie: no failing marker found"

# Every update met a fault: the propagation panel says so, with no empty chart.
check every_update_meets_a_fault "$src/tests/report/every_update_meets_a_fault.scn" 0
grep -q 'No update reached another server without meeting a fault' every_update_meets_a_fault.dom ||
    fail "every_update_meets_a_fault: no word on the missing curves"
if grep -q 'class="cdf-plot"' every_update_meets_a_fault.dom; then
    fail "every_update_meets_a_fault: an empty propagation chart"
fi

# t-visibility: a curve per hop distance and one for the pairs that met a fault, with its table.
grep -q '<h2>t-visibility</h2>' partition_heal.dom || fail "partition_heal: no t-visibility section"
[ "$(grep -o '<svg class="cdf-plot visibility"' partition_heal.dom | wc -l)" -eq 1 ] ||
    fail "partition_heal: no t-visibility chart"
grep -q '<title>across a fault</title>' partition_heal.dom ||
    fail "partition_heal: no t-visibility curve for the pairs that met a fault"

# A 300-server herd: the page leads with the timeline and the heatmap, the timeline has rows
# only for servers with a fault (the rest counted in one line), and it fits on a screen.
"$herd" sim "$src/scenarios/random300_workload.scn" --html big.html --quiet > big.txt ||
    fail "big: herd sim failed"
browse big.html --dump-dom > big.dom 2> big.log || fail "big: chromium could not load the page"
grep -q 'data-ready="1"' big.dom || fail "big: the page's script did not run to its end"
order=$(grep -o '<h2>[^<]*</h2>' big.dom | head -3 | tr -d '\n')
[ "$order" = "<h2>Timeline</h2><h2>Staleness</h2><h2>Space-time diagram</h2>" ] ||
    fail "big: sections in the order $order"
height=$(grep -o '<svg class="timeline" width="[0-9]*" height="[0-9]*"' big.dom |
    sed 's/.*height="\([0-9]*\)"/\1/')
[ "$height" -le 600 ] || fail "big: a timeline $height px high"
grep -q '>[0-9]* servers: no fault<' big.dom || fail "big: quiet servers not counted"
echo "ok: big (timeline $height px, sections $order)"
