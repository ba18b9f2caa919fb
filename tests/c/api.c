/* Every entry point of the C ABI, with good and bad input. Exit status 0
 * when every check passes; each failure is printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siyu.h"

static int failures = 0;

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                     \
            fprintf(stderr, "\n");                            \
            failures++;                                       \
        }                                                     \
    } while (0)

static const char *RULES =
    "event purchase { amount: number }\n"
    "event interaction {}\n"
    "action push(content: string) channel wecom\n"
    "cap wecom: 2 per 1d\n"
    "rule big { when purchase where amount >= 100 do push(content: \"thanks\") }\n"
    "rule silent { when no interaction for 1d do push(content: \"comeback\") }\n";

/* What the action callback saw. */
struct seen {
    int n;
    int well_formed;
    char last_rule[32];
};

static void on_action(void *user, const char *json, size_t len) {
    struct seen *s = user;
    s->n++;
    if (strlen(json) != len || len < 2 || json[0] != '{' || json[len - 1] != '}' ||
        strstr(json, "\"id\":") == NULL)
        s->well_formed = 0;
    const char *rule = strstr(json, "\"rule\":\"");
    if (rule != NULL) {
        rule += strlen("\"rule\":\"");
        size_t n = strcspn(rule, "\"");
        if (n >= sizeof s->last_rule) n = sizeof s->last_rule - 1;
        memcpy(s->last_rule, rule, n);
        s->last_rule[n] = '\0';
    }
}

static int process(siyu_engine *e, const char *json, char **actions, char **err) {
    return siyu_engine_process(e, json, strlen(json), actions, err);
}

