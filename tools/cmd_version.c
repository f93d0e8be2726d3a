/* cmd_version.c - `tidecast version`: prints the release version. */
#include <stdio.h>

#include "version.h"

const char cmd_version_summary[] = "print the tidecast version";

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tidecast %s\n", TC_VERSION);
    return 0;
}
