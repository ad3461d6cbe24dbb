#include <stdio.h>

#include "commands.h"

int pb_cmd_export(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "poolbench export: not built yet\n");
    return 2;
}
