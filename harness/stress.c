#include <stdio.h>

#include "commands.h"

int pb_cmd_stress(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "poolbench stress: not built yet\n");
    return 2;
}
