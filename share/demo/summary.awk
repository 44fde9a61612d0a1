# share/demo/summary.awk: a per-partner table from a verdict log, until
# fedstat(1) prints its own.  Fields: time peer partner method uri verdict
# reason code callid (fedkit(7)).
BEGIN { FS = "\t" }
{
	p = $3
	if (!(p in seen)) { seen[p] = 1; order[++np] = p }
	if ($6 == "observe") {
		if ($4 ~ /^2/) ok[p]++
		else if ($4 ~ /^(403|404|410|484|485|604)$/) fail[p]++
		next
	}
	req[p]++
	n[p, $6]++
	if ($6 != "accept") { why[p, $7]++; if (!((p, $7) in wl)) { wl[p, $7] = 1; reasons[p] = reasons[p] (reasons[p] == "" ? "" : " ") $7 } }
	if (!((p, $5) in u)) { u[p, $5] = 1; uris[p]++ }
}
END {
	printf "%-18s %8s %8s %8s %8s %6s %5s %5s  %s\n", "partner", "requests",
	    "accepted", "limited", "refused", "uris", "2xx", "fail", "refused or limited for"
	for (i = 1; i <= np; i++) {
		p = order[i]
		r = ""
		split(reasons[p], rs, " ")
		for (j = 1; j in rs; j++)
			r = r (j > 1 ? ", " : "") rs[j] " " why[p, rs[j]]
		printf "%-18s %8d %8d %8d %8d %6d %5d %5d  %s\n", p, req[p],
		    n[p, "accept"], n[p, "limit"], n[p, "refuse"], uris[p],
		    ok[p], fail[p], r
	}
}
