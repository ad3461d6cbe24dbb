#include <stdio.h>

#include "commands.h"

int pb_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "poolbench run: not built yet\n");
    return 2;
}
