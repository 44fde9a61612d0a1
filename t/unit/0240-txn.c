/* 0240-txn.c: the transaction table: keys, answers, expiry, bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"
#include "tap.h"

/* Messages live here while a test uses them: parsed slices point in. */
static char text[4][32768];
static struct sip_msg msg[4];

/*
 * Parse a request (code 0) or response (code > 0) into slot i: top Via
 * branch, Call-ID, CSeq number and method as given.
 */
static const struct sip_msg *
mk(int i, int code, const char *branch, const char *callid, unsigned cseq,
    const char *method)
{
	struct sip_limits lim;
	struct sip_error err;
	int n;

	sip_limits_default(&lim);
	lim.max_line = sizeof text[i];
	lim.max_message = sizeof text[i];
	if (code == 0)
		n = snprintf(text[i], sizeof text[i], "%s sip:bob@example.com "
		    "SIP/2.0\r\n", method);
	else
		n = snprintf(text[i], sizeof text[i], "SIP/2.0 %d X\r\n", code);
	n += snprintf(text[i] + n, sizeof text[i] - (size_t)n,
	    "Via: SIP/2.0/TCP 192.0.2.1:5061;branch=%s\r\n"
	    "From: <sip:alice@partner.example>;tag=1\r\n"
	    "To: <sip:bob@example.com>%s\r\n"
	    "Call-ID: %s\r\n"
	    "CSeq: %u %s\r\n"
	    "Content-Length: 0\r\n\r\n", branch, code ? ";tag=2" : "", callid,
	    cseq, method);
	if (sip_parse_datagram(text[i], (size_t)n, &lim, &msg[i], &err) != 0) {
		diag("test message does not parse: %s", err.reason);
		exit(1);
	}
	return &msg[i];
}

static const char *
answer(struct txn_table *t, int code, const char *branch, const char *callid,
    unsigned cseq, const char *method, int64_t now)
{
	static char p[DOMAIN_MAX + 1];

	if (!txn_answer(t, mk(1, code, branch, callid, cseq, method), now, p,
	    sizeof p))
		return "(none)";
	return p;
}

