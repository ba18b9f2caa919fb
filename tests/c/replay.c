/* The smallest host: replays RULES and EVENTS (the input of docs/host.md,
 * the replay command) and prints every action, one JSON array per call
 * that produced any. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siyu.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(text);
        return NULL;
    }
    fclose(f);
    text[size] = 0;
    *len = (size_t)size;
    return text;
}

static void emit(char *actions) {
    if (actions != NULL && strcmp(actions, "[]") != 0) printf("%s\n", actions);
    siyu_string_free(actions);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: replay RULES EVENTS\n");
        return 2;
    }
    size_t len = 0;
    char *rules = slurp(argv[1], &len);
    char *err = NULL;
    siyu_program *p = rules ? siyu_compile(rules, len, &err) : NULL;
    free(rules);
    if (p == NULL) {
        fprintf(stderr, "%s\n", err ? err : "cannot read rules");
        siyu_string_free(err);
        return 2;
    }
    siyu_engine *e = siyu_engine_new(p);
    char *events = slurp(argv[2], &len);
    for (char *line = events ? strtok(events, "\n") : NULL; line != NULL; line = strtok(NULL, "\n")) {
        char *actions = NULL;
        const char *adv = strstr(line, "\"advance\"");
        if (adv != NULL) {
            char when[64];
            const char *q = strchr(adv + 9, '"');
            const char *end = q ? strchr(q + 1, '"') : NULL;
            if (q != NULL && end != NULL && (size_t)(end - q - 1) < sizeof when) {
                memcpy(when, q + 1, (size_t)(end - q - 1));
                when[end - q - 1] = 0;
                if (siyu_engine_advance(e, when, &actions, NULL) == SIYU_OK) emit(actions);
            }
            continue;
        }
        if (siyu_engine_process(e, line, strlen(line), &actions, &err) == SIYU_OK) {
            emit(actions);
        } else {
            siyu_string_free(err);
            err = NULL;
        }
    }
    /* At the end of input, advance to the latest instant seen. */
    char *clock = siyu_engine_clock(e);
    char *actions = NULL;
    if (clock != NULL && siyu_engine_advance(e, clock, &actions, NULL) == SIYU_OK) emit(actions);
    siyu_string_free(clock);
    free(events);
    siyu_engine_free(e);
    siyu_program_free(p);
    return 0;
}
