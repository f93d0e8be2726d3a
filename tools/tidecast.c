/*
 * tidecast.c - the companion CLI. Each subcommand lives in tools/cmd_<name>.c
 * and defines `int cmd_<name>(int argc, char **argv)` (argv[0] is the
 * subcommand name) and `const char cmd_<name>_summary[]`; the table below is
 * generated from the file names (underscores become dashes on the command line).
 */
#include <stdio.h>
#include <string.h>

#include "version.h"

#define X(name) int cmd_##name(int argc, char **argv); extern const char cmd_##name##_summary[];
#include "commands.h"
#undef X

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} cmds[] = {
#define X(name) {#name, cmd_##name, cmd_##name##_summary},
#include "commands.h"
#undef X
    {NULL, NULL, NULL}};

static int same_name(const char *table, const char *arg)
{
    for (; *table && *arg; table++, arg++) {
        char a = *arg == '-' ? '_' : *arg;
        if (a != *table)
            return 0;
    }
    return *table == *arg;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: tidecast COMMAND [ARGS...]\n\ncommands:\n");
    for (int i = 0; cmds[i].name; i++) {
        char n[64];
        snprintf(n, sizeof(n), "%s", cmds[i].name);
        for (char *p = n; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-14s %s\n", n, cmds[i].summary);
    }
    fprintf(out, "\n`tidecast COMMAND --help` describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("tidecast %s\n", TC_VERSION);
        return 0;
    }
    for (int i = 0; cmds[i].name; i++)
        if (same_name(cmds[i].name, argv[1]))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tidecast: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