int
main(void)
{
	struct txn_table *t;
	char br[64], *big, *big2;
	int i, ok_all;

	/* A request answered: once, by its final response. */
	t = txn_new(TXN_MAX, TXN_TTL_MS);
	ok(t != NULL, "a table");
	ok(txn_add(t, mk(0, 0, "z9hG4bKa1", "c1", 1, "MESSAGE"),
	    FED_STR_NULL, "partner.example", 0) == 0, "a request recorded");
	is_long(txn_count(t), 1, "one transaction held");
	is_str(answer(t, 100, "z9hG4bKa1", "c1", 1, "MESSAGE", 10),
	    "partner.example", "a provisional response names the partner");
	is_long(txn_count(t), 1, "and keeps the transaction");
	is_str(answer(t, 404, "z9hG4bKa1", "c1", 1, "MESSAGE", 20),
	    "partner.example", "the final response names the partner");
	is_long(txn_count(t), 0, "and ends the transaction");
	is_str(answer(t, 404, "z9hG4bKa1", "c1", 1, "MESSAGE", 30), "(none)",
	    "a retransmitted final response finds nothing (counted once)");

	/* The key: branch and CSeq method, not the From or the Call-ID. */
	txn_add(t, mk(0, 0, "z9hG4bKinv", "c2", 1, "INVITE"), FED_STR_NULL,
	    "a.example", 0);
	txn_add(t, mk(0, 0, "z9hG4bKinv", "c2", 1, "CANCEL"), FED_STR_NULL,
	    "a.example", 0);
	is_long(txn_count(t), 2, "INVITE and its CANCEL are two transactions");
	is_str(answer(t, 200, "z9hG4bKinv", "c2", 1, "CANCEL", 1), "a.example",
	    "the CANCEL's 200 answers the CANCEL");
	is_str(answer(t, 487, "z9hG4bKinv", "c2", 1, "INVITE", 1), "a.example",
	    "the INVITE's 487 answers the INVITE");
	is_str(answer(t, 200, "z9hG4bKinv", "c2", 1, "INVITE", 1), "(none)",
	    "and only once");
	txn_add(t, mk(0, 0, "z9hG4bKb1", "c3", 1, "MESSAGE"), FED_STR_NULL,
	    "a.example", 0);
	is_str(answer(t, 200, "z9hG4bKb2", "c3", 1, "MESSAGE", 1), "(none)",
	    "another branch is another transaction");
	is_str(answer(t, 200, "z9hG4bKb1", "other-call", 9, "MESSAGE", 1),
	    "a.example", "with the magic cookie, the branch decides");

	/* RFC 2543 branches: Call-ID, CSeq number and method. */
	txn_add(t, mk(0, 0, "old1", "c4", 7, "MESSAGE"), FED_STR_NULL,
	    "old.example", 0);
	is_str(answer(t, 200, "old1", "c4", 8, "MESSAGE", 1), "(none)",
	    "without the cookie, another CSeq number is another transaction");
	is_str(answer(t, 200, "old1", "c5", 7, "MESSAGE", 1), "(none)",
	    "... and another Call-ID");
	is_str(answer(t, 200, "old1", "c4", 7, "MESSAGE", 1), "old.example",
	    "... the same ones match");

	/* UDP: fedgate's own branch stands for the partner's. */
	txn_add(t, mk(0, 0, "z9hG4bKpartner", "c6", 1, "MESSAGE"),
	    (struct fed_str){ "z9hG4bKfgours", 13 }, "udp.example", 0);
	is_str(answer(t, 200, "z9hG4bKpartner", "c6", 1, "MESSAGE", 1),
	    "(none)", "UDP: the partner's branch is not the key");
	is_str(answer(t, 200, "z9hG4bKfgours", "c6", 1, "MESSAGE", 1),
	    "udp.example", "UDP: our branch is");

	/* Retransmissions refresh; a reused branch from another partner
	 * is answered in order. */
	txn_add(t, mk(0, 0, "z9hG4bKr", "c7", 1, "MESSAGE"), FED_STR_NULL,
	    "a.example", 0);
	txn_add(t, mk(0, 0, "z9hG4bKr", "c7", 1, "MESSAGE"), FED_STR_NULL,
	    "a.example", 5);
	is_long(txn_count(t), 1, "a retransmitted request is held once");
	txn_add(t, mk(0, 0, "z9hG4bKr", "c7", 1, "MESSAGE"), FED_STR_NULL,
	    "b.example", 6);
	is_long(txn_count(t), 2, "the same key from another partner is held too");
	is_str(answer(t, 404, "z9hG4bKr", "c7", 1, "MESSAGE", 7), "a.example",
	    "the first answer goes to the first request");
	is_str(answer(t, 404, "z9hG4bKr", "c7", 1, "MESSAGE", 7), "b.example",
	    "the second to the second");
	is_long(txn_count(t), 0, "none left");

	/* Expiry: ttl after recording, renewed by a provisional. */
	txn_add(t, mk(0, 0, "z9hG4bKe1", "c8", 1, "MESSAGE"), FED_STR_NULL,
	    "a.example", 1000);
	txn_add(t, mk(0, 0, "z9hG4bKe2", "c8", 2, "INVITE"), FED_STR_NULL,
	    "a.example", 1000);
	is_str(answer(t, 180, "z9hG4bKe2", "c8", 2, "INVITE",
	    1000 + TXN_TTL_MS - 1), "a.example", "a provisional just in time");
	is_str(answer(t, 200, "z9hG4bKe1", "c8", 1, "MESSAGE",
	    1000 + TXN_TTL_MS), "(none)", "a final answer after the ttl "
	    "finds nothing");
	is_str(answer(t, 200, "z9hG4bKe2", "c8", 2, "INVITE",
	    1000 + 2 * TXN_TTL_MS - 2), "a.example",
	    "the provisional kept the INVITE for another ttl");
	is_long(txn_count(t), 0, "expired and answered ones are gone");
	txn_free(t);

	/* Bounded: the oldest goes first. */
	t = txn_new(8, TXN_TTL_MS);
	for (i = 0; i < 20; i++) {
		snprintf(br, sizeof br, "z9hG4bKn%d", i);
		txn_add(t, mk(0, 0, br, "c", 1, "MESSAGE"), FED_STR_NULL,
		    i < 12 ? "old.example" : "new.example", i);
	}
	is_long(txn_count(t), 8, "at most max transactions are held");
	for (ok_all = 1, i = 0; i < 12; i++) {
		snprintf(br, sizeof br, "z9hG4bKn%d", i);
		ok_all &= strcmp(answer(t, 200, br, "c", 1, "MESSAGE", 30),
		    "(none)") == 0;
	}
	ok(ok_all, "the 12 oldest were let go");
	for (ok_all = 1, i = 12; i < 20; i++) {
		snprintf(br, sizeof br, "z9hG4bKn%d", i);
		ok_all &= strcmp(answer(t, 200, br, "c", 1, "MESSAGE", 30),
		    "new.example") == 0;
	}
	ok(ok_all, "the 8 newest are held");
	/* Freed entries are used again, many times over. */
	for (ok_all = 1, i = 0; i < 5000; i++) {
		snprintf(br, sizeof br, "z9hG4bKm%d", i);
		txn_add(t, mk(0, 0, br, "c", 1, "MESSAGE"), FED_STR_NULL,
		    "x.example", 40);
		if (i % 2 == 0)
			ok_all &= strcmp(answer(t, 200, br, "c", 1, "MESSAGE",
			    40), "x.example") == 0;
	}
	ok(ok_all && txn_count(t) == 8, "5,000 transactions through 8 "
	    "entries, each answered while held");
	txn_free(t);

	/* A hostile 10 KB branch: recorded at the size of any other, and
	 * told apart from one that differs only at its end. */
	t = txn_new(TXN_MAX, TXN_TTL_MS);
	big = malloc(10001);
	big2 = malloc(10001);
	memcpy(big, "z9hG4bK", 7);
	memset(big + 7, 'x', 10000 - 7);
	big[10000] = '\0';
	memcpy(big2, big, 10001);
	big2[9999] = 'y';
	ok(txn_add(t, mk(0, 0, big, "c9", 1, "MESSAGE"), FED_STR_NULL,
	    "long.example", 0) == 0, "a 10 KB branch is recorded");
	is_str(answer(t, 404, big2, "c9", 1, "MESSAGE", 1), "(none)",
	    "a branch differing in its last byte is another transaction");
	is_str(answer(t, 404, big, "c9", 1, "MESSAGE", 1), "long.example",
	    "the same long branch is answered");
	free(big);
	free(big2);
	txn_free(t);
	txn_free(NULL);
	ok(txn_new(0, TXN_TTL_MS) == NULL, "a table of 0 entries is refused");
	return done_testing();
}
