#include <stdio.h>

#include "commands.h"

int pb_cmd_env(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "poolbench env: not built yet\n");
    return 2;
}
