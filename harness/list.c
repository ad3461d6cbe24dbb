#include <stdio.h>

#include "commands.h"

int pb_cmd_list(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "poolbench list: not built yet\n");
    return 2;
}
