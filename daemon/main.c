/* main.c - tidecastd entry point (the loop, config and sources follow). */
#include <stdio.h>
#include <string.h>

#include "version.h"

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("tidecastd %s\n", TC_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: tidecastd --version\n");
    return 2;
}
