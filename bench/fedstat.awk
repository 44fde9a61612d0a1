# bench/fedstat.awk: the per-partner counts fedstat prints, in mawk, as the
# baseline of bench/fedstat.  Fields of the verdict log (fedkit(7)): time
# peer partner method uri verdict reason code callid.  Prints one line a
# partner, `partner messages accepted limited refused uris 2xx failures`,
# in no particular order; failures are the default failure_codes.
BEGIN {
	FS = "\t"
	fc["403"] = fc["404"] = fc["410"] = fc["484"] = fc["485"] = fc["604"] = 1
}
{
	p = $3
	m[p]++
	v = $6
	if (v == "observe") {
		if ($4 ~ /^2/) ok[p]++
		else if ($4 in fc) fail[p]++
		next
	}
	if (v == "accept") a[p]++
	else if (v == "limit") l[p]++
	else r[p]++
	if ($5 != "-" && !((p, $5) in seen)) { seen[p, $5] = 1; u[p]++ }
}
END {
	for (p in m)
		printf "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", p, m[p], a[p], l[p],
		    r[p], u[p], ok[p], fail[p]
}
