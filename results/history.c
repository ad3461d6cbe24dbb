#include <stdio.h>

#include "commands.h"

int pb_cmd_history(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "poolbench history: not built yet\n");
    return 2;
}