int main(void) {
    char *err = NULL;
    char *actions = NULL;

    CHECK(strlen(siyu_version()) > 0, "version is empty");

    /* Compile errors come back rendered, with a caret. */
    const char *bad = "event purchase {}\nrule r { when purchse do x() }";
    siyu_program *none = siyu_compile(bad, strlen(bad), &err);
    CHECK(none == NULL, "a bad program compiled");
    CHECK(err != NULL && strstr(err, "did you mean `purchase`?") != NULL, "no rendered error: %s", err ? err : "(null)");
    siyu_string_free(err);
    err = NULL;
    CHECK(siyu_compile(NULL, 0, &err) == NULL && err != NULL, "NULL source accepted");
    siyu_string_free(err);
    err = NULL;
    const char invalid_utf8[] = {'e', 'v', 'e', 'n', 't', ' ', (char)0xff, 0};
    CHECK(siyu_compile(invalid_utf8, strlen(invalid_utf8), NULL) == NULL, "invalid UTF-8 compiled");

    siyu_program *p = siyu_compile(RULES, strlen(RULES), &err);
    CHECK(p != NULL, "compile failed: %s", err ? err : "(null)");
    if (p == NULL) return 1;
    siyu_engine *e = siyu_engine_new(p);
    CHECK(e != NULL, "engine_new failed");
    CHECK(siyu_engine_new(NULL) == NULL, "engine from NULL program");
    /* The engine keeps the program alive. */
    siyu_program_free(p);
    /* Follow c1's decisions; a NULL among the customers is refused. */
    const char *follow[] = {"c1", NULL};
    CHECK(siyu_engine_trace(e, follow, 2, 100, &err) == SIYU_ERR_NULL && err != NULL, "NULL customer followed");
    siyu_string_free(err);
    err = NULL;
    CHECK(siyu_engine_trace(NULL, NULL, 0, 100, NULL) == SIYU_ERR_NULL, "trace of NULL engine");
    CHECK(siyu_engine_trace(e, follow, 1, 100, &err) == SIYU_OK, "trace: %s", err ? err : "");

    int rc = process(e, "{\"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"amount\": 150}}", &actions, &err);
    CHECK(rc == SIYU_OK, "process: %d %s", rc, err ? err : "");
    CHECK(actions != NULL && strstr(actions, "\"rule\":\"big\"") != NULL, "actions: %s", actions ? actions : "(null)");
    CHECK(actions != NULL && strstr(actions, "\"id\":\"big/") != NULL, "no id: %s", actions ? actions : "(null)");
    siyu_string_free(actions);
    actions = NULL;

    /* Bad input: invalid JSON, a field of the wrong type, bad times, NULLs. */
    rc = process(e, "this is not json", &actions, &err);
    CHECK(rc == SIYU_ERR_EVENT && err != NULL, "invalid JSON: %d", rc);
    siyu_string_free(err);
    err = NULL;
    rc = process(e, "{\"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"amount\": \"x\"}}", &actions, &err);
    CHECK(rc == SIYU_ERR_EVENT && err != NULL && strstr(err, "amount") != NULL, "wrong type: %d %s", rc, err ? err : "");
    siyu_string_free(err);
    err = NULL;
    rc = siyu_engine_process(e, NULL, 0, &actions, &err);
    CHECK(rc == SIYU_ERR_NULL, "NULL event: %d", rc);
    siyu_string_free(err);
    err = NULL;
    rc = siyu_engine_process(NULL, "{}", 2, &actions, NULL);
    CHECK(rc == SIYU_ERR_NULL, "NULL engine: %d", rc);
    const char bad_bytes[] = {'{', (char)0xc3, '}', 0};
    rc = siyu_engine_process(e, bad_bytes, 3, &actions, NULL);
    CHECK(rc == SIYU_ERR_UTF8, "invalid UTF-8 event: %d", rc);
    rc = siyu_engine_advance(e, "yesterday", &actions, &err);
    CHECK(rc == SIYU_ERR_TIME && err != NULL, "bad time: %d", rc);
    siyu_string_free(err);
    err = NULL;
    rc = siyu_engine_advance(e, NULL, &actions, NULL);
    CHECK(rc == SIYU_ERR_NULL, "NULL time: %d", rc);

    /* Advance: the silence rule fires a day after the first event. */
    rc = siyu_engine_advance(e, "2026-01-03T00:00:00Z", &actions, &err);
    CHECK(rc == SIYU_OK && actions != NULL && strstr(actions, "comeback") != NULL, "advance: %s", actions ? actions : "(null)");
    siyu_string_free(actions);
    actions = NULL;

    /* Explain, the decisions kept, and metrics. */
    char *json = NULL;
    rc = siyu_engine_decisions(e, "c1", &json, &err);
    CHECK(rc == SIYU_OK && json != NULL && json[0] == '[' &&
              strstr(json, "\"rule\":\"big\",\"kind\":\"judged\",\"verdict\":\"fired\"") != NULL &&
              strstr(json, "\"rule\":\"silent\",\"kind\":\"judged\",\"verdict\":\"fired\"") != NULL,
          "decisions: %s", json ? json : "(null)");
    siyu_string_free(json);
    json = NULL;
    rc = siyu_engine_decisions(e, "nobody", &json, &err);
    CHECK(rc == SIYU_OK && json != NULL && strcmp(json, "[]") == 0, "decisions of nobody: %s", json ? json : "(null)");
    siyu_string_free(json);
    json = NULL;
    CHECK(siyu_engine_decisions(e, "c1", NULL, NULL) == SIYU_ERR_NULL, "decisions into NULL");
    rc = siyu_engine_explain(e, "c1", "big", &json, &err);
    CHECK(rc == SIYU_OK && json != NULL && strstr(json, "\"blocked_by\"") != NULL, "explain: %d", rc);
    siyu_string_free(json);
    json = NULL;
    rc = siyu_engine_explain(e, "nobody", "big", &json, &err);
    CHECK(rc == SIYU_ERR_UNKNOWN && err != NULL, "explain unknown: %d", rc);
    siyu_string_free(err);
    err = NULL;
    char *metrics = siyu_engine_metrics(e);
    CHECK(metrics != NULL && strstr(metrics, "\"rejected\":2") != NULL, "metrics: %s", metrics ? metrics : "(null)");
    siyu_string_free(metrics);
    CHECK(siyu_engine_metrics(NULL) == NULL, "metrics of NULL");

    /* Snapshot, restore, and a corrupted snapshot. */
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = siyu_engine_snapshot(e, &buf, &len, &err);
    CHECK(rc == SIYU_OK && buf != NULL && len > 0, "snapshot: %d", rc);
    siyu_program *p2 = siyu_compile(RULES, strlen(RULES), NULL);
    siyu_engine *e2 = siyu_engine_restore(p2, buf, len, &err);
    CHECK(e2 != NULL, "restore: %s", err ? err : "");
    if (len > 40) {
        buf[40] ^= 0x10;
        siyu_engine *e3 = siyu_engine_restore(p2, buf, len, &err);
        CHECK(e3 == NULL && err != NULL && strstr(err, "corrupted") != NULL, "corrupted snapshot restored");
        siyu_string_free(err);
        err = NULL;
        siyu_engine_free(e3);
    }
    CHECK(siyu_engine_restore(p2, buf, 10, NULL) == NULL, "truncated snapshot restored");
    CHECK(siyu_engine_restore(p2, NULL, 0, NULL) == NULL, "NULL snapshot restored");
    siyu_bytes_free(buf, len);

    /* Callbacks: each action handed over as it comes, one JSON object. */
    siyu_engine *e4 = siyu_engine_new(p2);
    struct seen seen = {0, 1, ""};
    const char *buy = "{\"customer\": \"c9\", \"type\": \"purchase\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"amount\": 150}}";
    rc = siyu_engine_process_cb(e4, buy, strlen(buy), on_action, &seen, &err);
    CHECK(rc == SIYU_OK && seen.n == 1 && seen.well_formed && strcmp(seen.last_rule, "big") == 0,
          "process_cb: rc %d, %d actions, last rule %s", rc, seen.n, seen.last_rule);
    rc = siyu_engine_advance_cb(e4, "2026-01-03T00:00:00Z", on_action, &seen, &err);
    CHECK(rc == SIYU_OK && seen.n == 2 && seen.well_formed && strcmp(seen.last_rule, "silent") == 0,
          "advance_cb: rc %d, %d actions, last rule %s", rc, seen.n, seen.last_rule);
    rc = siyu_engine_process_cb(e4, "{", 1, on_action, &seen, &err);
    CHECK(rc == SIYU_ERR_EVENT && seen.n == 2 && err != NULL, "process_cb on bad JSON: %d", rc);
    siyu_string_free(err);
    err = NULL;
    rc = siyu_engine_process_cb(e4, buy, strlen(buy), NULL, NULL, NULL);
    CHECK(rc == SIYU_OK, "process_cb without a callback: %d", rc);
    rc = siyu_engine_advance_cb(e4, NULL, on_action, &seen, NULL);
    CHECK(rc == SIYU_ERR_NULL, "advance_cb with a NULL time: %d", rc);
    siyu_engine_free(e4);

    /* A named compile: diagnostics under the file's name, warnings given. */
    const char *typo = "event purchase {}\nrule r { when purchse do push() }\n";
    siyu_program *none2 = siyu_compile_named(typo, strlen(typo), "rules.siyu", NULL, &err);
    CHECK(none2 == NULL && err != NULL && strstr(err, "--> rules.siyu:2:") != NULL,
          "named compile error: %s", err ? err : "(null)");
    siyu_string_free(err);
    err = NULL;
    const char *warns = "event purchase { amount: number }\naction push(content: string)\n"
                        "rule big { when purchase where amount > 100 if event.amount < 50 do push(content: \"x\") }\n";
    char *warnings = NULL;
    siyu_program *p3 = siyu_compile_named(warns, strlen(warns), "w.siyu", &warnings, &err);
    CHECK(p3 != NULL && warnings != NULL && strstr(warnings, "never-fires") != NULL &&
              strstr(warnings, "--> w.siyu:3:") != NULL,
          "warnings: %s", warnings ? warnings : "(null)");
    siyu_string_free(warnings);
    warnings = NULL;
    siyu_program *p4 = siyu_compile_named(RULES, strlen(RULES), NULL, &warnings, NULL);
    CHECK(p4 != NULL && warnings != NULL && warnings[0] == '\0', "no warnings expected: %s",
          warnings ? warnings : "(null)");
    siyu_string_free(warnings);
    siyu_program_free(p3);
    siyu_program_free(p4);

    /* Parity with Rust: upgrade with its report, segment queries, the
     * stateless step over a state the host keeps. */
    const char *seg_rules = "event purchase { amount: number }\nevent interaction {}\n"
                            "action push(content: string)\n"
                            "segment buyer = count(purchase in 30d) >= 1\n"
                            "rule big { when purchase where amount >= 100 do push(content: \"thanks\") }\n";
    siyu_program *p5 = siyu_compile(seg_rules, strlen(seg_rules), &err);
    CHECK(p5 != NULL, "segment program: %s", err ? err : "");
    siyu_engine *e5 = siyu_engine_new(p2);
    rc = siyu_engine_process(e5, buy, strlen(buy), &actions, NULL);
    siyu_string_free(actions);
    actions = NULL;
    char *report = NULL;
    rc = siyu_engine_upgrade(e5, p5, &report, &err);
    CHECK(rc == SIYU_OK && report != NULL && strstr(report, "\"rules_kept\":[\"big\"]") != NULL &&
              strstr(report, "silent") != NULL,
          "upgrade: %d %s", rc, report ? report : "(null)");
    siyu_string_free(report);
    CHECK(siyu_engine_upgrade(e5, p5, NULL, NULL) == SIYU_ERR_NULL, "upgrade without a report pointer");
    int member = -1;
    /* A new aggregate starts empty: the purchase before the upgrade does
     * not count, one after it does. */
    rc = siyu_engine_segment(e5, "c9", "buyer", "2026-01-02T00:00:00Z", &member, &err);
    CHECK(rc == SIYU_OK && member == 0, "segment before any purchase counts: %d %d", rc, member);
    const char *buy2 = "{\"customer\": \"c9\", \"type\": \"purchase\", \"time\": \"2026-01-05T00:00:00Z\", \"data\": {\"amount\": 5}}";
    rc = siyu_engine_process(e5, buy2, strlen(buy2), &actions, NULL);
    siyu_string_free(actions);
    actions = NULL;
    rc = siyu_engine_segment(e5, "c9", "buyer", "2026-01-06T00:00:00Z", &member, &err);
    CHECK(rc == SIYU_OK && member == 1, "segment now: %d %d", rc, member);
    rc = siyu_engine_segment(e5, "c9", "buyer", "2026-03-01T00:00:00Z", &member, &err);
    CHECK(rc == SIYU_OK && member == 0, "segment after the window: %d %d", rc, member);
    rc = siyu_engine_segment(e5, "c9", "buyr", "2026-01-02T00:00:00Z", &member, &err);
    CHECK(rc == SIYU_ERR_UNKNOWN && err != NULL, "unknown segment: %d", rc);
    siyu_string_free(err);
    err = NULL;
    rc = siyu_engine_segment(e5, "nobody", "buyer", "2026-01-02T00:00:00Z", &member, NULL);
    CHECK(rc == SIYU_ERR_UNKNOWN, "unknown customer: %d", rc);
    siyu_engine_free(e5);

    char *state = NULL;
    rc = siyu_state_new(p5, "s1", &state, &err);
    CHECK(rc == SIYU_OK && state != NULL, "state_new: %d", rc);
    char *next = NULL;
    const char *buy_s1 = "{\"customer\": \"s1\", \"type\": \"purchase\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"amount\": 150}}";
    rc = siyu_step(p5, state, buy_s1, strlen(buy_s1), "2026-01-01T00:00:00Z", &next, &actions, &err);
    CHECK(rc == SIYU_OK && next != NULL && actions != NULL && strstr(actions, "\"rule\":\"big\"") != NULL,
          "step: %d %s %s", rc, actions ? actions : "(null)", err ? err : "");
    siyu_string_free(actions);
    actions = NULL;
    char *ticked = NULL;
    rc = siyu_step(p5, next, NULL, 0, "2026-02-01T00:00:00Z", &ticked, &actions, &err);
    CHECK(rc == SIYU_OK && ticked != NULL && actions != NULL && strcmp(actions, "[]") == 0,
          "tick: %d %s", rc, actions ? actions : "(null)");
    siyu_string_free(actions);
    actions = NULL;
    rc = siyu_step(p5, "{\"not\": \"a state\"}", NULL, 0, "2026-02-01T00:00:00Z", &ticked, &actions, &err);
    CHECK(rc == SIYU_ERR_EVENT && err != NULL, "a bad state: %d", rc);
    siyu_string_free(err);
    err = NULL;
    rc = siyu_step(p5, next, "{", 1, "2026-02-01T00:00:00Z", &ticked, &actions, NULL);
    CHECK(rc == SIYU_ERR_EVENT, "a bad event: %d", rc);
    rc = siyu_step(p5, next, NULL, 0, "2026-02-01T00:00:00Z", NULL, &actions, NULL);
    CHECK(rc == SIYU_ERR_NULL, "no state out-pointer: %d", rc);
    siyu_string_free(state);
    siyu_string_free(next);
    siyu_string_free(ticked);
    siyu_program_free(p5);

    /* A NUL byte in the source reaches C escaped, never cutting the
     * diagnostic short. */
    const char nul_src[] = "event purchase {}\nrule r { when pur\0chase do x() }\n";
    siyu_program *none3 = siyu_compile(nul_src, sizeof nul_src - 1, &err);
    CHECK(none3 == NULL && err != NULL && strstr(err, "\\0") != NULL && strstr(err, "-->") != NULL,
          "NUL in a diagnostic: %s", err ? err : "(null)");
    siyu_string_free(err);
    err = NULL;

    /* Free functions take NULL. */
    siyu_engine_free(NULL);
    siyu_program_free(NULL);
    siyu_string_free(NULL);
    siyu_bytes_free(NULL, 0);

    siyu_engine_free(e2);
    siyu_program_free(p2);
    siyu_engine_free(e);
    if (failures == 0) printf("api: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
