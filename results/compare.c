#include <stdio.h>

#include "commands.h"

int pb_cmd_compare(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "poolbench compare: not built yet\n");
    return 2;
}
